"""Replaying a history's triggers through routing, as the worker would, and what came of it:
where each demand went, how high it climbed, and whether its deadlines were met. Pure; the
what-if command feeds it the log's requests and facts (never its decisions) twice, under the
rules in the stream and under a proposal, and compares.

A proposal replaces the rules from the start: its version is above every version in the
history, so the history's own `RuleSetPublished` facts change nothing in that replay.

People's work is replayed as done by whoever holds the demand: an action that routing accepted
from a rung of the ladder (acknowledging, resolving, escalating…) is, under the proposal, taken
by the rung that holds the demand at that moment — a proposal that routes transport to civil
works has civil works do what transport did. The requester's side and rejected actions are
replayed as recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from routing.domain.partition import PartitionState
from services.domain.context import RoutingContext, is_routing_fact
from services.domain.demand import Demand
from services.domain.rules import RuleSet
from services.domain.vocabulary import LEVEL_CODES, ROLE_FOR_LEVEL, Level
from services.events.envelope import Actor, Event

LADDER_ROLES = frozenset(ROLE_FOR_LEVEL.values())


@dataclass
class DemandOutcome:
    demand_id: str
    title: str
    district: int
    category: str
    status: str
    level: str
    department: str | None
    highest_level: int = 0
    deadline_escalations: list[str] = field(default_factory=list)  # the levels climbed to
    resolved: str | None = None  # "on_time" or "late", for the last resolution
    overdue: bool = False  # open, with its deadline behind the clock at the end


@dataclass
class Outcome:
    demands: dict[str, DemandOutcome]
    refused: Counter[str]
    decisions: Counter[str]
    clock: str | None
    accepted: set[str] = field(default_factory=set)  # ladder actions routing accepted


def _holder(state: Demand, actor: Actor) -> Actor:
    """`actor`'s work done by the rung that holds the demand."""
    role = ROLE_FOR_LEVEL[Level(state.level_index)]
    district = state.district if role in ("department_staff", "district_mayor") else None
    department = state.department if role == "department_staff" else None
    return Actor(role, actor.id, district, department)


def triggers(events: Iterable[tuple[int, Event]]) -> dict[int, list[Event]]:
    """Per partition, in log order: the requests and routing facts of (partition, event)."""
    out: dict[int, list[Event]] = {}
    for partition, event in events:
        if event.is_decision or (event.is_fact and not is_routing_fact(event)):
            continue
        out.setdefault(partition, []).append(event)
    return out


def replay(history: Mapping[int, Sequence[Event]], rules: RuleSet | None = None,
           held: set[str] | None = None) -> Outcome:
    """Route `history` afresh; with `rules`, as if they had been in force from the start. The
    requests in `held` (another replay's `accepted`) are taken by the rung holding the demand."""
    accepted: set[str] = set()
    tracked: dict[str, dict] = {}
    refused: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    states: dict[str, Demand] = {}
    clock: str | None = None
    for events in history.values():
        part = PartitionState()
        if rules is not None:
            part = PartitionState(context=RoutingContext(rules=rules, published=True))
        for event in events:
            before = part.demands.get(event.demand_id)
            deadline = before.deadline if before is not None else None
            if held and before is not None and event.event_id in held:
                event = replace(event, actor=_holder(before, event.actor))
            for d in part.handle(event):
                decisions[d.type] += 1
                _track(tracked.setdefault(d.demand_id, {}), d, deadline, refused)
                if (d.type != "ActionRejected" and d.causation_id == event.event_id
                        and event.actor.role in LADDER_ROLES):
                    accepted.add(event.event_id)
        states.update(part.demands)
        if part.context.now and (clock is None or part.context.now > clock):
            clock = part.context.now
    return Outcome(_outcomes(states, tracked, clock), refused, decisions, clock, accepted)


def _track(t: dict, d: Event, deadline: str | None, refused: Counter[str]) -> None:
    if d.type == "DemandRouted":
        t.setdefault("department", d.payload["department"])
    elif d.type == "DemandEscalated":
        level = LEVEL_CODES.index(d.payload["to_level"])
        t["highest"] = max(t.get("highest", 0), level)
        if d.payload["reason"] == "deadline_passed":
            t.setdefault("deadline", []).append(d.payload["to_level"])
    elif d.type == "DemandResolved":
        late = deadline is not None and d.recorded_at_text > deadline
        t["resolved"] = "late" if late else "on_time"
    elif d.type == "ActionRejected":
        refused[d.payload["code"]] += 1


def _outcomes(states: dict[str, Demand], tracked: dict[str, dict],
              clock: str | None) -> dict[str, DemandOutcome]:
    out: dict[str, DemandOutcome] = {}
    for demand_id, s in states.items():
        t = tracked.get(demand_id, {})
        out[demand_id] = DemandOutcome(
            demand_id=demand_id, title=s.title, district=s.district, category=s.category,
            status=s.status, level=s.level, department=t.get("department", s.department),
            highest_level=t.get("highest", 0), deadline_escalations=t.get("deadline", []),
            resolved=t.get("resolved") if s.status == "resolved" else None,
            overdue=bool(s.is_open and s.deadline and clock and s.deadline < clock))
    return out
