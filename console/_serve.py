"""Assembling what ``citypulse serve`` serves: the API at ``/`` and the console at
``/console``, and the console's session secret."""

from __future__ import annotations

import logging
import secrets

from starlette.applications import Starlette
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route

from citypulse import Settings
from console._app import PREFIX, Console
from console._session import SessionCodec

log = logging.getLogger(__name__)


def session_codec(settings: Settings, *, max_age_s: int = 8 * 3600) -> SessionCodec:
    """Sessions signed with ``CITYPULSE_SESSION_SECRET``; without one, a random secret for
    this process (sessions then end when it restarts, and do not cross replicas)."""
    secret = settings.session_secret.value.encode("utf-8")
    if not secret:
        log.warning(
            "CITYPULSE_SESSION_SECRET is not set: console sessions are signed with a random "
            "secret and end when this process stops"
        )
        secret = secrets.token_bytes(32)
    return SessionCodec(secret=secret, max_age_s=max_age_s)


def application(api: Starlette, console: Console) -> Starlette:
    """The API with the console mounted at ``/console`` (and ``/console`` -> ``/console/``),
    and the console's lifespan (devices' state read on the server's loop)."""

    async def to_console(request: object) -> Response:
        return RedirectResponse(PREFIX + "/", 308)

    return Starlette(
        routes=[
            Route(PREFIX, to_console, methods=["GET"]),
            Mount(PREFIX, app=console.app()),
            Mount("/", app=api),
        ],
        lifespan=console.lifespan,
    )
