"""scripts/stack-init prepares a fresh checkout: .env, MQTT service logins, a certificate."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from citypulse.devices._mosquitto import read_entries, verify_password

ROOT = Path(__file__).resolve().parents[2]


def env_file(path: Path) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_stack_init_writes_secrets_logins_and_a_certificate(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    for part in ("scripts", "deploy"):
        shutil.copytree(ROOT / part, checkout / part, ignore=shutil.ignore_patterns("passwd"))
    shutil.copy(ROOT / ".env.example", checkout / ".env.example")
    for stale in (checkout / "deploy" / "mosquitto" / "certs").glob("*.*"):
        if stale.name != ".gitkeep":
            stale.unlink()
    citypulse = Path(sys.executable).with_name("citypulse")
    run = [str(checkout / "scripts" / "stack-init"), "--demo", "--hostname", "mqtt.test"]
    # PYTHONPATH: the executable runs this checkout's code, not the one installed
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "CITYPULSE_BIN": str(citypulse), "PYTHONPATH": pythonpath}
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    values = env_file(checkout / ".env")
    assert set(values) == set(env_file(ROOT / ".env.example"))
    assert "change-me" not in values.values()
    assert len({values["POSTGRES_PASSWORD"], values["MQTT_INGEST_PASSWORD"]}) == 2
    assert (checkout / ".env").stat().st_mode & 0o077 == 0
    passwd = checkout / "deploy" / "mosquitto" / "passwd"
    logins = read_entries(passwd)
    assert set(logins) == {
        "citypulse-ingest-1",
        "citypulse-ingest-2",
        "citypulse-console",
        "simulator",
    }
    st = passwd.stat()
    assert st.st_mode & 0o077 == 0  # the broker's alone, never world-readable
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (1883, 1883)  # the image's mosquitto user
    for n in (1, 2):
        assert verify_password(values["MQTT_INGEST_PASSWORD"], logins[f"citypulse-ingest-{n}"])
    assert verify_password(values["MQTT_SIMULATOR_PASSWORD"], logins["simulator"])
    assert verify_password(values["MQTT_CONSOLE_PASSWORD"], logins["citypulse-console"])
    assert (checkout / "deploy" / "mosquitto" / "acl").read_text() == (
        ROOT / "deploy" / "mosquitto" / "acl"
    ).read_text()  # the shipped ACL already has both workers' blocks
    certs = checkout / "deploy" / "mosquitto" / "certs"
    subject = subprocess.run(
        ["openssl", "x509", "-in", str(certs / "server.crt"), "-noout", "-ext", "subjectAltName"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert "DNS:mqtt.test" in subject
    assert (certs / "server.key").stat().st_mode & 0o007 == 0

    # A second run keeps .env and the certificate and re-applies the same passwords.
    before = (checkout / ".env").read_text(), (certs / "server.crt").read_bytes()
    done = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ((checkout / ".env").read_text(), (certs / "server.crt").read_bytes()) == before
    logins = read_entries(checkout / "deploy" / "mosquitto" / "passwd")
    assert verify_password(values["MQTT_INGEST_PASSWORD"], logins["citypulse-ingest-2"])

    # A third worker: its login, and its block in the ACL.
    done = subprocess.run([*run, "--ingest-workers", "3"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    logins = read_entries(checkout / "deploy" / "mosquitto" / "passwd")
    assert verify_password(values["MQTT_INGEST_PASSWORD"], logins["citypulse-ingest-3"])
    acl = (checkout / "deploy" / "mosquitto" / "acl").read_text()
    assert acl.endswith(
        "\nuser citypulse-ingest-3\ntopic read city/#\ntopic read $share/+/city/#\n"
    )
