"""Whether a database failure is worth retrying: one answer for every package.

Retrying helps when the server could not be reached or was busy: connection refused or
reset, a timeout, the server starting up or shutting down, too many connections, a
serialization failure or deadlock, a cancelled statement.  It does not help for a
malformed URL, an invalid option, a failed login, a missing database or role, a SQL
error or a bug: those are permanent, and a caller that retried them would retry forever.
"""

from __future__ import annotations

from typing import Final

import psycopg

from citypulse._errors import CitypulseError, DatabaseUnavailable

_TRANSIENT_SQLSTATES: Final = frozenset(
    {
        "57P01",  # admin_shutdown: the server is stopping (or an administrator's kill)
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: starting up, or in recovery
        "57P05",  # idle_session_timeout
        "53000",  # insufficient_resources
        "53100",  # disk_full
        "53200",  # out_of_memory
        "53300",  # too_many_connections
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available
        "57014",  # query_canceled: a statement timeout
    }
)
# Class 08 is "connection exception"; its protocol_violation (08P01) is no outage.
_CONNECTION_CLASS: Final = "08"
_NOT_TRANSIENT_IN_CLASS: Final = frozenset({"08P01"})

# libpq reports a failed connection (and a connection lost mid-query) with no SQLSTATE:
# only the message tells a refused, lost or overloaded server from a wrong password or a
# bad option.  These are libpq's and the server's English texts (a server configured
# with another lc_messages sends its FATAL texts translated; those read as permanent).
_TRANSIENT_MESSAGES: Final = (
    "connection refused",
    "timeout expired",  # connect_timeout
    "timed out",
    "no route to host",
    "network is unreachable",
    "connection reset",
    # A host name that does not resolve now: in a container network a stopped server's
    # name disappears until it is back, so this is an outage rather than a typo.
    "could not translate host name",
    "server closed the connection",
    "could not receive data",
    "could not send data",
    "ssl syscall error",
    "ssl connection has been closed",
    "eof detected",
    "consuming input failed",
    "the connection is lost",
    "the connection is closed",
    "terminating connection",
    "the database system is",  # starting up, shutting down, in recovery, not accepting ...
    "too many clients",
    "too many connections",
    "remaining connection slots are reserved",
    "couldn't get a connection",  # psycopg_pool.PoolTimeout
)
# psycopg joins the failures of several addresses (localhost: ::1 and 127.0.0.1) after
# this line, each on a line starting "- ".
_MANY_ATTEMPTS: Final = "Multiple connection attempts failed. All failures were:"


def is_transient(exc: BaseException) -> bool:
    """True when retrying what raised ``exc`` may succeed (see the module docstring).

    Takes psycopg's exceptions (from a connection attempt or a statement) and citypulse's
    own: :class:`~citypulse.DatabaseUnavailable` is transient, any other
    :class:`~citypulse.CitypulseError` is not; anything else (a ``TypeError``, say) is a
    bug and not transient either.
    """
    if isinstance(exc, CitypulseError):
        return isinstance(exc, DatabaseUnavailable)
    if isinstance(exc, psycopg.errors.ConnectionTimeout):
        return True
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is not None:
        return state in _TRANSIENT_SQLSTATES or (
            state.startswith(_CONNECTION_CLASS) and state not in _NOT_TRANSIENT_IN_CLASS
        )
    if not isinstance(exc, psycopg.OperationalError):
        return False  # ProgrammingError (a malformed URL), InterfaceError, ...
    _, many, rest = str(exc).partition(_MANY_ATTEMPTS)
    attempts = [a for a in rest.split("\n- ") if a.strip()] if many else [str(exc)]
    # Every address must have failed for a passing reason: "refused" from ::1 and "password
    # authentication failed" from 127.0.0.1 is a wrong password.
    return bool(attempts) and all(_transient_message(a) for a in attempts)


def _transient_message(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in _TRANSIENT_MESSAGES)
