"""Public names a package imports from its private modules only when first used.

Importing a command module (``connectors._cli_serve``) runs its package's ``__init__``;
were that to import every private module, ``citypulse --help`` would load psycopg,
httpx, starlette and numpy.  A package lists its names twice: under ``if TYPE_CHECKING:``
as ordinary imports, for mypy and readers, and in :func:`lazy_exports` for the runtime.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def lazy_exports(package: str, exports: Mapping[str, Iterable[str]]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package`` that imports ``exports`` (module -> names)
    on first access and keeps each name in the package's namespace afterwards."""
    home = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
