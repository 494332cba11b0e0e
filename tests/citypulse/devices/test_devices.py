"""Mosquitto password entries and the idempotence of `citypulse devices add/login`."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from citypulse.cli import main
from citypulse.devices._mosquitto import hash_password, read_entries, verify_password
from tests._procs import find_binary, unprivileged_user


def test_our_hashes_and_mosquitto_passwd_agree(tmp_path: Path) -> None:
    binary = find_binary("mosquitto_passwd", ["/usr/bin", "/usr/local/bin"])
    assert binary is not None, "mosquitto_passwd is not installed"
    path = tmp_path / "passwd"
    subprocess.run([binary, "-c", "-b", str(path), "alice", "s3cret"], check=True, timeout=30)
    theirs = read_entries(path)["alice"]
    assert theirs.startswith("$7$")
    assert verify_password("s3cret", theirs)
    assert not verify_password("s3cret!", theirs)
    ours = hash_password("s3cret", salt=b"0123456789ab")
    assert ours == hash_password("s3cret", salt=b"0123456789ab")
    assert verify_password("s3cret", ours)
    assert ours.split("$")[1:3] == theirs.split("$")[1:3]  # format and iterations


def login(path: Path, capsys: pytest.CaptureFixture[str], *extra: str, stdin: str = "") -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stdin", io.StringIO(stdin))
        assert main(["devices", "login", "ingest", "--password-file", str(path), *extra]) == 0
    return capsys.readouterr().out.strip()


def test_login_is_idempotent_and_resettable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "passwd"
    path.write_text("# comment kept\nother:$7$101$abc$def\n")
    path.chmod(0o640)
    first = login(path, capsys)
    assert verify_password(first, read_entries(path)["ingest"])
    assert login(path, capsys) == ""  # unchanged, nothing printed
    assert verify_password(first, read_entries(path)["ingest"])
    second = login(path, capsys, "--reset-password")
    assert second != first
    assert verify_password(second, read_entries(path)["ingest"])
    assert login(path, capsys, "--password-stdin", stdin="from-env\n") == ""
    assert verify_password("from-env", read_entries(path)["ingest"])
    text = path.read_text()
    assert text.startswith("# comment kept\nother:$7$101$abc$def\n")
    assert text.count("ingest:") == 1


def test_devices_add_refuses_bad_ids_and_service_names(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    acl = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto" / "acl"
    base = ["--database-url", db_url, "devices", "add", "--kind", "camera", "--district", "d1",
            "--password-file", str(tmp_path / "passwd"), "--acl-file", str(acl)]  # fmt: skip
    assert main([*base, "cam/1"]) == 2  # a topic level cannot hold '/'
    assert main([*base, "cam-1\n"]) == 2  # nor end in a newline (a line of its own in passwd)
    assert "1 to 64 letters" in capsys.readouterr().err
    assert main([*base, "ingest"]) == 2  # a service login, not a device
    assert main([*base, "citypulse-ingest-9"]) == 2  # a service's client id, too
    assert main([*base, "cam-1", "--lat", "54.5"]) == 2
    assert "ingest" in capsys.readouterr().err
    assert not (tmp_path / "passwd").exists()
    assert main([*base, "cam-1"]) == 0
    password = capsys.readouterr().out.strip()
    assert main([*base, "cam-1", "--name", "renamed"]) == 0  # idempotent; keeps the password
    assert capsys.readouterr().out.strip() == ""
    assert verify_password(password, read_entries(tmp_path / "passwd")["cam-1"])


def test_devices_list_shows_registry_and_logins(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    passwd = str(tmp_path / "passwd")
    common = ["--database-url", db_url, "devices"]
    for dev, kind in [("cam-1", "camera"), ("eco-1", "ecology")]:
        args = ["add", dev, "--kind", kind, "--district", "d1", "--password-file", passwd]
        assert main([*common, *args]) == 0
    assert main([*common, "add", "pk-1", "--kind", "parking", "--district", "d2",
                 "--password-file", str(tmp_path / "other")]) == 0  # fmt: skip
    assert main(["devices", "login", "ghost", "--password-file", passwd]) == 0
    capsys.readouterr()
    assert main([*common, "list", "--password-file", passwd]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[1:-2]}
    assert lines["cam-1"][-1] == "yes"
    assert lines["pk-1"][-1] == "NO"
    assert lines["eco-1"][3] == "never"
    assert "3 devices, 1 without a login" in out
    assert "logins without a registered device: ghost" in out
    assert main([*common, "list", "--kind", "camera", "--password-file", passwd]) == 0
    out = capsys.readouterr().out
    assert "cam-1" in out
    assert "eco-1" not in out


def test_login_adds_an_ingest_workers_acl_block_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    acl = tmp_path / "acl"
    shipped = Path(__file__).resolve().parents[3] / "deploy" / "mosquitto" / "acl"
    acl.write_text(shipped.read_text())
    passwd = str(tmp_path / "passwd")
    args = ["devices", "login", "--password-file", passwd, "--acl-file", str(acl)]
    assert main([*args, "citypulse-ingest-1"]) == 0
    assert acl.read_text() == shipped.read_text()  # it has a block already
    assert main([*args, "citypulse-ingest-3"]) == 0
    assert main([*args, "citypulse-ingest-3", "--reset-password"]) == 0
    added = acl.read_text().removeprefix(shipped.read_text())
    assert added == "\nuser citypulse-ingest-3\ntopic read city/#\ntopic read $share/+/city/#\n"
    assert main([*args, "simulator"]) == 0
    assert main([*args, "reporter"]) == 2  # the ACL grants it nothing
    assert "reporter" in capsys.readouterr().err
    assert set(read_entries(tmp_path / "passwd")) == {
        "citypulse-ingest-1",
        "citypulse-ingest-3",
        "simulator",
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file to another user")
def test_as_root_the_password_file_is_the_brokers_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "passwd"
    path.write_text("other:$7$101$abc$def\n")
    path.chmod(0o644)  # as older versions left it: world-readable
    login(path, capsys)
    st = path.stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 1883, 1883)  # compose's broker
    fresh = tmp_path / "fresh"
    login(fresh, capsys, "--broker-user", "105:108")
    st = fresh.stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 105, 108)
    with pytest.raises(SystemExit) as refused:  # refused while parsing: nothing written
        main(["devices", "login", "x", "--password-file", str(fresh),
              "--broker-user", "no-such-user-here"])  # fmt: skip
    assert refused.value.code == 2
    assert "--broker-user: no such user or group" in capsys.readouterr().err


@contextmanager
def not_root() -> Iterator[tuple[Path, tuple[int, int]]]:
    """A user who may not give files away, with a folder of theirs: as root, an
    unprivileged one for a while (effective ids only, so root comes back); otherwise we."""
    ids = unprivileged_user() or (os.getuid(), os.getgid())
    folder = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="citypulse-passwd-"))
    root = os.geteuid() == 0
    groups = os.getgroups()
    try:
        os.chown(folder, *ids)
        if root:
            os.setgroups([])
            os.setegid(ids[1])
            os.seteuid(ids[0])
        try:
            yield folder, ids
        finally:
            if root:
                os.seteuid(0)
                os.setegid(0)
                os.setgroups(groups)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_without_root_the_password_file_is_the_brokers_group_or_a_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def login_err(path: Path, broker: str) -> str:
        args = ["devices", "login", "ingest", "--password-file", str(path)]
        assert main([*args, "--broker-user", broker]) == 0
        return capsys.readouterr().err

    with not_root() as (folder, (uid, gid)):
        shared, alone = folder / "passwd", folder / "alone"
        assert "cannot read" not in login_err(shared, f"1883:{gid}")  # the broker: our group
        st = shared.stat()
        assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o640, uid, gid)
        warning = login_err(alone, "1883:1883")
        assert alone.stat().st_mode & 0o777 == 0o600  # never world-readable
    assert f"sudo chown 1883:1883 {alone}" in warning  # but the broker cannot read it
