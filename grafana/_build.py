"""Builds every dashboard and renders it as the JSON Grafana stores."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from grafana._air import air
from grafana._intersections import intersections
from grafana._ops import appeals, ingest
from grafana._overview import overview
from grafana._parking import parking
from grafana._tension import tension
from grafana._traffic import traffic

DASHBOARDS: Mapping[str, Callable[[str], db.Dashboard]] = {
    "overview": overview,
    "intersections": intersections,
    "traffic": traffic,
    "parking": parking,
    "air": air,
    "appeals": appeals,
    "ingest": ingest,
    "tension": tension,
}
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")
#: Where ``citypulse grafana build`` writes and the provisioning file reads.
DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"


def _number_panels(model: dict[str, Any]) -> dict[str, Any]:
    for i, panel in enumerate(model.get("panels", []), start=1):
        panel["id"] = i
    return model


def build_dashboards(*, timezone: str | None = None) -> dict[str, dict[str, Any]]:
    """Every dashboard's JSON model by file stem (``overview``, ``traffic``, ...).

    Times show in ``timezone`` (IANA), by default the default routing file's: the
    region's zone, the one appeal texts and the report use, not the viewer's browser's
    (an engineer in another zone would read other clock times than the appeals give);
    hour-of-week baselines and days are the zone's too.
    """
    zone = timezone or region_timezone()
    if not _ZONE.fullmatch(zone):  # it goes into SQL text (AT TIME ZONE '…')
        raise ValueError(f"not an IANA time zone name: {zone!r}")
    out: dict[str, dict[str, Any]] = {}
    for name, make in DASHBOARDS.items():
        text = json.dumps(make(zone).build(), cls=JSONEncoder, ensure_ascii=False)
        out[name] = _number_panels(json.loads(text))
    return out


def region_timezone(routing_file: str | None = None) -> str:
    """The routing file's ``timezone`` (None: the default routing file's)."""
    from appeals import load_routing

    return load_routing(routing_file).timezone


def render(model: dict[str, Any]) -> str:
    """Stable text of a dashboard model: sorted keys, two-space indent, final newline."""
    return json.dumps(model, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def write_dashboards(
    directory: Path = DASHBOARDS_DIR, *, timezone: str | None = None
) -> list[Path]:
    """Write each dashboard to ``directory/<name>.json``; return the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in build_dashboards(timezone=timezone).items():
        path = directory / f"{name}.json"
        path.write_text(render(model), encoding="utf-8")
        written.append(path)
    return written
