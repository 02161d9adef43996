"""`sada run`: the embedded default on one machine.

Starts a local SecantusDB (unless SADA_MONGO_URL points elsewhere), the three HTTP services
under gunicorn and the stream workers, each as its own process group that the kernel ends if
`sada run` dies, even by SIGKILL; records what it started in the data directory
(`sada/stack.py`) for every other command; restarts a process that dies, with backoff, and
says loudly when one keeps failing, without stopping the others; stops everything it started
on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sada import mongo_credentials, stack
from sada.processes import ManagedProcess, free_port, port_bindable, secantus
from services.config import Settings

SERVICES = ("intake", "routing", "reporting")
WORKERS = {"routing-worker": "routing.worker", "reporting-projector": "reporting.projector",
           "audit-worker": "reporting.audit_worker"}


MOVED: dict[str, str] = {}  # what -> "preferred -> used", for the stack record
RESTART_BACKOFF_MAX = 60.0  # seconds between attempts for a process that keeps failing
FAILING_AFTER = 3  # failed starts in a row before a process is reported as failing
STEADY_SECONDS = 60.0  # up this long, a process's failures are forgiven


def _pick_port(preferred: int, say: Callable[[str], None], what: str) -> int:
    if port_bindable(preferred):
        return preferred
    port = free_port()
    say(f"WARNING: port {preferred} is busy, so {what} listens on {port} instead; "
        f"every `sada` command finds it in the data directory's stack.json")
    MOVED[what] = f"{preferred} -> {port}"
    return port


def resolve_ports(settings: Settings, say: Callable[[str], None]) -> Settings:
    return settings.with_(
        intake_port=_pick_port(settings.intake_port, say, "intake"),
        routing_port=_pick_port(settings.routing_port, say, "routing"),
        reporting_port=_pick_port(settings.reporting_port, say, "reporting"),
    )


def child_env(settings: Settings) -> dict[str, str]:
    return {
        "SADA_DATA_DIR": str(settings.data_dir.resolve()),
        "SADA_EVENT_LOG": settings.event_log,
        "SADA_SQLITE_PATH": str(settings.event_log_path.resolve()),
        "SADA_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SADA_KAFKA_TOPIC": settings.kafka_topic,
        "SADA_KAFKA_PARTITIONS": str(settings.kafka_partitions),
        "SADA_MONGO_URL": settings.mongo_url,
        "SADA_MONGO_DB": settings.mongo_db,
        "SADA_HOST": settings.host,
        "SADA_INTAKE_PORT": str(settings.intake_port),
        "SADA_ROUTING_PORT": str(settings.routing_port),
        "SADA_REPORTING_PORT": str(settings.reporting_port),
        "SADA_LOG_LEVEL": settings.log_level,
        "SADA_AUTH_SECRET": settings.auth_secret,
        "SADA_MASTER_KEY": settings.master_key,
        "SADA_KEYSTORE_DB": settings.keystore_db,
        "SADA_KEK_DIR": str(settings.kek_path.resolve()),
        "SADA_KEK_ROTATION_HOURS": str(settings.kek_rotation_hours),
        "SADA_RATE_LIMIT_PER_MINUTE": str(settings.rate_limit_per_minute),
        "SADA_RATE_LIMIT_BURST": str(settings.rate_limit_burst),
        "SADA_CLOCK_SECONDS": str(settings.clock_seconds),
        "PYTHONUNBUFFERED": "1",
    }


def metrics_dir(settings: Settings, service: str) -> Path:
    """Where a service's gunicorn workers keep their metric samples (emptied on start)."""
    return (settings.data_dir / "metrics" / service).resolve()


def service_process(name: str, settings: Settings, logs: Path) -> ManagedProcess:
    port = getattr(settings, f"{name}_port")
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"{settings.host}:{port}",
            "--config", "python:services.gunicorn_conf", f"{name}.app:create_app()"]
    env = {**child_env(settings), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir(settings, name))}
    return ManagedProcess(name, argv, env=env, log_path=logs / f"{name}.log", port=port)


def worker_process(name: str, settings: Settings, logs: Path,
                   metrics_port: int = 0) -> ManagedProcess:
    """A stream worker serving /metrics on `metrics_port` (0: none) on settings.host."""
    argv = [sys.executable, "-m", WORKERS[name]]
    env = {**child_env(settings), "SADA_METRICS_PORT": str(metrics_port),
           "SADA_METRICS_HOST": settings.host}
    # With a metrics port, the worker counts as started once it serves /metrics.
    return ManagedProcess(name, argv, env=env, log_path=logs / f"{name}.log",
                          port=metrics_port or None)


class Embedded:
    def __init__(self, settings: Settings, say: Callable[[str], None] = print,
                 external_mongo: bool = False) -> None:
        self.settings = settings
        self.say = say
        self.external_mongo = external_mongo
        self.logs = settings.data_dir / "logs"
        self.procs: list[ManagedProcess] = []
        self.metrics_ports: dict[str, int] = {}  # worker -> its /metrics port
        self._stop = threading.Event()
        self._health: dict[str, _Restarts] = {}

    def start_mongo(self) -> Settings:
        if self.external_mongo:
            return self.settings
        port = _pick_port(self.settings.embedded_mongo_port, self.say, "SecantusDB")
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / "secantusdb.log"
        # On loopback, and with a login generated for this data directory: another local
        # user or process cannot read or change the read models and the key store.
        credential = mongo_credentials.ensure(self.settings.data_dir,
                                              self.settings.mongo_data_dir, port, log)
        self.add(secantus(self.settings.mongo_data_dir, port, log, auth=True))
        self.settings = self.settings.with_(mongo_url=credential.url(port))
        return self.settings

    def start_services(self, without: Iterable[str] = ()) -> None:
        """Start the workers (but those named in `without`), then the web services."""
        self.logs.mkdir(parents=True, exist_ok=True)
        # The workers on one machine: SADA_METRICS_PORT for the first, the next ports for
        # the others (any free port if taken); SADA_METRICS_PORT=0 turns them off.
        for i, name in enumerate(WORKERS):
            if name in without:
                continue
            base = self.settings.metrics_port
            port = _pick_port(base + i, self.say, f"{name} /metrics") if base > 0 else 0
            self.metrics_ports[name] = port
            self.add(worker_process(name, self.settings, self.logs, port))
        for name in SERVICES:
            self.add(service_process(name, self.settings, self.logs), timeout=60)
        self.record()

    def add(self, proc: ManagedProcess, timeout: float = 30.0) -> None:
        """Start `proc` as part of the stack: kept alive, and stopped with it."""
        proc.die_with_parent = True
        self.procs.append(proc.start(timeout=timeout))
        self._health[proc.name] = _Restarts(up_since=time.monotonic())

    def record(self) -> None:
        """Write what runs where to the data directory's stack.json (`sada/stack.py`)."""
        stack.write(self.settings, moved=MOVED, processes={
            proc.name: {"pid": proc.proc.pid if proc.alive else None,
                        "failing": self._health[proc.name].failing,
                        "log": str(proc.log_path)} for proc in self.procs})

    def wait(self) -> None:
        """Block until a signal; restart, with backoff, any process that dies meanwhile."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        while not self._stop.wait(1.0):
            self.keep_alive()

    def keep_alive(self, now: float | None = None) -> None:
        """One round of restarts: a dead process is started again once its backoff has
        passed; one that fails FAILING_AFTER times in a row is reported as failing, loudly,
        and still retried, while every other process goes on."""
        now = time.monotonic() if now is None else now
        changed = False
        for proc in self.procs:
            health = self._health[proc.name]
            if proc.alive:
                if health.failures and now - health.up_since >= STEADY_SECONDS:
                    health.failures, changed = 0, True
                continue
            if now < health.next_try:
                continue
            self.say(f"{proc.name} exited ({proc.proc.returncode if proc.proc else '?'}); "
                     f"restarting — see {proc.log_path}")
            try:
                proc.start(timeout=60)
                health.up_since = now
            except RuntimeError:
                health.failures += 1
                health.next_try = now + min(RESTART_BACKOFF_MAX, 2.0 ** health.failures)
                if health.failing:
                    self.say(f"!!! {proc.name} KEEPS FAILING: {health.failures} failed starts "
                             f"in a row; next try in {health.next_try - now:.0f} s — see "
                             f"{proc.log_path}. The other services keep running.")
            changed = True
        if changed:
            self.record()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        stack.remove(self.settings)


@dataclass
class _Restarts:
    """A process's restart history, for backoff and for saying it keeps failing."""

    up_since: float
    failures: int = 0
    next_try: float = 0.0

    @property
    def failing(self) -> bool:
        return self.failures >= FAILING_AFTER


def mongo_is_external(env: dict[str, str] | None = None) -> bool:
    return "SADA_MONGO_URL" in (os.environ if env is None else env)


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False
