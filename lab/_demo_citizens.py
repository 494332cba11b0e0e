"""The demo's citizens and the governance center's analysis of the run.

After detection the demo (:mod:`lab._demo`) adds what citizens wrote and what the center
makes of it, all with the simulated times:

- the citizens who noticed the demo's faults (:func:`simulator.follow_faults`), imported
  one by one through :func:`appeals.submit_report` with their own times, so they are
  correlated with the sensor appeals of those times and the sensors-first figure is true;
- the background of citizens' appeals over the four weeks before the window and the
  window itself, with one surge injected in the last day (:func:`simulator.bulk_reports`
  at city scale), written by COPY in a moment (never posted one by one): the normal a
  surge stands out against.  Their statuses follow their deadlines (accepted after a
  median half hour, resolved after a median 60 % of the deadline, then closed), so the
  queue holds only the recent ones;
- tension points brought up to now over the last week (every 12 hours, then hour by
  hour over the last 12), as the continuous worker would have;
- the weekly analysis of the current ISO week and the previous one beside report.html.
"""

from __future__ import annotations

import io
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from appeals import Report, Routing, submit_report, zone_label
from citypulse import ConfigError, Settings
from lab._say import say
from simulator import (
    SERVICES,
    City,
    Fault,
    Surge,
    bulk_reports,
    daily_rate,
    follow_faults,
    make_surge,
)

HISTORY = timedelta(days=28)
TENSION_WEEK = timedelta(days=7)
COARSE = timedelta(hours=12)
FINE = timedelta(hours=12)
SURGE_MULTIPLIER = 3.0
FOLLOW_CHANNEL = "demo-citizens"
HISTORY_CHANNEL = "demo-history"
_ACCEPT_MEDIAN_S = 1800.0
_RESOLVE_SHARE = 0.6  # of the deadline, the median time to resolve

# The history's status steps, derived from the appeals' own times inside the server.
_HISTORY_EVENTS = """
INSERT INTO appeal_events (appeal_id, time, status, note, actor)
SELECT id, requested_at, 'new', %(note)s, 'citizen' FROM appeals WHERE channel = %(channel)s
UNION ALL
SELECT id, accepted_at, 'accepted', '', 'operator' FROM appeals
WHERE channel = %(channel)s AND accepted_at IS NOT NULL
UNION ALL
SELECT id, resolved_at, 'resolved', '', 'operator' FROM appeals
WHERE channel = %(channel)s AND resolved_at IS NOT NULL
UNION ALL
SELECT id, closed_at, 'closed', '', 'operator' FROM appeals
WHERE channel = %(channel)s AND closed_at IS NOT NULL
"""
_COPY = (
    "COPY appeals (source, channel, external_id, sector, service_code, title, description,"
    " district, agency, priority, locale, requested_at, expected_at, accepted_at,"
    " resolved_at, closed_at, status, lat, lon) FROM STDIN"
)


def import_follow(
    conn: psycopg.Connection[Any],
    city: City,
    faults: Sequence[Fault],
    *,
    start: datetime,
    end: datetime,
    routing: Routing,
    connectors: Sequence[str],
    seed: int,
) -> tuple[int, int]:
    """Citizens' reports of ``faults`` within ``[start, end)``, imported with their
    simulated times; returns (reports, confirmed by sensors).  Commits."""
    reports = [r for r in follow_faults(city, faults, seed=seed) if start <= r.time < end]
    confirmed = 0
    for r in reports:
        appeal, _ = submit_report(
            conn,
            Report(
                service_code=r.service_code,
                description=r.description,
                lat=r.lat,
                lon=r.lon,
                idempotency_key=r.id,
            ),
            routing=routing,
            connectors=connectors,
            channel=FOLLOW_CHANNEL,
            actor="citizen",
            received_at=r.time,
        )
        confirmed += appeal.confirmed_by_sensors
    conn.commit()
    return len(reports), confirmed


def demo_surge(city: City, end: datetime, *, seed: int) -> Surge:
    """The demo's surge: the city's busiest cell (sector block × district) at
    :data:`SURGE_MULTIPLIER` times its normal, from 20 hours before ``end``."""
    rates: dict[tuple[str, str], float] = {}
    for district in city.districts:
        for s in SERVICES:
            cell = (s.sector, district.slug)
            rates[cell] = rates.get(cell, 0.0) + daily_rate(s.code, district)
    sector, district_slug = max(rates, key=lambda cell: rates[cell])
    return make_surge(
        city,
        sector,
        district_slug,
        end - timedelta(hours=20),
        multiplier=SURGE_MULTIPLIER,
        seed=seed,
        surge_id="demo-surge",
    )


def load_history(
    conn: psycopg.Connection[Any],
    city: City,
    *,
    start: datetime,
    end: datetime,
    routing: Routing,
    surge: Surge,
    seed: int,
) -> int:
    """COPY the background and surge reports of ``[start, end)`` as citizens' appeals
    with their simulated times and statuses as of ``end`` (module docstring); commits."""
    arrays = bulk_reports(city, start=start, end=end, seed=seed, surges=[surge])
    n = len(arrays)
    codes = arrays.service_codes()
    texts = arrays.descriptions()
    services = {}
    for code in set(codes):
        service = routing.service(code)
        if service is None:
            raise ConfigError("routing", f"the simulated service {code!r} is not in the routing")
        services[code] = service
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1818]))
    t = arrays.t
    deadline = np.array([services[c].deadline.total_seconds() for c in codes])
    accepted = t + _ACCEPT_MEDIAN_S * rng.lognormal(0.0, 0.8, n)
    resolved = t + _RESOLVE_SHARE * deadline * rng.lognormal(0.0, 0.5, n)
    resolved = np.maximum(resolved, accepted)
    t_end = end.timestamp()
    names = [routing.district_name(slug) for slug in arrays.districts]
    buf = io.StringIO()
    for i in range(n):
        code = codes[i]
        service = services[code]
        done = resolved[i] <= t_end
        took = accepted[i] <= t_end
        status = "closed" if done else "accepted" if took else "new"
        summary = " ".join(texts[i].split())[:120]
        title = f"{service.service_name}: {summary}" if summary else service.service_name
        row = (
            "citizen",
            HISTORY_CHANNEL,
            f"h{i + 1}",
            service.group,
            code,
            _field(title),
            _field(texts[i]),
            names[int(arrays.district[i])],
            service.agency,
            str(service.priority),
            routing.locale,
            _at(t[i]),
            _at(t[i] + deadline[i]),
            _at(accepted[i]) if took else "\\N",
            _at(resolved[i]) if done else "\\N",
            _at(resolved[i]) if done else "\\N",
            status,
            f"{float(arrays.lat[i]):.6f}",
            f"{float(arrays.lon[i]):.6f}",
        )
        buf.write("\t".join(row) + "\n")
    note = (
        "Обращение гражданина (история)" if routing.locale == "ru" else "Citizen report (history)"
    )
    with conn.cursor() as cur:
        with cur.copy(_COPY) as copy:
            copy.write(buf.getvalue())
        cur.execute(_HISTORY_EVENTS, {"channel": HISTORY_CHANNEL, "note": note})
        cur.execute("ANALYZE appeals")
    conn.commit()
    return n


def _at(epoch: float) -> str:
    return datetime.fromtimestamp(float(epoch), UTC).isoformat()


def _field(text: str) -> str:
    """A COPY text field: backslashes, tabs and newlines escaped."""
    return text.replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")


def tension_catch_up(
    conn: psycopg.Connection[Any], routing: Routing, *, since: datetime, until: datetime
) -> int:
    """Tension points brought up to ``until`` as the continuous worker would have: every
    :data:`COARSE` from ``since``, then hour by hour over the last :data:`FINE` (the
    surge's rise), so that the demo stays quick (each call costs a fraction of a second
    however few appeals it adds); surges are judged over every closed hour whatever the
    step, so only recurrences and detection times are coarser before.  Returns the calls
    made."""
    from appeals.analysis import update_tension

    steps: list[datetime] = []
    at = since
    while at < until:
        coarse = at + COARSE <= until - FINE
        at = min(until, at + (COARSE if coarse else timedelta(hours=1)))
        steps.append(at)
    for n, step in enumerate(steps, 1):
        update_tension(conn, routing, step)
        if n % 12 == 0:
            say(f"  tension points up to {_when(step, routing)}")
    return len(steps)


def _when(t: datetime, routing: Routing) -> str:
    """``02.12 13:54 МСК``: a time in the region's zone, named."""
    return f"{t.astimezone(routing.zone):%d.%m %H:%M} {zone_label(routing.zone, t)}"


def write_weeks(
    conn: psycopg.Connection[Any],
    routing: Routing,
    data: Path,
    *,
    now: datetime,
    locale: str,
) -> list[Path]:
    """The weekly analysis of the current ISO week and the previous one, as
    ``week-<YYYY-Www>.html`` in ``data``; returns the paths, the current week first."""
    from appeals.analysis import render_week, weekly_report

    today = now.astimezone(routing.zone).date()
    monday = today - timedelta(days=today.weekday())
    paths = []
    for week in (monday, monday - timedelta(days=7)):
        report = weekly_report(conn, routing, week, now=now)
        path = data / f"week-{_iso(week)}.html"
        path.write_text(render_week(report, routing, locale=locale), encoding="utf-8")
        paths.append(path)
    return paths


def _iso(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def citizens_and_analysis(
    url: str,
    data: Path,
    city: City,
    faults: Sequence[Fault],
    *,
    start: datetime,
    end: datetime,
    settings: Settings,
    seed: int,
) -> dict[str, Any]:
    """Steps (a)-(e) of the module docstring on the demo's database; prints the summary's
    lines and returns them for ``summary.json``."""
    from appeals import load_routing
    from appeals.analysis import TensionKind, TensionQuery, explain, load_points, sensors_first
    from citypulse.db import connect

    routing = load_routing(settings.routing_file)
    locale = settings.locale or routing.locale
    connectors = settings.connectors

    with connect(url) as conn:
        say("citizens: their reports of the faults, then four weeks of background ...")
        follow, confirmed = import_follow(
            conn, city, faults, start=start, end=end, routing=routing,
            connectors=connectors, seed=seed,
        )  # fmt: skip
        surge = demo_surge(city, end, seed=seed)
        began = time.perf_counter()
        history = load_history(
            conn, city, start=start - HISTORY, end=end, routing=routing, surge=surge, seed=seed
        )
        history_s = time.perf_counter() - began
        say("tension points over the last week ...")
        now = datetime.now(UTC)
        began = time.perf_counter()
        calls = tension_catch_up(conn, routing, since=end - TENSION_WEEK, until=now)
        tension_s = time.perf_counter() - began
        since = end - TENSION_WEEK
        points = load_points(conn, TensionQuery(since=since, until=now, limit=100_000))
        first = sensors_first(conn, start, now)
        weeks = write_weeks(conn, routing, data, now=now, locale=locale)
    kinds = Counter(p.kind.value for p in points)
    # surges first (the day's news), then the strongest
    points.sort(key=lambda p: (p.kind is not TensionKind.SURGE, -p.score))
    # the two strongest surges, then the strongest point of each other kind
    shown = [p for p in points if p.kind is TensionKind.SURGE][:2]
    for kind in (TensionKind.CLUSTER, TensionKind.RECURRENCE):
        shown += [p for p in points if p.kind is kind][:1]
    explained = [explain(p, locale, routing) for p in shown]
    truth = surge.ground_truth(city)
    found = [
        p
        for p in points
        if p.kind is TensionKind.SURGE and p.sector == truth["sector"]
        and p.district == truth["district_name"]
        and (p.ended_at is None or p.ended_at >= surge.start)
    ]  # fmt: skip
    by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    print(
        f"  citizens:   {follow} reports of the faults imported with their own times "
        f"({confirmed} confirmed by sensors); {history:,} background appeals over "
        f"{HISTORY.days} days and the window loaded in {history_s:.1f} s, with a surge of "
        f"{truth['sector']} in {truth['district_name']} (×{surge.multiplier:g} from "
        f"{_when(surge.start, routing)})"
    )
    print(
        f"  tension:    {len(points)} points over the last week ({by_kind}), {calls} updates "
        f"in {tension_s:.1f} s; the injected surge {'found' if found else 'not found'}"
    )
    for line in explained:
        print(f"        {line}")
    print(f"  sensors:    {_sensors_first_line(first)}")
    print(f"  week:       {weeks[0]} (the weekly analysis; the previous week in {weeks[1].name})")
    return {
        "citizens": {
            "follow_reports": follow,
            "confirmed_by_sensors": confirmed,
            "history_appeals": history,
            "history_load_s": round(history_s, 2),
            "surge": truth,
        },
        "tension": {
            "since": since.isoformat(),
            "until": now.isoformat(),
            "points": len(points),
            "by_kind": dict(sorted(kinds.items())),
            "surge_found": bool(found),
            "explanations": explained,
            "updates": calls,
            "compute_s": round(tension_s, 2),
        },
        "sensors_first": {
            "since": start.isoformat(),
            "until": now.isoformat(),
            "faults": first.faults,
            "sensor_first": first.sensor_first,
            "share": first.share,
            "median_lead_s": first.median_lead_s,
        },
        "weekly_reports": [str(p) for p in weeks],
    }


def _sensors_first_line(first: Any) -> str:
    """The sensors-first figure in one line; a negative median lead means citizens were
    usually first."""
    if not first.faults:
        return "no fault was reported both by a sensor and by citizens in the window"
    line = (
        f"first in {first.sensor_first} of the {first.faults} faults that both a sensor and "
        f"citizens reported ({first.share:.0%})"
    )
    if first.median_lead_s is not None:
        minutes = first.median_lead_s / 60
        ahead = "ahead of" if minutes >= 0 else "behind"
        line += f"; median lead {abs(minutes):.0f} min {ahead} the first citizen"
    return line
