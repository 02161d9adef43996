"""Starting and stopping the local server processes Sada runs beside itself (SecantusDB in
the embedded default; gunicorn and workers under `sada run`; brokers in tests)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_bindable(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on host:port now: nothing listens there and no other
    socket holds it. With SO_REUSEADDR, as servers bind, so a closed connection of our own
    from a minute ago (TIME_WAIT) does not count as busy."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> Callable[[], None]:
    """For a child's preexec_fn: ask the kernel to SIGKILL the child when the parent dies,
    however it dies. SIGKILL, not SIGTERM: a graceful stop could wait on a server that died
    in the same moment (a worker on its MongoDB), and every Sada process is built to survive
    kill -9 without losing or doubling anything. Linux only; elsewhere a no-op."""
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None

    def arm() -> None:  # runs in the child between fork and exec: no allocation-heavy work
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the request was in place
            os.kill(os.getpid(), signal.SIGKILL)
    return arm


@dataclass
class ManagedProcess:
    """A child process in its own process group, so stopping it stops its children too.

    With `die_with_parent`, the kernel kills it when the process that started it dies, even by
    SIGKILL, so a killed `sada run` leaves no server holding its ports. Start such a process
    from a thread that lives as long as the parent: Linux ties the signal to that thread."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    log_path: Path | None = None
    port: int | None = None
    die_with_parent: bool = False
    proc: subprocess.Popen | None = field(default=None, init=False)

    def start(self, timeout: float = 30.0) -> ManagedProcess:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        preexec = _die_with_parent(os.getpid()) if self.die_with_parent else None
        self.proc = subprocess.Popen(
            list(self.argv), env={**os.environ, **(self.env or {})}, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=preexec)
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


def secantus(data_dir: Path, port: int, log_path: Path | None = None, *,
             auth: bool = False) -> ManagedProcess:
    """SecantusDB (GPL-2.0) runs as its own server process; Sada only talks to it over the wire.
    With `auth`, every command but the handshake needs a login (sada/mongo_credentials.py)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("secantusd-py")
    argv = [str(exe), "--host", "127.0.0.1", "--port", str(port), "--storage-path",
            str(data_dir), "--log-level", "WARNING"]
    return ManagedProcess("secantusdb", [*argv, "--auth"] if auth else argv,
                          log_path=log_path, port=port)
