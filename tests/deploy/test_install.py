"""Installing citypulse leaves the rest of an environment alone.

A dependency that replaces another package's files (urllib3-future, which grafana-client
brought in, overwrites ``urllib3``) breaks tools the user already has:
``requests`` still sends a plain GET, but libraries that use urllib3's API, such as
schemathesis, fail.  So the check is that ``urllib3`` is urllib3 itself, and works.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.test_wheel import build_wheel, install_pinned, run

# Run by the environment's own Python: GET the URL through requests, then report what
# urllib3 is and what its pool manager holds (the API schemathesis reads).
USE_REQUESTS = """
import importlib.metadata, json, sys
import requests, urllib3

url = sys.argv[1]
with requests.Session() as session:
    response = session.get(url, timeout=10)
    pools = session.get_adapter(url).poolmanager.pools
    print(json.dumps({
        "status": response.status_code,
        "body": response.text,
        "urllib3_module": urllib3.__version__,
        "urllib3_dist": importlib.metadata.version("urllib3"),
        "pools": len(list(pools.keys())),
    }))
"""


@pytest.fixture
def http_url() -> Iterator[str]:
    """A local HTTP server answering every GET with ``ok``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="plain-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.slow
def test_a_default_install_leaves_requests_working(tmp_path: Path, http_url: str) -> None:
    bin_dir = install_pinned(build_wheel(tmp_path / "dist"), tmp_path / "venv")
    run(bin_dir / "pip", "install", "-q", "requests")

    installed = {line.split("==")[0].lower() for line in run(bin_dir / "pip", "freeze").split()}
    assert "requests" in installed
    assert "urllib3-future" not in installed, "urllib3 was replaced"

    out = run(bin_dir / "python", "-c", USE_REQUESTS, http_url, cwd=tmp_path)
    result = json.loads(out)
    assert (result["status"], result["body"]) == (200, "ok")
    assert result["urllib3_module"] == result["urllib3_dist"], "urllib3's files were replaced"
    assert result["pools"] == 1
