"""Building request streams for the domain tests: fixed ids and times, so runs repeat."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from routing.domain.partition import PartitionState
from services.domain.context import RoutingContext
from services.domain.demand import Demand
from services.domain.rules import DEFAULT_RULES, RuleSet
from services.events.envelope import Actor, Event, encode, make
from services.events.ids import derived_id

T0 = datetime(2025, 3, 3, 6, 30, tzinfo=UTC)  # a Monday morning in Tehran

CLERK = Actor("intake_clerk", "clerk-6", 6)
CITIZEN = Actor("citizen", "citizen-1")
STAFF = Actor("department_staff", "staff-6-transport", 6, "transport")
STAFF_OTHER_DISTRICT = Actor("department_staff", "staff-7-transport", 7, "transport")
STAFF_OTHER_DEPARTMENT = Actor("department_staff", "staff-6-social", 6, "social")
MAYOR = Actor("district_mayor", "mayor-6", 6)
MAYOR_OTHER_DISTRICT = Actor("district_mayor", "mayor-7", 7)
HQ = Actor("headquarters", "hq-1")
CENTRAL = Actor("central_management", "cm-1")
ADMIN = Actor("administrator", "admin-1")
AUDITOR = Actor("auditor", "auditor-1")

DEMAND = {
    "requester": {"kind": "neighbourhood_trustee"},
    "channel": "monday_public_meeting",
    "district": 6,
    "neighbourhood": "یوسف‌آباد",
    "category": "transport",
    "title": "چراغ راهنمایی تقاطع",
    "description": "تقاطع بدون چراغ است و هر روز تصادف می‌شود.",
}

DEMAND_ID = derived_id(T0, "demand", "1")
# People as the key store names them (opaque ids found through the keyed hash of a national
# code or phone): what a SupportRequested names its supporter by.
PERSON_A, PERSON_B, PERSON_C = (derived_id(T0, "person", p) for p in "abc")


def supporting(person: str | None) -> dict[str, Any]:
    """A SupportRequested payload: `person` supports; None, an anonymous support."""
    return {"supporter_id": person}


class Stream:
    """Records requests with ids and times fixed by their position in the stream."""

    def __init__(self, demand_id: str = DEMAND_ID, start: datetime = T0) -> None:
        self.demand_id = demand_id
        self.at = start
        self.requests: list[Event] = []

    def request(self, type_: str, payload: dict[str, Any], actor: Actor,
                demand_id: str | None = None, minutes: int = 10) -> Event:
        self.at += timedelta(minutes=minutes)
        event = make(type_, demand_id or self.demand_id, payload, actor=actor,
                     event_id=derived_id(self.at, "request", self.demand_id,
                                         str(len(self.requests))),
                     recorded_at=self.at)
        self.requests.append(event)
        return event

    def submit(self, actor: Actor = CLERK, **changes: Any) -> Event:
        return self.request("DemandSubmitted", {**DEMAND, **changes}, actor)


class Router:
    """Fold and decide, as the worker does for one partition, without a log."""

    def __init__(self, rules: RuleSet = DEFAULT_RULES) -> None:
        self.rules = rules
        self.part = PartitionState(context=RoutingContext(rules=rules))
        self.log: list[Event] = []

    def send(self, request: Event) -> list[Event]:
        decisions = self.part.handle(request)
        self.log.extend([request, *decisions])
        return decisions

    def one(self, request: Event) -> Event:
        decisions = self.send(request)
        assert len(decisions) == 1, decisions
        return decisions[0]

    def run(self, requests: Iterable[Event]) -> list[Event]:
        return [d for r in requests for d in self.send(r)]

    def state(self, demand_id: str = DEMAND_ID) -> Demand:
        return self.part.demands[demand_id]


def lifecycle(n: int, first: int = 0) -> list[Event]:
    """n demands, interleaved: submit, acknowledge, a wrong-level action, escalate, resolve."""
    per_demand = []
    for i in range(first, first + n):
        district = i % 22 + 1
        s = Stream(demand_id=derived_id(T0, "lifecycle", str(i)))
        staff = Actor("department_staff", f"staff-{district}", district, "transport")
        s.submit(district=district, priority=["low", "normal", "high", "urgent"][i % 4])
        s.request("AcknowledgementRequested", {"note": "بررسی شد"}, staff)
        s.request("ResolutionReported", {"summary": "x"}, Actor("headquarters", "hq"))
        s.request("EscalationRequested", {"reason": "beyond_budget"}, staff)
        s.request("ResolutionReported", {"summary": "حل شد"},
                  Actor("district_mayor", f"mayor-{district}", district))
        per_demand.append(s.requests)
    return [r for step in zip(*per_demand, strict=True) for r in step]


def encoded(events: Iterable[Event]) -> list[bytes]:
    return [encode(e) for e in events]
