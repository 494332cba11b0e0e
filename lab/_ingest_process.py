"""``citypulse ingest`` as a child process, for the fault benches and the tests that kill
or stop workers for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading


class IngestProcess:
    """``citypulse ingest ARGS`` on this interpreter; waits until it has subscribed.

    Its stderr (the log) is kept in ``log``, a line each."""

    def __init__(
        self, db_url: str, mqtt_url: str, client_id: str, *args: str, timeout: float = 60
    ) -> None:
        env = {
            **os.environ,
            "CITYPULSE_DATABASE_URL": db_url,
            "CITYPULSE_MQTT_URL": mqtt_url,
            "CITYPULSE_MQTT_CLIENT_ID": client_id,
            "CITYPULSE_WORKER_ID": client_id,
            "CITYPULSE_LOG_LEVEL": "INFO",
        }
        self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, our own command
            [sys.executable, "-m", "citypulse.cli", "ingest", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.log: list[str] = []
        self._subscribed = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._subscribed.wait(timeout):
            self.stop(kill=True)
            raise TimeoutError("ingest did not subscribe:\n" + "".join(self.log[-20:]))

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            if "subscribed:" in line:
                self._subscribed.set()

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """The exit code; raises ``subprocess.TimeoutExpired`` if it is still running."""
        code = self.proc.wait(timeout)
        self._reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return code

    def stop(self, *, kill: bool = False, timeout: float = 90) -> int:
        """SIGTERM (or SIGKILL) unless it has exited; wait, killing it after ``timeout``."""
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.wait(10)
