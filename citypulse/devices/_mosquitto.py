"""Mosquitto password-file entries, written the way ``mosquitto_passwd`` writes them.

Mosquitto 2 stores ``user:$7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512 hash>``;
the broker re-reads the file on SIGHUP.  Files are replaced atomically (a temporary file
in the same folder, then a rename), so a broker reading the folder through a bind mount
never sees half a file.  The password file is for the broker's user alone: 0600 and
owned by it where we may chown (as root), else 0640 with its group where we are a member
of that group, else 0600 and ours, with the ``chown`` that lets the broker read it.
Mosquitto 2.0.16 and later warn about any other owner or a world-readable file, and
announce that later versions refuse it.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import hmac
import os
import pwd
import re
import secrets
import tempfile
from argparse import ArgumentTypeError
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from citypulse._errors import ConfigError
from citypulse._records import DEVICE_ID_RE

#: ``mosquitto_passwd``'s default for the ``$7$`` (PBKDF2-SHA512) format.
ITERATIONS = 101
_SALT_BYTES = 12
_HASH_BYTES = 64
#: A device id is its MQTT username; the ACL's %u patterns need one whole topic level.
USERNAME_RE = DEVICE_ID_RE  # a login's name is a topic level through the ACL's %u
#: An ingest worker's login, which the shipped broker config also makes its client id.
INGEST_LOGIN_RE: Final = re.compile(r"^citypulse-ingest-[1-9][0-9]{0,3}\Z")
#: Names a device may not take: service logins, and every client id of a service.
SERVICE_NAMES: Final = frozenset({"ingest", "simulator"})
SERVICE_PREFIX: Final = "citypulse-"
_INGEST_GRANTS: Final = ("topic read city/#", "topic read $share/+/city/#")


@dataclass(frozen=True, slots=True)
class BrokerUser:
    """The user and group the broker runs as, who must read the password file."""

    uid: int
    gid: int

    @classmethod
    def parse(cls, text: str) -> BrokerUser:
        """``UID:GID``, ``USER:GROUP`` or ``USER`` (with the user's own group)."""
        name, _, group = text.partition(":")
        try:
            if name.isdigit():
                uid, gid = int(name), None
            else:
                entry = pwd.getpwnam(name)
                uid, gid = entry.pw_uid, entry.pw_gid
            if group:
                gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        except KeyError:
            raise ConfigError("--broker-user", f"no such user or group: {text!r}") from None
        if gid is None:
            raise ConfigError("--broker-user", f"{text!r}: give a numeric user as UID:GID")
        return cls(uid, gid)

    def __str__(self) -> str:
        return f"{self.uid}:{self.gid}"


def broker_user(text: str) -> BrokerUser:
    """An argparse ``type=`` for ``--broker-user``: :meth:`BrokerUser.parse` at parse time."""
    try:
        return BrokerUser.parse(text)
    except ConfigError as exc:
        raise ArgumentTypeError(str(exc).removeprefix("--broker-user: ")) from None


#: The eclipse-mosquitto image's user (docker-compose.yml runs that image).
IMAGE_BROKER_USER: Final = BrokerUser(1883, 1883)


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$`` string Mosquitto 2 verifies ``password`` against."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, _HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``encoded`` (a ``$7$`` entry) is the hash of ``password``."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[1] != "7":
        return False
    try:
        iterations = int(parts[2])
        salt = base64.b64decode(parts[3], validate=True)
        expected = base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, len(expected))
    return hmac.compare_digest(digest, expected)


def generate_password() -> str:
    """A random password (24 URL-safe characters, 144 bits)."""
    return secrets.token_urlsafe(18)


def check_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise ConfigError(
            "username",
            f"{username!r}: 1 to 64 letters, digits and . _ : -, starting with a letter or"
            " digit (it is a topic level)",
        )
    return username


def is_service_name(name: str) -> bool:
    """Whether ``name`` belongs to a service (its login or client id), never a device."""
    return name in SERVICE_NAMES or name.startswith(SERVICE_PREFIX)


def acl_users(acl: str) -> set[str]:
    """The usernames an ACL file has ``user`` blocks for."""
    return {
        words[1]
        for words in (line.split() for line in acl.splitlines())
        if len(words) == 2 and words[0] == "user"
    }


def grant_ingest(path: Path, username: str) -> bool:
    """Append an ingest worker's block to the ACL file at ``path`` unless it has one;
    whether it was added."""
    acl = path.read_text()
    if username in acl_users(acl):
        return False
    if acl and not acl.endswith("\n"):
        acl += "\n"
    block = "".join(f"{line}\n" for line in (f"user {username}", *_INGEST_GRANTS))
    write_atomically(path, f"{acl}\n{block}")
    return True


def read_entries(path: Path) -> dict[str, str]:
    """``{username: hash}`` from a password file (missing file: empty)."""
    entries: dict[str, str] = {}
    if not path.exists():
        return entries
    try:
        text = path.read_text()
    except PermissionError:
        raise ConfigError(
            "--password-file", f"cannot read {path}: it is the broker's; run this as root"
        ) from None
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and ":" in line:
            user, _, encoded = line.partition(":")
            entries[user] = encoded.strip()
    return entries


def set_password(
    path: Path, username: str, password: str, *, broker: BrokerUser = IMAGE_BROKER_USER
) -> bool:
    """Add or replace ``username``'s entry in the password file at ``path``, which only
    ``broker`` may read (see the module docstring); whether ``broker`` can read it."""
    check_username(username)
    lines = path.read_text().splitlines() if path.exists() else []
    entry = f"{username}:{hash_password(password)}"
    for i, line in enumerate(lines):
        if line.partition(":")[0] == username:
            lines[i] = entry
            break
    else:
        lines.append(entry)
    return write_atomically(path, "".join(f"{line}\n" for line in lines), reader=broker)


def _give(tmp: str, reader: BrokerUser) -> bool:
    """Make the new file ``tmp`` readable by ``reader`` alone as far as we may; whether
    ``reader`` can read it."""
    try:
        os.chown(tmp, reader.uid, reader.gid)
    except PermissionError:
        pass
    else:
        os.chmod(tmp, 0o600)
        return True
    try:
        os.chown(tmp, -1, reader.gid)  # allowed when we are a member of the group
    except PermissionError:
        os.chmod(tmp, 0o600)
        return os.geteuid() == reader.uid
    os.chmod(tmp, 0o640)
    return True


def write_atomically(path: Path, text: str, *, reader: BrokerUser | None = None) -> bool:
    """Replace ``path`` with ``text``; whether ``reader`` can read the result.

    Without ``reader`` the file keeps its mode and owner (0644 if new).  With one it is a
    secret for ``reader`` (see the module docstring), created so from the start: the
    temporary file is 0600 until it is given away.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.stat() if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        readable = True
        if reader is not None:
            readable = _give(tmp, reader)
        else:
            os.chmod(tmp, old.st_mode & 0o7777 if old else 0o644)
            if old is not None and os.geteuid() == 0:
                os.chown(tmp, old.st_uid, old.st_gid)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return readable
