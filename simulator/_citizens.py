"""Simulated citizens: their reports as records, and the ground truth of why each was made.

Three kinds (:class:`ReportKind`):

- background: every service × district cell at its documented rate with daily and
  weekly seasonality (:mod:`simulator._citizen_rates`, reasoning in docs/simulator.md);
- surge: the extra reports of an injected :class:`Surge` (:mod:`simulator._surges`);
- fault_follow: a citizen who notices one of the simulated faults (:data:`FOLLOW`) —
  a dark, stuck, flashing or half-lit signal, a jam, a full lot, smog — reports it with
  probability ``p`` after a lognormal delay (``median_s``, ``sigma``), from near the
  device, if the fault still lasts by then.  Faults nobody outside can see (a dead or
  frozen camera, a stuck parking sensor, a drifting station, bad payloads) are never
  reported by citizens.

Everything is pure and seeded: the same arguments give the same reports.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from citypulse import DeviceKind
from simulator._citizen_rates import Scale
from simulator._citizen_texts import describe
from simulator._citizens_bulk import ReportKind, bulk_reports
from simulator._city import City
from simulator._faults import Fault, FaultType
from simulator._surges import Surge

_M_PER_DEG_LAT = 111_320.0
_MIN = 60.0


@dataclass(frozen=True, slots=True)
class FollowRule:
    """How citizens react to one fault type: report with probability ``p`` after a
    lognormal delay (median ``median_s``, log-sd ``sigma``); ``kinds`` are the device
    kinds on which the fault is visible; ``text`` picks the service's description."""

    service_code: str
    p: float
    median_s: float
    sigma: float
    kinds: tuple[DeviceKind, ...]
    text: int = 0

    def delay_s(self, rng: random.Random) -> float:
        return self.median_s * math.exp(self.sigma * rng.gauss(0.0, 1.0))


_TL = (DeviceKind.TRAFFIC_LIGHT,)
# Reasoning in docs/simulator.md: a dark signal at a busy crossing is noticed at once and
# called in quickly; a jam is reported by people stuck in it; smog takes a while to be
# sure of; a single dead lamp or a full lot bothers few enough to write.
FOLLOW: Mapping[FaultType, FollowRule] = MappingProxyType(
    {
        FaultType.POWER_LOSS: FollowRule("traffic-signal", 0.6, 15 * _MIN, 0.6, _TL, 0),
        FaultType.STUCK_PHASE: FollowRule("traffic-signal", 0.5, 25 * _MIN, 0.7, _TL, 2),
        FaultType.FLASHING_YELLOW: FollowRule("traffic-signal", 0.4, 30 * _MIN, 0.7, _TL, 1),
        FaultType.LAMP_FAILURE: FollowRule("traffic-signal", 0.2, 60 * _MIN, 0.8, _TL, 3),
        FaultType.CONGESTION: FollowRule(
            "traffic-congestion", 0.35, 20 * _MIN, 0.6, (DeviceKind.CAMERA,), 0
        ),
        FaultType.PARKING_FULL: FollowRule(
            "parking", 0.15, 45 * _MIN, 0.8, (DeviceKind.PARKING,), 0
        ),
        FaultType.AIR_QUALITY_EXCEEDANCE: FollowRule(
            "air-quality", 0.3, 60 * _MIN, 0.8, (DeviceKind.ECOLOGY,), 1
        ),
    }
)
_SPREAD_M = 25.0  # a fault's reporter stands this close to the device (normal sd)


@dataclass(frozen=True, slots=True)
class CitizenReport:
    """One simulated citizen's report; ``district`` is a slug, ``truth`` the id of the
    fault or surge behind it ("" for background)."""

    id: str
    time: datetime
    service_code: str
    district: str
    lat: float
    lon: float
    description: str
    kind: ReportKind
    truth: str = ""

    def ground_truth(self) -> dict[str, object]:
        return {
            "record": "report",
            "id": self.id,
            "kind": self.kind.value,
            "time": self.time.isoformat(),
            "service_code": self.service_code,
            "district": self.district,
            "lat": self.lat,
            "lon": self.lon,
            "truth": self.truth,
        }


def follow_faults(
    city: City, faults: Iterable[Fault], *, seed: int = 0, id_prefix: str = "cf"
) -> list[CitizenReport]:
    """Citizens' reports of the faults they can notice (:data:`FOLLOW`), in time order.

    Each fault draws from its own stream (seeded by the fault's id), so adding a fault
    leaves the others' reports as they were.
    """
    devices = {d.id: d for d in city.devices()}
    out: list[CitizenReport] = []
    for fault in faults:
        rule = FOLLOW.get(fault.type)
        if rule is None:
            continue
        device = devices.get(fault.devices[0])
        if device is None or device.kind not in rule.kinds or device.lat is None:
            continue
        assert device.lon is not None
        rng = random.Random(f"citizens-follow:{seed}:{fault.id}")
        if rng.random() >= rule.p:
            continue
        at = fault.onset(device.id) + timedelta(seconds=round(rule.delay_s(rng)))
        if at >= fault.end:
            continue  # the fault was over before anyone got round to writing
        dlat = rng.gauss(0.0, _SPREAD_M) / _M_PER_DEG_LAT
        dlon = rng.gauss(0.0, _SPREAD_M) / (_M_PER_DEG_LAT * math.cos(math.radians(device.lat)))
        out.append(
            CitizenReport(
                "",
                at,
                rule.service_code,
                device.district,
                round(device.lat + dlat, 6),
                round(device.lon + dlon, 6),
                describe(rule.service_code, rule.text, device.address),
                ReportKind.FAULT_FOLLOW,
                fault.id,
            )
        )
    out.sort(key=lambda r: r.time)
    return [dataclasses.replace(r, id=f"{id_prefix}{n:05d}") for n, r in enumerate(out, 1)]


def citizen_reports(
    city: City,
    *,
    start: datetime,
    end: datetime,
    scale: Scale | float = Scale.CITY,
    seed: int = 0,
    surges: Sequence[Surge] = (),
    faults: Sequence[Fault] = (),
) -> list[CitizenReport]:
    """Every citizen's report of a run in time order: background and surge reports
    (from :func:`bulk_reports`, ids ``c…``) and those following ``faults`` (``cf…``)."""
    arrays = bulk_reports(city, start=start, end=end, scale=scale, seed=seed, surges=surges)
    kinds = list(ReportKind)
    out = [
        CitizenReport(
            f"c{n:07d}",
            datetime.fromtimestamp(round(t, 3), UTC),
            code,
            arrays.districts[d],
            round(lat, 6),
            round(lon, 6),
            text,
            kinds[kind],
            surges[truth].id if truth >= 0 else "",
        )
        for n, (t, code, d, lat, lon, kind, truth, text) in enumerate(
            zip(
                arrays.t.tolist(),
                arrays.service_codes(),
                arrays.district.tolist(),
                arrays.lat.tolist(),
                arrays.lon.tolist(),
                arrays.kind.tolist(),
                arrays.truth.tolist(),
                arrays.descriptions(),
                strict=True,
            ),
            start=1,
        )
    ]
    followed = [r for r in follow_faults(city, faults, seed=seed) if start <= r.time < end]
    return sorted(out + followed, key=lambda r: r.time)


def write_citizens_truth(
    path: str | Path,
    reports: Iterable[CitizenReport],
    surges: Iterable[Surge],
    *,
    city: City,
    scale: Scale | float = Scale.CITY,
    appeal_ids: Mapping[str, int] | None = None,
) -> int:
    """Write the citizens' ground truth as JSON lines: each surge (``record: surge``, in
    start order), then each report (``record: report``, with ``appeal_id`` when it was
    published); return how many lines."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for surge in sorted(surges, key=lambda s: (s.start, s.id)):
            f.write(json.dumps(surge.ground_truth(city, scale), ensure_ascii=False) + "\n")
            n += 1
        for report in reports:
            line = report.ground_truth()
            if appeal_ids is not None and report.id in appeal_ids:
                line["appeal_id"] = appeal_ids[report.id]
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_citizens_truth(path: str | Path) -> list[dict[str, Any]]:
    """The citizens' ground-truth file's objects, as written."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
