"""The operators' web console at ``/console/``: one queue of sensor appeals, citizens'
reports and system events; an appeal's text, evidence and history; the operators'
actions; live updates.

Server-rendered (Starlette, Jinja2 with autoescape), Russian by default and English on
request, with a little dependency-free JavaScript that pages do not need to work.
Operators sign in with an operator's or an administrator's API key, exchanged for a
signed session cookie; every form carries a CSRF token.  ``citypulse serve`` assembles
the API (``appeals``), outbox delivery (``connectors``) and the console in one process,
so this package sits above both.
"""

from typing import TYPE_CHECKING

from citypulse import lazy_exports

if TYPE_CHECKING:
    from console._app import PREFIX, Console
    from console._errors import BadFilter, ConsoleError, Refused
    from console._live import Live
    from console._presence import DeviceStatus, Presence, parse_status
    from console._serve import application, session_codec
    from console._session import Session, SessionCodec
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "PREFIX",
    "BadFilter",
    "Console",
    "ConsoleError",
    "DeviceStatus",
    "Live",
    "Presence",
    "Refused",
    "Session",
    "SessionCodec",
    "application",
    "parse_status",
    "session_codec",
]
