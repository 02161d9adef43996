"""The demo history `sada run` loads: decided by the real routing worker on a real SQLite log,
every action in it is valid, and the calendar, the clock and the rule change all show."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from routing.worker import RoutingWorker
from sada.cli import load_demo
from sada.demo import RULES_V2
from services.domain.calendar import WorkingCalendar
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import parse_time

NOW = datetime(2025, 12, 20, 9, 0, tzinfo=UTC)


def test_the_demo_history_is_valid_and_the_clock_and_calendar_show_in_it(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr("services.events.envelope.now", lambda: NOW)
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        loaded = load_demo(log)
        assert load_demo(log) == 0  # only into an empty log
        worker = RoutingWorker(log)
        worker.start()
        worker.drain()
        events = [r.event for r in log.scan()]
    decisions = [e for e in events if e.is_decision]
    assert len(events) == loaded + len(decisions)
    kinds = Counter(d.type for d in decisions)
    assert kinds["ActionRejected"] == 0  # every generated action is one routing accepts
    for kind in ("DemandRouted", "DemandEscalated", "DeadlineWarning", "DeadlineRecomputed",
                 "WaitingOnRequester", "DemandResumed", "DemandSentBack", "DemandResolved"):
        assert kinds[kind] > 0, kind
    reasons = Counter(d.payload["reason"] for d in decisions if d.type == "DemandEscalated")
    assert reasons["deadline_passed"] > 0 and reasons["macro_challenge"] > 0
    assert reasons["requester_appeal"] > 0
    # the rule change recomputed investors' planning demands under version 2
    recomputed = [d for d in decisions if d.type == "DeadlineRecomputed"]
    assert {d.payload["cause"]["type"] for d in recomputed} == {"RuleSetPublished",
                                                                "OfficeClosed"}
    assert any(d.payload["after"]["rule_version"] == RULES_V2.version for d in recomputed)
    # every deadline the demo's decisions set is a working moment of Tehran's calendar
    context = worker.partitions[0].context
    tehran = WorkingCalendar(context.rules.calendar)
    for d in decisions:
        clock = d.payload.get("clock")
        for name in ("ack_deadline", "deadline"):
            if clock and clock[name]:
                assert tehran.is_working_moment(parse_time(clock[name])), (d.type, clock)
    assert [c.kind for c in context.closures.values()] == ["pollution"]
    # the open demands are spread over the ladder, not all at the top
    levels = Counter(s.level for s in worker.partitions[0].demands.values() if s.is_open)
    statuses = Counter(s.status for s in worker.partitions[0].demands.values())
    assert statuses["resolved"] > 20 and len(levels) >= 2
