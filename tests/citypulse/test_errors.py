"""One error tree: every error a product package raises on purpose hangs from
CitypulseError, under its package's root, defined and drawn in its ``_errors.py``."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
from types import ModuleType

import pytest

import citypulse._errors
from citypulse import CitypulseError

ROOTS = {
    "simulator": "SimulatorError",
    "ingest": "IngestError",
    "detectors": "DetectorError",
    "appeals": "AppealsError",
    "connectors": "ConnectorError",
    "grafana": "GrafanaError",
    "console": "ConsoleError",
}


def _modules(package: str) -> list[ModuleType]:
    top = importlib.import_module(package)
    names = [m.name for m in pkgutil.walk_packages(top.__path__, f"{package}.")]
    return [top, *(importlib.import_module(name) for name in names)]


def _exception_classes(package: str) -> list[type[BaseException]]:
    """The public exception classes the package's own modules define."""
    found: dict[str, type[BaseException]] = {}
    for module in _modules(package):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{module.__name__}.{name}"] = value
    return list(found.values())


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_package_root_is_a_citypulse_error(package: str) -> None:
    root = getattr(importlib.import_module(package), ROOTS[package])
    assert issubclass(root, CitypulseError)
    assert root.__name__ in (citypulse._errors.__doc__ or "")
    drawn = importlib.import_module(f"{package}._errors").__doc__ or ""
    assert f"{root.__name__} (CitypulseError)" in drawn


@pytest.mark.parametrize("package", ["citypulse", *sorted(ROOTS)])
def test_every_exception_class_is_in_its_packages_tree(package: str) -> None:
    root = getattr(importlib.import_module(package), ROOTS.get(package, "CitypulseError"))
    errors = importlib.import_module(f"{package}._errors")
    classes = _exception_classes(package)
    assert root in classes
    for cls in classes:
        assert issubclass(cls, root), f"{cls.__module__}.{cls.__qualname__} is not a {root}"
        assert cls.__module__ == errors.__name__, f"{cls.__qualname__} is outside _errors.py"
        assert cls.__name__ in (errors.__doc__ or ""), f"{cls.__name__} is not drawn"
        assert getattr(importlib.import_module(package), cls.__name__) is cls, (
            f"{cls.__name__} is not exported by {package}"
        )


def _example(cls: type[BaseException]) -> BaseException:
    """An instance of ``cls``, its required arguments made up from their annotations."""
    try:
        parameters = inspect.signature(cls).parameters
    except ValueError:  # no __init__ of its own: Exception's, which takes a message
        return cls("what went wrong")
    args: list[object] = []
    kwargs: dict[str, object] = {}
    for name, param in parameters.items():
        if param.default is not inspect.Parameter.empty or param.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        note = str(param.annotation)
        value: object = 7 if "int" in note else {"a": "1"} if "Mapping" in note else f"{name}!"
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return cls(*args, **kwargs)


@pytest.mark.parametrize("package", ["citypulse", *sorted(ROOTS)])
def test_every_error_crosses_a_process_boundary_whole(package: str) -> None:
    # a worker process's error reaches its parent pickled (a process pool, the sweep)
    for cls in _exception_classes(package):
        error = _example(cls)
        back = pickle.loads(pickle.dumps(error))
        assert type(back) is cls
        assert str(back) == str(error)
        assert vars(back) == vars(error), cls.__name__
