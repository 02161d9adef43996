"""The routing worker over a real SQLite log when time, rules and the calendar are in the
stream: decisions on facts survive a crash at any point exactly as if the worker never
stopped, and the worker publishes the default rules when the stream has none."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from routing.facts import office_closed, rule_set_published, tick
from routing.worker import RoutingWorker
from services.domain.rules import DEFAULT_RULES, SlaPolicy
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Actor, Event, encode
from services.events.ids import derived_id
from tests.unit.streams import CLERK, Router, Stream

TEHRAN = ZoneInfo("Asia/Tehran")
START = datetime(2025, 5, 10, 8, 0, tzinfo=TEHRAN)  # a Saturday
ADMIN = Actor("administrator", "admin-1")
V2 = replace(DEFAULT_RULES, version=2,
             policies={**DEFAULT_RULES.policies, "standard": SlaPolicy(7, 21, 7)})


def timeline() -> list[Event]:
    """Three demands over three weeks: hourly ticks in working time, a pollution closure, a
    new rule set, and people acting (some too late)."""
    out: list[Event] = []
    streams = [Stream(demand_id=derived_id(START, "facts", str(i)),
                      start=START + timedelta(hours=5 * i)) for i in range(3)]
    for i, s in enumerate(streams):
        out.append(s.submit(district=6 + i, category=("transport", "social", "other")[i]))
    staff = Actor("department_staff", "staff-6", 6, "transport")
    out.append(streams[0].request("AcknowledgementRequested", {}, staff, minutes=60 * 20))
    out.append(streams[2].request("RequesterInfoRequested", {"question": "?"},
                                  Actor("department_staff", "s", 8, "mayor_triage"),
                                  minutes=60 * 3))
    out.append(streams[2].request("RequesterResponded", {"answer": "!"},
                                  Actor("intake_clerk", "clerk-8", 8),
                                  minutes=60 * 72))
    for hour in range(0, 24 * 21, 3):
        out.append(tick(START + timedelta(hours=hour, minutes=1)))
    out.append(office_closed("pollution", START + timedelta(days=2), START + timedelta(
        days=2, hours=8), START + timedelta(days=1, hours=12), actor=ADMIN, reason="آلودگی"))
    out.append(rule_set_published(V2, START + timedelta(days=4, hours=2), actor=ADMIN))
    out.append(streams[1].request("EscalationRequested", {"reason": "beyond_budget"}, ADMIN,
                                  minutes=60 * 24 * 2))
    return sorted(out, key=lambda e: (e.recorded_at, e.event_id))


def triggers(log: SqliteEventLog) -> list[Event]:
    return [r.event for r in log.scan() if not r.event.is_decision]


def decisions(log: SqliteEventLog) -> list[Event]:
    return [r.event for r in log.scan() if r.event.is_decision]


def assert_as_if_never_stopped(log: SqliteEventLog) -> None:
    expected = Router().run(triggers(log))
    assert sorted(map(encode, decisions(log))) == sorted(map(encode, expected))


def test_the_timeline_makes_every_kind_of_timed_decision():
    kinds = Counter(d.type for d in Router().run(timeline()))
    assert kinds["DemandEscalated"] >= 3
    assert kinds["DeadlineWarning"] >= 3
    assert kinds["DeadlineRecomputed"] >= 2
    assert kinds["DemandResumed"] == 1
    assert kinds["ActionRejected"] == 0


@pytest.mark.parametrize("decided_before_crash", [0, 1, 4, 10, 25, 60, 100, 150, 175])
def test_facts_left_undecided_by_a_crash_are_decided_as_if_live(tmp_path, decided_before_crash,
                                                                restarts):
    events = timeline()
    path = tmp_path / "events.sqlite3"
    with SqliteEventLog(path) as log:
        first = restarts.worker(log)
        first.start()
        log.append(events[:decided_before_crash])
        first.drain()
        log.append(events[decided_before_crash:])  # recorded while no worker runs
    with SqliteEventLog(path) as log:
        second = restarts.worker(log)
        second.start()
        restarts.started(second, snapshot_expected=decided_before_crash > 0)
        second.drain()
        assert_as_if_never_stopped(log)
        before = log.end_offsets()
    with SqliteEventLog(path) as log:
        third = restarts.worker(log)
        third.start()
        restarts.started(third)
        third.drain()
        assert log.end_offsets() == before  # everything was decided: nothing is added


def test_the_worker_publishes_the_default_rules_once_when_the_stream_has_none(tmp_path):
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        log.append(timeline()[:5])
        worker = RoutingWorker(log, publish_default=True)
        worker.start()
        worker.drain()
        published = [e for e in triggers(log) if e.type == "RuleSetPublished"]
        assert [e.payload["version"] for e in published] == [1]
        assert worker.partitions[0].context.published
        assert_as_if_never_stopped(log)  # publishing the default changed no decision
        again = RoutingWorker(log, publish_default=True)
        again.start()
        again.drain()
        assert len([e for e in triggers(log) if e.type == "RuleSetPublished"]) == 1


def overdue_city(demands: int) -> tuple[list[Event], Event, list[Event]]:
    """`demands` demands submitted and routed, a tick long past all their deadlines (each
    escalates), then more recorded after the tick: (before, the tick, after)."""
    streams = [Stream(demand_id=derived_id(START, "overdue", str(i)),
                      start=START + timedelta(minutes=i)) for i in range(demands + 3)]
    before = [s.submit(district=1 + i % 22) for i, s in enumerate(streams[:demands])]
    late = tick(START + timedelta(days=40))
    after = [s.submit(district=3) for s in streams[demands:]]
    after.append(streams[0].request("AcknowledgementRequested", {}, CLERK,
                                    minutes=60 * 24 * 41))
    return before, late, after


@pytest.mark.parametrize("landed", [0, 1, 7, 29, 30])
def test_a_fact_whose_decisions_were_appended_in_part_gets_the_rest(tmp_path, landed, restarts):
    """A worker killed mid-append of a tick's escalations (Kafka keeps a record batch whole,
    not a whole append) left `landed` of the 30 in the log; the next worker makes the others,
    and only those, then decides what came after."""
    before, late, after = overdue_city(30)
    expected_on_tick = Router().run([*before, late])[30:]
    assert len(expected_on_tick) == 30
    assert {d.type for d in expected_on_tick} == {"DemandEscalated"}
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        first = restarts.worker(log)
        first.start()
        log.append(before)
        first.drain()
        log.append([late, *expected_on_tick[:landed]])  # the tick, and what made it
        log.append(after)  # recorded while no worker runs
        second = restarts.worker(log)
        second.start()
        restarts.started(second)
        second.drain()
        on_tick = [d for d in decisions(log) if d.causation_id == late.event_id]
        assert Counter(d.event_id for d in on_tick) == Counter(
            d.event_id for d in expected_on_tick)
        assert_as_if_never_stopped(log)
