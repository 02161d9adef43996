"""`sada tick`, `sada close-office`, `sada rules` and `sada what-if` on a real SQLite log, and
the clock the routing worker keeps."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from routing.clock import Clock
from routing.facts import tick
from routing.worker import RoutingWorker
from sada.cli import load_demo, main
from services.domain.vocabulary import LEVEL_CODES as LEVELS
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import format_time
from services.events.families.routing import ROUTING_STREAM_ID

PROPOSAL = """\
# transport goes to civil works
rules:
  - {rule_id: urban-planning, category: urban_planning, department: urban_planning, sla: planning}
  - {rule_id: transport, category: transport, department: civil_works, sla: standard}
  - {rule_id: urban-services, category: urban_services, department: urban_services, sla: services}
  - {rule_id: green-space, category: green_space, department: urban_services, sla: standard}
  - {rule_id: social, category: social, department: social, sla: social}
  - {rule_id: civil-works, category: civil_works, department: civil_works, sla: works}
"""
SHORT_DAYS = 'calendar: {opens: "07:30", closes: "09:30"}\n'  # two-hour working days


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"SADA_DATA_DIR": str(tmp_path), "SADA_SQLITE_PATH": str(tmp_path / "events.sqlite3"),
            "SADA_EVENT_LOG": "sqlite"}


@pytest.fixture
def demo(env) -> Iterator[Path]:
    path = Path(env["SADA_SQLITE_PATH"])
    with SqliteEventLog(path) as log:
        assert load_demo(log) > 1000
    yield path


def sada(env: dict[str, str], *args: str):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def digest(path: Path) -> str:
    with SqliteEventLog(path) as log:
        return hashlib.sha256(b"".join(r.raw for r in log.scan())).hexdigest()


def test_what_if_replays_the_demo_history_under_a_proposal_and_changes_nothing(env, demo,
                                                                               tmp_path):
    proposal = tmp_path / "proposal.yaml"
    proposal.write_text(PROPOSAL, encoding="utf-8")
    before = digest(demo)

    out = sada(env, "what-if", str(proposal), "--json")
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    load = {row["key"]: row for row in report["load_per_department"]}
    assert load["transport"]["actual"] > 0 and load["transport"]["proposed"] == 0
    assert load["civil_works"]["change"] == load["transport"]["actual"]
    assert report["demands"] == 80
    assert len(report["routed_differently"]) == load["transport"]["actual"]
    # what transport's staff did, civil works does: no action is refused for it
    assert "not_your_level" not in {r["key"] for r in report["refused_actions"]}

    proposal.write_text(SHORT_DAYS, encoding="utf-8")
    report = json.loads(sada(env, "what-if", str(proposal), "--json").output)
    assert report["load_per_department"] == [
        {**row, "proposed": row["actual"], "change": 0} for row in report["load_per_department"]]
    deadlines = {row["key"]: row for row in report["deadlines"]}
    passed = deadlines["escalated for a passed deadline"]
    assert passed["proposed"] < passed["actual"]  # the same hours take more days
    assert report["climbed_differently"]
    assert all(LEVELS.index(r["proposed"]) < LEVELS.index(r["actual"])
               for r in report["climbed_differently"])

    text = sada(env, "what-if", str(proposal), "--limit", "3")
    assert text.exit_code == 0, text.output
    for title in ("Demands routed to each department", "Highest rung of the ladder reached",
                  "Deadlines", "Demands that would climb differently"):
        assert title in text.output
    assert digest(demo) == before  # the log is read, never written


def test_what_if_names_what_is_wrong_with_a_bad_rule_file(env, demo, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": [{"rule_id": "x", "category": "transport",
                                          "department": "transport", "sla": "missing"}]}))
    out = CliRunner().invoke(main, ["what-if", str(bad)], env=env)
    assert out.exit_code == 1
    assert "missing" in out.output and "sla" in out.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [unclosed")
    out = CliRunner().invoke(main, ["what-if", str(broken)], env=env)
    assert out.exit_code == 1 and "cannot read" in out.output


def test_ticks_closures_and_rules_from_the_command_line(env, tmp_path):
    tick = sada(env, "tick", "--at", "2030-01-05T09:00+03:30")
    assert tick.exit_code == 0, tick.output
    assert json.loads(tick.output)["at"] == "2030-01-05T05:30:00.000Z"
    backwards = CliRunner().invoke(main, ["tick", "--at", "2030-01-04T09:00+03:30"], env=env)
    assert backwards.exit_code == 1 and "already at" in backwards.output
    naive = CliRunner().invoke(main, ["tick", "--at", "2030-01-05T10:00"], env=env)
    assert naive.exit_code == 2 and "time zone" in naive.output

    closed = sada(env, "close-office", "--district", "21", "--from", "2030-01-06T07:30+03:30",
                  "--to", "2030-01-06T14:30+03:30", "--kind", "pollution",
                  "--reason", "آلودگی هوا")
    assert closed.exit_code == 0, closed.output

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"sla_policies": {
        "standard": {"acknowledge_hours": 7, "resolve_hours": 21, "warn_hours": 3}}}))
    partial = CliRunner().invoke(main, ["rules", "publish", str(rules)], env=env)
    assert partial.exit_code == 1  # the other rules name policies that would be gone
    assert "No SLA policy" in partial.output
    rules.write_text(json.dumps({"calendar": {"opens": "08:00", "closes": "15:00"}}))
    published = sada(env, "rules", "publish", str(rules), "--note", "ساعت کاری تازه")
    assert published.exit_code == 0, published.output
    assert json.loads(published.output)["version"] == 2

    shown = sada(env, "rules", "show")
    assert shown.exit_code == 0, shown.output
    assert "rule set version 2" in shown.output and '"closes": "15:00"' in shown.output

    with SqliteEventLog(env["SADA_SQLITE_PATH"]) as log:
        facts = [r.event for r in log.scan()]
        assert [e.type for e in facts] == ["ClockTicked", "OfficeClosed", "RuleSetPublished"]
        assert {e.demand_id for e in facts} == {ROUTING_STREAM_ID}
        worker = RoutingWorker(log)
        worker.start()
        worker.drain()
        context = worker.partitions[0].context
        assert (context.rules.version, context.now, list(context.closures)) == (
            2, "2030-01-05T05:30:00.000Z", [json.loads(closed.output)["closure_id"]])


def test_the_routing_worker_keeps_the_clock_unless_the_time_was_told_recently(tmp_path):
    wall = [datetime(2030, 1, 5, 6, 0, tzinfo=UTC)]
    seconds = [0.0]
    keeper = Clock(60, clock=lambda: wall[0], monotonic=lambda: seconds[0])
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        worker = RoutingWorker(log, clock=keeper)
        worker.start()

        def ticks() -> list[str]:
            worker.drain()
            worker.tell_the_time()
            worker.drain()
            return [format_time(r.event.recorded_at) for r in log.scan()
                    if r.event.type == "ClockTicked"]

        assert ticks() == ["2030-01-05T06:00:00.000Z"]
        seconds[0], wall[0] = 30, wall[0] + timedelta(seconds=30)
        assert len(ticks()) == 1  # not yet: an interval has not passed
        seconds[0], wall[0] = 61, wall[0] + timedelta(seconds=31)
        assert ticks()[-1] == "2030-01-05T06:01:01.000Z"
        # a simulated clock far ahead: the worker's wall clock has nothing to add
        log.broadcast([tick(datetime(2030, 2, 1, tzinfo=UTC), source="manual")])
        seconds[0], wall[0] = 200, wall[0] + timedelta(seconds=139)
        assert ticks()[-1] == "2030-02-01T00:00:00.000Z"
        assert worker.partitions[0].context.now == "2030-02-01T00:00:00.000Z"
        off = RoutingWorker(log, clock=Clock(0))
        off.start()
        off.tell_the_time()
        assert len(ticks()) == 3
