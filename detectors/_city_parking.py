"""The city set's parking monitor: impossible counts, a count stuck for hours, full for long."""

from __future__ import annotations

from citypulse import Device, IncidentType
from detectors._city_monitor import CityConfig, Monitor
from detectors._incidents import Finding, normal
from detectors._rows import ParkingRow
from detectors._traffic import FullForLong, ParkingStuck
from detectors._validity import ParkingConsistency

_T = IncidentType


class ParkingMonitor(Monitor[ParkingRow]):
    """Judges the occupied count against the lot's total and usable spots."""

    __slots__ = ("consistency", "full", "stuck")

    def __init__(self, device: Device, config: CityConfig) -> None:
        super().__init__(device, config)
        self.consistency = ParkingConsistency()
        # Fed whenever the lot is not empty: a lot empty all night is real, but a full
        # one still turns over, so a count pinned at full for hours is a stuck sensor.
        self.stuck = ParkingStuck(
            min_duration_s=config.parking_stuck_s,
            min_count=max(3, int(config.parking_stuck_s / self.interval * 0.8)),
        )
        # Fed (occupied, usable): full means no usable spot free, through turnover.
        self.full = FullForLong(
            full_ratio=1.0,
            lasts_at_least_s=config.parking_full_s,
            gap_s=config.parking_gap_s,
            min_share=config.parking_full_share,
        )

    def reading(self, row: ParkingRow, out: list[Finding]) -> None:
        super().reading(row, out)
        t, total, occupied = row.time, row.total_spot_number, row.occupied_spot_number
        oos = row.out_of_service_slot_number
        if total is None or occupied is None:
            return
        tot, occ = float(total), float(occupied)
        usable = tot - float(oos or 0)
        if self.consistency.update(t, (occ, tot)) > 0.0:
            out.append(
                Finding(
                    _T.INVALID_DATA,
                    t,
                    detector="ParkingConsistency",
                    metric="occupied_spot_number",
                    value=occ,
                    limit=tot,
                    extra={"reason": "inconsistent", "detail": f"{occ:g} of {tot:g} occupied"},
                )
            )
        stuck = 0.0
        if occ > 0.0:
            stuck = self.stuck.update(t, occ)
        else:
            self.stuck.reset()
        if stuck > 0.0:
            out.append(
                Finding(
                    _T.PARKING_STUCK,
                    t,
                    detector="ParkingStuck",
                    metric="occupied_spot_number",
                    value=occ,
                    unit="spots",
                    since=self.stuck.since,
                    extra={"unchanged_s": round(t - self.stuck.since, 1)},
                )
            )
        else:
            out.append(normal(_T.PARKING_STUCK, t))
        full = self.full.update(t, (occ, usable))
        if stuck > 0.0:  # a stuck count says nothing about the lot
            out.append(normal(_T.PARKING_FULL, t))
        elif full > 0.0:
            out.append(
                Finding(
                    _T.PARKING_FULL,
                    t,
                    detector="FullForLong",
                    metric="occupied_spot_number",
                    value=occ,
                    limit=usable,
                    unit="spots",
                    since=self.full.since,
                    extra={"total": tot},
                )
            )
        elif self.full.since is None:
            out.append(normal(_T.PARKING_FULL, t))
