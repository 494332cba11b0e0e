"""``citypulse --help`` and every ``citypulse <command> --help`` import no heavy library.

A test on the import graph, not a timed test: in a fresh interpreter, build the parser and
ask it for every help page, then look at ``sys.modules``.  ``citypulse bench startup``
measures the time this buys.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

#: What a command imports only when it runs: each costs tens to hundreds of milliseconds.
HEAVY = (
    "numpy",
    "psycopg",
    "psycopg_pool",
    "httpx",
    "starlette",
    "uvicorn",
    "paho",
    "orjson",
    "river",
    "sklearn",
    "yaml",
    "grafana_foundation_sdk",
    "grafana_client",
    "jsonschema",
    "jinja2",
)

_PROBE = """
import contextlib, io, json, sys
from citypulse.cli import commands, main

pages = [["--help"]]
pages += [[group, "--help"] for group in sorted({c.path[0] for c in commands()})]
pages += [[*c.path, "--help"] for c in commands() if len(c.path) > 1]
for argv in pages:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(argv)
heavy = set(sys.argv[1:])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_help_pages_import_no_heavy_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *HEAVY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout)
    assert imported == [], f"--help imported {sorted({m.split('.')[0] for m in imported})}"
