"""Structure of the dashboards' JSON, the checked-in files, evidence links, provisioning."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

import appeals
from appeals import load_routing
from citypulse.cli import main
from grafana import (
    DASHBOARDS_DIR,
    DATASOURCE_UID,
    KIND_DASHBOARD,
    UIDS,
    build_dashboards,
    panel_url,
    render,
)

MODELS = build_dashboards()
PROVISIONING = Path(DASHBOARDS_DIR).parent / "provisioning"


def _datasource_refs(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            found.append(node["datasource"])
        for value in node.values():
            found.extend(_datasource_refs(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_datasource_refs(value))
    return found


def test_uids_are_the_fixed_contract() -> None:
    assert {m["uid"] for m in MODELS.values()} == {
        "citypulse-overview", "citypulse-intersections", "citypulse-traffic",
        "citypulse-parking", "citypulse-air", "citypulse-appeals", "citypulse-ingest",
        "citypulse-tension",
    }  # fmt: skip
    assert set(UIDS.values()) == {m["uid"] for m in MODELS.values()}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_dashboard_structure(name: str) -> None:
    model = MODELS[name]
    assert model["schemaVersion"] >= 39
    assert model["title"]
    assert model["tags"] == ["citypulse"]
    panels = model["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["w"] > 0
        assert g["h"] > 0
        assert g["x"] >= 0
        assert g["y"] >= 0
        assert g["x"] + g["w"] <= 24, f"{p['title']} overflows the 24-column grid"
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine
        assert p["targets"], f"{p['title']} has no query"
        for t in p["targets"]:
            assert t["rawSql"].strip()
            assert t["refId"]
            assert t["format"] in ("table", "time_series")
            assert t["rawQuery"] is True
            assert t["editorMode"] == "code"
        assert p.get("description"), f"{p['title']} has no description"
    refs = _datasource_refs(model)
    assert refs
    assert all(r == {"type": "grafana-postgresql-datasource", "uid": DATASOURCE_UID} for r in refs)
    variables = {v["name"]: v for v in model["templating"]["list"]}
    # Tension points are filtered by their own sector, district and kind; no device.
    own = {"tension": {"sector", "district", "kind"}}
    assert set(variables) == own.get(name, {"district", "device"})
    for v in variables.values():
        assert v["type"] == "query"
        assert v["multi"]
        assert v["includeAll"]
    if "device" in variables:
        assert "$district" in variables["device"]["query"]
    link = model["links"][0]
    assert link["type"] == "dashboards"
    assert link["keepTime"]
    assert link["includeVars"]
    assert model["time"] == {"from": "now-24h", "to": "now"}


def test_traffic_and_air_dashboards_annotate_incidents() -> None:
    for name in ("traffic", "air"):
        annotations = MODELS[name]["annotations"]["list"]
        assert [a["name"] for a in annotations] == ["Incidents"]
        assert "FROM incidents" in annotations[0]["target"]["rawSql"]


def test_air_panels_carry_the_sanpin_limits() -> None:
    pm25 = next(p for p in MODELS["air"]["panels"] if p["title"] == "PM2.5")
    steps = [s["value"] for s in pm25["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert steps == [None, 35.0, 160.0]
    co = next(p for p in MODELS["air"]["panels"] if p["title"] == "CO")
    assert co["fieldConfig"]["defaults"]["unit"] == "conmgm3"
    assert [s["value"] for s in co["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [
        None, 3.0, 5.0,
    ]  # fmt: skip


def test_ozone_is_judged_on_its_8_hour_mean() -> None:
    """СанПиН 1.2.3685-21 gives ozone's ПДК с.с. as an 8-hour mean, not a daily one."""
    panels = {p["title"]: p for p in MODELS["air"]["panels"]}
    ozone, pm25 = panels["O₃"], panels["PM2.5"]
    assert "8-hour mean limit (ПДК с.с.) 100" in ozone["description"]
    assert "' · 8 h mean'" in ozone["targets"][1]["rawSql"]
    assert "interval '7 hours' PRECEDING" in ozone["targets"][1]["rawSql"]
    assert "daily" not in ozone["description"]
    assert "24-hour mean limit (ПДК с.с.) 35" in pm25["description"]


def test_times_show_in_the_regions_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not the viewer's browser's: the zone the appeals and the report use."""
    assert {m["timezone"] for m in MODELS.values()} == {load_routing().timezone}
    assert load_routing().timezone == "Europe/Moscow"
    elsewhere = build_dashboards(timezone="Asia/Yekaterinburg")
    assert {m["timezone"] for m in elsewhere.values()} == {"Asia/Yekaterinburg"}
    # Hour-of-week baselines and days are the region's too.
    text = json.dumps(elsewhere)
    assert "AT TIME ZONE 'Asia/Yekaterinburg'" in text
    assert "Europe/Moscow" not in text
    with pytest.raises(ValueError, match="IANA"):
        build_dashboards(timezone="Europe/Moscow' OR 1=1 --")
    # `citypulse grafana build` takes the zone from the routing file in use.
    routing = tmp_path / "routing.yaml"
    text = (Path(appeals.__file__).parent / "routing.default.yaml").read_text(encoding="utf-8")
    routing.write_text(text.replace("timezone: Europe/Moscow", "timezone: Asia/Yekaterinburg"))
    boundaries = Path(appeals.__file__).parent / "districts.default.geojson"
    (tmp_path / boundaries.name).write_bytes(boundaries.read_bytes())
    monkeypatch.setenv("CITYPULSE_ROUTING_FILE", str(routing))
    out = tmp_path / "out"
    assert main(["grafana", "build", "--out", str(out)]) == 0
    assert json.loads((out / "air.json").read_text())["timezone"] == "Asia/Yekaterinburg"
    assert main(["grafana", "build", "--check"]) == 1  # the checked-in files are Moscow's


@pytest.mark.parametrize("name", sorted(MODELS))
def test_checked_in_json_is_up_to_date(name: str) -> None:
    path = DASHBOARDS_DIR / f"{name}.json"
    assert path.exists(), "run: citypulse grafana build"
    assert path.read_text(encoding="utf-8") == render(MODELS[name]), (
        f"{path} is stale: run citypulse grafana build"
    )


def test_build_command_writes_and_checks(tmp_path: Path) -> None:
    assert main(["grafana", "build", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.json" for n in MODELS)
    assert main(["grafana", "build", "--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "air.json").write_text("{}")
    assert main(["grafana", "build", "--out", str(tmp_path), "--check"]) == 1
    assert json.loads((DASHBOARDS_DIR / "air.json").read_text())["uid"] == "citypulse-air"


def test_panel_url_points_at_the_kinds_dashboard() -> None:
    start = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    url = panel_url(
        "https://grafana.example/", "camera", "cam-r000c000-e", start, start + timedelta(hours=1)
    )
    parts = urlsplit(url)
    assert parts.path == "/d/citypulse-traffic"
    assert parse_qs(parts.query) == {
        "var-device": ["cam-r000c000-e"],
        "from": [str(int(start.timestamp() * 1000))],
        "to": [str(int(start.timestamp() * 1000) + 3_600_000)],
    }
    assert url == (
        "https://grafana.example/d/citypulse-traffic?var-device=cam-r000c000-e"
        "&from=1795600800000&to=1795604400000"
    )
    for kind, uid in KIND_DASHBOARD.items():
        assert f"/d/{uid}?" in panel_url("http://g", kind, "x", start, start)


@pytest.mark.parametrize(
    ("kind", "start", "end", "base"),
    [
        ("lamp", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), "http://g"),
        ("camera", datetime(2026, 1, 1), datetime(2026, 1, 2), "http://g"),
        ("camera", datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "http://g"),
        ("camera", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC), "g.local"),
    ],
)
def test_panel_url_refuses_bad_input(kind: str, start: datetime, end: datetime, base: str) -> None:
    with pytest.raises(ValueError):
        panel_url(base, kind, "x", start, end)


def test_provisioning_files() -> None:
    ds = yaml.safe_load((PROVISIONING / "datasources" / "citypulse.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == "grafana-postgresql-datasource"
    assert source["user"] == "${CITYPULSE_GRAFANA_DB_USER}"
    assert source["secureJsonData"]["password"] == "${CITYPULSE_GRAFANA_DB_PASSWORD}"
    assert source["jsonData"]["timescaledb"] is True
    boards = yaml.safe_load((PROVISIONING / "dashboards" / "citypulse.yaml").read_text())
    (provider,) = boards["providers"]
    assert provider["type"] == "file"
    assert provider["folderUid"] == "citypulse"
