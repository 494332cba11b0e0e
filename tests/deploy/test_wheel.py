"""The Dockerfile's install steps in a plain virtual environment: build the wheel, install
it with the pinned constraints, run the console script from it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
PACKAGES: list[str] = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
CONSTRAINTS = ROOT / "deploy" / "constraints.txt"


def run(*cmd: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done.stdout


def tracked_data_files() -> list[str]:
    """Files the packages need at run time besides Python modules, as the wheel names them."""
    files = run("git", "ls-files", "--", *PACKAGES, "sql").split()
    return sorted(
        f.replace("sql/", "citypulse/_sql/", 1) if f.startswith("sql/") else f
        for f in files
        if not f.endswith(".py")
        and Path(f).suffix in (".sql", ".json", ".geojson", ".yaml", ".yml")
    )


def build_wheel(dist: Path) -> Path:
    """The citypulse wheel built from the checkout into ``dist``."""
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, ".")
    (wheel,) = dist.glob("citypulse-*.whl")
    return wheel


def install_pinned(wheel: Path, env: Path) -> Path:
    """A fresh virtual environment at ``env`` with ``wheel`` installed as the Dockerfile
    installs it (with the pinned constraints); its ``bin`` directory."""
    venv.create(env, with_pip=True)
    bin_dir = env / "bin"
    run(bin_dir / "pip", "install", "-q", "--constraint", CONSTRAINTS, wheel)
    return bin_dir


@pytest.mark.slow
def test_wheel_installs_with_pinned_dependencies_and_runs(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    data = tracked_data_files()
    assert any(f.startswith("citypulse/_sql/") for f in data)
    assert set(data) - names == set(), "data files missing from the wheel"

    bin_dir = install_pinned(wheel, tmp_path / "venv")
    frozen = run(bin_dir / "pip", "freeze", "--exclude", "citypulse").split()
    pinned = {
        line.lower().replace("_", "-") for line in CONSTRAINTS.read_text().split() if "==" in line
    }
    unpinned = {p for p in frozen if p.lower().replace("_", "-") not in pinned}
    assert unpinned == set(), "run scripts/lock-deploy: deploy/constraints.txt is stale"

    assert "usage: citypulse" in run(bin_dir / "citypulse", "--help", cwd=tmp_path)
    assert "--mode" in run(bin_dir / "citypulse", "db", "migrate", "--help", cwd=tmp_path)
    out = run(bin_dir / "python", "-c",
              "from citypulse.db import load_migrations; print(len(load_migrations()))",
              cwd=tmp_path)  # fmt: skip
    assert int(out) >= 6


def test_the_image_copies_every_package() -> None:
    """The Dockerfile builds the wheel from the packages it copies: all of them."""
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    for package in PACKAGES:
        assert f"COPY {package} {package}\n" in dockerfile, package
