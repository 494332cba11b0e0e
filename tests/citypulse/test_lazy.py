"""Packages whose public names load lazily (``citypulse.lazy_exports``) list each name
twice, under ``if TYPE_CHECKING:`` and in the lazy map: the two must agree with
``__all__``, and every name must load from the module its import names."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from citypulse import lazy_exports

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


def _imports(package: str) -> tuple[dict[str, str], set[str]]:
    """(name -> module) imported under TYPE_CHECKING, and the names imported eagerly."""
    path = ROOT / package.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text("utf-8"))
    lazy: dict[str, str] = {}
    eager: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for inner in node.body:
                assert isinstance(inner, ast.ImportFrom), ast.unparse(inner)
                lazy.update({alias.name: str(inner.module) for alias in inner.names})
        elif isinstance(node, ast.ImportFrom) and node.module != "typing":
            eager.update(alias.asname or alias.name for alias in node.names)
    return lazy, eager - {"lazy_exports"}


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_loads_from_where_its_import_says(package: str) -> None:
    lazy, eager = _imports(package)
    module = importlib.import_module(package)
    assert sorted(lazy.keys() | eager) == sorted(module.__all__)
    for name, home in lazy.items():
        assert getattr(module, name) is getattr(importlib.import_module(home), name), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    getattr_ = lazy_exports("citypulse", {"citypulse._percentile": ("percentile",)})
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        getattr_("nothing")
    assert getattr_("percentile") is importlib.import_module("citypulse").percentile
