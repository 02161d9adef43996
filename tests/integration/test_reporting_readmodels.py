"""The projector and read models on a real SecantusDB, fed by a real SQLite log."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from reporting.projector import Projector
from reporting.readmodels import QUEUE_MARGIN, ReadModels, stored_position
from reporting.replay import replay, snapshot
from services.domain.demand import Demand
from services.eventlog.port import Position
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import now
from tests.integration.test_reporting_stream import (
    Desk,
    append_all,
    city,
    staff,
)


@pytest.fixture
def log(tmp_path) -> Iterator[SqliteEventLog]:
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as event_log:
        yield event_log


@pytest.fixture
def other_db(mongo_db):
    """A second fresh database on the same server, for a replay to compare with."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield mongo_db.client[name]
    mongo_db.client.drop_database(name)


def project(log: SqliteEventLog, db, sizes: tuple[int, ...] = (500,)) -> Projector:
    """Apply the whole log in batches of the given sizes, cycling through them."""
    projector = Projector(log, db)
    projector.models.ensure_indexes()
    position, i = projector.start_offsets([0]), 0
    while True:
        records = log.read(position, limit=sizes[i % len(sizes)])
        if not records:
            return projector
        projector.apply_batch(records)
        position = {0: records[-1].offset + 1}
        i += 1


def test_a_queue_lists_open_demands_oldest_deadline_first(log, mongo_db) -> None:
    desk = Desk()
    # Deadlines follow priority (transport: 120 h x factor), not submission order.
    low = desk.submit(district=3, category="transport", priority="low")
    normal = desk.submit(district=3, category="transport", priority="normal")
    urgent = desk.submit(district=3, category="transport", priority="urgent")
    high = desk.submit(district=3, category="transport", priority="high")
    acknowledged = desk.submit(district=3, category="transport", priority="normal", minutes=60)
    desk.acknowledge(acknowledged)
    resolved = desk.submit(district=3, category="transport", priority="urgent")
    desk.resolve(resolved)
    desk.submit(district=4, category="transport", priority="urgent")  # another district
    desk.submit(district=3, category="social", priority="urgent")  # another department
    append_all(log, desk.events)
    models = project(log, mongo_db).models

    queue = models.queue(3, "transport", limit=100)

    assert [d["_id"] for d in queue] == [urgent, high, normal, acknowledged, low]
    assert [d["deadline"] for d in queue] == sorted(d["deadline"] for d in queue)
    assert {d["status"] for d in queue} == {"routed", "acknowledged"}
    assert [d["_id"] for d in models.queue(3, "transport", limit=2)] == [urgent, high]
    assert models.queue(5, "transport", limit=100) == []


@contextlib.contextmanager
def ranges_read(demands) -> Iterator[list[int]]:
    """While in it, how many documents the range of each `find` on `demands` holds."""
    read: list[int] = []
    real_find = demands.find

    def find(query, *args, **kwargs):
        read.append(demands.count_documents(query))
        return real_find(query, *args, **kwargs)

    demands.find = find
    try:
        yield read
    finally:
        del demands.find


def test_a_long_queue_is_read_only_as_far_as_its_page(log, mongo_db) -> None:
    """A backlog of 60 in one queue, two of them waiting on their requester (no deadline):
    a page lists what an unbounded read sorted by deadline lists, and reads only its page
    (plus a margin) of the index, whatever the backlog."""
    desk = Desk()
    ids = [desk.submit(district=9, category="transport",
                       priority=("urgent", "normal", "low")[i % 3]) for i in range(60)]
    for demand_id in ids[10:12]:
        desk.request(demand_id, "RequesterInfoRequested", {"question": "نشانی دقیق؟"},
                     desk.actor_for(demand_id))
    desk.escalate(ids[20])
    desk.resolve(ids[21])
    desk.submit(district=9, category="social")
    append_all(log, desk.events)
    models = project(log, mongo_db).models
    demands = models.demands
    where = ReadModels._queue_filter(9, "transport")
    everything = [d["_id"] for d in demands.find(where).sort([("deadline", 1), ("_id", 1)])]
    assert len(everything) == 58 and set(everything[:2]) == set(ids[10:12])
    assert models.queue_size(9, "transport") == 58

    with ranges_read(demands) as read:
        for limit in (1, 2, 5, 30, 100):
            read.clear()
            assert [d["_id"] for d in models.queue(9, "transport", limit)] == everything[:limit]
            assert sum(read) <= min(limit, 2) + limit + QUEUE_MARGIN, (limit, read)


def test_the_escalation_board_shows_the_highest_rung_first(log, mongo_db) -> None:
    desk = Desk()
    to_mayor_7 = desk.submit(district=7, category="civil_works")
    desk.escalate(to_mayor_7)
    to_mayor_2 = desk.submit(district=2, category="transport")
    desk.escalate(to_mayor_2)
    to_hq_2 = desk.submit(district=2, category="social")
    desk.escalate(to_hq_2)
    desk.escalate(to_hq_2)
    to_central = desk.submit(district=7, category="urban_planning")
    for _ in range(3):
        desk.escalate(to_central)
    closed = desk.submit(district=2, category="social")
    desk.escalate(closed)
    desk.resolve(closed)
    desk.submit(district=2, category="social")  # still at the department: not on the board
    # The mayor's rung gets 72 h from the escalation: the later escalation has the later deadline.
    assert desk.states[to_mayor_7].deadline < desk.states[to_mayor_2].deadline
    append_all(log, desk.events)
    models = project(log, mongo_db).models

    board = models.escalations(None, None, limit=100)
    assert [d["_id"] for d in board] == [to_central, to_hq_2, to_mayor_7, to_mayor_2]
    assert [d["level"] for d in board] == [
        "central_management", "headquarters", "district_mayor", "district_mayor"]
    assert [d["_id"] for d in models.escalations(2, None, limit=100)] == [to_hq_2, to_mayor_2]
    assert [d["_id"] for d in models.escalations(None, "district_mayor", limit=100)] == [
        to_mayor_7, to_mayor_2]
    assert [d["_id"] for d in models.escalations(7, "headquarters", limit=100)] == []


def _scans_the_collection(cursor) -> bool:
    return "COLLSCAN" in repr(cursor.explain()["queryPlanner"]["winningPlan"])


def test_a_backlog_due_at_one_moment_is_read_only_as_far_as_its_page(log, mongo_db) -> None:
    """Demands recorded outside working hours share one deadline: 80 recorded seconds apart
    on a Friday are all due at once. The page is still what an unbounded read sorted by
    (deadline, id) lists, and reads only its page, a margin and one second's ids of the
    index."""
    desk = Desk(start=datetime(2025, 3, 7, 10, 0, tzinfo=UTC))  # a Friday
    ids = [desk.submit(district=9, category="transport", minutes=0.05) for _ in range(80)]
    assert len({desk.states[i].deadline for i in ids}) == 1
    append_all(log, desk.events)
    models = project(log, mongo_db).models
    demands = models.demands
    where = ReadModels._queue_filter(9, "transport")
    everything = [d["_id"] for d in demands.find(where).sort([("deadline", 1), ("_id", 1)])]
    assert everything == sorted(ids) and models.queue_size(9, "transport") == 80

    with ranges_read(demands) as read:
        for limit in (1, 5, 30):
            read.clear()
            assert [d["_id"] for d in models.queue(9, "transport", limit)] == everything[:limit]
            assert sum(read) <= limit + QUEUE_MARGIN + 1, (limit, read)


def test_queues_and_boards_are_answered_from_an_index(log, mongo_db) -> None:
    """SecantusDB scans every demand when a filter names a field the index lacks: the
    queue's `escalated`, the board's rung or department. Each query a page asks is planned
    on an index."""
    desk = Desk()
    for district in (3, 4):
        for category in ("transport", "social"):
            desk.escalate(desk.submit(district=district, category=category))
            desk.submit(district=district, category=category)
    append_all(log, desk.events)
    models = project(log, mongo_db).models
    demands = models.demands
    queue = ReadModels._queue_filter(3, "transport")
    board = {"open": True, "escalated": True}
    captured: list[dict] = []
    real_find = demands.find

    def find(query, *args, **kwargs):  # the query escalations() sends, as sent
        captured.append(query)
        return real_find(query, *args, **kwargs)

    demands.find = find  # type: ignore[method-assign]
    try:
        shown = {
            "mayor's rung": models.escalations(None, "district_mayor", limit=100),
            "a district's rung": models.escalations(4, "district_mayor", limit=100),
            "a department's escalations": models.escalations(3, None, limit=100,
                                                             department="transport"),
        }
    finally:
        del demands.find
    assert [len(docs) for docs in shown.values()] == [4, 2, 1]
    assert len(captured) == len(shown)
    by_deadline = [("deadline", 1), ("_id", 1)]
    by_rung = [("level_index", -1), *by_deadline]
    for what, query, order in [("the queue", queue, by_deadline), ("the board", board, by_rung),
                               *((w, q, by_rung) for w, q in zip(shown, captured, strict=True))]:
        assert not _scans_the_collection(demands.find(query).sort(order).limit(200)), what
    assert models.queue_size(3, "transport") == 1


def test_an_index_of_an_earlier_version_is_dropped_at_start(mongo_db) -> None:
    models = ReadModels(mongo_db)
    models.demands.create_index([("queue", 1), ("open", 1), ("deadline", 1)],
                                name="queue_open_deadline")
    models.ensure_indexes()
    models.ensure_indexes()  # again: nothing to drop, nothing to build
    indexes = models.demands.index_information()
    assert "queue_open_deadline" not in indexes
    assert "queue_board" in indexes


def test_search_finds_the_newest_across_widening_windows(log, mongo_db) -> None:
    desk = Desk(start=now() - timedelta(days=400))
    ages_in_hours = [24 * 380, 24 * 40, 24 * 20, 24 * 5, 24 * 3, 12, 1]  # oldest first
    ids = []
    for i, age in enumerate(ages_in_hours):
        minutes = (now() - timedelta(hours=age) - desk.clock).total_seconds() / 60
        ids.append(desk.submit(district=1 + i % 2, minutes=minutes))
    append_all(log, desk.events)
    models = project(log, mongo_db).models
    newest = ids[::-1]

    def search(limit: int, district: int | None = None) -> list[str]:
        found = models.search(district=district, status=None, category=None, limit=limit)
        return [d["_id"] for d in found]

    for limit in range(1, 9):
        assert search(limit) == newest[:limit], limit
    assert search(3, district=1) == [i for i in newest if ids.index(i) % 2 == 0][:3]
    assert search(10, district=2) == [i for i in newest if ids.index(i) % 2 == 1]


def test_history_keeps_every_event_in_log_order(log, mongo_db) -> None:
    desk = Desk()
    demand = desk.submit(district=12, category="urban_services", lag=2)
    other = desk.submit(district=12, category="urban_services")
    desk.acknowledge(demand, actor=staff(12, "social"))  # wrong department: rejected
    desk.acknowledge(demand, lag=1)
    desk.note(other)
    desk.note(demand)
    desk.escalate(demand)
    desk.acknowledge(demand, actor=staff(12, "urban_services"))  # now the mayor's: rejected
    ghost = desk.unknown()
    desk.flush()
    append_all(log, desk.events)
    models = project(log, mongo_db, sizes=(3,)).models

    history = models.demand_history(demand)
    expected = [e for e in desk.events if e.demand_id == demand]
    assert [h["_id"] for h in history] == [e.event_id for e in expected]
    assert [h["offset"] for h in history] == sorted(h["offset"] for h in history)
    # The routing decision came late (lag=2), behind the first acknowledgement request.
    assert [h["type"] for h in history] == [
        "DemandSubmitted", "AcknowledgementRequested", "DemandRouted", "ActionRejected",
        "AcknowledgementRequested", "DemandAcknowledged", "ProgressNoteSubmitted",
        "ProgressNoted", "EscalationRequested", "DemandEscalated", "AcknowledgementRequested",
        "ActionRejected"]
    first = history[0]
    assert first["actor"]["role"] == "intake_clerk" and first["causation_id"] is None
    assert first["payload"]["title"] == desk.states[demand].title
    routed = history[2]
    assert routed["causation_id"] == first["_id"] and routed["decision"] is True
    # A rejected action on an unknown demand is in history, and makes no demand.
    assert [h["type"] for h in models.demand_history(ghost.demand_id)] == [
        "AcknowledgementRequested", "ActionRejected"]
    assert models.demand(ghost.demand_id) is None
    assert models.is_decided(ghost.demand_id, ghost.event_id)
    doc = models.demand(demand)
    assert (doc["notes"], doc["rejected_actions"], doc["level"], doc["events"]) == (
        1, 2, "district_mayor", len(expected))
    assert doc["position"] == {"partition": 0, "offset": history[-1]["offset"]}


def test_each_demand_shows_exactly_what_routing_decided_on(log, mongo_db) -> None:
    desk = Desk(seed=5)
    desk.random_stream(120, 400)
    append_all(log, desk.events)
    models = project(log, mongo_db, sizes=(37, 200)).models

    docs = {d["_id"]: d for d in models.demands.find()}
    assert docs.keys() == desk.states.keys()
    for demand_id, state in desk.states.items():
        assert Demand.from_doc(docs[demand_id]).to_doc() == state.to_doc()
        doc = docs[demand_id]
        assert (doc["open"], doc["level_index"], doc["escalated"]) == (
            state.is_open, state.level_index, state.level_index > 0)


def test_replay_equals_the_incrementally_built_models(log, mongo_db, other_db) -> None:
    events = city(200, 700, seed=3)
    append_all(log, events)
    project(log, mongo_db, sizes=(1, 17, 64, 5, 250))
    seen = []

    counts = replay(log, other_db, progress=seen.append, batch=400)

    assert counts["events"] == len(events) and counts["demands"] == 200
    assert sum(seen) == len(events) and len(seen) == -(-len(events) // 400)
    incremental, replayed = snapshot(mongo_db), snapshot(other_db)
    assert len(replayed["history"]) == len(events)
    assert incremental == replayed
    assert replayed["checkpoints"] == [{"_id": "reporting", "offsets": {"0": len(events)}}]


def test_replay_drops_what_was_there(log, mongo_db) -> None:
    events = city(20, 40)
    append_all(log, events)
    mongo_db["demands"].insert_one({"_id": "stale", "status": "routed"})
    mongo_db["checkpoints"].insert_one({"_id": "reporting", "offsets": {"0": 10**6}})

    replay(log, mongo_db)

    assert mongo_db["demands"].find_one({"_id": "stale"}) is None
    assert ReadModels(mongo_db).checkpoint("reporting") == {0: len(events)}


def test_overlapping_batches_apply_nothing_twice(log, mongo_db, other_db) -> None:
    """A projector that crashed before its checkpoint sees the same events again."""
    events = city(60, 300, seed=8)
    append_all(log, events)
    records = log.read({}, limit=len(events))
    projector = Projector(log, mongo_db)
    projector.apply_batch(records[:120])
    projector.apply_batch(records[60:200])  # part of the first batch again
    projector.apply_batch(records[:200])  # everything so far again
    projector.apply_batch(records[150:])  # the rest, overlapping
    projector.apply_batch(records[10:30])  # an old stretch, late
    replay(log, other_db)

    assert snapshot(mongo_db) == snapshot(other_db)
    models = projector.models
    assert models.history.count_documents({}) == len(events)
    in_order = list(models.history.in_log_order(group=7))  # chunks overlap: read once each
    assert [h["offset"] for h in in_order] == list(range(len(events)))
    assert [h["_id"] for h in in_order] == [e.event_id for e in events]
    demands = list(models.demands.find())
    per_demand = Counter(e.demand_id for e in events)
    assert all(d["events"] == per_demand[d["_id"]] for d in demands)
    notes = Counter(e.demand_id for e in events if e.type == "ProgressNoted")
    assert all(d["notes"] == notes[d["_id"]] for d in demands)
    assert all(len(d["decided"]) == len(set(d["decided"])) for d in demands)
    assert models.checkpoint("reporting") == {0: len(events)}


class _CrashBeforeHistory(ReadModels):
    """Dies after the demand documents are written, before history and checkpoint."""

    def write_history(self, docs):
        raise RuntimeError("killed")


def test_a_crash_between_writes_is_repaired_by_the_next_run(log, mongo_db, other_db) -> None:
    events = city(40, 160, seed=4)
    append_all(log, events)
    records = log.read({}, limit=len(events))
    Projector(log, mongo_db).apply_batch(records[:100])
    crashing = Projector(log, mongo_db)
    crashing.models = _CrashBeforeHistory(mongo_db)
    with pytest.raises(RuntimeError):
        crashing.apply_batch(records[100:250])
    assert ReadModels(mongo_db).checkpoint("reporting") == {0: 100}

    restarted = Projector(log, mongo_db)
    start = restarted.start_offsets([0])
    restarted.apply_batch(log.read(start, limit=len(events)))
    replay(log, other_db)

    assert start == {0: 100}
    assert snapshot(mongo_db) == snapshot(other_db)


def test_the_checkpoint_only_moves_forward(log, mongo_db) -> None:
    append_all(log, city(10, 30))
    records = log.read({}, limit=1000)
    projector = Projector(log, mongo_db)
    assert projector.start_offsets([0]) == {0: 0}
    projector.apply_batch(records[20:])
    projector.apply_batch(records[:20])
    assert projector.start_offsets([0]) == {0: len(records)}


def test_run_follows_a_growing_log_until_stopped(log, mongo_db, other_db) -> None:
    events = city(80, 240, seed=9)
    append_all(log, events[:100])
    projector = Projector(log, mongo_db)
    stop = threading.Event()
    worker = threading.Thread(target=projector.run, args=(stop,), kwargs={"batch": 40})
    worker.start()
    try:
        append_all(log, events[100:], chunk=50)
        deadline = time.monotonic() + 20
        while projector.start_offsets([0]) != {0: len(events)}:
            assert time.monotonic() < deadline, "the projector did not catch up"
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    assert log.committed("reporting") == {0: len(events)}
    replay(log, other_db)
    assert snapshot(mongo_db) == snapshot(other_db)


class _StaleReads(ReadModels):
    """Loads demand documents as they were at `taken` once, as a projector that read them
    just before another projector wrote does; then reads what is stored."""

    def __init__(self, db, taken: dict) -> None:
        super().__init__(db)
        self.taken: dict | None = taken

    def load_demands(self, demand_ids):
        if self.taken is None:
            return super().load_demands(demand_ids)
        wanted = set(demand_ids)
        taken, self.taken = self.taken, None
        return {i: d for i, d in taken.items() if i in wanted}


def test_a_stale_writer_never_moves_a_demand_back(log, mongo_db, other_db) -> None:
    """A projector that lost its partitions in a rebalance without knowing it folds a batch
    over documents the new owner has since moved on: it writes none of them back."""
    events = city(40, 200, seed=12)
    append_all(log, events)
    records = log.read({}, limit=len(events))
    Projector(log, mongo_db).apply_batch(records[:80])
    before = ReadModels(mongo_db).load_demands(e.demand_id for e in events)
    Projector(log, mongo_db).apply_batch(records[80:])  # the new owner, to the end
    stale = Projector(log, mongo_db)
    stale.models = _StaleReads(mongo_db, before)
    stale.apply_batch(records[80:150])  # read before the owner wrote, written after
    replay(log, other_db)

    assert snapshot(mongo_db) == snapshot(other_db)


def test_a_new_demand_another_projector_wrote_first_is_folded_again(log, mongo_db,
                                                                     other_db) -> None:
    events = city(30, 120, seed=13)
    append_all(log, events)
    records = log.read({}, limit=len(events))
    Projector(log, mongo_db).apply_batch(records)
    late = Projector(log, mongo_db)
    late.models = _StaleReads(mongo_db, {})  # believed every demand new
    late.apply_batch(records[:60])
    replay(log, other_db)

    assert snapshot(mongo_db) == snapshot(other_db)
    assert late.models.demands.count_documents({}) == 30


def test_a_write_is_refused_where_the_document_moved_on(log, mongo_db) -> None:
    desk = Desk()
    demand = desk.submit(district=8, category="social")
    append_all(log, desk.events)
    Projector(log, mongo_db).apply_batch(log.read({}, limit=10))
    models = ReadModels(mongo_db)
    doc = models.demand(demand)
    changed = {**doc, "title": "نسخه دیگر"}
    at = stored_position(doc)

    assert not models.write_demands({demand: changed}, loaded={})  # believed new
    assert not models.write_demands({demand: changed}, loaded={demand: Position(0, at.offset - 1)})
    assert models.demand(demand)["title"] == doc["title"]
    assert models.write_demands({demand: changed}, loaded={demand: at})
    assert models.demand(demand)["title"] == "نسخه دیگر"


def test_a_batch_writes_history_per_demand_not_per_event(log, mongo_db) -> None:
    events = city(30, 400, seed=12)
    append_all(log, events)
    project(log, mongo_db, sizes=(len(events),))
    models = ReadModels(mongo_db)

    chunks = mongo_db["history"].count_documents({})
    assert chunks <= len({e.demand_id for e in events}) < len(events)
    assert models.history.count_documents({}) == len(events)
    some = events[-1]
    assert models.history.find_one({"_id": some.event_id})["offset"] == len(events) - 1
    assert [h["_id"] for h in models.demand_history(some.demand_id)] == [
        e.event_id for e in events if e.demand_id == some.demand_id]


def test_a_replay_that_finds_another_writer_loads_what_it_wrote(log, mongo_db, other_db) -> None:
    """The replay remembers its demands between batches; another projector moving them on
    meanwhile makes it load them again rather than write over what it did not see."""
    events = city(50, 400, seed=13)
    append_all(log, events)
    records = log.read({}, limit=len(events))
    remembering = Projector(log, mongo_db, remember=True)
    remembering.apply_batch(records[:150])
    Projector(log, mongo_db).apply_batch(records[150:300])
    remembering.apply_batch(records[150:])

    replay(log, other_db)
    assert snapshot(mongo_db)["demands"] == snapshot(other_db)["demands"]
    assert snapshot(mongo_db)["history"] == snapshot(other_db)["history"]
    demands = list(mongo_db["demands"].find())
    per_demand = Counter(e.demand_id for e in events)
    assert all(d["events"] == per_demand[d["_id"]] for d in demands)


def test_history_kept_one_document_per_event_moves_into_chunks(log, mongo_db) -> None:
    """Read models written before history was chunked keep answering once upgraded."""
    events = city(20, 120, seed=14)
    append_all(log, events)
    project(log, mongo_db, sizes=(50,))
    models = ReadModels(mongo_db)
    before = {e.demand_id: models.demand_history(e.demand_id) for e in events}
    per_event = models.history.all()
    mongo_db.drop_collection("history")
    mongo_db["history"].insert_many(per_event)  # the former layout: one document per event

    assert models.history.upgrade(batch=45) == len(events)
    assert models.history.upgrade() == 0
    assert mongo_db["history"].count_documents({}) < len(events)
    assert {d: models.demand_history(d) for d in before} == before


def test_a_batch_folded_before_the_last_one_is_written_loses_nothing(log, mongo_db,
                                                                     other_db) -> None:
    """A replay folds batch k+1 while batch k is written: what k+1 needs of k (a demand
    closed in k and touched again in k+1) must not be read back before k is written."""
    events = city(80, 900, seed=15)
    append_all(log, events)
    records = log.read({}, limit=len(events))
    projector = Projector(log, mongo_db, remember=True)
    batches = [records[i:i + 60] for i in range(0, len(records), 60)]
    planned = projector.plan(batches[0])
    for batch in batches[1:]:
        following = projector.plan(batch)  # folded before the one before it is written
        projector.commit(planned)
        planned = following
    projector.commit(planned)

    project(log, other_db, sizes=(60,))
    assert snapshot(mongo_db) == snapshot(other_db)
