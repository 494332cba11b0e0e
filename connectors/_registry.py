"""Connectors by name, built from the settings (``CITYPULSE_CONNECTORS=webhook,open311``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from citypulse import ConfigError, Settings
from connectors._connector import Connector
from connectors._open311_client import Open311Connector
from connectors._webhook import WebhookConnector

ConnectorFactory = Callable[[Settings], Connector]

CONNECTOR_FACTORIES: Mapping[str, ConnectorFactory] = {
    "webhook": WebhookConnector.from_settings,
    "open311": Open311Connector.from_settings,
}


def build_connectors(
    settings: Settings, extra: Mapping[str, ConnectorFactory] | None = None
) -> tuple[Connector, ...]:
    """The connectors ``settings.connectors`` names; ``extra`` adds or overrides factories."""
    factories = {**CONNECTOR_FACTORIES, **(extra or {})}
    built: list[Connector] = []
    for name in settings.connectors:
        factory = factories.get(name)
        if factory is None:
            raise ConfigError(
                "CITYPULSE_CONNECTORS", f"unknown connector {name!r}; known: {sorted(factories)}"
            )
        built.append(factory(settings))
    return tuple(built)
