"""The kernel's hooks: stages above the detectors register incident listeners by name."""

from __future__ import annotations

import pytest

from citypulse import (
    ConfigError,
    IncidentListener,
    Settings,
    incident_listener,
    incident_listener_names,
)


def test_appeals_registers_its_writer() -> None:
    assert "appeals" in incident_listener_names()
    listener: IncidentListener = incident_listener("appeals", Settings())
    assert type(listener).__name__ == "AppealWriter"
    assert type(listener).__module__.startswith("appeals.")


def test_an_unknown_listener_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"no incident listener 'appels' \(registered: .*appeals"):
        incident_listener("appels", Settings())
