"""Write every dashboard's JSON into grafana/dashboards/ (the files provisioning reads).

Times show in the region's zone, the routing file's ``timezone``
(``CITYPULSE_ROUTING_FILE``, else the default routing file's).  With --check nothing is
written: the exit status is 1 when a checked-in file differs
from what the code builds (CI runs this).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from citypulse import Settings

HELP = "write dashboards JSON into grafana/"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, default=None, help="folder to write into (default grafana/dashboards)"
    )
    parser.add_argument(
        "--check", action="store_true", help="only compare with the files; exit 1 when stale"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from grafana._build import (
        DASHBOARDS_DIR,
        build_dashboards,
        region_timezone,
        render,
        write_dashboards,
    )

    out: Path = args.out or DASHBOARDS_DIR
    zone = region_timezone(settings.routing_file)
    if args.check:
        stale = [
            name
            for name, model in build_dashboards(timezone=zone).items()
            if not (out / f"{name}.json").exists()
            or (out / f"{name}.json").read_text(encoding="utf-8") != render(model)
        ]
        for name in stale:
            print(f"stale: {out / name}.json (run citypulse grafana build)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_dashboards(out, timezone=zone):
        print(path)
    return 0
