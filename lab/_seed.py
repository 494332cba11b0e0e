"""A populated database for the dashboards' tests and benchmark, written straight in.

Two ways to fill one, both ending with the rollups refreshed:

* :func:`seed_simulation` runs the simulator (with faults) and stores its messages
  through ingest's own decoder and sink, minute by minute, as ``citypulse ingest`` would,
  without a broker in between: exact, a simulated week of a small city in seconds;
* :func:`seed_bulk` generates readings inside PostgreSQL with ``generate_series`` (the
  daily and weekly shapes come from the simulator's signal functions): 30 days of 500
  devices in minutes, for the benchmark.

Both also write what the other packages would: ``ingest_stats`` rows, incidents for the
injected faults, sensor appeals for them and citizens' appeals with their status history.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import scalar_row
from psycopg.types.json import Jsonb

from citypulse import Device
from citypulse.db import connect, refresh_rollups, scalar, upsert_devices
from ingest import Decoder, Item, PostgresSink
from simulator import (
    City,
    Fault,
    FaultType,
    Simulation,
    random_faults,
)
from simulator._signals import parking_fill, traffic_demand

Progress = Callable[[str], None]


def _quiet(message: str) -> None:
    """Progress sink that drops everything."""


@dataclass(frozen=True, slots=True)
class SeedReport:
    devices: int
    readings: int
    incidents: int
    appeals: int
    seconds: float


# --- incidents and appeals -------------------------------------------------------------

_ROUTING: dict[str, tuple[str, str, str, str]] = {
    # incident type: (sector block, agency, Open311 service code, title)
    "stuck_phase": ("Дороги", "ЦОДД", "traffic-signal", "Светофор завис на одной фазе"),
    "signal_flashing": ("Дороги", "ЦОДД", "traffic-signal", "Светофор в режиме жёлтого мигания"),
    "lamp_fault": ("Дороги", "ЦОДД", "traffic-signal", "Неисправна лампа светофора"),
    "device_offline": ("Дороги", "ЦОДД", "device-offline", "Устройство не выходит на связь"),
    "camera_frozen": ("Транспорт", "ЦОДД", "camera", "Камера передаёт неизменные данные"),
    "camera_obstructed": ("Транспорт", "ЦОДД", "camera", "Обзор камеры перекрыт"),
    "congestion": ("Транспорт", "Минтранс", "congestion", "Затор на подходе к перекрёстку"),
    "parking_stuck": ("Транспорт", "Парковочное пространство", "parking", "Датчик парковки"),
    "parking_full": ("Транспорт", "Парковочное пространство", "parking", "Парковка заполнена"),
    "air_quality_exceedance": (
        "Экология",
        "Минприроды",
        "air-quality",
        "Превышение ПДК загрязняющих веществ",
    ),
    "sensor_drift": ("Экология", "Минприроды", "air-quality", "Дрейф показаний датчика"),
    "spike": ("Экология", "Минприроды", "air-quality", "Выброс показаний"),
    "invalid_payload": ("ЖКХ", "Оператор сети датчиков", "device-data", "Некорректные данные"),
}
_CITIZEN = (
    ("Дороги", "Дорожное хозяйство", "pothole", "Яма на проезжей части"),
    ("Дороги", "ЦОДД", "traffic-signal", "Не работает светофор"),
    ("ЖКХ", "Управляющая компания", "yard", "Не убран двор"),
    ("Экология", "Минприроды", "air-quality", "Запах гари"),
    ("Транспорт", "Минтранс", "bus", "Автобус не пришёл по расписанию"),
)
_INCIDENT = """
INSERT INTO incidents (type, device_id, severity, status, started_at, last_alarm_at,
    resolved_at, opened_at, updated_at, detector, score, threshold, value, limit_value, unit,
    evidence, alarms)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'simulated-ground-truth', 0.97, 0.5, %s, %s, %s,
    %s, %s)
ON CONFLICT DO NOTHING
RETURNING id
"""
_APPEAL = """
INSERT INTO appeals (source, channel, external_id, sector, service_code, title, description,
    lat, lon, address, district, priority, status, agency, requested_at, expected_at,
    accepted_at, resolved_at, closed_at, updated_at, evidence, incident_id,
    confirmed_by_sensors)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
    %s, %s)
RETURNING id
"""
_EVENT = (
    "INSERT INTO appeal_events (appeal_id, time, status, note, actor) VALUES (%s, %s, %s, %s, %s)"
)


def _appeal(
    conn: psycopg.Connection[Any],
    rng: random.Random,
    *,
    source: str,
    routing: tuple[str, str, str, str],
    requested: datetime,
    now: datetime,
    device: Device | None,
    incident_id: int | None,
    resolved_hint: datetime | None,
    priority: int,
) -> int:
    sector, agency, code, title = routing
    expected = requested + timedelta(hours=(4, 8, 24, 72)[4 - priority])
    accepted = requested + timedelta(minutes=rng.uniform(5, 180))
    resolved = (resolved_hint or requested) + timedelta(hours=rng.uniform(0.5, 30))
    events: list[tuple[datetime, str]] = [(requested, "new")]
    status = "new"
    if accepted < now:
        events.append((accepted, "accepted"))
        status = "accepted"
        progress = accepted + timedelta(minutes=rng.uniform(10, 120))
        if progress < now:
            events.append((progress, "in_progress"))
            status = "in_progress"
            if resolved < now and resolved > progress:
                events.append((resolved, "resolved"))
                status = "resolved"
    appeal_id = scalar(
        conn,
        _APPEAL,
        (
            source,
            "citypulse" if source == "sensor" else "portal",
            None if source == "sensor" else f"portal-{rng.getrandbits(48):012x}",
            sector,
            code,
            title,
            f"{title}: {device.address if device else 'сообщение жителя'}",
            device.lat if device else None,
            device.lon if device else None,
            device.address if device else "",
            device.district if device else "",
            priority,
            status,
            agency,
            requested,
            expected,
            accepted if status != "new" else None,
            resolved if status == "resolved" else None,
            None,
            events[-1][0],
            Jsonb({"device_id": device.id} if device else {}),
            incident_id,
            False,
        ),
    )
    with conn.cursor() as cur:
        cur.executemany(_EVENT, [(appeal_id, t, s, "", "operator") for t, s in events])
    return int(appeal_id)


def write_incidents_and_appeals(
    conn: psycopg.Connection[Any],
    devices: Sequence[Device],
    faults: Sequence[Fault],
    *,
    start: datetime,
    now: datetime,
    citizen_per_day: float = 12.0,
    seed: int = 0,
) -> tuple[int, int]:
    """Incidents for ``faults`` (open while they last), their appeals and citizens' ones."""
    rng = random.Random(f"grafana-seed:{seed}")
    by_id = {d.id: d for d in devices}
    incidents = appeals = 0
    ids = conn.cursor(row_factory=scalar_row)
    for fault in sorted(faults, key=lambda f: f.start):
        for device_id in fault.devices:
            device = by_id.get(device_id)
            onset = fault.onset(device_id)
            if device is None or onset >= now:
                continue
            open_ = fault.end >= now
            last = min(fault.end, now)
            opened = onset + timedelta(minutes=rng.uniform(1, 6))
            value, limit = _value(fault)
            incident_id = ids.execute(
                _INCIDENT,
                (
                    fault.incident_type,
                    device_id,
                    rng.choice((2, 2, 3, 4)),
                    "open" if open_ else "resolved",
                    onset,
                    max(onset, last - timedelta(minutes=1)),
                    None if open_ else fault.end,
                    opened,
                    last,
                    value,
                    limit,
                    "µg/m³" if fault.type is FaultType.AIR_QUALITY_EXCEEDANCE else "",
                    Jsonb({"fault": fault.id, "params": dict(fault.params)}),
                    rng.randint(1, 30),
                ),
            ).fetchone()
            if incident_id is None:
                continue  # an open one of this type already exists on the device
            incidents += 1
            routing = _ROUTING.get(fault.incident_type, _ROUTING["invalid_payload"])
            _appeal(
                conn,
                rng,
                source="sensor",
                routing=routing,
                requested=opened + timedelta(seconds=5),
                now=now,
                device=device,
                incident_id=int(incident_id),
                resolved_hint=None if open_ else fault.end,
                priority=rng.choice((2, 3, 3, 4)),
            )
            appeals += 1
    days = (now - start).total_seconds() / 86400.0
    for _ in range(round(citizen_per_day * days)):
        requested = start + timedelta(seconds=rng.uniform(0, (now - start).total_seconds()))
        _appeal(
            conn,
            rng,
            source="citizen",
            routing=rng.choice(_CITIZEN),
            requested=requested,
            now=now,
            device=None,
            incident_id=None,
            resolved_hint=None,
            priority=rng.choice((1, 2, 2, 3)),
        )
        appeals += 1
    return incidents, appeals


def _value(fault: Fault) -> tuple[float | None, float | None]:
    if fault.type is FaultType.AIR_QUALITY_EXCEEDANCE:
        return float(fault.params.get("level", 0.0)) or None, 160.0
    if fault.type is FaultType.STUCK_PHASE:
        return (fault.end - fault.start).total_seconds(), 120.0
    return None, None


def _silent_at_end(city_devices: Sequence[Device], end: datetime) -> list[Fault]:
    """Power loss on one device of each kind for the last two hours: silent devices."""
    seen: set[str] = set()
    out = []
    for d in city_devices:
        if d.kind.value in seen:
            continue
        seen.add(d.kind.value)
        out.append(
            Fault(
                id=f"silent-{d.id}",
                type=FaultType.POWER_LOSS,
                devices=(d.id,),
                start=end - timedelta(hours=2),
                end=end,
            )
        )
    return out


# --- the simulator through ingest's decoder and sink ------------------------------------


def seed_simulation(
    database_url: str,
    city: City,
    *,
    start: datetime,
    end: datetime,
    seed: int = 1,
    faults_per_day: float = 12.0,
    scheduled: Sequence[Fault] = (),
    progress: Progress = _quiet,
) -> SeedReport:
    """Fill a migrated database with a simulated ``[start, end)`` of ``city``.

    Faults are drawn at ``faults_per_day``; ``scheduled`` ones are added as given.
    """
    t0 = time.perf_counter()
    base = Simulation(city, start=start, end=end, seed=seed)
    silent = _silent_at_end(base.devices, end)
    silent_ids = {d for f in silent for d in f.devices}
    drawn = random_faults(
        city, start=start, end=end - timedelta(hours=3), rates=faults_per_day, seed=seed
    )
    faults = [f for f in drawn if not set(f.devices) & silent_ids] + silent + list(scheduled)
    sim = Simulation(city, start=start, end=end, seed=seed, faults=faults)
    decoder = Decoder(root="city", retention=timedelta(days=3650))
    readings = 0
    per_minute: Counter[int] = Counter()
    rejected_per_minute: Counter[int] = Counter()
    with connect(database_url) as conn:
        upsert_devices(conn, sim.devices)
        conn.commit()
    with PostgresSink(database_url=database_url, worker_id="seed") as sink:
        batch: list[Item] = []
        day = -1
        for n, m in enumerate(sim.messages()):
            received = m.time + timedelta(milliseconds=150 + (n % 7) * 40)
            decoded = decoder.decode(m.topic, m.payload, received)
            batch.append(Item(n, 1, m.topic, m.payload, received, decoded))
            minute = int(m.t // 60)
            per_minute[minute] += 1
            if len(batch) >= 5000:
                result = sink.store(batch)
                readings += result.stored
                rejected_per_minute[minute] += sum(result.rejected.values())
                batch.clear()
            if int(m.t // 86400) != day:
                day = int(m.t // 86400)
                progress(f"  simulated {m.time:%Y-%m-%d}: {readings:,} readings stored")
        if batch:
            result = sink.store(batch)
            readings += result.stored
    with connect(database_url) as conn:
        _write_ingest_stats(conn, per_minute, rejected_per_minute)
        incidents, appeals = write_incidents_and_appeals(
            conn, sim.devices, faults, start=start, now=end, seed=seed
        )
        conn.commit()
    with connect(database_url, autocommit=True) as conn:
        refresh_rollups(conn)
    return SeedReport(len(sim.devices), readings, incidents, appeals, time.perf_counter() - t0)


def _write_ingest_stats(
    conn: psycopg.Connection[Any], received: Counter[int], rejected: Counter[int]
) -> None:
    rows = []
    for minute, count in sorted(received.items()):
        bad = rejected.get(minute, 0)
        rows.append(
            (
                datetime.fromtimestamp(minute * 60 + 60, tz=UTC),
                "seed",
                60.0,
                count,
                max(0, count - bad),
                0,
                bad,
                Jsonb({}),
                max(1, count // 500),
                float(min(count, 500)),
                4.0 + (minute % 5),
                12.0 + (minute % 11),
                180.0 + (minute % 13) * 10,
                600.0 + (minute % 17) * 50,
                minute % 9,
            )
        )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ingest_stats (time, worker, interval_s, received, stored, duplicates, "
            "rejected, rejected_by_reason, batches, batch_size_avg, commit_ms_p50, "
            "commit_ms_p99, lag_ms_p50, lag_ms_p99, queue_depth) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            rows,
        )


# --- bulk generation inside PostgreSQL ---------------------------------------------------

_MONDAY_MSK = 1704056400  # 2024-01-01 00:00 MSK, a Monday
_HOW = (
    "((extract(isodow FROM t AT TIME ZONE 'Europe/Moscow')::int - 1) * 24 "
    "+ extract(hour FROM t AT TIME ZONE 'Europe/Moscow')::int + 1)"
)
_BULK_CAMERAS = """
INSERT INTO camera_readings (time, device_id, lane_id, intensity, average_vehicle_speed,
    occupancy, heavy_vehicle_share, congested, received_at)
SELECT ts.t, c.id, lane,
       greatest(0, round(c.capacity * l.load * (0.8 + 0.4 * random())))::int,
       greatest(3.0, c.free_flow * (1.0 - o.occ / 0.92) + 4.0 * (random() - 0.5)),
       o.occ, 0.04 + 0.08 * (1.0 - ts.demand) + 0.02 * random(), o.occ > 0.45,
       ts.t + interval '200 milliseconds'
FROM (SELECT t, (%(demand)s::float8[])[{how}] AS demand
      FROM generate_series(%(from)s::timestamptz,
                           %(until)s::timestamptz - %(step)s::interval,
                           %(step)s::interval) AS t) ts
CROSS JOIN unnest(%(ids)s::text[], %(lanes)s::int[], %(weights)s::float8[],
                  %(free_flow)s::float8[], %(capacity)s::float8[])
    AS c(id, lanes, weight, free_flow, capacity)
CROSS JOIN LATERAL generate_series(1, c.lanes) AS lane
CROSS JOIN LATERAL (SELECT least(1.2, ts.demand * 0.9 * c.weight) AS load) l
CROSS JOIN LATERAL (SELECT least(0.97, 0.03 + 0.38 * l.load * l.load + 0.02 * random()) AS occ) o
""".replace("{how}", _HOW)
_BULK_LIGHTS = """
INSERT INTO traffic_light_readings (time, device_id, phase, phase_elapsed, cycle_length,
    lamp_fault, door_open, supply_voltage, controller_mode, received_at)
SELECT t, c.id,
       (ARRAY['green', 'yellow', 'red', 'red_yellow'])[
           mod(extract(epoch FROM t)::bigint / 20 + c.offset_, 4) + 1],
       round((random() * 19)::numeric, 1), 80, false, false, 229.5 + 2 * random(),
       'fixed_time', t + interval '200 milliseconds'
FROM generate_series(%(from)s::timestamptz,
                     %(until)s::timestamptz - %(step)s::interval,
                     %(step)s::interval) AS t
CROSS JOIN unnest(%(ids)s::text[], %(offsets)s::int[]) AS c(id, offset_)
"""
_BULK_PARKING = """
INSERT INTO parking_readings (time, device_id, total_spot_number, occupied_spot_number,
    out_of_service_slot_number, received_at)
SELECT ts.t, c.id, c.total,
       least(c.total, greatest(0, round(c.total * ((%(fill)s::float8[])[ts.how]
                                      + 0.05 * (random() - 0.5)))))::int, 0,
       ts.t + interval '200 milliseconds'
FROM (SELECT t, {how} AS how
      FROM generate_series(%(from)s::timestamptz,
                           %(until)s::timestamptz - %(step)s::interval,
                           %(step)s::interval) AS t) ts
CROSS JOIN unnest(%(ids)s::text[], %(totals)s::int[]) AS c(id, total)
""".replace("{how}", _HOW)
_BULK_ECOLOGY = """
INSERT INTO ecology_readings (time, device_id, pm25, pm10, no2, so2, co, o3, laeq,
    temperature, relative_humidity, atmospheric_pressure, received_at)
SELECT ts.t, c.id, p.pm25, p.pm25 * 1.7 + 3,
       10 + 50 * ts.demand * c.exposure * (0.8 + 0.4 * random()),
       3 + 4 * ts.demand, 0.25 + 0.85 * ts.demand * c.exposure, 30 + 20 * random(),
       50 + 15 * ts.demand, 5 + 3 * random(), 0.7 + 0.1 * random(), 1013 + 5 * random(),
       ts.t + interval '200 milliseconds'
FROM (SELECT t, (%(demand)s::float8[])[{how}] AS demand
      FROM generate_series(%(from)s::timestamptz,
                           %(until)s::timestamptz - %(step)s::interval,
                           %(step)s::interval) AS t) ts
CROSS JOIN unnest(%(ids)s::text[], %(exposure)s::float8[]) AS c(id, exposure)
CROSS JOIN LATERAL (SELECT 5 + 20 * ts.demand * c.exposure * (0.7 + 0.6 * random()) AS pm25) p
""".replace("{how}", _HOW)
_BULK_STATS = """
INSERT INTO ingest_stats (time, worker, interval_s, received, stored, duplicates, rejected,
    batches, batch_size_avg, commit_ms_p50, commit_ms_p99, lag_ms_p50, lag_ms_p99, queue_depth)
SELECT t, w, 10, %(per_10s)s, %(per_10s)s, 0, (random() < 0.01)::int, 20, 500,
       3 + random() * 3, 10 + random() * 20, 150 + random() * 100, 500 + random() * 900,
       (random() * 50)::int
FROM generate_series(%(from)s::timestamptz, %(until)s::timestamptz - interval '10 seconds',
                     interval '10 seconds') AS t
CROSS JOIN unnest(ARRAY['ingest-1', 'ingest-2']) AS w
"""
_BULK_DEAD = """
INSERT INTO dead_letters (received_at, topic, payload, reason, detail, device_id, worker)
SELECT t, 'city/x/camera/' || d || '/telemetry', '\\x7b'::bytea,
       (ARRAY['invalid_json', 'out_of_range', 'unknown_field'])[1 + floor(random() * 3)::int],
       'generated', d, 'ingest-1'
FROM generate_series(%(from)s::timestamptz, %(until)s::timestamptz - interval '1 second',
                     interval '7 minutes') AS t
CROSS JOIN LATERAL (
    SELECT (%(ids)s::text[])[1 + floor(random() * cardinality(%(ids)s::text[]))::int] AS d) x
"""


def _week(f: Callable[[float], float]) -> list[float]:
    return [f(_MONDAY_MSK + h * 3600.0 + 1800.0) for h in range(168)]


#: Seconds between generated readings of each kind by default: a camera lane every
#: minute, a controller every 20 s, a lot every 5 minutes, a station every 20 minutes.
BULK_STEPS_S: dict[str, float] = {
    "cameras": 60.0,
    "lights": 20.0,
    "parking": 300.0,
    "ecology": 1200.0,
}
#: The generating statement of each kind, in the order they run.
BULK_STATEMENTS: tuple[tuple[str, str], ...] = (
    ("cameras", _BULK_CAMERAS),
    ("lights", _BULK_LIGHTS),
    ("parking", _BULK_PARKING),
    ("ecology", _BULK_ECOLOGY),
)


def bulk_parameters(city: City, devices: Sequence[Device]) -> dict[str, dict[str, Any]]:
    """Each kind's per-device arrays for its :data:`BULK_STATEMENTS` entry (all but the
    range ``from``/``until`` and the ``step``)."""
    from citypulse import DeviceKind
    from simulator import DistrictProfile

    crossings = {i.id: i for i in city.intersections}
    cams = [d for d in devices if d.kind is DeviceKind.CAMERA]
    lights = [d for d in devices if d.kind is DeviceKind.TRAFFIC_LIGHT]
    lots = [d for d in devices if d.kind is DeviceKind.PARKING]
    stations = {s.id: s for s in city.stations}
    ecology = [d for d in devices if d.kind is DeviceKind.ECOLOGY]
    demand = _week(traffic_demand)
    fill = _week(lambda t: parking_fill(t, DistrictProfile.MIXED))
    return {
        "cameras": {
            "ids": [d.id for d in cams],
            "lanes": [int(str(d.attributes["lanes"])) for d in cams],
            "weights": [
                crossings[str(d.intersection)].weight
                * (1.0 if d.attributes["approach"] in ("e", "w") else 0.7)
                for d in cams
            ],
            "free_flow": [55.0 if d.attributes["approach"] in ("e", "w") else 45.0 for d in cams],
            "capacity": [15.0 if d.attributes["approach"] in ("e", "w") else 11.0 for d in cams],
            "demand": demand,
        },
        "lights": {"ids": [d.id for d in lights], "offsets": [i % 4 for i in range(len(lights))]},
        "parking": {
            "ids": [d.id for d in lots],
            "totals": [int(str(d.attributes["total_spot_number"])) for d in lots],
            "fill": fill,
        },
        "ecology": {
            "ids": [d.id for d in ecology],
            "exposure": [stations[d.id].traffic_exposure for d in ecology],
            "demand": demand,
        },
    }


def write_operations(
    conn: psycopg.Connection[Any],
    devices: Sequence[Device],
    *,
    start: datetime,
    end: datetime,
    per_10s: int,
) -> None:
    """``ingest_stats`` and dead letters over ``[start, end)``, a day per statement."""
    ids = [d.id for d in devices]
    day = start
    while day < end:
        until = min(day + timedelta(days=1), end)
        conn.execute(_BULK_STATS, {"from": day, "until": until, "per_10s": per_10s})
        conn.execute(_BULK_DEAD, {"from": day, "until": until, "ids": ids})
        day = until


def finish_bulk(
    conn: psycopg.Connection[Any],
    city: City,
    devices: Sequence[Device],
    *,
    start: datetime,
    end: datetime,
    seed: int,
) -> tuple[int, int]:
    """Faults as incidents with their appeals, citizens' appeals, the devices' last
    contact (one of each kind silent for the last two hours); commits.  Returns the
    incidents and appeals written."""
    faults = random_faults(city, start=start, end=end, rates=len(devices) / 20, seed=seed)
    silent = _silent_at_end(devices, end)
    silent_ids = {d for f in silent for d in f.devices}
    faults = [f for f in faults if not set(f.devices) & silent_ids] + silent
    incidents, appeals = write_incidents_and_appeals(
        conn, devices, faults, start=start, now=end, citizen_per_day=40.0, seed=seed
    )
    conn.execute(
        "UPDATE devices SET last_seen = %s, online = true WHERE NOT (id = ANY(%s))",
        (end, sorted(silent_ids)),
    )
    conn.execute(
        "UPDATE devices SET last_seen = %s, online = false WHERE id = ANY(%s)",
        (end - timedelta(hours=2), sorted(silent_ids)),
    )
    conn.commit()
    return incidents, appeals


def seed_bulk(
    database_url: str,
    city: City,
    *,
    start: datetime,
    end: datetime,
    seed: int = 1,
    progress: Progress = _quiet,
) -> SeedReport:
    """Generate ``[start, end)`` of ``city`` inside PostgreSQL, a day per transaction."""
    t0 = time.perf_counter()
    sim = Simulation(city, start=start, end=end, seed=seed)
    devices = sim.devices
    per_kind = bulk_parameters(city, devices)
    readings = 0
    per_10s = max(1, round(len(devices) * 10 / 60 / 2))
    with connect(database_url) as conn:
        upsert_devices(conn, devices)
        conn.execute("SELECT citypulse_ensure_partitions(%s, %s)", (start, end))
        conn.commit()
        day = start
        while day < end:
            day_t0 = time.perf_counter()
            rows = 0
            until = day + timedelta(days=1)
            for name, statement in BULK_STATEMENTS:
                params: dict[str, Any] = {
                    "from": day,
                    "until": until,
                    "step": timedelta(seconds=BULK_STEPS_S[name]),
                    **per_kind[name],
                }
                rows += conn.execute(statement, params).rowcount
            write_operations(conn, devices, start=day, end=until, per_10s=per_10s)
            conn.commit()
            readings += rows
            conn.autocommit = True
            refresh_rollups(conn)
            conn.autocommit = False
            progress(
                f"  {day:%Y-%m-%d}: {rows:,} readings, rollups refreshed "
                f"({time.perf_counter() - day_t0:.1f} s; {readings:,} so far)"
            )
            day = until
        incidents, appeals = finish_bulk(conn, city, devices, start=start, end=end, seed=seed)
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")  # as autovacuum would have by now
    return SeedReport(len(devices), readings, incidents, appeals, time.perf_counter() - t0)
