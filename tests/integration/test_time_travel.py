"""Time travel: the state as of a past position or moment equals a fresh replay of the log
cut there. A generated city on a real SQLite log, projected into a real SecantusDB, with
snapshots every 97 offsets (so cuts fall before, on and after snapshots)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient
from pymongo.database import Database

from reporting.app import create_app
from reporting.projector import PROJECTION, Projector
from reporting.readmodels import ReadModels, demand_doc
from reporting.replay import replay
from reporting.timetravel import cut
from reporting.timetravel.cut import Frontier
from reporting.timetravel.moments import AtMoment, AtPositions, jalali
from reporting.timetravel.query import OutOfRange, TimeTravel
from reporting.timetravel.snapshots import SnapshotStore, Snapshotter
from services import config
from services.domain.demand import Demand, apply
from services.domain.vocabulary import DEPARTMENTS
from services.eventlog.kafka import KafkaEventLog
from services.eventlog.port import Position, Record
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import format_time
from tests.auth_helpers import ENV, authorize
from tests.integration.test_reporting_stream import Desk, append_all

EVERY = 97


@dataclass
class History:
    log: SqliteEventLog
    db: Database
    records: list[Record]
    travel: TimeTravel

    @property
    def times(self) -> list[str]:
        return [format_time(r.event.recorded_at) for r in self.records]


@pytest.fixture(scope="module")
def history(tmp_path_factory, mongo_url) -> Iterator[History]:
    client = MongoClient(mongo_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    db = client[name]
    desk = Desk(seed=5)
    desk.random_stream(demands=110, actions=420)
    path = tmp_path_factory.mktemp("asof") / "events.sqlite3"
    with SqliteEventLog(path, synchronous="OFF") as log:
        append_all(log, desk.events)
        projector = Projector(log, db)
        projector.models.ensure_indexes()
        projector.apply_batch(log.read({}, limit=100_000))
        snapshotter = Snapshotter(log, db, every=EVERY)
        snapshotter.store.ensure_indexes()
        assert snapshotter.catch_up() == len(desk.events) // EVERY
        yield History(log, db, list(log.scan()), TimeTravel(db, lambda: log, PROJECTION))
    client.drop_database(name)
    client.close()


def fold_prefix(records: list[Record]) -> dict[str, dict]:
    """The reference: the shared fold over a cut of the log, from nothing."""
    states: dict[str, Demand] = {}
    positions: dict[str, Position] = {}
    for r in records:
        state = apply(states.get(r.event.demand_id), r.event)
        if state is not None:
            states[r.event.demand_id], positions[r.event.demand_id] = state, r.position
    return {d: demand_doc(s, positions[d]) for d, s in states.items()}


def open_docs(front: Frontier) -> dict[str, dict]:
    return {d["_id"]: d for d in front.open_docs()}


def moment_cut(times: list[str], moment: str) -> int:
    return next((i for i, t in enumerate(times) if t > moment), len(times))


def test_the_history_is_long_and_tangled_enough(history) -> None:
    n = len(history.records)
    assert n > 8 * EVERY
    marks = list(history.db["asof_marks"].find().sort("offset", 1))
    assert [m["offset"] for m in marks] == list(range(EVERY, n + 1, EVERY))
    # Decisions carry their request's time, so times in the log are not in order.
    assert history.times != sorted(history.times)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_as_of_a_position_equals_a_fold_of_the_log_cut_there(history, data) -> None:
    k = data.draw(st.integers(0, len(history.records) - 1), label="last offset")
    answer = history.travel.frontier(AtPositions({0: k}))
    expected = fold_prefix(history.records[:k + 1])
    assert open_docs(answer.front) == {d: doc for d, doc in expected.items() if doc["open"]}
    assert answer.cut == {0: k + 1}
    assert answer.tail == k + 1 - answer.snapshots.get(0, 0) <= EVERY
    demand_id = data.draw(st.sampled_from(sorted({r.event.demand_id for r in history.records})))
    doc, _ = history.travel.demand(demand_id, AtPositions({0: k}))
    assert doc == expected.get(demand_id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_as_of_a_moment_cuts_before_the_first_event_recorded_later(history, data) -> None:
    times = history.times
    i = data.draw(st.integers(0, len(times) - 1))
    moment = data.draw(st.sampled_from([times[i], min(times[i:]), max(times[:i + 1])]))
    k = moment_cut(times, moment)
    answer = history.travel.frontier(AtMoment(moment, "gregorian"))
    expected = fold_prefix(history.records[:k])
    assert answer.cut == {0: k}
    assert open_docs(answer.front) == {d: doc for d, doc in expected.items() if doc["open"]}
    demand_id = data.draw(st.sampled_from(sorted({r.event.demand_id for r in history.records})))
    doc, _ = history.travel.demand(demand_id, AtMoment(moment, "gregorian"))
    assert doc == expected.get(demand_id)


def test_before_the_first_event_nothing_existed(history) -> None:
    answer = history.travel.frontier(AtMoment("2000-01-01T00:00:00.000Z", "gregorian"))
    assert answer.cut == {0: 0} and answer.front.docs == {}


@pytest.mark.parametrize("where", ["just_before_a_snapshot", "on_a_snapshot", "late"])
def test_queues_and_board_equal_a_real_replay_of_the_cut_log(history, tmp_path, mongo_db,
                                                             where) -> None:
    k = {"just_before_a_snapshot": 3 * EVERY - 2, "on_a_snapshot": 5 * EVERY - 1,
         "late": len(history.records) - 7}[where]
    with SqliteEventLog(tmp_path / "cut.sqlite3", synchronous="OFF") as cut_log:
        append_all(cut_log, [r.event for r in history.records[:k + 1]])
        replay(cut_log, mongo_db)
    fresh = ReadModels(mongo_db)
    answer = history.travel.frontier(AtPositions({0: k}))
    front = answer.front
    compared = 0
    for district in range(1, 23):
        for department in DEPARTMENTS:
            want = fresh.queue(district, department, 1000)
            got = [front.doc(d) for d in cut.queue(front, district, department)]
            assert got == want, f"{district}/{department}"
            compared += len(want)
    assert compared > 10
    assert [front.doc(d) for d in cut.board(front)] == fresh.escalations(None, None, 1000)
    assert [front.doc(d) for d in cut.board(front, 3, "headquarters")] == \
        fresh.escalations(3, "headquarters", 1000)


def test_snapshots_sit_at_fixed_offsets_and_rebuild_identically(history, mongo_db) -> None:
    store = SnapshotStore(history.db)
    mark = store.nearest(0, below=4 * EVERY)
    assert mark is not None and mark.offset == 4 * EVERY
    kept = store.load(mark)
    expected = fold_prefix(history.records[:4 * EVERY])
    assert {d["_id"]: d for d in kept} == {d: doc for d, doc in expected.items() if doc["open"]}
    assert mark.max_at == max(history.times[:4 * EVERY])
    # A new snapshotter after the snapshots are gone writes the same ones again.
    store.drop()
    Snapshotter(history.log, history.db, every=EVERY).catch_up()
    again = store.nearest(0, below=4 * EVERY)
    assert again == mark and store.load(again) == kept


def test_snapshots_wait_for_the_projector(tmp_path, mongo_db) -> None:
    desk = Desk(seed=9)
    desk.random_stream(demands=30, actions=60)
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as log:
        append_all(log, desk.events)
        projector = Projector(log, mongo_db)
        projector.apply_batch(log.read({}, limit=50))
        snapshotter = Snapshotter(log, mongo_db, every=20)
        assert snapshotter.catch_up() == 2  # at 20 and 40: the projector is at 50
        projector.apply_batch(log.read({0: 50}, limit=100_000))
        assert snapshotter.catch_up() == len(desk.events) // 20 - 2


# -- the API ------------------------------------------------------------------------------
@pytest.fixture
def client(history):
    app = create_app(config.load(ENV), log=history.log, db=history.db)
    app.testing = True
    return authorize(app.test_client(), "auditor")


def _busiest_queue(history) -> tuple[int, str, int]:
    """A queue and a position at which it holds several demands."""
    for k in range(len(history.records) // 2, len(history.records)):
        front = history.travel.frontier(AtPositions({0: k})).front
        for district in range(1, 23):
            for department in DEPARTMENTS:
                if len(cut.queue(front, district, department)) >= 3:
                    return district, department, k
    raise AssertionError("no queue with three demands")


def test_the_api_shows_a_queue_as_it_stood(client, history) -> None:
    district, department, k = _busiest_queue(history)
    r = client.get(f"/asof/queues/{district}/{department}", query_string={"at": f"0:{k}"})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    front = history.travel.frontier(AtPositions({0: k})).front
    assert [i["demand_id"] for i in body["items"]] == cut.queue(front, district, department)
    assert body["total"] == body["count"] >= 3
    assert body["as_of"]["kind"] == "position" and body["as_of"]["cut"] == {"0": k + 1}
    assert body["as_of"]["moment"] == front.max_at
    assert body["items"][0]["labels"]["department"]["en"]


def test_the_api_reads_jalali_and_gregorian_dates(client, history) -> None:
    moment = history.times[len(history.times) // 2]
    when = jalali(moment)  # '1403/12/11 10:00:00' in Tehran
    by_jalali = client.get("/asof/escalations", query_string={"at": when})
    assert by_jalali.status_code == 200, by_jalali.get_data(as_text=True)
    as_of = by_jalali.get_json()["as_of"]
    assert as_of["calendar"] == "jalali" and as_of["jalali"] == when
    assert as_of["moment"] == moment[:-5] + ".000Z"  # seconds precision
    gregorian = moment[:19] + "Z"
    by_gregorian = client.get("/asof/escalations", query_string={"at": gregorian})
    assert by_gregorian.get_json()["items"] == by_jalali.get_json()["items"]
    assert by_gregorian.get_json()["as_of"]["cut"] == as_of["cut"]


def test_the_api_shows_one_demand_as_it_stood(client, history) -> None:
    escalated = next(r for r in history.records if r.event.type == "DemandEscalated")
    demand_id = escalated.event.demand_id
    before = client.get(f"/asof/demands/{demand_id}",
                        query_string={"at": f"0:{escalated.offset - 1}"}).get_json()
    after = client.get(f"/asof/demands/{demand_id}",
                       query_string={"at": f"0:{escalated.offset}"}).get_json()
    assert len(after["escalations"]) == len(before["escalations"]) + 1
    assert after["position"] == f"0:{escalated.offset}"
    submitted = next(r for r in history.records if r.event.demand_id == demand_id)
    r = client.get(f"/asof/demands/{demand_id}",
                   query_string={"at": f"0:{submitted.offset - 1}"})
    assert r.status_code == 404 and "did not exist" in r.get_json()["message"]


@pytest.mark.parametrize("at, reason", [
    ("yesterday", "not a date or a position"),
    ("1403/13/01", "no such jalali date"),
    ("2025-02-30", "no such gregorian date"),
    ("0:99999999", "has no offset"),
    ("1:5", "no partition 1"),
    ("0:1,0:2", "given twice"),
    ("", "expected a date"),
])
def test_a_bad_at_is_a_422_naming_it(client, at, reason) -> None:
    r = client.get("/asof/queues/3/transport", query_string={"at": at})
    assert r.status_code == 422, r.get_data(as_text=True)
    body = r.get_json()
    assert reason in str(body["errors"]["query"]["at"])


def test_at_is_required_and_unknown_demands_are_404(client) -> None:
    r = client.get("/asof/escalations")
    assert r.status_code == 422 and "at" in r.get_json()["errors"]["query"]
    r = client.get("/asof/demands/01JNOTADEMANDATALL00000000", query_string={"at": "0:5"})
    assert r.status_code == 404 and r.is_json


def test_a_department_sees_only_its_own_queue_as_of(history) -> None:
    app = create_app(config.load(ENV), log=history.log, db=history.db)
    client = authorize(app.test_client(), "department_staff", 4, "transport")
    r = client.get("/asof/queues/3/transport", query_string={"at": "0:10"})
    assert r.status_code == 403 and r.get_json()["errors"]["path"]["district"]
    assert client.get("/asof/queues/4/transport", query_string={"at": "0:10"}).status_code == 200


def test_the_openapi_document_lists_time_travel(client) -> None:
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in ("/asof/demands/{demand_id}", "/asof/queues/{district}/{department}",
                 "/asof/escalations", "/audit/seal"):
        assert "get" in paths[path], path
    params = {p["name"] for p in paths["/asof/escalations"]["get"]["parameters"]}
    assert {"at", "district", "level", "limit"} <= params




def test_a_cut_across_kafka_partitions(noida_bootstrap, unique_name, mongo_db) -> None:
    """Each partition is cut on its own; snapshots and tails are per partition."""
    desk = Desk(seed=13)
    desk.random_stream(demands=45, actions=150)
    log = KafkaEventLog(noida_bootstrap, unique_name, partitions=3, timeout=10)
    try:
        append_all(log, desk.events, chunk=200)
        records = list(log.scan())
        Projector(log, mongo_db).apply_batch(records)
        assert Snapshotter(log, mongo_db, every=40).catch_up() >= 3
        travel = TimeTravel(mongo_db, lambda: log, PROJECTION)
        by_partition = {p: [r for r in records if r.partition == p] for p in range(3)}
        rng = random.Random(3)
        for _ in range(4):
            last = {p: rng.randrange(len(rs)) for p, rs in by_partition.items()}
            answer = travel.frontier(AtPositions(last))
            kept = [r for r in records if r.offset <= last[r.partition]]
            expected = fold_prefix(kept)
            assert open_docs(answer.front) == {d: x for d, x in expected.items() if x["open"]}
            assert answer.cut == {p: o + 1 for p, o in last.items()}
        times = sorted(format_time(r.event.recorded_at) for r in records)
        moment = times[len(times) // 2]
        answer = travel.frontier(AtMoment(moment, "gregorian"))
        kept = []
        for rs in by_partition.values():
            stamps = [format_time(r.event.recorded_at) for r in rs]
            kept += rs[:moment_cut(stamps, moment)]
        expected = fold_prefix(sorted(kept, key=lambda r: (r.partition, r.offset)))
        assert open_docs(answer.front) == {d: x for d, x in expected.items() if x["open"]}
        with pytest.raises(OutOfRange, match="every partition"):
            travel.frontier(AtPositions({0: 1}))
    finally:
        log.close()
