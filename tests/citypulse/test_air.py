"""One table of СанПиН 1.2.3685-21 air limits, and every package reads it.

The simulator, the detectors, the dashboards and the report once held their own copies,
and the copies disagreed (ozone's daily limit: 30 µg/m³ in one, 0.1 mg/m³ in another).
These tests compare what each consumer uses with :data:`citypulse.AIR_LIMITS` and scan
the product code for a literal copy.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import detectors
from citypulse import AIR_LIMITS, AirLimit, DeviceKind, EcologyReading
from grafana import build_dashboards
from lab._report import POLLUTANTS as REPORT_POLLUTANTS
from lab._report import limit_lines
from simulator import FaultType, faults_from_spec, generated_city

ROOT = Path(__file__).resolve().parents[2]
#: Every package of the product (and the lab), as the import contracts list them.
PRODUCT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
    "root_packages"
]
POLLUTANTS = ("pm25", "pm10", "no2", "so2", "co", "o3")
#: The air dashboard's panel title of each pollutant.
PANEL_TITLES = {"pm25": "PM2.5", "pm10": "PM10", "no2": "NO₂", "so2": "SO₂", "co": "CO", "o3": "O₃"}


def test_the_table_covers_every_pollutant_a_station_reports() -> None:
    fields = {f.name for f in dataclasses.fields(EcologyReading)}
    assert set(POLLUTANTS) <= fields
    assert tuple(AIR_LIMITS) == POLLUTANTS
    for pollutant, limit in AIR_LIMITS.items():
        assert limit.pollutant == pollutant
        assert 0 < limit.daily < limit.max_single
        assert limit.annual is None or limit.annual <= limit.daily


def test_values_are_the_standards_in_mg_and_convert_to_ug() -> None:
    o3 = AIR_LIMITS["o3"]
    assert (o3.max_single, o3.daily, o3.annual) == (0.16, 0.1, None)
    assert (o3.max_single_ug, o3.daily_ug) == (160.0, 100.0)
    assert o3.daily_averaging_s == 8 * 3600.0  # table 1.1 gives ozone's с.с. as «8 час.»
    pm25 = AIR_LIMITS["pm25"]
    assert (pm25.max_single_ug, pm25.daily_ug, pm25.annual_ug) == (160.0, 35.0, 25.0)
    assert pm25.daily_averaging_s == 24 * 3600.0
    co = AIR_LIMITS["co"]
    assert (co.max_single, co.daily, co.annual) == (5.0, 3.0, 3.0)
    assert co.max_single_ug == 5000.0
    assert co.max_single_in_unit == 5.0  # CO readings are in mg/m³ already
    with pytest.raises(ValueError, match="unit"):
        AirLimit("x", "x", 1.0, 0.5, None, reading_unit="ppm")


def test_reading_units_are_the_wire_contracts() -> None:
    schema = json.loads((ROOT / "ingest" / "schemas" / "ecology.json").read_text())
    properties = schema["$defs"]["reading"]["properties"]
    for pollutant, limit in AIR_LIMITS.items():
        assert properties[pollutant]["oneOf"][0]["description"] == limit.reading_unit


def test_simulator_exceeds_the_tables_maximum_single_limit() -> None:
    city = generated_city(1, seed=1)
    station = next(d.id for d in city.devices() if d.kind is DeviceKind.ECOLOGY)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    spec = {
        "faults": [
            {"type": "air_quality_exceedance", "device": station, "at": "1h", "duration": "1h",
             "pollutant": p}
            for p in POLLUTANTS
        ]
    }  # fmt: skip
    faults = faults_from_spec(spec, city, start=start, end=start + timedelta(days=1))
    levels = {
        str(f.params["pollutant"]): float(f.params["level"])
        for f in faults
        if f.type is FaultType.AIR_QUALITY_EXCEEDANCE
    }
    assert set(levels) == set(POLLUTANTS)
    for pollutant, level in levels.items():
        # the simulator's default level: 30 % over ПДК м.р., in the reading's unit
        assert level == pytest.approx(1.3 * AIR_LIMITS[pollutant].max_single_in_unit, abs=0.05)


@pytest.mark.parametrize("pollutant", POLLUTANTS)
def test_rules_judge_against_the_table(pollutant: str) -> None:
    limit = AIR_LIMITS[pollutant]
    rule = detectors.air_quality_rule(pollutant)
    max_single, daily = rule.detectors["max_single"], rule.detectors["daily"]
    assert isinstance(max_single, detectors.LimitRule)
    assert isinstance(daily, detectors.LimitRule)
    assert max_single.limit == limit.max_single_in_unit
    assert daily.limit == limit.daily_in_unit
    assert daily.averaging_s == limit.daily_averaging_s
    assert detectors.SANPIN_1_2_3685_21[pollutant] is limit  # the detectors' old name


def test_dashboards_draw_the_table() -> None:
    panels = build_dashboards()["air"]["panels"]
    exceedances = json.dumps(
        next(p for p in panels if p["title"] == "Exceedances in the range"), ensure_ascii=False
    )
    for pollutant, limit in AIR_LIMITS.items():
        panel = next(p for p in panels if p["title"] == PANEL_TITLES[pollutant])
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert [s["value"] for s in steps] == [
            None, limit.daily_in_unit, limit.max_single_in_unit,
        ]  # fmt: skip
        assert f"e.{pollutant}_avg, {limit.max_single_in_unit}, {limit.daily_in_unit})" in (
            exceedances
        )


def test_report_draws_the_table() -> None:
    assert set(REPORT_POLLUTANTS) <= set(AIR_LIMITS)
    for pollutant in REPORT_POLLUTANTS:
        limit = AIR_LIMITS[pollutant]
        single, daily = limit_lines(pollutant)
        # Drawn in mg/m³, the table's unit, as appeal texts state limits.
        assert (single.value, daily.value) == (limit.max_single, limit.daily)
        assert "ПДК м.р." in single.label
        assert "ПДК с.с." in daily.label


def _limits_of(pollutant: str) -> set[float]:
    limit = AIR_LIMITS[pollutant]
    values = {limit.max_single, limit.daily, limit.annual}
    values |= {v * 1000.0 for v in values if v is not None}
    return {v for v in values if v is not None}


def _copies(path: Path) -> list[str]:
    """Places in ``path`` that hold limits of their own instead of reading the table."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name == "SANPIN_LIMITS":  # the simulator's former copy
                found.append(f"{path}:{node.lineno} uses {name}")
        elif isinstance(node, ast.Call):
            callee = node.func
            name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
            if name == "AirLimit":
                found.append(f"{path}:{node.lineno} builds an AirLimit")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                pollutant = key.value if isinstance(key, ast.Constant) else None
                if not (isinstance(pollutant, str) and pollutant in AIR_LIMITS):
                    continue
                numbers = {
                    n.value
                    for n in ast.walk(value)
                    if isinstance(n, ast.Constant) and type(n.value) in (int, float)
                }
                if numbers & _limits_of(pollutant):
                    found.append(f"{path}:{node.lineno} lists limits for {pollutant!r}")
    return found


def test_no_module_keeps_a_copy_of_the_limits() -> None:
    kernel = ROOT / "citypulse" / "_air.py"
    copies = [
        place
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != kernel
        for place in _copies(path)
    ]
    assert copies == []
