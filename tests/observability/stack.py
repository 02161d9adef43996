"""The five Sada processes as `sada run` starts them (sada/embedded.py: gunicorn with the
shared config, the two stream workers), on an SQLite log and the session's SecantusDB, plus
what the observability tests need to look at them: scrapes, log lines, worker pids."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from sada.embedded import Embedded
from sada.processes import ManagedProcess, free_port, port_bindable
from services import config
from services.privacy.master import ensure_master_key
from tests.auth_helpers import MASTER_KEY, SECRET

Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]


@dataclass
class Stack:
    embedded: Embedded
    settings: config.Settings

    def url(self, service: str, path: str = "") -> str:
        return self.settings.service_url(service) + path

    def metrics_url(self, worker: str) -> str:
        return f"http://{self.settings.host}:{self.embedded.metrics_ports[worker]}/metrics"

    def scrape_url(self, process: str) -> str:
        if process in self.embedded.metrics_ports:
            return self.metrics_url(process)
        return self.url(process, "/metrics")

    def process(self, name: str) -> ManagedProcess:
        return next(p for p in self.embedded.procs if p.name == name)

    def log_lines(self, name: str) -> list[dict[str, Any]]:
        path = self.embedded.logs / f"{name}.log"
        text = path.read_text()
        lines = []
        for line in text[:text.rfind("\n") + 1].splitlines():  # complete lines only
            if line.strip():
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    raise AssertionError(f"not a JSON line in {path}: {line!r}") from None
        return lines


def start(data_dir: Path, mongo_url: str, db_name: str) -> Stack:
    settings = config.load({}).with_(
        data_dir=data_dir, mongo_url=mongo_url, mongo_db=db_name, auth_secret=SECRET,
        master_key=MASTER_KEY,
        rate_limit_per_minute=0, intake_port=free_port(), routing_port=free_port(),
        reporting_port=free_port(), metrics_port=quiet_ports(3))
    settings = ensure_master_key(settings)  # as `sada run` does: one kept in the data dir
    embedded = Embedded(settings, say=lambda _: None, external_mongo=True)
    try:
        embedded.start_services()
    except Exception:
        embedded.stop()
        raise
    return Stack(embedded, settings)


def quiet_ports(count: int) -> int:
    """The first of `count` consecutive bindable ports below the kernel's ephemeral range
    (32768 and up), so no client connection takes one between now and a worker's bind."""
    rng = random.Random()
    while True:
        first = rng.randrange(20000, 32768 - count)
        if all(port_bindable(p) for p in range(first, first + count)):
            return first


def scrape(url: str) -> Samples:
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """One series' value; 0 if it has no sample yet (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "a condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def children(pid: int) -> set[int]:
    """The pids of a process's children (a gunicorn master's workers)."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(p) for p in text)
    return found
