"""The city detector set: which detectors watch which device kind, and what they find.

One :class:`Monitor` per device turns its stored readings, status changes, dead letters
and the passage of time into :class:`~detectors._incidents.Finding` objects, one per
incident type it judges: an alarm with evidence, or "normal" (which lets an open
incident resolve).  Per kind:

- every device: :class:`~detectors.Silence` (k × its report interval and at least
  ``silence_min_s``, driven by ticks, so it fires while nothing arrives) and its MQTT
  last will / offline status → ``device_silent``; dead letters (malformed payloads,
  wrong units) → ``invalid_data``.
- traffic light: :class:`~detectors.StuckPhase` → ``stuck_phase``; flashing yellow /
  off for a minute (:class:`~detectors.SignalDark`) → ``signal_flashing`` /
  ``signal_dark``; :class:`~detectors.LampFault` → ``lamp_fault``.
- camera, per lane: :class:`~detectors.CameraConsistency` → ``invalid_data``; the same
  non-empty report repeated (:class:`Repeats`) → ``frozen_values``; counts collapsing
  to zero where traffic is expected (:class:`Collapse`) → ``camera_obstructed``; a
  jammed lane (:class:`Jam`: low speed at high occupancy for minutes) →
  ``congestion``; a count far above the lane's level (:class:`CountSpike`), or far above
  both this hour's learnt normal (:func:`~detectors.learned_views`) and, less far, the
  lane's level → ``anomaly``.
- parking: :class:`~detectors.ParkingConsistency` → ``invalid_data``; a count that does
  not move away from the bounds for two hours → ``parking_stuck``; no usable spot free
  for 160 minutes, where the lot's learnt normal for the time of day
  (:func:`~detectors.learned_views` on the occupied share) does not expect it →
  ``parking_full``.
- ecology: both СанПиН 1.2.3685-21 limits of every pollutant
  (:func:`~detectors.air_quality_rule`) → ``air_quality_exceedance``; PM2.5 drifting
  away from what the co-located PM10 says (:class:`PairDrift`) → ``sensor_drift``; a
  jump of a pollutant by a large factor (:class:`LogSpike`) → ``anomaly``.

Optionally (``multivariate``), cameras also get a learnt per-device model of flow,
speed and occupancy together (:class:`~detectors.CameraForest` or
:class:`~detectors.CameraIsolationForest`) → ``anomaly``.

Monitors hold only detectors (plain Python state), so they pickle into checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from citypulse import Device, DeviceKind

# The set's parts live in their own modules; their names stay importable from here, where
# checkpoints pickled before the split look them up.
from detectors._city_cameras import CameraMonitor as CameraMonitor
from detectors._city_cameras import Collapse as Collapse
from detectors._city_cameras import CountSpike as CountSpike
from detectors._city_cameras import Jam as Jam
from detectors._city_cameras import Repeats as Repeats
from detectors._city_cameras import _Lane as _Lane
from detectors._city_ecology import ECOLOGY_FIELDS as ECOLOGY_FIELDS
from detectors._city_ecology import EcologyMonitor as EcologyMonitor
from detectors._city_ecology import LogSpike as LogSpike
from detectors._city_ecology import PairDrift as PairDrift
from detectors._city_lights import TrafficLightMonitor as TrafficLightMonitor
from detectors._city_monitor import CityConfig as CityConfig
from detectors._city_monitor import Monitor as Monitor
from detectors._city_parking import ParkingMonitor as ParkingMonitor

MONITORS: dict[DeviceKind, Callable[[Device, CityConfig], Monitor[Any]]] = {
    DeviceKind.TRAFFIC_LIGHT: TrafficLightMonitor,
    DeviceKind.CAMERA: CameraMonitor,
    DeviceKind.PARKING: ParkingMonitor,
    DeviceKind.ECOLOGY: EcologyMonitor,
}


def monitor_for(device: Device, config: CityConfig) -> Monitor[Any]:
    return MONITORS[device.kind](device, config)
