"""What the demo serves until Ctrl-C: the API and the operators' console on one server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from citypulse import MqttUrl, Settings


@contextmanager
def serve_demo(
    url: str, port: int, key_file: Path, settings: Settings, mqtt: MqttUrl
) -> Iterator[str]:
    """The Open311 API, operators' actions and the console (with its live updates) over
    ``url``, on ``port`` or a free one when it is taken; yields the base URL."""
    import secrets
    import socket

    from appeals import Api, KeyStore, load_routing, open_pool, serve_in_thread
    from citypulse import Secret
    from console import Console, Live, Presence, SessionCodec, application, session_codec
    from lab._embedded import free_port

    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
    except OSError:
        port = free_port()
    key = key_file.read_text().strip()
    routing = load_routing()
    keys = KeyStore(bootstrap=(Secret(f"operator:{key}"),))
    pool = open_pool(url, max_size=4, application_name="citypulse-demo-api")
    try:
        api = Api(pool=pool, routing=routing, keys=keys, connectors=()).app()
        live = Live(database_url=url)
        # A demo's sessions may end with it: no warning about a per-run session secret.
        codec = (
            session_codec(settings)
            if settings.session_secret.value
            else SessionCodec(secret=secrets.token_bytes(32), max_age_s=8 * 3600)
        )
        presence = Presence(mqtt=mqtt, client_id="citypulse-demo-console")
        console = Console(
            pool=pool, routing=routing, keys=keys, codec=codec, live=live, presence=presence
        )
        app = application(api, console)
        with serve_in_thread(app, port=port, services=[live]) as base:
            yield base
    finally:
        pool.close(timeout=5.0)
