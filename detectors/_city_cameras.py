"""The city set's camera monitor, one set of detectors per lane, and the small detectors
it uses: frozen reports (:class:`Repeats`), blinded counts (:class:`Collapse`), jams
(:class:`Jam`) and count spikes (:class:`CountSpike`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from citypulse import Device, IncidentType
from detectors._base import Detector, check, clip01, squash
from detectors._city_monitor import CityConfig, Monitor
from detectors._incidents import Finding, Judgement, normal
from detectors._learned import learned_views
from detectors._rows import CameraRow
from detectors._validity import CameraConsistency

_T = IncidentType
NAN = math.nan


class Repeats(Detector[tuple[float, ...]]):
    """Scores 1 once the same report has come ``n`` times in a row.

    Exact repetition of a multi-field report (count, speed, occupancy) does not happen
    in real traffic; reports with fewer than two non-zero fields (a bare count, an empty
    street at night) are not judged: repeating them is ordinary, and a camera blinded
    where traffic was expected is :class:`Collapse`'s to find.
    """

    __slots__ = ("_last", "_run", "_since", "n")

    def __init__(self, *, n: int = 3) -> None:
        check(n >= 2, "n must be >= 2")
        self.n = n
        self._last: tuple[float, ...] | None = None
        self._run = 0
        self._since = 0.0

    @property
    def since(self) -> float:
        return self._since

    @property
    def run(self) -> int:
        return self._run

    def update(self, t: float, x: tuple[float, ...]) -> float:
        given = 0
        for v in x:
            if v == v and v != 0.0:
                given += 1
        if given < 2:  # too little to tell
            self._last, self._run = None, 0
            return 0.0
        if x == self._last:
            self._run += 1
        else:
            self._last, self._run, self._since = x, 1, t
        return 1.0 if self._run >= self.n else 0.0


class Collapse(Detector[float]):
    """Counts stuck at zero where this hour of the day makes that improbable.

    Each stream learns its own profile, online: an exponentially weighted mean count
    per hour of the day (``bin_s``; about ``profile_span`` readings of memory, what is
    learnt clipped to 3 × the bin's mean + 10 so one wild count does not inflate it).
    A bin's mean is taken as the count at its middle, and between middles the
    expectation runs straight to the next one (a morning's rise is not a step at the
    hour).  During a run of zeros the expected counts of its readings are summed: under
    a Poisson model the chance of the run is exp(-sum).  Scores 1 once the sum reaches
    ``expected`` (16: about 1e-7), on the first zero where a busy hour expected that
    many (no such zero in 500,000 fault-free simulated lane reports).

    The expectation is scaled by how this lane ran against its profile when the run
    began, never above 1: its exponentially weighted level over ``span`` readings
    against the same average of what the profile expected of those readings (so a rise
    that the level follows a quarter of an hour late does not read as a quiet day),
    once the level rests on the ``expected`` vehicles an alarm needs; on fewer it is too
    noisy for that, and the expectation is at most the level.  It never rises above what
    it was then: a quiet holiday morning is not an obstruction, yet the expectation does
    not decay through the run, so a camera blinded at night is found as the small
    expected counts add up.  Until an hour's bin holds ``min_count`` readings the level
    alone is the expectation, decaying through the run as it learns the zeros.
    """

    __slots__ = (
        "_a",
        "_cnt",
        "_e",
        "_level",
        "_n",
        "_plevel",
        "_prof",
        "_run",
        "_scale",
        "_since",
        "_sum",
        "_top",
        "bin_s",
        "expected",
        "min_count",
        "profile_span",
        "span",
        "warm_up",
    )

    def __init__(
        self,
        *,
        expected: float = 16.0,
        span: int = 30,
        warm_up: int = 10,
        bin_s: float = 3600.0,
        profile_span: int = 180,
        min_count: int = 30,
    ) -> None:
        check(expected > 0 and span >= 2 and warm_up >= 1, "bad Collapse parameters")
        check(bin_s > 0 and 86400.0 % bin_s == 0, "bin_s must divide a day")
        check(profile_span >= 2 and min_count >= 1, "bad Collapse profile parameters")
        self.expected = expected
        self.span = span
        self.warm_up = warm_up
        self.bin_s = bin_s
        self.profile_span = profile_span
        self.min_count = min_count
        self._a = 2.0 / (span + 1.0)
        self._level = 0.0
        self._plevel = 0.0  # the level the profile expected: the same average of its bins
        self._n = 0
        self._run = 0
        self._sum = 0.0
        self._scale = 1.0
        self._top = 0.0  # the expectation when the run began: it may fall, never rise
        self._since = 0.0  # the time of the run's first zero
        self._e = 0.0
        bins = int(86400.0 // bin_s)
        self._prof = [0.0] * bins
        self._cnt = [0] * bins

    @property
    def level(self) -> float:
        return self._level

    def interrupt(self) -> None:
        """End the current run of zeros: a report in between could not be read."""
        self._run, self._sum = 0, 0.0

    @property
    def expectation(self) -> float:
        """The count the last reading was expected to have (evidence for an incident)."""
        return self._e

    @property
    def since(self) -> float:
        """The time of the current run's first zero (meaningful while :attr:`evidence`)."""
        return self._since

    @property
    def evidence(self) -> float:
        """The vehicles this run of zeros was expected to bring (the Poisson chance of
        the run is exp(-evidence)); 0 outside a run or before warm-up."""
        return self._sum if self._run and self._n >= self.warm_up else 0.0

    def update(self, t: float, x: float) -> float:
        if x != x or x < 0 or x == math.inf:
            return 0.0
        pos = (t % 86400.0) / self.bin_s
        b = int(pos)
        prof, cnt = self._prof[b], self._cnt[b]
        warm = cnt >= self.min_count
        # A bin's mean is the count at its middle: between middles the expectation runs
        # straight to the next bin's (a morning's rise is not a step at the hour).
        here = prof
        if warm:
            d = pos - b - 0.5
            nb = (b + 1) % len(self._prof) if d >= 0.0 else b - 1  # -1: the day's last
            if self._cnt[nb] >= self.min_count:
                here += abs(d) * (self._prof[nb] - prof)
        score = 0.0
        if x == 0.0:
            if self._run == 0:
                level, plevel, scale = self._level, self._plevel, 1.0
                if warm and here > 0.0:
                    # The level against what the profile expected of the same readings
                    # (a rise the level lags is not a quiet day), where the level rests
                    # on as many vehicles as an alarm needs; on fewer it is too noisy to
                    # raise, and the expectation is at most the level.
                    trusted = plevel > 0.0 and level * self.span >= self.expected
                    scale = min(1.0, level / plevel if trusted else level / here)
                self._scale = scale
                self._top = here * scale
                self._since = t
            self._run += 1
            self._e = min(here * self._scale, self._top) if warm else self._level
            self._sum += self._e
            if self._n >= self.warm_up and self._sum >= self.expected:
                score = 1.0
        else:
            self._run, self._sum = 0, 0.0
            self._e = here if warm else self._level
        if not score:  # an obstruction's zeros are not this hour's normal
            learnt = min(x, 3.0 * prof + 10.0) if warm else x
            ab = max(1.0 / (cnt + 1), 2.0 / (self.profile_span + 1.0))
            self._prof[b] = prof + ab * (learnt - prof)
            self._cnt[b] = cnt + 1
        n = self._n
        a = self._a if n >= self.span else 1.0 / (n + 1)
        self._level += a * (x - self._level)
        self._plevel += a * ((here if warm else x) - self._plevel)
        self._n = n + 1
        return score


class Jam(Detector[tuple[float, float]]):
    """``(speed km/h, occupancy)``: speed at most ``speed`` with occupancy at least
    ``occupancy`` for ``readings`` reports in a row (level of service F)."""

    __slots__ = ("_run", "_since", "occupancy", "readings", "speed")

    def __init__(self, *, speed: float = 13.0, occupancy: float = 0.55, readings: int = 3):
        check(speed > 0 and 0 < occupancy <= 1 and readings >= 1, "bad Jam parameters")
        self.speed = speed
        self.occupancy = occupancy
        self.readings = readings
        self._run = 0
        self._since = 0.0

    @property
    def since(self) -> float:
        return self._since

    def update(self, t: float, x: tuple[float, float]) -> float:
        v, occ = x
        if v == v and occ == occ and v <= self.speed and occ >= self.occupancy:
            if self._run == 0:
                self._since = t
            self._run += 1
            return 1.0 if self._run >= self.readings else 0.0
        self._run = 0
        return 0.0


class CountSpike(Detector[float]):
    """A count far above the series' exponentially weighted level.

    The spread is at least the Poisson one (sqrt of the level, and at least 1), so
    sparse night counts do not turn a single car into an outlier.  Scores
    ``squash(z, half)`` once ``z`` ≥ ``z_min`` and the count is at least ``min_ratio`` ×
    the level (2 at least) plus ``min_excess``: the end of a jam or the morning rush
    raise counts threefold at most.  Outliers are not learnt from.
    """

    __slots__ = (
        "_a",
        "_mean",
        "_n",
        "_var",
        "half",
        "min_excess",
        "min_ratio",
        "span",
        "warm_up",
        "z_min",
    )

    def __init__(
        self,
        *,
        z_min: float = 8.0,
        min_excess: float = 10.0,
        min_ratio: float = 4.0,
        span: int = 30,
        half: float = 4.0,
        warm_up: int = 20,
    ) -> None:
        check(z_min > 0 and span >= 2 and half > 0 and warm_up >= 1, "bad CountSpike parameters")
        self.z_min = z_min
        self.min_excess = min_excess
        self.min_ratio = min_ratio
        self.span = span
        self.half = half
        self.warm_up = warm_up
        self._a = 2.0 / (span + 1.0)
        self._n = 0
        self._mean = 0.0
        self._var = 0.0

    @property
    def mean(self) -> float:
        return self._mean

    @property
    def warm(self) -> bool:
        return self._n >= self.warm_up

    def z(self, x: float) -> float:
        spread = math.sqrt(max(self._var, self._mean, 1.0))
        return (x - self._mean) / spread

    def update(self, t: float, x: float) -> float:
        if x != x or x in (math.inf, -math.inf):
            return 0.0
        n = self._n
        if n >= self.warm_up:
            z = self.z(x)
            floor = self.min_ratio * max(self._mean, 2.0) + self.min_excess
            if z >= self.z_min and (self.min_ratio == 0.0 or x >= floor):
                return clip01(squash(z, self.half))  # not learnt: one wild value
        d = x - self._mean
        a = self._a if n >= self.span else 1.0 / (n + 1)
        self._mean += a * d
        self._var = (1.0 - a) * (self._var + a * d * d)
        self._n = n + 1
        return 0.0


class _Lane:
    __slots__ = ("collapse", "consistency", "flow", "forest", "jam", "repeats", "spike", "t")

    def __init__(self, config: CityConfig, lane: int) -> None:
        self.t = NAN  # the time of the lane's last report
        self.consistency = CameraConsistency()
        self.repeats = Repeats(n=config.frozen_repeats)
        self.collapse = Collapse(expected=config.collapse_expected)
        self.jam = Jam(
            speed=config.jam_speed_kmh, occupancy=config.jam_occupancy, readings=config.jam_readings
        )
        self.spike = CountSpike(z_min=config.spike_z, min_excess=config.spike_min_excess)
        # The lane's count against its own learnt time-of-day normal (Poisson spread at
        # least): a count far above what this hour brings, which a level alone misses.
        self.flow = learned_views(counts=True)
        self.forest: Detector[tuple[float, float, float]] | None = None
        if config.multivariate == "hst":
            from detectors._multivariate import CameraForest

            self.forest = CameraForest(seed=config.seed * 1000 + lane)
        elif config.multivariate == "iforest":
            from detectors._multivariate import CameraIsolationForest

            self.forest = CameraIsolationForest(seed=config.seed * 1000 + lane)


class CameraMonitor(Monitor[CameraRow]):
    """Judges each lane's counts, speed and occupancy on their own, and a camera's lanes
    together for blindness.

    A dirty or covered lens blinds every lane it sees at once, from the same report on,
    while a lane that is merely quiet stays quiet alone.  When every lane of a camera
    reported zero at the same time, each in a run of zeros that began at the same
    report, the lanes' evidence adds up: under independent Poisson counts the chance of
    all the runs together is exp(-sum of their expected vehicles), the same threshold
    as one lane's run.  A two-lane camera is so found in about half the minutes one lane
    needs.  Lanes are not independent, though: a road empties as a whole late at night,
    which made an earlier version of this (runs pooled whenever they overlapped) call a
    quiet street blind.  Runs that began at the same report are what a lens covered in
    busy traffic makes; a street emptying lets its lanes' last vehicles pass at
    different times.
    """

    __slots__ = ("config", "lanes")

    def __init__(self, device: Device, config: CityConfig) -> None:
        super().__init__(device, config)
        self.config = config
        self.lanes: dict[int, _Lane] = {}

    def dead_letter(self, t: float, reason: str, detail: str, out: list[Judgement]) -> None:
        super().dead_letter(t, reason, detail, out)
        # The unreadable report may have counted vehicles: no run of zeros spans it (a
        # camera in wrong units at night has only its empty reports readable).
        for lane in self.lanes.values():
            lane.collapse.interrupt()

    def reading(self, row: CameraRow, out: list[Judgement]) -> None:
        super().reading(row, out)
        t, lane_id, intensity = row.time, row.lane_id, row.intensity
        speed, occ, heavy = row.average_vehicle_speed, row.occupancy, row.heavy_vehicle_share
        lane = self.lanes.get(lane_id)
        if lane is None:
            lane = self.lanes[lane_id] = _Lane(self.config, lane_id)
        lane.t = t
        flow = NAN if intensity is None else float(intensity)
        v = NAN if speed is None else float(speed)
        o = NAN if occ is None else float(occ)
        where = {"lane_id": lane_id}
        if lane.consistency.update(t, (flow, v, o)) > 0.0:
            out.append(
                Finding(
                    _T.INVALID_DATA,
                    t,
                    detector="CameraConsistency",
                    metric="camera_report",
                    extra={
                        **where,
                        "reason": "inconsistent",
                        "detail": f"intensity={flow:g} speed={v:g} occupancy={o:g}",
                    },
                )
            )
        h = NAN if heavy is None else float(heavy)
        if lane.repeats.update(t, (flow, v, o, h)) > 0.0:
            since = lane.repeats.since
            out.append(
                Finding(
                    _T.FROZEN_VALUES,
                    t,
                    detector="Repeats",
                    metric="camera_report",
                    value=round(t - since, 1),
                    unit="s",
                    since=since,
                    extra={**where, "repeats": lane.repeats.run},
                )
            )
        else:
            out.append(normal(_T.FROZEN_VALUES, t))
        if lane.collapse.update(t, flow) > 0.0:
            out.append(_obstructed(t, lane.collapse.expectation, where))
        elif flow == 0.0 and len(self.lanes) > 1:
            self._all_lanes_blind(t, out)
        elif flow > 0:
            out.append(normal(_T.CAMERA_OBSTRUCTED, t))
        if lane.jam.update(t, (v, o)) > 0.0:
            out.append(
                Finding(
                    _T.CONGESTION,
                    t,
                    detector="Jam",
                    metric="average_vehicle_speed",
                    value=v,
                    limit=lane.jam.speed,
                    unit="km/h",
                    since=lane.jam.since,
                    extra={**where, "occupancy": o},
                )
            )
        else:
            out.append(normal(_T.CONGESTION, t))
        spike = lane.spike
        expected = spike.mean
        local = spike.z(flow) if spike.warm and flow == flow else 0.0
        s = spike.update(t, flow)
        detector = "CountSpike"
        learned = lane.flow
        learned.update(t, flow)
        # Far above both this hour's learnt normal and the lane's recent level, and at
        # least twice that level: a weaker spike than CountSpike alone may call, with
        # neither a rush hour (the normal knows it) nor a busy day (the level does) to
        # explain it.
        cfg = self.config
        if (
            not s
            and learned.last_z >= cfg.flow_z
            and local >= cfg.flow_local_z
            and flow >= 2.0 * max(expected, 2.0) + cfg.spike_min_excess
        ):
            s = squash(learned.last_z, cfg.flow_z)
            detector, expected = "SeasonalStream", learned.last_expected
        if s > 0.0:
            out.append(
                Finding(
                    _T.ANOMALY,
                    t,
                    detector=detector,
                    metric="intensity",
                    score=s,
                    threshold=0.5,
                    value=flow,
                    unit="vehicles",
                    extra={**where, "expected": round(expected, 2)},
                )
            )
        elif lane.forest is not None:
            fs = lane.forest.update(t, (flow, v, o))
            if fs >= self.config.multivariate_threshold:
                out.append(
                    Finding(
                        _T.ANOMALY,
                        t,
                        detector=type(lane.forest).__name__,
                        metric="flow_speed_occupancy",
                        score=fs,
                        threshold=self.config.multivariate_threshold,
                        extra=where,
                    )
                )
            else:
                out.append(normal(_T.ANOMALY, t))
        else:
            out.append(normal(_T.ANOMALY, t))

    def _all_lanes_blind(self, t: float, out: list[Judgement]) -> None:
        """Every lane reported zero at ``t``, each in a warm run of zeros that began at
        the same report and has not reached the threshold alone: their summed evidence
        judges the camera."""
        total, threshold = 0.0, self.config.collapse_expected
        since = None
        for lane in self.lanes.values():
            evidence = lane.collapse.evidence
            if lane.t != t or evidence <= 0.0 or evidence >= threshold:
                return  # traffic seen, no report yet at t, or the lane's own incident
            if since is None:
                since = lane.collapse.since
            elif lane.collapse.since != since:
                return  # the lanes went quiet one after another: a street emptying
            total += evidence
        if total < threshold:
            return
        lanes = sorted(self.lanes)
        expected = sum(lane.collapse.expectation for lane in self.lanes.values())
        out.append(_obstructed(t, expected, {"lane_id": lanes[0], "lanes": lanes}))


def _obstructed(t: float, expected: float, where: Mapping[str, object]) -> Finding:
    """No vehicles where ``expected`` were due in this interval."""
    return Finding(
        _T.CAMERA_OBSTRUCTED,
        t,
        detector="Collapse",
        metric="intensity",
        value=0.0,
        limit=round(expected, 2),
        unit="vehicles",
        extra={**where, "expected_per_interval": round(expected, 2)},
    )
