"""Publish a simulated city's field devices over MQTT, with injected faults.

The city is a named one (--city): "kaluga" (the default: a Kaluga-centre-like layout,
16 intersections with a signal controller and approach cameras each, 6 parking lots, 3
ecology stations in 3 districts) or "large" (the generated grid at a real city's size:
2,025 intersections in 25 districts, 10,075 devices, about 5,250 readings/s at speed 1,
cameras and parking behind batching gateways; docs/simulator.md), or, with
--intersections N, a generated grid city of any size.  Devices publish on
{root}/{district}/{kind}/{device_id}/telemetry and .../status exactly as
docs/wire-contract.md says, with timestamps in simulated time: traffic lights on every
phase change plus a heartbeat (--heartbeat), cameras every --camera-interval s (one
object per lane), parking every --parking-interval s, ecology every --ecology-interval s;
each defaults to the city's own (60, 60, 300 and 1200 s but for "large").

Time: --speed 600 runs ten simulated minutes per second, --realtime runs at wall-clock
pace, --speed max as fast as the broker acknowledges; --rate R instead offers a fixed R
messages per second (for the ingest benchmark).  --start defaults to the moment that makes
the run end near "now" (ingest rejects readings more than 5 minutes in the future).

Connections (--mode): "device" gives every device its own connection with its retained
last will, and a power loss drops the connection uncleanly so the broker fires the will;
"gateway" shares --gateways connections and publishes the will-equivalent offline
status; "auto" picks device mode up to 300 devices.  --workers N splits the devices over
N processes (default 2 when running flat out or for more than 5,000 devices: one process
tops out near 2,000-3,000 QoS 1 messages/s here); each device keeps its own order.
--batch S makes every device's readings travel as one JSON array per S simulated seconds
(a gateway batch; 0: none), instead of the city's own gateways.  The device registry is
written to the database first (citypulse.db.upsert_devices) unless --no-register;
--output FILE writes the messages as JSON lines instead of publishing; --dry-run only
counts what the run would offer (devices per kind and district, readings and messages
per simulated second, the share of batches) and prints it.

Faults: --random-faults RATE draws RATE faults per simulated day across all types, and
--scenario FILE (YAML or JSON) lists them explicitly.  Every injected fault is written
to --ground-truth (JSON lines: id, type, devices, start, end, expected_incident_type,
params, and onsets where a fault spreads).  A scenario file:

  faults:
    - type: stuck_phase              # one of the types below
      device: tl-kirova-pushkina     # or devices: [..], or intersection: kirova-pushkina
      at: 7h30m                      # offset from --start; or start: 2026-11-23T07:30:00+03:00
      duration: 40m
    - type: spike                    # one reading multiplied; type-specific parameters
      device: eco-leninsky-1         # sit beside the common keys
      at: 3h
      field: no2
      factor: 6
    - type: congestion               # speed collapse, occupancy rise, spreading upstream
      intersection: lenina-moskovskaya
      at: 17h
      duration: 90m
      spread: 10m                    # a further hop upstream every 10 minutes
      hops: 2
    - type: air_quality_exceedance   # over СанПиН 1.2.3685-21 limits
      device: eco-leninsky-1
      at: 9h
      duration: 4h
      pollutant: pm25                # pm25, pm10, no2, so2, co, o3; level defaults to
                                     # 1.3 x the maximum single limit (PM2.5: 208 µg/m³)
  random:
    rate: 6                          # faults per simulated day, all types
    rates: {spike: 4}                # or per type
    seed: 7

Fault types (device kinds; expected incident type):
  stuck_phase (traffic_light; stuck_phase), flashing_yellow (traffic_light;
  signal_flashing), lamp_failure (traffic_light; lamp_fault), power_loss (any;
  device_offline), camera_offline (camera; device_offline), camera_frozen (camera;
  camera_frozen), camera_obstructed (camera, zero counts; camera_obstructed),
  congestion (camera; congestion), parking_stuck (parking; parking_stuck), parking_full
  (parking; parking_full), air_quality_exceedance (ecology; air_quality_exceedance),
  sensor_drift (ecology: field, rate_per_hour; sensor_drift), spike (camera or ecology:
  field, factor; spike), malformed_payload (any; invalid_payload), wrong_units (any;
  invalid_payload).

Citizens (docs/simulator.md): --citizens URL also posts simulated citizens' reports to
the governance center's Open311 API at URL (POST /open311/v2/requests.json, paced with
the devices' messages), with the reporter key in CITYPULSE_CITIZENS_API_KEY (never a
flag, never logged): background reports per service and district at the documented
rates (--citizens-scale city or region), reports following the faults citizens can see,
and --surges RATE surges per simulated week (each ×--surge-multiplier over its cell's
normal for --surge-duration).  Their ground truth (surges, then every report with the
appeal id it got) goes to --citizens-truth.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from citypulse import (
    DeviceKind,
    FloatRange,
    IntRange,
    Settings,
    http_url,
    iso_time,
    non_negative_float,
    non_negative_int,
    positive_duration,
    positive_float,
    positive_int,
    slug,
)

if TYPE_CHECKING:
    from simulator._generator import Simulation
    from simulator._parallel import RunSpec
    from simulator._stats import ScheduleStats

HELP = "publish a simulated city over MQTT"
_AUTO_DEVICE_LIMIT = 300
_PARALLEL_DEVICES = 5000  # above this, two processes even at a simulated speed
CITY_NAMES = ("kaluga", "large")  # simulator._city.CITIES, named here for a light --help


def _speed(value: str) -> float:
    """Simulated seconds per wall second, or ``max`` (0.0: as fast as the broker takes)."""
    if value.lower() in ("max", "inf", "0"):
        return 0.0
    try:
        return positive_float(value)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (or max)") from exc


def configure(parser: argparse.ArgumentParser) -> None:
    city = parser.add_argument_group("city")
    which = city.add_mutually_exclusive_group()
    which.add_argument(
        "--city",
        choices=CITY_NAMES,
        default="kaluga",
        help="a named city: kaluga (default, 89 devices) or large (10,075 devices)",
    )
    which.add_argument(
        "--intersections",
        type=positive_int,
        metavar="N",
        help="a generated city of N intersections",
    )
    city.add_argument("--seed", type=non_negative_int, default=1, help="random seed (default 1)")
    t = parser.add_argument_group("time")
    t.add_argument(
        "--start", type=iso_time, help="simulated start, ISO-8601 with offset (default: end now)"
    )
    t.add_argument(
        "--duration",
        type=positive_duration,
        default="1d",
        help="simulated span, e.g. 90m, 6h, 1d (default 1d)",
    )
    t.add_argument(
        "--speed", type=_speed, default=600.0, help="simulated s per wall s, or max (default 600)"
    )
    t.add_argument("--realtime", action="store_true", help="same as --speed 1")
    t.add_argument(
        "--rate", type=positive_float, help="offer a fixed number of messages per second"
    )
    dev = parser.add_argument_group("devices")
    own = " (default: the city's own)"
    dev.add_argument("--camera-interval", type=positive_float, metavar="S", help="s" + own)
    dev.add_argument("--parking-interval", type=positive_float, metavar="S", help="s" + own)
    dev.add_argument("--ecology-interval", type=positive_float, metavar="S", help="s" + own)
    dev.add_argument(
        "--heartbeat", type=positive_float, metavar="S", help="traffic-light heartbeat, s" + own
    )
    f = parser.add_argument_group("faults")
    f.add_argument("--scenario", metavar="FILE", help="YAML or JSON fault scenario")
    f.add_argument(
        "--random-faults", type=non_negative_float, metavar="RATE", help="random faults per day"
    )
    f.add_argument(
        "--severity",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="scale on every fault magnitude (1 = the documented ranges, 0.5 = half as far "
        "from normal); explicit values in a scenario file are kept",
    )
    f.add_argument(
        "--ground-truth",
        metavar="FILE",
        default="ground-truth.jsonl",
        help="where to write injected faults (default ground-truth.jsonl)",
    )
    c = parser.add_argument_group("citizens")
    c.add_argument(
        "--citizens",
        type=http_url,
        metavar="URL",
        help="post citizens' reports to this Open311 API (key: CITYPULSE_CITIZENS_API_KEY)",
    )
    c.add_argument(
        "--citizens-scale",
        choices=("city", "region"),
        default="city",
        help="residents behind each district (default city; region: x9)",
    )
    c.add_argument(
        "--surges", type=non_negative_float, default=0.0, metavar="RATE", help="surges per week"
    )
    c.add_argument(
        "--surge-multiplier",
        type=FloatRange(above=1.0),
        default=2.0,
        metavar="X",
        help="a surge's rate over its cell's normal (default 2)",
    )
    c.add_argument(
        "--surge-duration",
        type=positive_duration,
        default="1d",
        help="how long a surge lasts (default 1d)",
    )
    c.add_argument(
        "--citizens-truth",
        metavar="FILE",
        default="ground-truth-citizens.jsonl",
        help="where to write the citizens' ground truth (default ground-truth-citizens.jsonl)",
    )
    m = parser.add_argument_group("output")
    m.add_argument(
        "--topic-root", type=slug, default="city", help="first topic level (default city)"
    )
    m.add_argument("--mode", choices=("auto", "device", "gateway"), default="auto")
    m.add_argument("--gateways", type=positive_int, default=4, help="connections in gateway mode")
    m.add_argument(
        "--batch",
        type=non_negative_float,
        metavar="S",
        help="every device's batch window, s; 0: none (default: the city's gateways)",
    )
    m.add_argument(
        "--max-inflight", type=IntRange(1, 60_000), default=2000, help="unacknowledged QoS 1 cap"
    )
    m.add_argument(
        "--workers",
        type=non_negative_int,
        default=0,
        help="processes, each publishing a share of devices (default: 2 when running "
        "as fast as possible or at a --rate on a multi-core machine, else 1)",
    )
    m.add_argument("--no-register", action="store_true", help="do not write the device registry")
    m.add_argument("--output", metavar="FILE", help="write JSON lines here instead of MQTT")
    m.add_argument(
        "--dry-run",
        action="store_true",
        help="publish nothing: print what the run offers (rates, batch share, devices)",
    )
    m.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from simulator._city import CITIES, generated_city
    from simulator._faults import load_scenario, random_faults, write_ground_truth
    from simulator._parallel import RunSpec
    from simulator._stats import schedule_stats

    speed = 1.0 if args.realtime else args.speed
    duration: timedelta = args.duration
    now = datetime.now(UTC).replace(microsecond=0)
    if args.start:
        start: datetime = args.start
    elif speed and not args.rate:
        start = now + duration / speed - duration
    else:
        start = now - duration
    end = start + duration
    city = (
        generated_city(args.intersections, seed=args.seed)
        if args.intersections
        else CITIES[args.city](args.seed)
    )
    given = {
        "camera_s": args.camera_interval,
        "parking_s": args.parking_interval,
        "ecology_s": args.ecology_interval,
        "heartbeat_s": args.heartbeat,
    }
    intervals = dataclasses.replace(
        city.intervals, **{k: v for k, v in given.items() if v is not None}
    )
    if args.batch is not None:  # the same window for every kind instead of the city's
        city = dataclasses.replace(
            city, gateway_s=dict.fromkeys(DeviceKind, args.batch) if args.batch else {}
        )
    faults = []
    if args.scenario:
        faults += load_scenario(
            args.scenario,
            city,
            start=start,
            end=end,
            seed=args.seed,
            intervals=intervals,
            severity=args.severity,
        )
    if args.random_faults:
        extra = random_faults(
            city,
            start=start,
            end=end,
            rates=args.random_faults,
            seed=args.seed + 1,
            intervals=intervals,
            id_prefix="r",
            severity=args.severity,
        )
        faults += extra
    spec = RunSpec(
        city,
        start,
        end,
        seed=args.seed,
        faults=tuple(faults),
        intervals=intervals,
        topic_root=args.topic_root,
    )
    sim = spec.simulation()
    if faults:
        write_ground_truth(args.ground_truth, faults)
    print(
        f"simulate: {city.name}: {len(sim.devices)} devices, {len(faults)} faults, "
        f"{start.isoformat()} .. {end.isoformat()}"
        + (f", ground truth in {args.ground_truth}" if faults else ""),
        file=sys.stderr,
    )
    if args.dry_run:
        stats = schedule_stats(sim.published(), sim.devices, span_s=duration.total_seconds())
        _print_stats(stats, sim)
        return 0
    citizens: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if args.citizens:
        from simulator._cli_citizens import CitizensRun

        citizens = CitizensRun(
            args,
            settings,
            city=city,
            faults=faults,
            start=start,
            end=end,
            speed=(speed or None) if args.rate is None else None,
        )
    with citizens:
        return _emit(args, settings, spec, speed)


def _emit(args: argparse.Namespace, settings: Settings, spec: RunSpec, speed: float) -> int:
    """Write the run's messages to --output or publish them over MQTT."""
    import orjson

    from citypulse.db import connect, upsert_devices
    from simulator._parallel import publish_parallel
    from simulator._publish import Progress, publish

    sim = spec.simulation()
    messages = sim.published()
    if args.output:
        n = 0
        with open(args.output, "wb") as out:
            for msg in messages:
                line = {
                    "time": msg.time.isoformat(),
                    "topic": msg.topic,
                    "payload": msg.payload.decode("utf-8", "replace"),
                    "retain": msg.retain,
                }
                out.write(orjson.dumps(line) + b"\n")
                n += 1
        print(f"simulate: wrote {n} messages to {args.output}", file=sys.stderr)
        return 0
    if not args.no_register:
        t0 = time.monotonic()
        with connect(settings.database_url, application_name="citypulse-simulate") as conn:
            count = upsert_devices(conn, sim.devices)
            conn.commit()
        took = time.monotonic() - t0
        print(f"simulate: registered {count} devices in {took:.1f} s", file=sys.stderr)
    mode = args.mode
    if mode == "auto":
        mode = "device" if len(sim.devices) <= _AUTO_DEVICE_LIMIT else "gateway"

    def show(p: Progress) -> None:
        at = datetime.fromtimestamp(p.sim_time, UTC).isoformat(timespec="seconds")
        print(
            f"simulate: {p.messages} messages, simulated {at}, {p.rate:.0f} msg/s, "
            f"{p.inflight} in flight",
            file=sys.stderr,
        )

    common = {
        "mqtt_url": settings.mqtt,
        "mode": mode,
        "gateways": args.gateways,
        "speed": speed or None,
        "rate": args.rate,
        "max_inflight": args.max_inflight,
        "client_prefix": f"citypulse-sim-{args.topic_root}",
        "ca_file": settings.mqtt_ca_file,
        "progress": None if args.quiet else show,
    }
    workers = args.workers
    if workers <= 0:
        flat_out = not speed or args.rate is not None
        many = len(sim.devices) > _PARALLEL_DEVICES
        workers = min(2, os.cpu_count() or 1) if flat_out or many else 1
    if workers > 1:
        report = publish_parallel(spec, workers=workers, **common)
    else:
        report = publish(messages, devices=sim.devices, topic_root=args.topic_root, **common)
    print(
        f"simulate: published {report.messages} messages ({report.bytes} bytes) in "
        f"{report.wall_s:.1f} s, {report.rate:.0f} msg/s over {report.connections} "
        f"{report.mode} connection(s); {report.wills} last will(s) fired",
        file=sys.stderr,
    )
    return 0


def _print_stats(stats: ScheduleStats, sim: Simulation) -> None:
    """What the run offers, per simulated second (so at speed 1, per wall second)."""
    from simulator._stats import device_counts

    kinds, districts = device_counts(sim.devices)
    per_s = stats.span_s
    print(f"simulate: dry run over {per_s:.0f} simulated s, nothing published")
    print(
        f"readings/s {stats.readings_per_s:.1f}  messages/s {stats.messages_per_s:.1f} "
        f"(telemetry {stats.telemetry / per_s:.1f})  batches {stats.batches} = "
        f"{stats.batch_share:.1%} of messages, {stats.batches / max(1, stats.telemetry):.1%} "
        f"of telemetry  invalid (faults) {stats.invalid}"
    )
    print("kind            devices  readings/s  messages/s  batch window s")
    for kind in DeviceKind:
        print(
            f"{kind.value:<15} {kinds.get(kind, 0):>7}  "
            f"{stats.readings_by_kind.get(kind, 0) / per_s:>10.1f}  "
            f"{stats.messages_by_kind.get(kind, 0) / per_s:>10.1f}  "
            f"{sim.city.gateway_s.get(kind, 0.0):>14g}"
        )
    sizes = sorted(districts.values())
    print(
        f"districts {len(districts)}: {sizes[0]}..{sizes[-1]} devices each  "
        + " ".join(f"{d}={n}" for d, n in sorted(districts.items()))
    )
