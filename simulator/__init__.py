"""Field-device simulator: a city's telemetry with injected faults and their ground truth.

The generator core (:class:`Simulation`, :func:`simulate`) is pure and fast: it yields
:class:`Message` objects (simulated time, topic, payload bytes, retain) in time order, for
tests, benchmarks and evaluation without a broker; :func:`schedule_stats` counts what a
run offers.  :func:`publish` sends them over MQTT at a simulated speed or a fixed offered
rate; :func:`publish_parallel` does the same from several processes for a
:class:`RunSpec`.  Cities: :func:`preset_city`, :func:`large_city` (named in
:data:`CITIES`) and :func:`generated_city`.  For example::

    city, end = preset_city(), start + timedelta(days=1)
    faults = random_faults(city, start=start, end=end, rates=6.0, seed=1)
    sim = Simulation(city, start=start, end=end, seed=1, faults=faults)
    write_ground_truth("truth.jsonl", faults)
    publish(sim.messages(), mqtt_url=url, devices=sim.devices, mode="gateway", rate=5000)
"""

from typing import TYPE_CHECKING

from citypulse import lazy_exports, parse_duration

if TYPE_CHECKING:
    from simulator._city import (
        CITIES,
        City,
        District,
        DistrictProfile,
        Intersection,
        Intervals,
        ParkingLot,
        Station,
        generated_city,
        large_city,
        preset_city,
        topic,
    )
    from simulator._errors import PublishError, ScenarioError, SimulatorError
    from simulator._faults import (
        Fault,
        FaultType,
        faults_from_spec,
        load_scenario,
        random_faults,
        read_ground_truth,
        write_ground_truth,
    )
    from simulator._generator import Simulation, simulate
    from simulator._message import WILL_PAYLOAD, Message, batched
    from simulator._parallel import RunSpec, publish_parallel
    from simulator._publish import Progress, PublishReport, publish
    from simulator._stats import ScheduleStats, device_counts, schedule_stats
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "CITIES",
    "WILL_PAYLOAD",
    "City",
    "District",
    "DistrictProfile",
    "Fault",
    "FaultType",
    "Intersection",
    "Intervals",
    "Message",
    "ParkingLot",
    "Progress",
    "PublishError",
    "PublishReport",
    "RunSpec",
    "ScenarioError",
    "ScheduleStats",
    "Simulation",
    "SimulatorError",
    "Station",
    "batched",
    "device_counts",
    "faults_from_spec",
    "generated_city",
    "large_city",
    "load_scenario",
    "parse_duration",
    "preset_city",
    "publish",
    "publish_parallel",
    "random_faults",
    "read_ground_truth",
    "schedule_stats",
    "simulate",
    "topic",
    "write_ground_truth",
]
