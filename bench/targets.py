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


def meets(target_id: str, value: float) -> bool:
    op, goal, _ = GOALS[target_id]
    return _OPS[op](value, goal)


def _figure(value: float, unit: str) -> str:
    return (f"{value:.3g}" if value < 100 else f"{value:.0f}") + unit


@dataclass(frozen=True)
class Target:
    """One measured figure against its goal; `detail` names the reference it was measured beside.

    `server_removed` is the figure the same code reaches with the database server's part taken
    away, for a target SecantusDB holds back: printed and judged beside the line's own figure,
    which alone decides its last word."""

    id: str
    value: float
    detail: str = ""
    server_removed: float | None = None

    @property
    def met(self) -> bool:
        return meets(self.id, self.value)

    def line(self) -> str:
        op, goal, unit = GOALS[self.id]
        value = _figure(self.value, unit)
        details = [self.detail] if self.detail else []
        if self.server_removed is not None:
            judged = "met" if meets(self.id, self.server_removed) else "missed"
            details.append(f"the server's part removed: {_figure(self.server_removed, unit)}, "
                           f"{judged}")
        detail = f" ({'; '.join(details)})" if details else ""
        return (f"target {self.id}: {value}{detail} goal {op} {goal:g}{unit} "
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
