"""Posting simulated citizens' reports to the governance center's Open311 API over HTTP.

The simulator talks to the API as any stranger would: ``POST
/open311/v2/requests.json`` with the specification's form fields (``service_code``,
``lat``, ``long``, ``description``, ``api_key``: a reporter key) and an
``Idempotency-Key`` derived from the report, so a retried post never queues a second
appeal.  Connection errors, timeouts, 408, 429 and 5xx are retried with exponential
backoff and full jitter (honouring ``Retry-After``) until ``give_up_s`` after the first
try (:class:`ApiUnreachable`); any other 4xx is permanent (:class:`ReportRefused`).

The API stamps an appeal with the moment it arrives (Open311 has no time field for a
new request), so reports are posted at their simulated time compressed by ``speed``,
alongside the devices' messages; ``speed=None`` posts as fast as the API answers.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from simulator._citizens import CitizenReport
from simulator._errors import ApiUnreachable, ReportRefused

log = logging.getLogger(__name__)
PATH = "/open311/v2/requests.json"
_RETRY_STATUS = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class PostReport:
    """What a posting run did: reports posted, retries made, the appeal id of each
    report (by report id)."""

    posted: int
    retries: int
    wall_s: float
    appeal_ids: dict[str, int] = field(default_factory=dict)


def _message(response: httpx.Response) -> str:
    """The API's error description (Open311: ``[{"code": …, "description": …}]``)."""
    try:
        body = response.json()
        if isinstance(body, list) and body and isinstance(body[0], dict):
            return str(body[0].get("description", ""))[:300]
    except ValueError:
        pass
    return response.text[:300]


class CitizenPoster:
    """One HTTP client to the API; :meth:`post` sends one report, retrying as above."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str,
        timeout: float = 10.0,
        give_up_s: float = 60.0,
        backoff_s: float = 0.5,
        max_backoff_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        seed: int = 0,
    ) -> None:
        if not api_key:
            raise ValueError("a reporter api_key is required")
        self._key = api_key
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, transport=transport)
        self.give_up_s = give_up_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.retries = 0
        self._jitter = random.Random(f"citizens-post:{seed}")
        self._stop = threading.Event()

    def __enter__(self) -> CitizenPoster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def stop(self) -> None:
        """Make waits (pacing and backoff) return at once; the run then ends."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False when stopped meanwhile."""
        return not self._stop.wait(max(0.0, seconds))

    def post(self, report: CitizenReport) -> int:
        """Post ``report``; return the appeal id the API gave it."""
        fields = {
            "service_code": report.service_code,
            "lat": f"{report.lat:.6f}",
            "long": f"{report.lon:.6f}",
            "description": report.description,
            "api_key": self._key,
        }
        headers = {"Idempotency-Key": f"citypulse-sim:{report.id}:{report.time.timestamp():.0f}"}
        deadline = time.monotonic() + self.give_up_s
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._client.post(PATH, data=fields, headers=headers)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return int(response.json()[0]["service_request_id"])
                problem = f"HTTP {response.status_code}: {_message(response)}"
                if response.status_code < 500 and response.status_code not in _RETRY_STATUS:
                    raise ReportRefused(report.id, response.status_code, _message(response))
                retry_after = _retry_after(response)
            delay = self._jitter.uniform(0.0, min(self.max_backoff_s, self.backoff_s * 2**attempt))
            delay = max(delay, retry_after or 0.0)
            attempt += 1
            if time.monotonic() + delay > deadline or self.stopped:
                raise ApiUnreachable(report.id, f"gave up after {attempt} tries: {problem}")
            log.warning("citizen report %s: %s; retrying in %.1f s", report.id, problem, delay)
            self.retries += 1
            if not self.wait(delay):
                raise ApiUnreachable(report.id, f"stopped while retrying: {problem}")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None


def post_reports(
    reports: Iterable[CitizenReport],
    poster: CitizenPoster,
    *,
    speed: float | None = None,
    sim_start: datetime | None = None,
    progress: Callable[[int, CitizenReport], None] | None = None,
) -> PostReport:
    """Post ``reports`` (in time order) through ``poster``; with ``speed``, each at
    ``(report.time - sim_start) / speed`` wall seconds after the call (``sim_start``
    defaults to the first report's time).  Stops early when the poster is stopped."""
    if speed is not None and speed <= 0:
        raise ValueError("speed must be positive")
    wall0 = time.monotonic()
    ids: dict[str, int] = {}
    origin = sim_start.timestamp() if sim_start is not None else None
    for report in reports:
        if speed is not None:
            if origin is None:
                origin = report.time.timestamp()
            target = wall0 + (report.time.timestamp() - origin) / speed
            if not poster.wait(target - time.monotonic()):
                break
        elif poster.stopped:
            break
        ids[report.id] = poster.post(report)
        if progress is not None:
            progress(len(ids), report)
    return PostReport(len(ids), poster.retries, time.monotonic() - wall0, ids)
