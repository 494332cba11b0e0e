"""Field-device simulator: a city's telemetry with injected faults and their ground truth,
and its citizens' reports to the governance center (:func:`citizen_reports`,
:func:`bulk_reports` for weeks of them as arrays, :func:`post_reports` over Open311).

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
    from simulator._citizen_rates import (
        SERVICES,
        Scale,
        ServiceRate,
        daily_rate,
        hourly_rate,
        rate_table,
    )
    from simulator._citizens import (
        FOLLOW,
        CitizenReport,
        FollowRule,
        citizen_reports,
        follow_faults,
        read_citizens_truth,
        write_citizens_truth,
    )
    from simulator._citizens_bulk import ReportArrays, ReportKind, bulk_reports
    from simulator._citizens_publish import CitizenPoster, PostReport, post_reports
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
    from simulator._errors import (
        ApiUnreachable,
        PublishError,
        ReportRefused,
        ScenarioError,
        SimulatorError,
    )
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
    from simulator._message import WILL_PAYLOAD, Message, batched, gateway_will
    from simulator._parallel import RunSpec, Tap, publish_parallel
    from simulator._publish import Progress, PublishReport, publish
    from simulator._stats import ScheduleStats, device_counts, schedule_stats
    from simulator._surges import Surge, SurgeTheme, make_surge, random_surges
else:
    __getattr__ = lazy_exports(__name__, __file__)

__all__ = [
    "CITIES",
    "FOLLOW",
    "SERVICES",
    "WILL_PAYLOAD",
    "ApiUnreachable",
    "CitizenPoster",
    "CitizenReport",
    "City",
    "District",
    "DistrictProfile",
    "Fault",
    "FaultType",
    "FollowRule",
    "Intersection",
    "Intervals",
    "Message",
    "ParkingLot",
    "PostReport",
    "Progress",
    "PublishError",
    "PublishReport",
    "ReportArrays",
    "ReportKind",
    "ReportRefused",
    "RunSpec",
    "Scale",
    "ScenarioError",
    "ScheduleStats",
    "ServiceRate",
    "Simulation",
    "SimulatorError",
    "Station",
    "Surge",
    "SurgeTheme",
    "Tap",
    "batched",
    "bulk_reports",
    "citizen_reports",
    "daily_rate",
    "device_counts",
    "faults_from_spec",
    "follow_faults",
    "gateway_will",
    "generated_city",
    "hourly_rate",
    "large_city",
    "load_scenario",
    "make_surge",
    "parse_duration",
    "post_reports",
    "preset_city",
    "publish",
    "publish_parallel",
    "random_faults",
    "random_surges",
    "rate_table",
    "read_citizens_truth",
    "read_ground_truth",
    "schedule_stats",
    "simulate",
    "topic",
    "write_citizens_truth",
    "write_ground_truth",
]
