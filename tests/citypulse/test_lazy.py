"""Packages whose public names load lazily (``citypulse.lazy_exports``) list each name
once, under ``if TYPE_CHECKING:``: together with the eager imports that is ``__all__``,
and every name loads from the module its import names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from citypulse import lazy_exports
from citypulse._lazy import type_checking_imports

ROOT = Path(__file__).parents[2]
LAZY_PACKAGES = (
    "citypulse.db",
    "simulator",
    "ingest",
    "detectors",
    "appeals",
    "connectors",
    "grafana",
)


def _source(package: str) -> Path:
    return ROOT / package.replace(".", "/") / "__init__.py"


def _eager(package: str) -> set[str]:
    """The names the package imports at once (besides ``TYPE_CHECKING`` and the helper)."""
    tree = ast.parse(_source(package).read_text("utf-8"))
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module != "typing"
        for alias in node.names
    } - {"lazy_exports"}


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_loads_from_where_its_import_says(package: str) -> None:
    lazy = type_checking_imports(_source(package))
    module = importlib.import_module(package)
    assert lazy, "no names under TYPE_CHECKING"
    assert sorted(lazy.keys() | _eager(package)) == sorted(module.__all__)
    for name, (home, attr) in lazy.items():
        assert getattr(module, name) is getattr(importlib.import_module(home), attr), name


def test_an_unknown_name_is_an_attribute_error(tmp_path: Path) -> None:
    source = tmp_path / "pkg.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from citypulse._percentile import percentile\n"
    )
    getattr_ = lazy_exports("citypulse", str(source))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        getattr_("nothing")
    assert getattr_("percentile") is importlib.import_module("citypulse").percentile


def test_a_relative_import_under_type_checking_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "pkg.py"
    source.write_text("if TYPE_CHECKING:\n    from ._x import y\n")
    with pytest.raises(ImportError, match="only absolute from-imports"):
        type_checking_imports(source)
