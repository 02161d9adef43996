"""A realistic event stream for the reporting tests, and checks that it is realistic.

`Desk` plays the people (clerks, department staff, mayors, headquarters, citizens) and the
routing worker: each request is built with the real envelope, folded with the shared fold and
decided by the real `decide` with the default rules; its decisions follow it in the log, some
of them only after a few later requests, as they would from a worker running behind.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from routing.domain.decide import decide
from services.domain.demand import Demand, apply
from services.domain.rules import DEFAULT_RULES
from services.domain.vocabulary import CATEGORIES, CHANNELS, LEVEL_CODES, PRIORITIES
from services.eventlog.port import EventLog
from services.events.envelope import Actor, Event, make
from services.events.ids import derived_id

START = datetime(2025, 3, 1, 6, 30, tzinfo=UTC)
CLERK = Actor("intake_clerk", "clerk-1")
CITIZEN = Actor("citizen", "citizen-1")
HQ = Actor("headquarters", "hq-1")
CENTRAL = Actor("central_management", "cm-1")
TITLES = ["چاله در آسفالت خیابان", "روشنایی معابر خاموش است", "جمع‌آوری نشدن زباله",
          "درخواست ایجاد پارک محله", "ترافیک سنگین در تقاطع", "ساخت‌وساز غیرمجاز",
          "نیاز به سرای محله", "آبگرفتگی معبر پس از باران"]


def staff(district: int, department: str | None) -> Actor:
    return Actor("department_staff", f"staff-{district}-{department}", district, department)


def mayor(district: int) -> Actor:
    return Actor("district_mayor", f"mayor-{district}", district)


class Desk:
    """Builds a stream of requests and routing's decisions, in log order, in `events`."""

    def __init__(self, seed: int = 1, start: datetime = START) -> None:
        self.clock = start
        self.rng = random.Random(seed)
        self.n = 0
        self.events: list[Event] = []
        self.states: dict[str, Demand] = {}
        self._pending: list[tuple[int, list[Event]]] = []  # (requests still to wait, decisions)

    def _tick(self, minutes: float) -> datetime:
        self.clock += timedelta(minutes=minutes)
        return self.clock

    def _id(self, *parts: str) -> str:
        self.n += 1
        return derived_id(self.clock, "desk", str(self.n), *parts)

    def _emit(self, request: Event, lag: int) -> list[Event]:
        """Append the request, fold and decide it as routing would, queue its decisions."""
        for i, (wait, decisions) in enumerate(self._pending):
            self._pending[i] = (wait - 1, decisions)
        self.events.append(request)
        state = apply(self.states.get(request.demand_id), request)
        decisions = decide(state, request, DEFAULT_RULES)
        for decision in decisions:
            state = apply(state, decision)
        if state is not None:
            self.states[request.demand_id] = state
        self._pending.append((lag, decisions))
        # One worker appends decisions in the order it decides them: a late decision holds
        # back every later one.
        while self._pending and self._pending[0][0] <= 0:
            self.events.extend(self._pending.pop(0)[1])
        return decisions

    def flush(self) -> None:
        for _, decisions in self._pending:
            self.events.extend(decisions)
        self._pending = []

    def submit(self, *, district: int = 1, category: str = "transport",
               priority: str = "normal", channel: str = "web", title: str = TITLES[0],
               actor: Actor = CLERK, minutes: float = 5, lag: int = 0,
               meeting_id: str | None = None) -> str:
        at = self._tick(minutes)
        demand_id = self._id("demand")
        self._emit(make("DemandSubmitted", demand_id, {
            "requester": {"kind": "citizen"},
            "channel": channel, "district": district, "neighbourhood": "محله نمونه",
            "category": category, "title": title, "description": f"{title} — شرح کامل",
            "priority": priority, **({"meeting_id": meeting_id} if meeting_id else {}),
        }, actor=actor, event_id=self._id("submitted"), recorded_at=at), lag)
        return demand_id

    def request(self, demand_id: str, type_: str, payload: dict[str, Any], actor: Actor, *,
                minutes: float = 5, lag: int = 0) -> Event:
        at = self._tick(minutes)
        event = make(type_, demand_id, payload, actor=actor, event_id=self._id(type_),
                     recorded_at=at)
        self._emit(event, lag)
        return event

    # -- the people acting on a demand, as its current rung requires --------------------
    def actor_for(self, demand_id: str) -> Actor:
        s = self.states[demand_id]
        return {"department": staff(s.district, s.department), "district_mayor": mayor(s.district),
                "headquarters": HQ, "central_management": CENTRAL}[s.level]

    def acknowledge(self, demand_id: str, actor: Actor | None = None, **kw: Any) -> Event:
        return self.request(demand_id, "AcknowledgementRequested", {},
                            actor or self.actor_for(demand_id), **kw)

    def note(self, demand_id: str, text: str = "بازدید میدانی انجام شد", **kw: Any) -> Event:
        return self.request(demand_id, "ProgressNoteSubmitted", {"note": text},
                            self.actor_for(demand_id), **kw)

    def escalate(self, demand_id: str, reason: str = "beyond_budget", **kw: Any) -> Event:
        return self.request(demand_id, "EscalationRequested", {"reason": reason},
                            self.actor_for(demand_id), **kw)

    def resolve(self, demand_id: str, summary: str = "مشکل برطرف شد", **kw: Any) -> Event:
        return self.request(demand_id, "ResolutionReported", {"summary": summary},
                            self.actor_for(demand_id), **kw)

    def withdraw(self, demand_id: str, **kw: Any) -> Event:
        return self.request(demand_id, "WithdrawalRequested", {"reason": "دیگر لازم نیست"},
                            CLERK, **kw)

    def reopen(self, demand_id: str, **kw: Any) -> Event:
        return self.request(demand_id, "ReopenRequested", {"reason": "مشکل دوباره پیدا شد"},
                            CLERK, **kw)

    def reject(self, demand_id: str, **kw: Any) -> Event:
        return self.request(demand_id, "RejectionRequested", {"reason": "خارج از وظایف"},
                            self.actor_for(demand_id), **kw)

    def unknown(self, **kw: Any) -> Event:
        """An action on a demand id nobody submitted: routing rejects it visibly."""
        return self.request(self._id("ghost"), "AcknowledgementRequested", {},
                            staff(1, "transport"), **kw)

    # -- a random city ---------------------------------------------------------------------
    def random_stream(self, demands: int, actions: int, unknown: int = 3) -> list[Event]:
        rng = self.rng
        ids: list[str] = []
        for _ in range(demands):
            ids.append(self.submit(
                district=rng.randint(1, 22), category=rng.choice(list(CATEGORIES)),
                priority=rng.choice(list(PRIORITIES)), channel=rng.choice(list(CHANNELS)),
                title=rng.choice(TITLES), minutes=rng.uniform(0.5, 30), lag=rng.randint(0, 3)))
        for i in range(actions):
            if unknown and i % max(1, actions // unknown) == 0:
                self.unknown(minutes=1)
                continue
            demand_id = rng.choice(ids)
            s = self.states[demand_id]
            kw = {"minutes": rng.uniform(0.5, 60), "lag": rng.randint(0, 3)}
            roll = rng.random()
            if s.status == "resolved" and roll < 0.5:
                self.reopen(demand_id, **kw)
            elif s.status == "resolved":
                self.note(demand_id, **kw)
            elif not s.is_open:
                self.withdraw(demand_id, **kw)  # rejected: not allowed in state
            elif roll < 0.08:
                self.acknowledge(demand_id, actor=staff(s.district % 22 + 1, "social"), **kw)
            elif roll < 0.30:
                self.acknowledge(demand_id, **kw)
            elif roll < 0.55:
                self.note(demand_id, **kw)
            elif roll < 0.72 and s.level_index < len(LEVEL_CODES) - 1:
                self.escalate(demand_id, reason=rng.choice(["beyond_budget", "deadline_passed"]),
                              **kw)
            elif roll < 0.85:
                self.resolve(demand_id, **kw)
            elif roll < 0.92:
                self.withdraw(demand_id, **kw)
            else:
                self.reject(demand_id, **kw)
        self.flush()
        return self.events


def append_all(log: EventLog, events: list[Event], chunk: int = 1000) -> None:
    for i in range(0, len(events), chunk):
        log.append(events[i:i + chunk])


def city(demands: int = 150, actions: int = 450, seed: int = 11) -> list[Event]:
    return Desk(seed).random_stream(demands, actions)


def test_every_request_gets_exactly_one_decision() -> None:
    events = city()
    caused = Counter(e.causation_id for e in events if e.is_decision)
    requests = [e for e in events if not e.is_decision]
    assert all(caused[r.event_id] == 1 for r in requests)
    assert sum(caused.values()) == len(requests)


def test_the_stream_exercises_every_decision() -> None:
    types = Counter(e.type for e in city())
    for decision in ("DemandRouted", "DemandAcknowledged", "ProgressNoted", "DemandResolved",
                     "DemandEscalated", "DemandWithdrawn", "DemandReopened", "DemandRejected",
                     "ActionRejected"):
        assert types[decision] > 0, decision


def test_some_decisions_come_after_later_requests() -> None:
    events = city()
    index = {e.event_id: i for i, e in enumerate(events)}
    gaps = [index[e.event_id] - index[e.causation_id] for e in events if e.is_decision]
    assert max(gaps) > 1 and min(gaps) == 1
