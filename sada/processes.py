"""Starting and stopping the local server processes Sada runs beside itself (SecantusDB in
the embedded default; gunicorn and workers under `sada run`; brokers in tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_bindable(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now (nothing listens there, and no other
    socket, such as a client's ephemeral port, holds it)."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, timeout: float = 30.0,
                  proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before opening port {port}")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


@dataclass
class ManagedProcess:
    """A child process in its own process group, so stopping it stops its children too."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    log_path: Path | None = None
    port: int | None = None
    proc: subprocess.Popen | None = field(default=None, init=False)

    def start(self, timeout: float = 30.0) -> ManagedProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            list(self.argv), env={**os.environ, **(self.env or {})}, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        if self.port is not None:
            try:
                wait_for_port("127.0.0.1", self.port, timeout, self.proc)
            except Exception:
                self.kill()
                raise RuntimeError(f"{self.name} did not start: see {self.log_path}") from None
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9, the whole process group: a crash, as far as the process can tell."""
        self._signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)


def secantus(data_dir: Path, port: int, log_path: Path | None = None) -> ManagedProcess:
    """SecantusDB (GPL-2.0) runs as its own server process; Sada only talks to it over the wire."""
    data_dir.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("secantusd-py")
    return ManagedProcess(
        "secantusdb",
        [str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data_dir),
         "--log-level", "WARNING"],
        log_path=log_path, port=port)
