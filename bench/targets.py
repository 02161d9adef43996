"""The targets the issues name, and the one line `make bench` prints for each.

A section of the benchmark returns `Target`s it measured; `python -m bench` prints one line per
known target at the end, `not measured` (and so `missed`) for any target no section measured, so
a glance at the tail says what holds.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

# id -> (comparison, goal, unit). The goals are the issues' targets, on 2 cores.
GOALS: dict[str, tuple[str, float, str]] = {
    "replay-ratio": (">=", 0.25, ""),
    "replay-1m-seconds": ("<=", 60, "s"),
    "e2e-ratio": (">=", 0.5, ""),
    "latency-p99-20": ("<=", 300, "ms"),
    "latency-p99-100": ("<=", 1000, "ms"),
    "kafka-append-ratio": (">=", 0.8, ""),
    "kafka-read-ratio": (">=", 0.8, ""),
    "restart-1m-seconds": ("<=", 5, "s"),
    "board-1m-ms": ("<=", 300, "ms"),
    "reports-1m-ms": ("<=", 200, "ms"),
    "queue-1m-ms": ("<=", 100, "ms"),
    "escalations-1m-ms": ("<=", 100, "ms"),
    "board-growth": ("<=", 2, ""),
}
_OPS = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Target:
    """One measured figure against its goal; `detail` names the reference it was measured beside."""

    id: str
    value: float
    detail: str = ""

    @property
    def met(self) -> bool:
        op, goal, _ = GOALS[self.id]
        return _OPS[op](self.value, goal)

    def line(self) -> str:
        op, goal, unit = GOALS[self.id]
        value = f"{self.value:.3g}" if self.value < 100 else f"{self.value:.0f}"
        detail = f" ({self.detail})" if self.detail else ""
        return (f"target {self.id}: {value}{unit}{detail} goal {op} {goal:g}{unit} "
                f"{'met' if self.met else 'missed'}")


def summary(measured: list[Target]) -> list[str]:
    """One line per known target, in the order of GOALS; unmeasured ones say so and miss."""
    by_id = {t.id: t for t in measured}
    lines = []
    for target_id, (op, goal, unit) in GOALS.items():
        if target_id in by_id:
            lines.append(by_id[target_id].line())
        else:
            lines.append(f"target {target_id}: not measured goal {op} {goal:g}{unit} missed")
    return lines
