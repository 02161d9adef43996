"""Several worker processes in one consumer group, as a deployment scales them: each is
`python -m routing.worker` or `python -m reporting.projector` with SADA_EVENT_LOG=kafka,
its own /metrics port and its own JSON log file."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sada.processes import ManagedProcess
from services.eventlog.port import Record
from services.events.envelope import Event
from tests.observability.stack import quiet_ports, scrape, total
from tests.unit.streams import Router

PARTITIONS = 6


@dataclass
class Member:
    name: str
    proc: ManagedProcess
    metrics_port: int

    @property
    def log_path(self) -> Path:
        assert self.proc.log_path is not None
        return self.proc.log_path

    def lines(self) -> list[dict[str, Any]]:
        """The member's log so far, one JSON object per complete line."""
        text = self.log_path.read_text()
        complete = text[:text.rfind("\n") + 1]  # the last line may still be being written
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def assignment(self) -> list[int] | None:
        """The partitions the log says this member holds now (its last assignment)."""
        assigned = [x["partitions"] for x in self.lines()
                    if x.get("logger") == "services.eventlog.kafka" and "partitions" in x]
        return assigned[-1] if assigned else None

    def counter(self, name: str) -> float:
        return total(scrape(f"http://127.0.0.1:{self.metrics_port}/metrics"), name)


@dataclass
class Group:
    module: str
    env: dict[str, str]
    logs: Path
    members: list[Member] = field(default_factory=list)

    def add(self) -> Member:
        name = f"{self.module.rsplit('.', 1)[-1]}-{len(self.members)}"
        port = quiet_ports(1)
        env = {**self.env, "SADA_METRICS_PORT": str(port), "SADA_METRICS_HOST": "127.0.0.1"}
        # Started once it serves /metrics.
        proc = ManagedProcess(name, [sys.executable, "-m", self.module], env=env,
                              log_path=self.logs / f"{name}.log", port=port).start()
        member = Member(name, proc, port)
        self.members.append(member)
        return member

    @property
    def alive(self) -> list[Member]:
        return [m for m in self.members if m.proc.alive]

    def shares_the_partitions(self) -> bool:
        """Every live member holds some partitions, no two hold the same one, and together
        they hold all of them."""
        held = [m.assignment() for m in self.alive]
        if any(not h for h in held):
            return False
        flat = [p for h in held for p in h]  # type: ignore[union-attr]
        return sorted(flat) == list(range(PARTITIONS))

    def depart(self, member: Member, how: str) -> None:
        """Take a member out mid-stream: "kill" is kill -9 (no batch finished, no goodbye to
        the group); "sigterm" finishes the batch in hand and leaves the group."""
        if how == "kill":
            member.proc.kill()
            return
        assert member.proc.proc is not None
        os.killpg(member.proc.proc.pid, signal.SIGTERM)
        assert member.proc.proc.wait(30) == 0, f"{member.name}: see {member.log_path}"

    def stop_all(self) -> list[int | None]:
        """SIGTERM every live member (each finishes its batch and leaves the group)."""
        live = self.alive
        for m in live:
            assert m.proc.proc is not None
            os.killpg(m.proc.proc.pid, signal.SIGTERM)
        codes = []
        for m in live:
            assert m.proc.proc is not None
            codes.append(m.proc.proc.wait(30))
        return codes

    def kill_all(self) -> None:
        for m in self.members:
            m.proc.kill()


def kafka_env(bootstrap: str, topic: str, mongo_url: str, db_name: str,
              data_dir: Path) -> dict[str, str]:
    return {"SADA_EVENT_LOG": "kafka", "SADA_KAFKA_BOOTSTRAP": bootstrap,
            "SADA_KAFKA_TOPIC": topic, "SADA_KAFKA_PARTITIONS": str(PARTITIONS),
            "SADA_MONGO_URL": mongo_url, "SADA_MONGO_DB": db_name,
            "SADA_DATA_DIR": str(data_dir), "SADA_LOG_LEVEL": "INFO",
            # The routing workers tell the stream the time every 2 s, so clock ticks (and what
            # they decide) meet every rebalance.
            "SADA_CLOCK_SECONDS": "2"}


def wait_for(check: Callable[[], Any], timeout: float, what: str | Callable[[], str],
             members: list[Member] | None = None) -> Any:
    """Poll `check` until it is truthy; fail naming `what` (and the members' logs)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        for m in members or []:
            assert m.proc.alive, f"{m.name} exited: see {m.log_path}"
        if time.monotonic() > deadline:
            logs = ", ".join(str(m.log_path) for m in members or [])
            said = what() if callable(what) else what
            raise AssertionError(f"timed out waiting for {said}; logs: {logs}")
        time.sleep(0.1)


def decided_afresh(records: Iterable[Record]) -> list[Event]:
    """What one router alone decides for each partition's requests and facts (clock ticks,
    rule sets: the workers put these in the stream too), met in log order: the decisions a
    group of workers, however it rebalanced, must have made."""
    triggers: dict[int, list[Event]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        if not r.event.is_decision:
            triggers[r.partition].append(r.event)
    return [d for p in sorted(triggers) for d in Router().run(triggers[p])]


def decision_differences(got: list[Event], expected: list[Event]) -> list[str]:
    """Decisions one side has and the other lacks or holds otherwise (the first few)."""
    mine = {d.event_id: d for d in got}
    theirs = {d.event_id: d for d in expected}
    out = []
    for event_id in sorted(set(mine) | set(theirs)):
        a, b = mine.get(event_id), theirs.get(event_id)
        if a is None or b is None or a.to_dict() != b.to_dict():
            which = "missing" if a is None else "extra" if b is None else "differs"
            d = a or b
            assert d is not None
            out.append(f"{which}: {d.type} caused by {d.causation_id} on {d.demand_id}")
    return out[:8] + ([f"… {len(out)} in all"] if len(out) > 8 else [])
