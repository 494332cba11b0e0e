"""docker-compose.yml, .env.example and the Dockerfile, checked without Docker.

Docker does not run on the machines that run these tests, so `docker compose config`
cannot: this parses the compose file with PyYAML and checks what that command would,
plus the project's own rules (every setting documented, health checks, start order).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
CITYPULSE = {n for n, s in SERVICES.items() if s.get("build") == "."}
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
DOCUMENTED = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE, re.MULTILINE))
INTERPOLATED = re.compile(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)(?:[:?-][^}]*)?\}")
# Settings other packages read (connectors, grafana, demo), documented ahead of the merge.
PLANNED = {
    "CITYPULSE_CONNECTORS", "CITYPULSE_WEBHOOK_URL", "CITYPULSE_WEBHOOK_SECRET",
    "CITYPULSE_OPEN311_URL", "CITYPULSE_OPEN311_API_KEY", "CITYPULSE_API_KEYS",
    "CITYPULSE_GRAFANA_URL", "CITYPULSE_GRAFANA_DB_USER", "CITYPULSE_GRAFANA_DB_PASSWORD",
    "CITYPULSE_ROUTING_FILE", "CITYPULSE_TIMEZONE",
}  # fmt: skip


def test_the_services_of_the_stack() -> None:
    assert set(SERVICES) == {
        "timescaledb", "mosquitto", "grafana", "migrate", "ingest-1", "ingest-2", "detect",
        "serve", "simulator",
    }  # fmt: skip
    assert {"migrate", "ingest-1", "ingest-2", "detect", "serve", "simulator"} == CITYPULSE
    assert re.fullmatch(
        r"timescale/timescaledb:2\.\d+\.\d+-pg1[67]", SERVICES["timescaledb"]["image"]
    )
    assert re.fullmatch(r"eclipse-mosquitto:2\.\d+\.\d+", SERVICES["mosquitto"]["image"])
    assert SERVICES["mosquitto"]["image"] != "eclipse-mosquitto:2.0.11"
    assert re.fullmatch(r"grafana/grafana:12\.\d+\.\d+", SERVICES["grafana"]["image"])
    images = {SERVICES[n]["image"] for n in CITYPULSE}
    assert len(images) == 1, "one image for every citypulse service"
    assert (ROOT / "Dockerfile").is_file()
    assert SERVICES["simulator"]["profiles"] == ["demo"]
    assert all("profiles" not in s for n, s in SERVICES.items() if n != "simulator")


# TimescaleDB's jobs for citypulse's schema (tests/citypulse/db/test_jobs.py counts them).
POLICY_JOBS = 24


def test_timescaledb_is_the_release_the_tests_run() -> None:
    """The image runs the TimescaleDB release docs/deploy.md names as tested, not one
    from years before it."""
    image = SERVICES["timescaledb"]["image"]
    match = re.fullmatch(r"timescale/timescaledb:(\d+)\.(\d+)\.(\d+)-pg\d+", image)
    assert match, image
    major, minor, patch = (int(g) for g in match.groups())
    assert (major, minor) >= (2, 28), image
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    tested = re.search(r"Tested with TimescaleDB (\d+\.\d+\.\d+) on PostgreSQL (\d+)", deploy)
    assert tested, "docs/deploy.md says which TimescaleDB and PostgreSQL the tests run"
    assert tested[1] == f"{major}.{minor}.{patch}"
    assert f"`{image}`" in deploy


def test_timescaledb_has_workers_for_every_policy_job() -> None:
    """Every policy job may be due at once: each needs a TimescaleDB background worker,
    and the scheduler one more; PostgreSQL's worker processes must hold those, the
    launcher and the parallel-query workers (8 by default)."""
    command = SERVICES["timescaledb"]["command"]
    assert command[0] == "postgres"
    settings = dict(
        arg.split("=", 1)
        for flag, arg in zip(command[1::2], command[2::2], strict=True)
        if flag == "-c"
    )
    background = int(settings["timescaledb.max_background_workers"])
    assert background >= POLICY_JOBS + 1
    assert int(settings["max_worker_processes"]) >= background + 1 + 8


def bind_mounts() -> list[tuple[str, str]]:
    return [
        (name, volume.split(":")[0])
        for name, service in SERVICES.items()
        for volume in service.get("volumes", [])
        if volume.startswith(".")
    ]


@pytest.mark.parametrize(("service", "source"), bind_mounts())
def test_every_mounted_file_exists(service: str, source: str) -> None:
    assert (ROOT / source).exists(), f"{service} mounts {source}, which is not in the repo"


def test_named_volumes_are_declared() -> None:
    named = {
        v.split(":")[0]
        for s in SERVICES.values()
        for v in s.get("volumes", [])
        if not v.startswith((".", "/"))
    }
    assert named == set(COMPOSE["volumes"])


def test_every_interpolated_variable_is_in_env_example() -> None:
    used = set(INTERPOLATED.findall((ROOT / "docker-compose.yml").read_text()))
    assert used, "the pattern finds the ${VAR}s"
    assert used - DOCUMENTED == set()


def test_every_setting_is_in_env_example() -> None:
    source = (ROOT / "citypulse" / "_settings.py").read_text()
    read = {
        f"CITYPULSE_{n}"
        for n in re.findall(r"\b(?:get|integer|database_url)\(\s*\"([A-Z0-9_]+)\"", source)
    }
    assert {"CITYPULSE_DATABASE_URL", "CITYPULSE_MQTT_URL", "CITYPULSE_LOG_LEVEL"} <= read
    assert (read | PLANNED) - DOCUMENTED == set()


def test_every_service_environment_variable_is_documented() -> None:
    passed = {k for s in SERVICES.values() for k in (s.get("environment") or {})}
    ours = {k for k in passed if k.startswith("CITYPULSE_")}
    # Composed per service (URLs, ids) or read only by Grafana's provisioning.
    composed = {"CITYPULSE_GRAFANA_DB_HOST", "CITYPULSE_GRAFANA_DB_NAME"}
    assert ours - DOCUMENTED - composed == set()


def test_health_checks_and_restart_policies() -> None:
    one_shot = {"migrate", "simulator"}
    for name, service in SERVICES.items():
        assert "restart" in service, name
        if name in one_shot:
            assert service["restart"] == "no", name
        else:
            assert service["restart"] == "unless-stopped", name
            check = service.get("healthcheck")
            assert check, name
            assert check["test"][0] in ("CMD", "CMD-SHELL"), name
            assert all(k in check for k in ("interval", "timeout", "retries")), name


def test_start_order() -> None:
    for name, service in SERVICES.items():
        deps: dict[str, dict[str, str]] = service.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions"
        for dep, cond in deps.items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{name} waits for {dep}'s health check"
        if name in CITYPULSE - {"migrate"}:
            assert deps["migrate"] == {"condition": "service_completed_successfully"}, name
    assert SERVICES["migrate"]["depends_on"] == {"timescaledb": {"condition": "service_healthy"}}
    for name in ("ingest-1", "ingest-2", "simulator"):
        assert SERVICES[name]["depends_on"]["mosquitto"] == {"condition": "service_healthy"}
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle {(*path, name)}"
        for dep in SERVICES[name].get("depends_on", {}):
            visit(dep, (*path, name))
        seen.add(name)

    for name in SERVICES:
        visit(name, ())


def test_ingest_workers_share_the_stream_with_distinct_sessions() -> None:
    envs = [SERVICES[n]["environment"] for n in ("ingest-1", "ingest-2")]
    assert envs[0]["CITYPULSE_MQTT_CLIENT_ID"] != envs[1]["CITYPULSE_MQTT_CLIENT_ID"]
    assert envs[0]["CITYPULSE_WORKER_ID"] != envs[1]["CITYPULSE_WORKER_ID"]
    assert envs[0]["CITYPULSE_MQTT_SHARE_GROUP"] == envs[1]["CITYPULSE_MQTT_SHARE_GROUP"]
    assert SERVICES["ingest-1"]["command"][0] == "ingest"
    for env in envs:
        # The broker makes a login's name its client id (use_username_as_clientid), so
        # each worker logs in as its client id.
        assert env["CITYPULSE_MQTT_URL"].startswith(f"mqtt://{env['CITYPULSE_MQTT_CLIENT_ID']}:")
        assert env["CITYPULSE_MQTT_URL"].endswith("@mosquitto:1883")
    acl = (ROOT / "deploy" / "mosquitto" / "acl").read_text()
    for env in envs:
        assert f"\nuser {env['CITYPULSE_MQTT_CLIENT_ID']}\ntopic read city/#\n" in acl
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    listeners = re.split(r"^listener ", conf, flags=re.MULTILINE)
    assert len(listeners) == 3  # 1883 and 8883, and no setting before them opens another
    assert all("\nuse_username_as_clientid true\n" in block for block in listeners[1:])


def test_detect_queues_for_the_connectors_serve_delivers() -> None:
    # detect's AppealWriter writes one outbox row per configured connector; serve's
    # delivery worker sends them.  Without the setting in detect nothing is ever queued.
    detect, serve = (SERVICES[n]["environment"] for n in ("detect", "serve"))
    assert detect.get("CITYPULSE_CONNECTORS") == serve.get("CITYPULSE_CONNECTORS")
    assert "CITYPULSE_CONNECTORS" in detect


def test_services_use_least_privilege_logins() -> None:
    def login(name: str) -> str:
        url: str = SERVICES[name]["environment"]["CITYPULSE_DATABASE_URL"]
        found = re.match(r"postgresql://(.*?):\$\{", url)
        assert found, url
        return found[1]

    assert login("migrate") == "${POSTGRES_USER:-citypulse}"
    assert login("ingest-1") == login("ingest-2") == "${CITYPULSE_DB_INGEST_USER:-ingest}"
    assert login("detect") == login("serve") == "${CITYPULSE_DB_API_USER:-api}"
    db = SERVICES["timescaledb"]
    assert any("/docker-entrypoint-initdb.d/" in v for v in db["volumes"])
    script = (ROOT / "deploy" / "postgres" / "10-citypulse-logins.sh").read_text()
    for required in re.findall(r"\$\{([A-Z_]+):\?", script):
        assert required in db["environment"], f"the init script needs {required}"


def test_mosquitto_mounts_match_its_config() -> None:
    conf = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    mounts = dict(v.split(":")[:2] for v in SERVICES["mosquitto"]["volumes"])
    assert mounts["./deploy/mosquitto"] == "/mosquitto/config"
    assert mounts["./deploy/mosquitto/certs"] == "/mosquitto/certs"
    assert mounts["mosquitto-data"] == "/mosquitto/data"
    for path in re.findall(r"^\w+ (/mosquitto/\S+)$", conf, re.MULTILINE):
        assert any(path.startswith(target) for target in mounts.values()), path
    assert ":8883" in SERVICES["mosquitto"]["ports"][0]
    assert not any("1883" in p.split(":")[-2] for p in SERVICES["mosquitto"]["ports"])


def test_dockerfile_is_multi_stage_non_root_and_copies_what_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user
    assert not user[-1].startswith(("root", "0"))
    assert "--constraint" in text
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.MULTILINE):
        for source in sources.split():
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", "deploy/mosquitto/passwd"} <= set(ignored)
