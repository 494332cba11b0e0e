"""The city set's traffic-light monitor: stuck phases, flashing or dark signals, lamp faults."""

from __future__ import annotations

from citypulse import Device, IncidentType
from detectors._city_monitor import CityConfig, Monitor
from detectors._health import LampFault, SignalDark, StuckPhase
from detectors._incidents import Finding, Judgement, normal
from detectors._rows import TrafficLightRow

_T = IncidentType


class TrafficLightMonitor(Monitor[TrafficLightRow]):
    """Judges phases, the controller mode and the lamp-fault flag."""

    __slots__ = ("dark", "flashing", "lamp", "stuck")

    def __init__(self, device: Device, config: CityConfig) -> None:
        super().__init__(device, config)
        # A gap is what Silence calls one: k report intervals without a reading.
        self.stuck = StuckPhase(
            max_phase_s=config.max_phase_s, max_gap_s=self.silence.k * self.interval
        )
        self.flashing = SignalDark(grace_s=config.dark_grace_s)
        self.dark = SignalDark(grace_s=config.dark_grace_s)
        self.lamp = LampFault(min_reports=config.lamp_reports)

    def reading(self, row: TrafficLightRow, out: list[Judgement]) -> None:
        super().reading(row, out)
        t, phase, mode = row.time, row.phase, row.controller_mode
        self._judge(t, self.stuck.update(t, phase), out)
        fl = self.flashing.update(t, phase if phase == "flashing_yellow" else "red")
        dk = self.dark.update(t, phase if phase == "off" else "red")
        self._dark(t, fl, self.flashing, _T.SIGNAL_FLASHING, "flashing_yellow", mode, out)
        self._dark(t, dk, self.dark, _T.SIGNAL_DARK, "off", mode, out)
        lamp = row.lamp_fault
        if lamp is not None:
            if self.lamp.update(t, bool(lamp)) > 0.0:
                out.append(
                    Finding(
                        _T.LAMP_FAULT,
                        t,
                        detector="LampFault",
                        metric="lamp_fault",
                        value=float(self.lamp._run),
                        limit=float(self.lamp.min_reports),
                        extra={"reports": self.lamp._run},
                    )
                )
            elif not lamp:
                out.append(normal(_T.LAMP_FAULT, t))

    def dead_letter(self, t: float, reason: str, detail: str, out: list[Judgement]) -> None:
        super().dead_letter(t, reason, detail, out)
        self.stuck.reset()  # the unreadable report may have carried a phase change

    def _judge(self, t: float, score: float, out: list[Judgement]) -> None:
        if score > 0.0:
            since = self.stuck._since
            out.append(
                Finding(
                    _T.STUCK_PHASE,
                    t,
                    detector="StuckPhase",
                    metric="phase_duration",
                    value=round(t - since, 1),
                    limit=self.stuck.max_phase_s,
                    unit="s",
                    since=since,
                    extra={"phase": self.stuck._phase},
                )
            )
        else:
            out.append(normal(_T.STUCK_PHASE, t))

    def _dark(
        self,
        t: float,
        score: float,
        det: SignalDark,
        itype: IncidentType,
        phase: str,
        mode: str | None,
        out: list[Judgement],
    ) -> None:
        if score > 0.0:
            since = det._since if det._since is not None else t
            out.append(
                Finding(
                    itype,
                    t,
                    detector="SignalDark",
                    metric="phase",
                    value=round(t - since, 1),
                    limit=det.grace_s,
                    unit="s",
                    since=since,
                    extra={"phase": phase, "controller_mode": mode},
                )
            )
        elif det._since is None:
            out.append(normal(itype, t))
