"""The whole lifecycle as a state machine: random sequences of every request, clock ticks,
office closures, rule changes and routing's own messages between demands, through `decide` and
the fold, checked after each step.

Invariants: every demand is either open in exactly one queue with a running deadline or a
bounded wait, or closed with an outcome (a merged one into a demand that took it in); no
supporter is lost or counted twice (each demand counts exactly the people who supported it or
a demand merged into it, each once, and as many anonymous supports as were recorded there); and
deciding the same stream again gives byte-identical decisions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from routing.facts import office_closed, rule_set_published, tick
from services.domain.rules import DEFAULT_RULES
from services.domain.vocabulary import CLOSED_STATUSES, DEPARTMENTS, ESCALATION_REASONS
from services.events.envelope import Actor, Event, make
from services.events.ids import derived_id
from tests.unit.streams import DEMAND, T0, Router, encoded

DISTRICTS = (6, 7)
# People as the key store names them; None: an anonymous support.
PEOPLE = tuple(derived_id(T0, "person", p) for p in "abc")
CATEGORIES = ("transport", "social", "other")  # "other" has no rule: the triage desk
ADMIN = Actor("administrator", "admin-1")
LEVEL_ROLE = {"department": "department_staff", "district_mayor": "district_mayor",
              "headquarters": "headquarters", "central_management": "central_management"}
REQUESTS = {
    "AcknowledgementRequested": lambda d: {},
    "ProgressNoteSubmitted": lambda d: {"note": "بازدید شد"},
    "ResolutionReported": lambda d: {"summary": "انجام شد"},
    "RejectionRequested": lambda d: {"reason": "خارج از وظایف"},
    "EscalationRequested": lambda d: {"reason": d.draw(st.sampled_from(
        [r for r in ESCALATION_REASONS if r != "deadline_passed"])), "note": None},
    "WithdrawalRequested": lambda d: {"reason": "لازم نیست"},
    "ReopenRequested": lambda d: {"reason": "دوباره خراب شد"},
    "RequesterInfoRequested": lambda d: {"question": "نشانی؟"},
    "RequesterResponded": lambda d: {"answer": "کوچه ۱۲"},
    "SendBackRequested": lambda d: {"to_level": "department", "instructions": "بررسی شود"},
    "SupportRequested": lambda d: {"supporter_id": d.draw(st.sampled_from([*PEOPLE, None]))},
    "TransferRequested": lambda d: {"to_department": d.draw(st.sampled_from(
        sorted(DEPARTMENTS))), "reason": "misrouted", "to_district": None, "note": None},
    "CallUpRequested": lambda d: {"reason": "macro_challenge", "note": None},
}


class Lifecycle(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.router = Router()
        self.at = T0
        self.ids: list[str] = []
        self.messages: list[Event] = []  # routing's messages not yet delivered
        self.inputs: list[Event] = []  # what routing was given, in order ...
        self.outputs: list[Event] = []  # ... and what it answered
        self.supports: list[tuple[str, str | None]] = []  # (demand, person) recorded
        self.n = 0
        self.version = DEFAULT_RULES.version

    def _next(self, minutes: int = 7) -> str:
        self.n += 1
        self.at += timedelta(minutes=minutes)
        return derived_id(self.at, "machine", str(self.n))

    def _send(self, event: Event) -> None:
        self.inputs.append(event)
        for out in self.router.send(event):
            self.outputs.append(out)
            if out.type == "SupportRecorded":
                self.supports.append((out.demand_id, out.payload["supporter"]))
                # the counts a support decision gives are the ones the demand then has: a
                # person already counted (directly or through a merge) is never recorded again
                s = self.router.state(out.demand_id)
                assert (len(s.supporters), s.anonymous_supporters) == (
                    out.payload["supporters"], out.payload["anonymous_supporters"])
            if not out.is_decision:
                self.messages.append(out)

    def _actor(self, data, demand_id: str) -> Actor:
        """Mostly whoever holds the demand; sometimes the requester's side or a stranger."""
        state = self.router.state(demand_id)
        role = data.draw(st.sampled_from(
            ["holder"] * 6 + ["clerk", "stranger", "district_mayor", "headquarters",
                              "central_management"]))
        if role == "holder":
            role = LEVEL_ROLE[state.level]
        if role == "clerk":
            return Actor("intake_clerk", "clerk", state.district)
        if role == "stranger":
            other = 7 if state.district == 6 else 6
            return Actor("department_staff", "stranger", other, "transport")
        district = state.district if role in ("department_staff", "district_mayor") else None
        department = state.department if role == "department_staff" else None
        return Actor(role, f"{role}-{district}", district, department)

    @rule(district=st.sampled_from(DISTRICTS), category=st.sampled_from(CATEGORIES))
    def submit(self, district: int, category: str) -> None:
        demand_id = self._next()
        event = make("DemandSubmitted", demand_id,
                     {**DEMAND, "district": district, "category": category},
                     actor=Actor("intake_clerk", "clerk", district),
                     event_id=derived_id(self.at, "submitted", demand_id), recorded_at=self.at)
        self.ids.append(demand_id)
        self._send(event)

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), type_=st.sampled_from(sorted(REQUESTS)))
    def act(self, data, type_: str) -> None:
        demand_id = data.draw(st.sampled_from(self.ids))
        payload = REQUESTS[type_](data)
        actor = self._actor(data, demand_id)
        event_id = self._next(minutes=data.draw(st.sampled_from([1, 30, 300])))
        self._send(make(type_, demand_id, payload, actor=actor, event_id=event_id,
                        recorded_at=self.at))

    @precondition(lambda self: self.ids)
    @rule(data=st.data(), person=st.sampled_from([*PEOPLE, None]),
          clerk=st.sampled_from(["clerk-a", "clerk-b"]))
    def support(self, data, person: str | None, clerk: str) -> None:
        """A person (or nobody) supports a demand, recorded by one clerk or another."""
        demand_id = data.draw(st.sampled_from(self.ids))
        actor = Actor("intake_clerk", clerk, self.router.state(demand_id).district)
        self._send(make("SupportRequested", demand_id, {"supporter_id": person}, actor=actor,
                        event_id=self._next(), recorded_at=self.at))

    @precondition(lambda self: len(self.ids) >= 2)
    @rule(data=st.data())
    def merge(self, data) -> None:
        dup, into = data.draw(st.lists(st.sampled_from(self.ids), min_size=2, max_size=2))
        actor = self._actor(data, dup)
        self._send(make("MergeRequested", dup, {"into": into, "reason": "همان"}, actor=actor,
                        event_id=self._next(), recorded_at=self.at))

    @precondition(lambda self: self.messages)
    @rule(data=st.data())
    def deliver(self, data) -> None:
        """Routing's messages arrive in any order, sometimes twice."""
        i = data.draw(st.integers(0, len(self.messages) - 1))
        message = self.messages[i]
        if not data.draw(st.booleans()):
            self.messages.pop(i)
        self._send(message)

    @rule(hours=st.sampled_from([1, 8, 30, 100]))
    def clock(self, hours: int) -> None:
        self.at += timedelta(hours=hours)
        self._send(tick(self.at))

    @rule(district=st.sampled_from([*DISTRICTS, None]), starts=st.sampled_from([-2, 1]),
          hours=st.sampled_from([3, 48]))
    def closure(self, district: int | None, starts: int, hours: int) -> None:
        """A district's offices (or the city's) close, from a little before or after now:
        the clocks running there are recomputed."""
        start = self.at + timedelta(hours=starts)
        self._send(office_closed(self._next(), start, start + timedelta(hours=hours), self.at,
                                 actor=ADMIN, reason="تعطیلی", district=district))

    @rule(factor=st.sampled_from([0.5, 2.0]), moved=st.booleans())
    def rules_change(self, factor: float, moved: bool) -> None:
        """New rules: every SLA scaled, and perhaps transport handled by civil works (the
        demands routed before stay where they are; new ones go by the new rules)."""
        self.version += 1
        policies = {name: replace(p, acknowledge_hours=p.acknowledge_hours * factor,
                                  resolve_hours=p.resolve_hours * factor,
                                  warn_hours=p.warn_hours * factor)
                    for name, p in DEFAULT_RULES.policies.items()}
        rules = tuple(replace(r, department="civil_works") if moved and r.category ==
                      "transport" else r for r in DEFAULT_RULES.rules)
        self._next()
        self._send(rule_set_published(
            replace(DEFAULT_RULES, rules=rules, policies=policies, version=self.version),
            self.at, actor=ADMIN))

    @invariant()
    def every_demand_is_accounted_for(self) -> None:
        demands = self.router.part.demands
        for demand_id in self.ids:
            s = demands[demand_id]
            assert s.status != "submitted", s
            if s.is_open:
                assert s.queue is not None and s.level in LEVEL_ROLE
                if s.waiting:
                    assert s.waiting.get("until"), s.waiting
                else:
                    assert s.deadline is not None, (s.demand_id, s.status, s.level)
            else:
                assert s.status in CLOSED_STATUSES
                assert s.merging is None
            if s.status == "merged":
                target = demands[s.merged_into]
                assert demand_id in target.merged_from
                assert set(s.supporters) <= set(target.supporters)
            assert len(s.supporters) == len(set(s.supporters))

    @invariant()
    def every_support_counts_once_where_it_stands(self) -> None:
        """A demand counts the people who supported it, or a demand it took in (through any
        chain of merges), each once; and as many anonymous supports as were recorded there."""
        demands = self.router.part.demands
        taken_into = {m: t.demand_id for t in demands.values() for m in t.merged_from}

        def chain(demand_id: str) -> list[str]:
            out = [demand_id]
            while out[-1] in taken_into and len(out) <= len(self.ids):
                out.append(taken_into[out[-1]])
            return out

        for demand_id in self.ids:
            s = demands[demand_id]
            here = [p for d, p in self.supports if demand_id in chain(d)]
            assert sorted(s.supporters) == sorted({p for p in here if p is not None})
            assert s.anonymous_supporters == here.count(None)

    @invariant()
    def deciding_again_gives_the_same_bytes(self) -> None:
        if self.n % 10:
            return  # every tenth step: a replay is the costly check
        again = Router()
        replayed = [out for e in self.inputs for out in again.send(e)]
        assert encoded(replayed) == encoded(self.outputs)


Lifecycle.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
test_the_lifecycle = Lifecycle.TestCase
