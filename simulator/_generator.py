"""The generator core: every device's messages for a time range, merged in time order.

No I/O and no wall clock: :class:`Simulation` builds one model per device (see
``_models``) and merges their streams; a run is reproducible from its seed.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime, timedelta
from operator import attrgetter

from citypulse import Device, DeviceKind
from simulator._city import City, Intervals, topic
from simulator._faults import Fault
from simulator._message import Message, batched
from simulator._models import (
    CameraModel,
    EcologyModel,
    FaultWindow,
    ParkingModel,
    PeriodicModel,
    TrafficLightModel,
)


class Simulation:
    """A city's devices over ``[start, end)``, with ``faults`` injected.

    ``messages()`` yields every publication in simulated-time order (ties keep device
    order); calling it again replays the identical sequence.
    """

    def __init__(
        self,
        city: City,
        *,
        start: datetime,
        end: datetime,
        seed: int = 0,
        faults: Sequence[Fault] = (),
        intervals: Intervals | None = None,
        topic_root: str = "city",
        only: Collection[str] | None = None,
    ) -> None:
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must carry a UTC offset")
        if end <= start:
            raise ValueError("end must be after start")
        self.city = city
        self.start = start
        self.end = end
        self.seed = seed
        self.faults = tuple(faults)
        self.intervals = intervals or city.intervals
        self.topic_root = topic_root
        everything = city.devices(self.intervals)
        chosen = None if only is None else set(only)
        # ``only`` restricts the run to some devices (a worker's share); their streams are
        # identical to those in the full run because each device has its own seed.
        self.devices = tuple(d for d in everything if chosen is None or d.id in chosen)

    def gateway_windows(self) -> dict[str, float]:
        """Each batching device's gateway window (s), by device id (see :func:`batched`)."""
        windows = self.city.gateway_s
        return {d.id: windows[d.kind] for d in self.devices if windows.get(d.kind, 0.0) > 0}

    def published(self, batch_s: float = 0.0) -> Iterator[Message]:
        """The messages as the city's gateways send them (or all batched per ``batch_s``):
        each batching device's readings grouped per window, what is held at the end sent
        then."""
        windows = batch_s or self.gateway_windows()
        return batched(self.messages(), windows, until=self.end.timestamp())

    def status_topic(self, device: Device) -> str:
        return topic(self.topic_root, device, "status")

    def _streams(self) -> list[Iterator[Message]]:
        windows: dict[str, list[FaultWindow]] = {}
        first, last = self.start.timestamp(), self.end.timestamp()
        for fault in self.faults:
            for device_id in fault.devices:
                onset = fault.onset(device_id).timestamp()
                if fault.end.timestamp() <= first or onset >= last:
                    continue  # nothing of it falls in this run
                windows.setdefault(device_id, []).append(
                    FaultWindow(fault, onset, fault.end.timestamp())
                )
        crossings = {i.id: i for i in self.city.intersections}
        lots = {p.id: p for p in self.city.parking}
        stations = {s.id: s for s in self.city.stations}
        weather_phase = random.Random(f"{self.seed}:weather").uniform(0.0, 2 * math.pi)
        iv = self.intervals
        start, end = self.start.timestamp(), self.end.timestamp()
        streams: list[Iterator[Message]] = []
        for d in self.devices:
            base = (d, self.topic_root, self.seed, windows.get(d.id, []))
            model: TrafficLightModel | PeriodicModel
            if d.kind is DeviceKind.TRAFFIC_LIGHT:
                model = TrafficLightModel(*base, heartbeat_s=iv.heartbeat_s)
            elif d.kind is DeviceKind.CAMERA:
                assert d.intersection is not None
                model = CameraModel(
                    *base,
                    crossing=crossings[d.intersection],
                    approach=str(d.attributes["approach"]),
                    interval=iv.camera_s,
                )
            elif d.kind is DeviceKind.PARKING:
                lot = lots[d.id]
                model = ParkingModel(
                    *base, total=lot.total_spots, profile=lot.profile, interval=iv.parking_s
                )
            else:
                model = EcologyModel(
                    *base,
                    exposure=stations[d.id].traffic_exposure,
                    weather_phase=weather_phase,
                    interval=iv.ecology_s,
                )
            streams.append(model.run(start, end))
        return streams

    def messages(self) -> Iterator[Message]:
        """Every message of the run, in time order."""
        return heapq.merge(*self._streams(), key=_by_time)


_by_time: Callable[[Message], float] = attrgetter("t")


def simulate(
    city: City,
    *,
    start: datetime,
    duration: timedelta,
    seed: int = 0,
    faults: Sequence[Fault] = (),
    intervals: Intervals | None = None,
    topic_root: str = "city",
) -> Iterator[Message]:
    """Shorthand: the messages of a :class:`Simulation` from ``start`` for ``duration``."""
    return Simulation(
        city,
        start=start,
        end=start + duration,
        seed=seed,
        faults=faults,
        intervals=intervals,
        topic_root=topic_root,
    ).messages()
