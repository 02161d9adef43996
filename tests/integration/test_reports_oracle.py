"""Headquarters' figures against an oracle: each figure worked out straight from the log by a
separate fold written from docs/metrics.md, required equal to the reports API's, live (batches
of awkward sizes, delivered twice, one "crash" between the tally and the demand writes) and
after a replay. The log spans three partitions and ends with a clock tick a day after the
last request, long before today: "overdue" is judged by the stream's time, not the wall
clock's (which would find every open demand overdue).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from bench.history import steady_city
from reporting import dashboards
from reporting.app import create_app
from reporting.projector import Projector
from reporting.readmodels import ReadModels
from reporting.replay import replay
from reporting.tally_store import TALLIES
from routing.facts import tick
from services import config
from services.domain.demand import apply
from services.domain.vocabulary import LEVEL_CODES
from services.eventlog.memory import MemoryEventLog
from services.events.envelope import format_time, now
from services.events.families.routing import TICK
from tests.auth_helpers import MASTER_KEY, SECRET, authorize
from tests.integration.test_reporting_stream import Desk


def history(kind: str) -> list:
    """Requests and routing's decisions, a tick midway and one a day past the last request:
    a small city acted on at random, or `bench/history.py`'s city in steady state."""
    if kind == "random":
        events = Desk(seed=23).random_stream(demands=90, actions=320)
    else:
        events = [e for chunk in steady_city(3000, seed=4, active=300) for e in chunk]
    middle = len(events) // 2
    events.insert(middle, tick(events[middle].recorded_at))
    events.append(tick(max(e.recorded_at for e in events) + timedelta(days=1)))
    return events


# -- the oracle: figures from the log, by the definitions -------------------------------------
def oracle(events: list) -> dict:
    states: dict = {}
    clock = None
    for e in events:
        if e.type == TICK:
            clock = format_time(e.recorded_at) if clock is None else max(
                clock, format_time(e.recorded_at))
        s = apply(states.get(e.demand_id), e)
        if s is not None:
            states[e.demand_id] = s
    sla: dict[int, Counter] = {}
    matrix: Counter = Counter()
    overdue_matrix: Counter = Counter()
    fairness: Counter = Counter()
    mix: Counter = Counter()
    for s in states.values():
        mix[(s.channel, s.category)] += 1
        past = s.is_open and s.deadline is not None and s.deadline < clock
        if s.is_open and s.level != "department":
            matrix[(s.level, s.district)] += 1
            overdue_matrix[(s.level, s.district)] += past
        if s.status != "merged":
            fairness["demands"] += 1
            fairness["resolved"] += s.status == "resolved"
            fairness["rejected"] += s.status == "rejected"
            fairness["withdrawn"] += s.status == "withdrawn"
            fairness["escalated"] += len(s.escalations) > 0
            fairness["responded"] += s.first_response is not None
            fairness["waited"] += bool(s.waited) or s.waiting is not None
            fairness["to_resolution_count"] += (s.status == "resolved"
                                                and "working_hours" in (s.resolution_time or {}))
        if s.status in ("withdrawn", "merged"):
            sla.setdefault(s.district, Counter())[s.status] += 1
        if s.status in ("withdrawn", "merged", "submitted"):
            continue
        row = sla.setdefault(s.district, Counter())
        a_miss = (any(x.get("trigger") == "deadline" for x in s.escalations)
                  or any(w["stage"] == "missed" for w in s.warnings))
        kept = s.closed_at is not None and s.closed_at <= (s.deadline or "")
        if a_miss:
            row["missed"] += 1
        elif s.status == "resolved":
            row["met" if kept else "late"] += 1
        elif s.status == "rejected":
            row["rejected" if kept else "late"] += 1
        elif s.waiting is not None:
            row["waiting"] += 1
        elif s.is_open:
            row["overdue" if past else "pending"] += 1
    return {"clock": clock, "sla": sla, "matrix": matrix, "overdue_matrix": overdue_matrix,
            "fairness": fairness, "mix": mix}


def assert_agrees(db, expected: dict, client) -> None:
    both = Counter()
    for row in expected["sla"].values():
        both.update(row)
    assert both["pending"] and both["overdue"]  # the stream's time tells them apart
    f = dashboards.gather(ReadModels(db), None, now())
    assert format_time(f.moment) == expected["clock"]
    got = {r["district"]: r for r in client.get("/reports/sla").get_json()["items"]}
    assert sorted(got) == sorted(expected["sla"])
    for district, row in expected["sla"].items():
        for k in ("met", "late", "missed", "rejected", "waiting", "overdue", "pending",
                  "withdrawn", "merged"):
            assert got[district][k] == row[k], (district, k)
    board = client.get("/reports/board").get_json()
    assert board["moment"] == expected["clock"]
    assert {(m["level"], m["district"]): m["open"] for m in board["matrix"]} == dict(
        +expected["matrix"])
    assert {(m["level"], m["district"]): m["overdue"] for m in board["matrix"]} == {
        k: expected["overdue_matrix"][k] for k in +expected["matrix"]}
    assert [m["level"] for m in board["matrix"]] == sorted(
        (m["level"] for m in board["matrix"]), key=lambda lv: -LEVEL_CODES.index(lv))
    (citizens,) = client.get("/reports/fairness").get_json()["items"]
    for k, n in expected["fairness"].items():
        assert citizens[k] == n, k
    mix = client.get("/reports/mix").get_json()["items"]
    assert {(r["channel"], c): n for r in mix for c, n in r["counts"].items()} == dict(
        expected["mix"])


@pytest.fixture(params=["random", "steady"])
def setting(request, tmp_path, mongo_db):
    events = history(request.param)
    log = MemoryEventLog(partitions=3)
    for i in range(0, len(events), 50):
        log.append(events[i:i + 50])
    app = create_app(config.Settings(data_dir=tmp_path, auth_secret=SECRET,
                                     master_key=MASTER_KEY), log, db=mongo_db)
    return events, log, authorize(app.test_client(), "headquarters")


def test_live_projection_twice_delivered_and_a_crash_agree_with_the_oracle(
        setting, mongo_db) -> None:
    events, log, client = setting
    projector = Projector(log, mongo_db)
    every = log.read({p: 0 for p in range(3)}, limit=100_000)
    rng = random.Random(5)
    i = 0
    crashed = False
    while i < len(every):
        size = rng.randint(1, 40)
        batch = every[i:i + size]
        if not crashed and i > len(every) // 3:
            # Tallies written, then the process dies before the demand documents: the
            # batch comes again, to a fresh projector.
            plan = projector.plan(batch)
            assert projector.tally_store.write(plan.tallies)
            projector = Projector(log, mongo_db)
            crashed = True
        projector.apply_batch(batch)
        if rng.random() < 0.3:  # delivered again (a rebalance, a lost commit)
            back = max(0, i - rng.randint(0, 30))
            projector.apply_batch(every[back:i + size])
        i += size
    assert crashed
    assert_agrees(mongo_db, oracle(events), client)


def test_a_replay_rebuilds_the_same_tallies_and_figures(setting, mongo_db) -> None:
    events, log, client = setting
    projector = Projector(log, mongo_db)
    every = log.read({p: 0 for p in range(3)}, limit=100_000)
    for i in range(0, len(every), 17):
        projector.apply_batch(every[i:i + 17])
    live = sorted(mongo_db[TALLIES].find(), key=lambda d: d["_id"])
    replay(log, mongo_db, batch=64)
    assert sorted(mongo_db[TALLIES].find(), key=lambda d: d["_id"]) == live
    assert_agrees(mongo_db, oracle(events), client)


def test_reports_are_scoped_and_offer_csv(setting, mongo_db) -> None:
    events, log, client = setting
    replay(log, mongo_db, batch=100)
    expected = oracle(events)
    district = min(expected["sla"])
    mine = authorize(client.application.test_client(), "district_mayor", district)
    rows = mine.get("/reports/sla").get_json()["items"]
    assert [r["district"] for r in rows] == [district]
    answer = client.get("/reports/sla?format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    lines = answer.get_data(as_text=True).splitlines()
    assert lines[0].startswith("district,met,late,missed")
    assert len(lines) == 1 + len(expected["sla"])
    bad = client.get("/reports/trends?weeks=0")
    assert bad.status_code == 422 and "weeks" in bad.get_data(as_text=True)


def test_two_projectors_overlapping_in_a_rebalance_count_each_event_once(setting, mongo_db):
    """Two owners of the same partitions for a while (a rebalance), each with its own cached
    tallies, fold the same batches in turn: neither counts an event twice."""
    events, log, client = setting
    first, second = Projector(log, mongo_db), Projector(log, mongo_db)
    every = log.read({p: 0 for p in range(3)}, limit=100_000)
    for i in range(0, len(every), 23):
        batch = every[i:i + 23]
        first.apply_batch(batch)
        second.apply_batch(batch)  # stale cache: its writes are refused, it folds again
        if i % 3 == 0:
            first, second = second, first
    assert_agrees(mongo_db, oracle(events), client)
