"""`sada run`: the embedded default on one machine.

Starts a local SecantusDB (unless SADA_MONGO_URL points elsewhere), the three HTTP services
under gunicorn and the stream workers, each as its own process group; restarts a worker
that dies; stops everything it started on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sada.processes import ManagedProcess, free_port, port_bindable, secantus
from services.config import Settings

SERVICES = ("intake", "routing", "reporting")
WORKERS = {"routing-worker": "routing.worker", "reporting-projector": "reporting.projector",
           "audit-worker": "reporting.audit_worker"}


def _pick_port(preferred: int, say: Callable[[str], None], what: str) -> int:
    if port_bindable(preferred):
        return preferred
    port = free_port()
    say(f"port {preferred} is busy; {what} uses {port} instead")
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

    def start_mongo(self) -> Settings:
        if self.external_mongo:
            return self.settings
        port = _pick_port(self.settings.embedded_mongo_port, self.say, "SecantusDB")
        self.logs.mkdir(parents=True, exist_ok=True)
        proc = secantus(self.settings.mongo_data_dir, port, self.logs / "secantusdb.log")
        self.procs.append(proc.start())
        self.settings = self.settings.with_(mongo_url=f"mongodb://127.0.0.1:{port}")
        return self.settings

    def start_services(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        # Both workers on one machine: SADA_METRICS_PORT for the first, the next port for
        # the second (any free port if taken); SADA_METRICS_PORT=0 turns both off.
        for i, name in enumerate(WORKERS):
            base = self.settings.metrics_port
            port = _pick_port(base + i, self.say, f"{name} /metrics") if base > 0 else 0
            self.metrics_ports[name] = port
            self.procs.append(worker_process(name, self.settings, self.logs, port).start())
        for name in SERVICES:
            self.procs.append(service_process(name, self.settings, self.logs).start(timeout=60))

    def wait(self) -> None:
        """Block until a signal; restart any process that dies meanwhile."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        while not self._stop.wait(1.0):
            for proc in self.procs:
                if not proc.alive:
                    self.say(f"{proc.name} exited ({proc.proc.returncode}); restarting — "
                             f"see {proc.log_path}")
                    proc.start(timeout=60)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


def mongo_is_external(env: dict[str, str] | None = None) -> bool:
    return "SADA_MONGO_URL" in (os.environ if env is None else env)


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False
