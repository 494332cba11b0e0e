"""The city set's air-quality monitor and its detectors: СанПиН 1.2.3685-21 limits,
PM2.5 drifting from PM10 (:class:`PairDrift`) and jumps by a factor (:class:`LogSpike`)."""

from __future__ import annotations

import math

from citypulse import AIR_LIMITS, Device, IncidentType
from detectors._base import Detector, check
from detectors._city_cameras import CountSpike
from detectors._city_monitor import CityConfig, Monitor
from detectors._incidents import Finding, Judgement, normal
from detectors._rows import EcologyRow
from detectors._rules import LimitRule, air_quality_rule

_T = IncidentType


class LogSpike(CountSpike):
    """:class:`CountSpike` on log10 of a positive concentration: a jump by a factor."""

    __slots__ = ("min_spread",)

    def __init__(
        self, *, z_min: float = 5.0, span: int = 36, min_spread: float = 0.07, warm_up: int = 12
    ) -> None:
        super().__init__(
            z_min=z_min, min_excess=0.0, min_ratio=0.0, span=span, half=z_min, warm_up=warm_up
        )
        self.min_spread = min_spread

    def z(self, x: float) -> float:
        return (x - self._mean) / max(math.sqrt(self._var), self.min_spread)

    def update(self, t: float, x: float) -> float:
        if not x > 0.0 or x == math.inf:
            return 0.0
        return super().update(t, math.log10(x))


class _Fit:
    """An exponentially weighted linear fit of y on x (means, variance, covariance)."""

    __slots__ = ("cxy", "mx", "my", "vx")

    def __init__(self) -> None:
        self.mx = self.my = self.vx = self.cxy = 0.0

    def predict(self, x: float) -> float:
        b = self.cxy / self.vx if self.vx > 1e-12 else 0.0
        return self.my + b * (x - self.mx)

    def learn(self, x: float, y: float, a: float) -> None:
        dx, dy = x - self.mx, y - self.my
        self.mx += a * dx
        self.my += a * dy
        self.vx = (1.0 - a) * (self.vx + a * dx * dx)
        self.cxy = (1.0 - a) * (self.cxy + a * dx * dy)

    def copy(self) -> _Fit:
        out = _Fit()
        out.mx, out.my, out.vx, out.cxy = self.mx, self.my, self.vx, self.cxy
        return out


class PairDrift(Detector[tuple[float, float]]):
    """``(y, x)``: ``y`` drifting away from what a co-located, correlated ``x`` predicts.

    An exponentially weighted linear fit of y on x (``span`` readings) gives the
    residual; a two-sided CUSUM of the standardised residual (each step clipped to
    ±``clip``, slack ``k``, each sum capped at 2 × ``h``) scores 1 at ``h``.  The fit
    learns only while the CUSUM is quiet, so a slow drift is not absorbed into the
    model, and the cap lets the alarm end within about ``h`` / ``k`` readings of the
    sensor's return: the return is to the relation the fit still holds, so it raises
    nothing.  PM2.5 against PM10 of the same station: both follow traffic and weather,
    so a drift of one sensor stands out long before it is visible against the daily
    cycle.

    A shadow fit learns from every reading.  After ``reset_after`` alarming readings,
    if the shadow's residuals have also been quiet for ``reset_after`` readings, the
    relation itself has changed and settled (a recalibrated or replaced sensor): the
    shadow becomes the fit and the alarm ends, with no warm-up.  A drift still under way
    never settles, so the alarm lasts as long as the drift does.
    """

    __slots__ = (
        "_a",
        "_fit",
        "_n",
        "_neg",
        "_pos",
        "_quiet",
        "_r2",
        "_run",
        "_shadow",
        "_sneg",
        "_spos",
        "clip",
        "h",
        "k",
        "min_spread",
        "reset_after",
        "span",
        "warm_up",
    )

    def __init__(
        self,
        *,
        h: float = 10.0,
        k: float = 1.0,
        clip: float = 4.0,
        span: int = 72,
        min_spread: float = 0.5,
        warm_up: int = 72,
        reset_after: int = 72,
    ) -> None:
        check(h > 0 and k >= 0 and clip > 0 and span >= 2, "bad PairDrift parameters")
        check(min_spread > 0 and warm_up >= 3 and reset_after >= 1, "bad PairDrift parameters")
        self.reset_after = reset_after
        self.h = h
        self.k = k
        self.clip = clip
        self.span = span
        self.min_spread = min_spread
        self.warm_up = warm_up
        self._a = 2.0 / (span + 1.0)
        self._n = 0
        self._run = self._quiet = 0
        self._fit = _Fit()
        self._shadow = _Fit()
        self._r2 = 0.0
        self._pos = self._neg = self._spos = self._sneg = 0.0

    def predict(self, x: float) -> float:
        return self._fit.predict(x)

    @property
    def offset_sign(self) -> float:
        return 1.0 if self._pos >= self._neg else -1.0

    def _z(self, r: float, spread: float) -> float:
        return max(-self.clip, min(self.clip, r / spread))

    def update(self, t: float, x: tuple[float, float]) -> float:
        y, ref = x
        if y != y or ref != ref or y in (math.inf, -math.inf) or ref in (math.inf, -math.inf):
            return 0.0
        n = self._n
        a = self._a if n >= self.span else 1.0 / (n + 1)
        score = 0.0
        learn = True
        if n >= self.warm_up:
            spread = max(math.sqrt(self._r2), self.min_spread)
            r = y - self._fit.predict(ref)
            z = self._z(r, spread)
            cap = 2.0 * self.h
            self._pos = min(cap, max(0.0, self._pos + z - self.k))
            self._neg = min(cap, max(0.0, self._neg - z - self.k))
            s = max(self._pos, self._neg)
            score = 1.0 if s >= self.h else 0.0
            learn = s < self.h / 2
            zs = self._z(y - self._shadow.predict(ref), spread)
            self._spos = min(cap, max(0.0, self._spos + zs - self.k))
            self._sneg = min(cap, max(0.0, self._sneg - zs - self.k))
            self._quiet = self._quiet + 1 if max(self._spos, self._sneg) < self.h / 2 else 0
            self._run = self._run + 1 if score else 0
            if self._run >= self.reset_after and self._quiet >= self.reset_after:
                self._fit = self._shadow.copy()
                self._run, self._pos, self._neg = 0, 0.0, 0.0
            elif learn:
                self._r2 += self._a * (r * r - self._r2)
        self._shadow.learn(ref, y, a)
        if learn:
            self._fit.learn(ref, y, a)
            if n < self.warm_up:
                r = y - self._fit.predict(ref)
                self._r2 += a * (r * r - self._r2)
            self._n = n + 1
        return score


ECOLOGY_FIELDS = ("pm25", "pm10", "no2", "so2", "co", "o3")


class EcologyMonitor(Monitor[EcologyRow]):
    """Judges each pollutant against its limits and its own level, PM2.5 against PM10.

    A jump by a large factor (:class:`LogSpike`) is a sensor's ``anomaly`` even when the
    reading is over a limit: ПДК м.р. is a 20-minute mean, so the limit incident waits
    until readings over it span that period (``spanned``), and one reading never opens
    it.  A PM2.5 jump that PM10 shares or still holds (PM10 contains PM2.5), or a jump of
    a pollutant whose exceedance has already lasted, is air, not a glitch: no spike.
    """

    __slots__ = ("air", "drift", "spikes")

    def __init__(self, device: Device, config: CityConfig) -> None:
        super().__init__(device, config)
        self.air = {
            p: air_quality_rule(p, lasts_at_least_s=config.air_lasts_s, spanned=True)
            for p in ECOLOGY_FIELDS
        }
        self.drift = PairDrift(h=config.drift_h)
        self.spikes = {p: LogSpike(z_min=config.log_spike_z) for p in ("pm25", "pm10", "no2")}

    def reading(self, row: EcologyRow, out: list[Judgement]) -> None:
        super().reading(row, out)
        t = row.time
        values = {
            "pm25": row.pm25,
            "pm10": row.pm10,
            "no2": row.no2,
            "so2": row.so2,
            "co": row.co,
            "o3": row.o3,
        }
        exceeded = self._limits(t, values, out)
        jumps: dict[str, tuple[float, float, float]] = {}  # pollutant -> (score, x, expected)
        for p, det in self.spikes.items():
            x = values[p]
            if x is None:
                continue
            before = det.mean
            s = det.update(t, float(x))
            if s > 0.0:
                jumps[p] = (s, float(x), before)
        pm25, pm10 = values["pm25"], values["pm10"]
        # PM10 contains PM2.5: a PM2.5 jump is air if PM10 rose with it or still holds it;
        # PM2.5 above PM10 can only be the sensor's error.
        plume = "pm25" in jumps and (
            "pm10" in jumps or (pm10 is not None and pm25 is not None and pm10 >= pm25)
        )
        spiked = False
        for p, (s, x, before) in jumps.items():
            if (plume and p in ("pm25", "pm10")) or p in exceeded:
                continue
            spiked = True
            out.append(
                Finding(
                    _T.ANOMALY,
                    t,
                    detector="LogSpike",
                    metric=p,
                    score=s,
                    value=x,
                    unit="µg/m³",
                    extra={
                        "expected": round(10.0**before, 2),
                        "z": round(self.spikes[p].z(math.log10(x)), 1),
                    },
                )
            )
        if not spiked:
            out.append(normal(_T.ANOMALY, t))
        if pm25 is None or pm10 is None or exceeded or jumps:
            return  # an exceedance or a jump breaks the PM2.5/PM10 relation for real
        if self.drift.update(t, (float(pm25), float(pm10))) > 0.0:
            offset = float(pm25) - self.drift.predict(float(pm10))
            out.append(
                Finding(
                    _T.SENSOR_DRIFT,
                    t,
                    detector="PairDrift",
                    metric="pm25",
                    value=float(pm25),
                    unit="µg/m³",
                    extra={"reference": "pm10", "offset": round(offset, 2)},
                )
            )
        else:
            out.append(normal(_T.SENSOR_DRIFT, t))

    def _limits(self, t: float, values: dict[str, float | None], out: list[Judgement]) -> set[str]:
        """Judge every limit; append the worst exceedance (or normal) and return the
        pollutants over their ПДК м.р."""
        worst: Finding | None = None
        worst_ratio = 0.0
        exceeded: set[str] = set()
        for p, rule in self.air.items():
            x = values[p]
            if x is None:
                continue
            scores = rule.explain(t, float(x))
            lim = AIR_LIMITS[p]
            for averaging, s in scores.items():
                if s <= 0.0:
                    continue
                member = rule.detectors[averaging]
                if averaging == "max_single":
                    exceeded.add(p)
                assert isinstance(member, LimitRule)
                avg = member.average / lim.unit_factor
                limit = member.limit / lim.unit_factor
                ratio = avg / limit
                if ratio > worst_ratio:
                    worst_ratio = ratio
                    worst = Finding(
                        _T.AIR_QUALITY_EXCEEDANCE,
                        t,
                        detector="air_quality_rule",
                        metric=p,
                        value=round(avg, 4),
                        limit=limit,
                        unit="mg/m³",
                        extra={
                            "averaging": averaging,
                            "averaging_s": member.averaging_s,
                            "standard": "СанПиН 1.2.3685-21",
                            "pollutant": p,
                        },
                    )
        out.append(worst if worst is not None else normal(_T.AIR_QUALITY_EXCEEDANCE, t))
        return exceeded
