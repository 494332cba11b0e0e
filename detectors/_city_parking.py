"""The city set's parking monitor: impossible counts, a count stuck for hours, full for long
where this lot is not usually full at this time of day."""

from __future__ import annotations

from citypulse import Device, IncidentType
from detectors._city_monitor import CityConfig, Monitor
from detectors._incidents import Finding, Judgement, normal
from detectors._learned import learned_views
from detectors._rows import ParkingRow
from detectors._traffic import FullForLong, ParkingStuck
from detectors._validity import ParkingConsistency

_T = IncidentType


class ParkingMonitor(Monitor[ParkingRow]):
    """Judges the occupied count against the lot's total and usable spots."""

    __slots__ = ("_full_since", "_full_z", "config", "consistency", "full", "occupancy", "stuck")

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
        # The share of spots occupied, against this lot's own learnt time-of-day normal: a
        # residential lot full every night, or a business lot every noon, is not news.
        self.occupancy = learned_views()
        self.config = config
        self._full_since: float | None = None
        self._full_z = 0.0  # how unusual full was when the current full period began

    def reading(self, row: ParkingRow, out: list[Judgement]) -> None:
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
        self.occupancy.update(t, occ / tot if tot > 0.0 else 0.0)
        full = self.full.update(t, (occ, usable))
        since = self.full.since
        if since is not None and since != self._full_since:
            # Judged once, at the period's first full reading, before a long full period
            # could move the normal: full for long is news only where it is unusual.
            self._full_since = since
            self._full_z = self.occupancy.last_z
        usual = self._full_z < self.config.parking_full_z
        if stuck > 0.0 or (full > 0.0 and usual):  # a stuck count says nothing of the lot
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
                    extra={
                        "total": tot,
                        "usual_share": round(self.occupancy.last_expected, 3),
                        "z": round(self._full_z, 1),
                    },
                )
            )
        elif self.full.since is None:
            out.append(normal(_T.PARKING_FULL, t))
