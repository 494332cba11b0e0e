"""Public names a package imports from its private modules only when first used.

Importing a command module (``connectors._cli_serve``) runs its package's ``__init__``;
were that to import every private module, ``citypulse --help`` would load psycopg,
httpx, starlette and numpy.  A package lists its names once, as ordinary imports under
``if TYPE_CHECKING:`` (for mypy and readers), and hands its ``__getattr__`` to
:func:`lazy_exports`, which reads that block from the package's source::

    if TYPE_CHECKING:
        from ingest._worker import IngestConfig, IngestWorker
    else:
        __getattr__ = lazy_exports(__name__, __file__)
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path


def type_checking_imports(path: str | Path) -> dict[str, tuple[str, str]]:
    """The names a module's ``if TYPE_CHECKING:`` block imports: name -> (module, name)."""
    tree = ast.parse(Path(path).read_text("utf-8"))
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for inner in node.body:
                if not isinstance(inner, ast.ImportFrom) or not inner.module or inner.level:
                    raise ImportError(f"{path}: only absolute from-imports under TYPE_CHECKING")
                for alias in inner.names:
                    found[alias.asname or alias.name] = (inner.module, alias.name)
    return found


def lazy_exports(package: str, path: str) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` (whose source is ``path``) that imports the
    names of its ``if TYPE_CHECKING:`` block on first access and keeps each in the
    package's namespace afterwards."""
    home = type_checking_imports(path)

    def __getattr__(name: str) -> object:
        found = home.get(name)
        if found is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = found
        value = getattr(importlib.import_module(module), attr)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
