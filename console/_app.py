"""The console as an ASGI application, mounted at ``/console`` beside the API::

    GET  /console/                       the queue (filters in the query string)
    GET  /console/appeals/{id}           one appeal: text, evidence, links, history, actions
    POST /console/appeals/{id}/{action}  accept, progress, resolve, close, reject,
                                         transfer, note, duplicate
    GET  /console/map                    the queue's appeals (same filters) and the devices
                                         on the city's map
    GET  /console/ratings?from=&to=      agencies' and sector blocks' ratings (_ratings)
    GET  /console/tension                tension points: active and recent (see _tension)
    GET  /console/reports/week?week=…    the weekly analysis of appeals (ISO week, e.g.
                                         2026-W48; default the last full one), printable
    GET  /console/login                  the sign-in form;  POST: a key for a session cookie
    POST /console/logout                 ends the session
    GET  /console/lang?to=en&next=…      the language, kept in a cookie
    GET  /console/events                 server-sent events: an appeal changed (see _live)
    GET  /console/static/…               the stylesheet and the small script

Every POST carries the form's CSRF token; without a valid session and token it changes
nothing (403).  An agency-limited key sees and acts on its agency's appeals only; others'
appeals answer 404, as if absent.  Pages are sent with a strict Content-Security-Policy.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from argparse import ArgumentTypeError
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
import psycopg
import psycopg_pool
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from appeals import (
    AppealNotFound,
    KeyStore,
    Principal,
    Routing,
    hash_key,
    next_statuses,
    zone_label,
)
from appeals.analysis import WEEKLY_CSS, last_full_week, render_week_body, weekly_report
from citypulse import AppealStatus, iso_week
from console._actions import ACTIONS, perform
from console._appeal import load_view
from console._errors import BadFilter, Refused
from console._i18n import LANG_COOKIE, LANGS, words
from console._live import Live
from console._map import MAX_MARKERS, city_map
from console._presence import Presence
from console._queue import PAGE_SIZE, Filters, choices, parse_filters, queue_page
from console._ratings import load_ratings, parse_period
from console._session import COOKIE, LOGIN_COOKIE, Session, SessionCodec
from console._web import Formats, environment, zone_name

log = logging.getLogger(__name__)
PREFIX = "/console"
MAX_ID = 2**63 - 1
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


@dataclass(kw_only=True)
class Console:
    """The console over the API's pool (the caller opens and closes it); :meth:`app`
    builds the ASGI application to mount at :data:`PREFIX`."""

    pool: psycopg_pool.ConnectionPool[Any]
    routing: Routing
    keys: KeyStore
    codec: SessionCodec
    connectors: Sequence[str] = ()
    db_timeout: float = 5.0
    live: Live | None = None
    presence: Presence | None = None
    env: jinja2.Environment = field(default_factory=environment, init=False)

    def __post_init__(self) -> None:
        self.connectors = tuple(self.connectors)
        self._choices = choices(self.routing)

    # --- plumbing -------------------------------------------------------------------------

    def _db(self, fn: Callable[[psycopg.Connection[Any]], Any]) -> Awaitable[Any]:
        def run() -> Any:
            with self.pool.connection(timeout=self.db_timeout) as conn:
                return fn(conn)

        return run_in_threadpool(run)

    @staticmethod
    def _lang(request: Request) -> str:
        lang = request.cookies.get(LANG_COOKIE, "ru")
        return lang if lang in LANGS else "ru"

    def _page(
        self,
        request: Request,
        template: str,
        status: int = 200,
        session: Session | None = None,
        **values: Any,
    ) -> HTMLResponse:
        lang = self._lang(request)
        now = datetime.now(UTC)
        formats = Formats(lang, self.routing.zone)
        html = self.env.get_template(template).render(
            lang=lang,
            prefix=PREFIX,
            session=session,
            csrf=self.codec.csrf(session.sid) if session else "",
            zone=zone_name(self.routing.zone, now, lang),
            tz=zone_label(self.routing.zone, now, lang),
            now=now,
            here=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            **formats.context(),
            **values,
        )
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    def _refusal(
        self, request: Request, status: int, message: str, session: Session | None = None
    ) -> HTMLResponse:
        return self._page(request, "refused.html", status, session, message=message)

    def _cookie_flags(self, request: Request) -> dict[str, Any]:
        return {
            "httponly": True,
            "samesite": "strict",
            "secure": request.url.scheme == "https",
            "path": PREFIX,
        }

    async def _session(self, request: Request) -> Session | None:
        """The request's session, if its cookie verifies and its key is still an
        operator's or an administrator's (a revoked key ends the session)."""
        session = self.codec.read(request.cookies.get(COOKIE))
        if session is None:
            return None
        principal: Principal | None = self.keys.lookup_hash(None, session.key_hash)
        if principal is None:
            principal = await self._db(lambda conn: self.keys.lookup_hash(conn, session.key_hash))
        if principal is None or not principal.may("operator"):
            return None
        return session

    async def _form(self, request: Request) -> FormData:
        try:
            return await request.form(max_files=0, max_fields=20, max_part_size=16 * 1024)
        except (HTTPException, ValueError, KeyError) as exc:
            raise Refused(400, "bad form") from exc

    async def _guard(self, request: Request) -> tuple[Session, FormData]:
        """A POST's session and form, or :class:`Refused` (403) without a valid session
        and CSRF token."""
        session = await self._session(request)
        if session is None:
            raise Refused(403, "forbidden")
        form = await self._form(request)
        token = form.get("csrf")
        if not isinstance(token, str) or not self.codec.check_csrf(session.sid, token):
            raise Refused(403, "expired")
        return session, form

    async def _browse(self, request: Request) -> tuple[Session, Filters] | Response:
        """A page's session and the queue's filters from its query; else the redirect to
        sign in (no valid session) or the refusal (400) that names the bad filter."""
        session = await self._session(request)
        if session is None:
            return RedirectResponse(PREFIX + "/login", 303)
        try:
            return session, parse_filters(request.query_params.multi_items(), self._choices)
        except BadFilter as exc:
            return self._refusal(request, 400, f"bad_filter:{exc}", session)

    # --- sign-in --------------------------------------------------------------------------

    async def login_form(self, request: Request, error: str = "", status: int = 200) -> Response:
        if not error and await self._session(request) is not None:
            return RedirectResponse(PREFIX + "/", 303)
        nonce = secrets.token_urlsafe(16)
        response = self._page(
            request, "login.html", status, login_csrf=self.codec.csrf("login:" + nonce), error=error
        )
        response.set_cookie(LOGIN_COOKIE, nonce, max_age=3600, **self._cookie_flags(request))
        return response

    async def login(self, request: Request) -> Response:
        form = await self._form(request)
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        token = form.get("csrf")
        if not nonce or not isinstance(token, str):
            raise Refused(403, "expired")
        if not self.codec.check_csrf("login:" + nonce, token):
            raise Refused(403, "expired")
        key = form.get("key")
        key = key.strip() if isinstance(key, str) else ""
        principal: Principal | None = self.keys.lookup(None, key)
        if principal is None and key:
            principal = await self._db(lambda conn: self.keys.lookup(conn, key))
        if principal is None:
            log.info("console sign-in refused: unknown or revoked key")
            return await self.login_form(request, "bad_key", 401)
        if not principal.may("operator"):
            log.info("console sign-in refused for %s: role %s", principal.name, principal.role)
            return await self.login_form(request, "not_operator", 403)
        log.info("console sign-in: %s", principal.name)
        response = RedirectResponse(PREFIX + "/", 303)
        response.set_cookie(
            COOKIE,
            self.codec.issue(principal, hash_key(key)),
            max_age=self.codec.max_age_s,
            **self._cookie_flags(request),
        )
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
        return response

    async def logout(self, request: Request) -> Response:
        session, _ = await self._guard(request)
        log.info("console sign-out: %s", session.name)
        response = RedirectResponse(PREFIX + "/login", 303)
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    async def language(self, request: Request) -> Response:
        lang = request.query_params.get("to", "ru")
        target = request.query_params.get("next", PREFIX + "/")
        if not target.startswith(PREFIX + "/") or "//" in target or "\\" in target:
            target = PREFIX + "/"
        response = RedirectResponse(target, 303)
        if lang in LANGS:
            flags = self._cookie_flags(request) | {"httponly": False}
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, **flags)
        return response

    # --- the queue and an appeal --------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        browsed = await self._browse(request)
        if isinstance(browsed, Response):
            return browsed
        session, filters = browsed
        rows, total = await self._db(lambda conn: queue_page(conn, filters, scope=session.agency))
        return self._page(
            request,
            "queue.html",
            session=session,
            filters=filters,
            options=self._choices,
            rows=rows,
            total=total,
            presence=self.presence.snapshot() if self.presence else {},
            pages=max(1, -(-total // PAGE_SIZE)),
        )

    async def map(self, request: Request) -> Response:
        browsed = await self._browse(request)
        if isinstance(browsed, Response):
            return browsed
        session, filters = browsed
        lang = self._lang(request)
        presence = self.presence.snapshot() if self.presence else {}
        view = await self._db(
            lambda conn: city_map(
                conn,
                filters,
                scope=session.agency,
                routing=self.routing,
                lang=lang,
                t=words(lang),
                prefix=PREFIX,
                presence=presence,
            )
        )
        return self._page(
            request,
            "map.html",
            session=session,
            filters=filters,
            view=view,
            svg=Markup(view.svg),  # noqa: S704 - citypulse.render escapes every text
            max_markers=MAX_MARKERS,
        )

    async def ratings(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return RedirectResponse(PREFIX + "/login", 303)
        query = dict(request.query_params)
        try:
            period = parse_period(query, self.routing.zone, datetime.now(UTC))
        except BadFilter as exc:
            return self._refusal(request, 400, f"bad_filter:{exc}", session)
        view = await self._db(lambda conn: load_ratings(conn, period))
        return self._page(request, "ratings.html", session=session, view=view)

    async def week(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return RedirectResponse(PREFIX + "/login", 303)
        raw = request.query_params.get("week", "").strip()
        now = datetime.now(UTC)
        try:
            monday = iso_week(raw) if raw else last_full_week(now, self.routing.zone)
        except ArgumentTypeError as exc:
            return self._refusal(request, 400, f"bad_filter:week: {exc}", session)
        lang = self._lang(request)
        report = await self._db(lambda conn: weekly_report(conn, self.routing, monday, now=now))
        body = render_week_body(report, self.routing, locale=lang)
        return self._page(
            request,
            "week.html",
            session=session,
            report=report,
            week=_week_label(monday),
            previous=_week_label(monday - timedelta(days=7)),
            following=_week_label(monday + timedelta(days=7)),
            body=Markup(body),  # noqa: S704 - rendered by an autoescaping template
            css=Markup(WEEKLY_CSS),  # noqa: S704 - a constant
        )

    async def appeal(
        self,
        request: Request,
        *,
        message: str = "",
        status: int = 200,
        session: Session | None = None,
    ) -> Response:
        session = session or await self._session(request)
        if session is None:
            return RedirectResponse(PREFIX + "/login", 303)
        appeal_id = _appeal_id(request)
        lang = self._lang(request)
        t = words(lang)
        labels = {"series": t("readings"), "threshold": t("threshold"), "incident": t("incident")}
        try:
            view = await self._db(
                lambda conn: load_view(
                    conn,
                    appeal_id,
                    scope=session.agency,
                    routing=self.routing,
                    lang=lang,
                    labels=labels,
                )
            )
        except AppealNotFound:
            return self._refusal(request, 404, "no_appeal", session)
        done = request.query_params.get("done", "")
        appeal = view.appeal
        return self._page(
            request,
            "appeal.html",
            status,
            session,
            view=view,
            appeal=appeal,
            presence=(self.presence.get(view.device.id) if self.presence and view.device else None),
            chart=Markup(view.evidence.svg) if view.evidence else None,  # noqa: S704 - escaped by render
            chart_legend=Markup(view.evidence.legend) if view.evidence else None,  # noqa: S704
            seconds_left=_seconds_left(appeal.status, appeal.expected_at),
            allowed=[a for a in ACTIONS if _allowed(a, appeal.status)],
            agencies=[a for a in self._choices.agencies if a != appeal.agency],
            done=done if done in ACTIONS else "",
            message=message,
        )

    async def act(self, request: Request) -> Response:
        session, form = await self._guard(request)
        appeal_id = _appeal_id(request)
        action = str(request.path_params["action"])
        if action not in ACTIONS:
            raise Refused(404, "not_found")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            still_visible = await self._db(
                lambda conn: perform(
                    conn,
                    appeal_id,
                    action,
                    fields,
                    principal=session.principal,
                    connectors=self.connectors,
                    routing=self.routing,
                )
            )
        except AppealNotFound:
            return self._refusal(request, 404, "no_appeal", session)
        except Refused as exc:
            return await self.appeal(
                request, message=exc.message, status=exc.status, session=session
            )
        log.info("console: appeal %s %s by %s", appeal_id, action, session.name)
        if not still_visible:  # transferred out of an agency-limited operator's sight
            return RedirectResponse(PREFIX + "/", 303)
        return RedirectResponse(f"{PREFIX}/appeals/{appeal_id}?done={action}", 303)

    async def events(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None or self.live is None:
            raise Refused(403 if session is None else 404, "forbidden")
        return self.live.response(request)

    def app(self) -> Starlette:
        return _application(self)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """The console's part of the served app's ASGI lifespan: devices' state is read in
        a task of the server's event loop (``app.state.presence_task``) while it serves.
        Starlette runs only the outermost app's lifespan, so whoever mounts :meth:`app`
        passes this one on (see ``console.application``); without a lifespan (an app
        built without a server) the console shows devices' state as stored."""
        if self.presence is None:
            yield
            return
        async with self.presence.running() as task:
            app.state.presence_task = task
            yield


def _week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _appeal_id(request: Request) -> int:
    raw = str(request.path_params["id"])
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 1 <= int(raw) <= MAX_ID:
        raise Refused(404, "no_appeal")
    return int(raw)


def _seconds_left(status: AppealStatus, expected_at: datetime | None) -> float | None:
    if expected_at is None or status not in (
        AppealStatus.NEW,
        AppealStatus.ACCEPTED,
        AppealStatus.IN_PROGRESS,
    ):
        return None
    return (expected_at - datetime.now(UTC)).total_seconds()


def _allowed(action: str, status: AppealStatus) -> bool:
    target = ACTIONS[action]
    if target is None:  # transfer, duplicate: open appeals; a note: any
        return action == "note" or status not in (AppealStatus.CLOSED, AppealStatus.REJECTED)
    return target in next_statuses(status)


def _application(console: Console) -> Starlette:
    from console._tension import tension_page

    static = Path(__file__).parent / "static"
    routes = [
        Route("/", console.queue, methods=["GET"]),
        Route("/map", console.map, methods=["GET"]),
        Route("/ratings", console.ratings, methods=["GET"]),
        Route("/tension", partial(tension_page, console), methods=["GET"]),
        Route("/reports/week", console.week, methods=["GET"]),
        Route("/login", console.login_form, methods=["GET"]),
        Route("/login", console.login, methods=["POST"]),
        Route("/logout", console.logout, methods=["POST"]),
        Route("/lang", console.language, methods=["GET"]),
        Route("/events", console.events, methods=["GET"]),
        Route("/appeals/{id}", console.appeal, methods=["GET"]),
        Route("/appeals/{id}/{action}", console.act, methods=["POST"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        session = console.codec.read(request.cookies.get(COOKIE))
        return console._refusal(request, exc.status, exc.message, session)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        word = {404: "not_found", 405: "forbidden"}.get(exc.status_code, "forbidden")
        return console._refusal(request, exc.status_code, word)

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning(
            "console: database unavailable for %s %s: %s", request.method, request.url.path, exc
        )
        response = console._refusal(request, 503, "database unavailable, retry later")
        response.headers["Retry-After"] = "5"
        return response

    return Starlette(
        routes=routes,
        exception_handlers={
            Refused: refused,
            HTTPException: http_error,
            psycopg_pool.PoolTimeout: unavailable,
            psycopg.OperationalError: unavailable,
        },
    )
