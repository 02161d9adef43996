"""Headquarters' figures on a real SecantusDB, against counts worked out by hand.

Twelve demands (A-L) in the read model's own shape (`demand_doc` of a `Demand`), their tallies
summed from the stored documents (the way read models from before tallies are upgraded),
judged at Thursday 2025-03-20 12:00 UTC. Tehran weeks start on Saturdays: 2025-03-01, 03-08
and 03-15, i.e. 02-28T20:30Z, 03-07T20:30Z and 03-14T20:30Z; the week after starts 03-21T20:30Z.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reporting import dashboards, tallies
from reporting.readmodels import DEMANDS, ReadModels, demand_doc
from reporting.tally_store import TALLIES, TallyStore
from services.domain.demand import Demand
from services.eventlog.port import Position
from services.events.envelope import parse_time

MOMENT = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


def t(day: str, hour: str = "08:00") -> str:
    return f"2025-{day}T{hour}:00.000Z"


def doc(n: int, demand_id: str, *, district: int, kind: str, channel: str, category: str,
        status: str, submitted: str, deadline: str, level: str = "department",
        escalations: tuple[tuple[str, str, str], ...] = (), closed: str | None = None):
    state = Demand(
        demand_id=demand_id, submitted_event_id=f"{demand_id}-s", submitted_at=submitted,
        requester={"kind": kind}, channel=channel, district=district, neighbourhood="محله",
        category=category, title=f"درخواست {demand_id}", description="شرح", priority="normal",
        status=status, level=level, department="urban_planning",
        queue=f"{district}/urban_planning", deadline=deadline, routed_at=submitted,
        escalations=[{"from": f, "to": to, "reason": "beyond_budget", "note": None, "at": at}
                     for f, to, at in escalations])
    if status in ("resolved", "rejected", "withdrawn"):
        state.closed_at = closed
    if status in ("resolved", "rejected"):  # as if every hour were a working hour
        hours = (parse_time(closed) - parse_time(submitted)).total_seconds() / 3600
        state.first_response = {"at": closed, "working_hours": hours,
                                "waited_working_hours": 0.0}
    if status == "resolved":
        state.resolved_at = closed
        state.resolution_time = dict(state.first_response)
    return demand_doc(state, Position(0, n))


DEMANDS_BY_HAND = [
    # district 21: a Monday meeting's urban planning, a staff-supervision macro challenge
    dict(demand_id="A", district=21, kind="citizen", channel="monday_public_meeting",
         category="urban_planning", status="resolved", submitted=t("03-01"),
         deadline=t("03-11"), closed=t("03-03")),                         # met, 48 h
    dict(demand_id="B", district=21, kind="citizen", channel="monday_public_meeting",
         category="urban_planning", status="resolved", submitted=t("03-02"),
         deadline=t("03-05"), closed=t("03-08")),                         # late, 144 h
    dict(demand_id="C", district=21, kind="citizen", channel="monday_public_meeting",
         category="transport", status="routed", submitted=t("03-10"),
         deadline=t("03-15")),                                            # open, overdue
    dict(demand_id="D", district=21, kind="prayer_leader", channel="staff_supervision",
         category="urban_planning", status="routed", submitted=t("03-04"),
         deadline=t("03-17"), level="headquarters",
         escalations=(("department", "district_mayor", t("03-05")),
                      ("district_mayor", "headquarters", t("03-12")))),  # open, overdue
    dict(demand_id="J", district=21, kind="citizen", channel="monday_public_meeting",
         category="urban_planning", status="resolved", submitted=t("03-14", "20:00"),
         deadline=t("03-24"), closed=t("03-15", "02:00")),                # met, 6 h
    # district 17: the Tuesday stakeholder meetings
    dict(demand_id="E", district=17, kind="investor", channel="stakeholder_meeting",
         category="civil_works", status="routed", submitted=t("03-15", "10:00"),
         deadline=t("03-25"), level="headquarters",
         escalations=(("department", "district_mayor", t("03-16", "10:00")),
                      ("district_mayor", "headquarters", t("03-18", "10:00")))),  # pending
    dict(demand_id="F", district=17, kind="investor", channel="stakeholder_meeting",
         category="urban_planning", status="resolved", submitted=t("03-16"),
         deadline=t("03-20"), level="district_mayor",
         escalations=(("department", "district_mayor", t("03-17")),),
         closed=t("03-18")),                                              # met, 48 h
    dict(demand_id="G", district=17, kind="citizen", channel="line_137",
         category="urban_services", status="withdrawn", submitted=t("03-09"),
         deadline=t("03-12"), closed=t("03-11")),                         # not counted
    dict(demand_id="H", district=17, kind="citizen", channel="web",
         category="green_space", status="rejected", submitted=t("03-13"),
         deadline=t("03-14"), closed=t("03-15")),                         # late
    # elsewhere
    dict(demand_id="I", district=5, kind="guild", channel="stakeholder_meeting",
         category="social", status="routed", submitted=t("03-19"),
         deadline=t("03-30")),                                            # pending
    dict(demand_id="K", district=5, kind="citizen", channel="line_137",
         category="civil_works", status="routed", submitted=t("03-06"),
         deadline=t("03-13"), level="district_mayor",
         escalations=(("department", "district_mayor", t("03-10")),)),   # open, overdue
    dict(demand_id="L", district=12, kind="charity", channel="web", category="other",
         status="resolved", submitted=t("02-18"), deadline=t("02-25"),
         closed=t("02-19")),                                              # met, 24 h
]


def stored(mongo_db, docs):
    """The demands stored and their tallies summed from them."""
    collection = mongo_db[DEMANDS]
    collection.insert_many(docs)
    TallyStore(mongo_db[TALLIES]).build_missing(collection, {}, [0])
    return collection


def figures(db, scope=None) -> dashboards.Figures:
    return dashboards.gather(ReadModels(db), scope, MOMENT)


@pytest.fixture
def demands(mongo_db):
    return stored(mongo_db, [doc(n, **d) for n, d in enumerate(DEMANDS_BY_HAND)])


def test_the_board_puts_overdue_first_then_the_highest_rung(demands) -> None:
    rows = dashboards.board(demands, MOMENT)
    assert [r["demand_id"] for r in rows] == ["D", "K", "E"]
    assert [r["overdue"] for r in rows] == [True, True, False]
    d = rows[0]
    assert (d["level"], d["district"], d["reason"]) == ("headquarters", 21, "beyond_budget")
    assert d["escalated_at"] == t("03-12")
    assert d["age_hours"] == pytest.approx(16 * 24 + 4)  # 03-04 08:00 -> 03-20 12:00
    assert d["waiting_hours"] == pytest.approx(8 * 24 + 4)  # since 03-12 08:00
    assert dashboards.board(demands, MOMENT, limit=1)[0]["demand_id"] == "D"


def test_the_board_matrix_counts_open_and_overdue_per_rung_and_district(demands) -> None:
    assert figures(demands.database).board_matrix() == [
        {"level": "headquarters", "district": 17, "open": 1, "overdue": 0},
        {"level": "headquarters", "district": 21, "open": 1, "overdue": 1},
        {"level": "district_mayor", "district": 5, "open": 1, "overdue": 1},
    ]


def test_weeks_start_on_saturday_in_tehran() -> None:
    starts = tallies.week_starts(MOMENT, 3)
    assert [s.isoformat() for s in starts] == [
        "2025-02-28T20:30:00+00:00", "2025-03-07T20:30:00+00:00",
        "2025-03-14T20:30:00+00:00", "2025-03-21T20:30:00+00:00"]
    # Saturday 00:10 in Tehran is already the new week.
    saturday = datetime(2025, 3, 14, 20, 40, tzinfo=UTC)
    assert tallies.week_starts(saturday, 1)[0] == datetime(2025, 3, 14, 20, 30, tzinfo=UTC)


def test_weekly_trend_counts_every_rung_climbed_and_every_standing_resolution(demands) -> None:
    rows = figures(demands.database).weekly_trend(weeks=3)
    assert [(r["escalations"], r["resolutions"]) for r in rows] == [(1, 1), (2, 1), (3, 2)]
    assert rows[0]["week_start"] == datetime(2025, 2, 28, 20, 30, tzinfo=UTC)
    # L (resolved in February) falls before the first week and is not counted anywhere.
    assert sum(r["resolutions"] for r in figures(demands.database).weekly_trend(1)) == 2


def test_sla_counts_an_open_overdue_demand_as_missed(demands) -> None:
    rows = {r["district"]: r for r in figures(demands.database).sla_by_district()}
    assert sorted(rows) == [5, 12, 17, 21]
    none = {"missed": 0, "rejected": 0, "waiting": 0, "merged": 0}
    assert rows[21] == {"district": 21, "met": 2, "late": 1, "overdue": 2, "pending": 0,
                        "due": 5, "rate": pytest.approx(0.4), "withdrawn": 0, **none}
    assert rows[17] == {"district": 17, "met": 1, "late": 1, "overdue": 0, "pending": 1,
                        "due": 2, "rate": pytest.approx(0.5), "withdrawn": 1,
                        **none}  # G withdrawn, counted apart; H late
    assert (rows[5]["overdue"], rows[5]["pending"], rows[5]["rate"]) == (1, 1, 0.0)
    assert rows[12]["rate"] == 1.0


def test_sla_of_a_district_with_nothing_due_yet_is_unknown_not_perfect(mongo_db) -> None:
    stored(mongo_db, [doc(0, "Z", district=9, kind="citizen", channel="web",
                          category="other", status="routed", submitted=t("03-19"),
                          deadline=t("03-30"))])
    (row,) = figures(mongo_db).sla_by_district()
    assert (row["due"], row["pending"], row["rate"]) == (0, 1, None)


def test_a_missed_deadline_stays_missed_and_no_closing_flatters_the_rate(mongo_db) -> None:
    """Escalated for a passed deadline and then resolved in time by the mayor: a miss. A
    rejection in time is not a success; a merged duplicate is not overdue; a demand waiting on
    its requester is counted as waiting, not hidden."""
    common = dict(district=9, kind="citizen", channel="web", category="other",
                  submitted=t("03-10"), deadline=t("03-19"))
    saved = doc(0, "M", status="resolved", closed=t("03-12"), level="district_mayor",
                escalations=(("department", "district_mayor", t("03-11")),), **common)
    saved["escalations"][0]["trigger"] = "deadline"
    top = doc(1, "T", status="routed", level="central_management", **common)
    top["warnings"] = [{"level": "central_management", "kind": "acknowledge", "stage": "missed",
                        "deadline": t("03-11")}]
    waiting = doc(2, "W", status="routed", **{**common, "deadline": None})
    waiting["waiting"] = {"question": "نشانی؟", "since": t("03-11"), "until": t("03-25")}
    docs = [saved, top, waiting,
            doc(3, "R", status="rejected", closed=t("03-12"), **common),
            doc(4, "D", status="merged", closed=t("03-12"), **{**common, "deadline": t("03-11")}),
            doc(5, "A", status="resolved", closed=t("03-12"), **common)]
    stored(mongo_db, docs)
    (row,) = figures(mongo_db).sla_by_district()
    assert row == {"district": 9, "met": 1, "late": 0, "missed": 2, "rejected": 1,
                   "overdue": 0, "waiting": 1, "pending": 0, "due": 3,
                   "rate": pytest.approx(1 / 3), "withdrawn": 0, "merged": 1}


def test_category_mix_per_channel(demands) -> None:
    rows = figures(demands.database).category_mix()
    assert [r["channel"] for r in rows] == [
        "staff_supervision", "stakeholder_meeting", "monday_public_meeting", "line_137", "web"]
    monday = rows[2]
    assert monday["total"] == 4
    assert monday["counts"] == {"urban_planning": 3, "transport": 1}
    assert monday["shares"]["urban_planning"] == pytest.approx(0.75)
    assert list(rows[1]["counts"]) == ["urban_planning", "social", "civil_works"]


def test_outcomes_by_requester_kind(demands) -> None:
    rows = figures(demands.database).outcomes_by_requester()
    assert [r["kind"] for r in rows] == ["citizen", "prayer_leader", "investor", "guild",
                                         "charity"]
    by = {r["kind"]: r for r in rows}
    citizen = by["citizen"]  # A, B, C, G, H, J, K
    assert (citizen["demands"], citizen["resolved"], citizen["escalated"],
            citizen["overdue"]) == (7, 3, 1, 2)
    # Of 6, 48 and 144 hours: bands up to 6, 48 and 168 hours; the median is in the second.
    assert citizen["median_hours"] == 48
    assert citizen["to_resolution_p90_hours"] == 168  # at most: 144 h is in the band to 168
    assert citizen["escalated_rate"] == pytest.approx(1 / 7)
    assert (citizen["withdrawn"], citizen["withdrawn_rate"]) == (1, pytest.approx(1 / 7))
    assert (citizen["rejected"], citizen["rejected_rate"]) == (1, pytest.approx(1 / 7))
    leader = by["prayer_leader"]
    assert {k: leader[k] for k in ("demands", "resolved", "median_hours", "escalated",
                                   "escalated_rate", "overdue")} == {
        "demands": 1, "resolved": 0, "median_hours": None, "escalated": 1,
        "escalated_rate": 1.0, "overdue": 1}
    assert (by["investor"]["median_hours"], by["investor"]["escalated_rate"]) == (48, 1.0)
    assert by["charity"]["median_hours"] == 24


def test_a_scope_limits_every_view_to_its_district(demands) -> None:
    scope = {"district": 17}
    assert [r["demand_id"] for r in dashboards.board(demands, MOMENT, scope)] == ["E"]
    mine = figures(demands.database, scope)
    assert [r["district"] for r in mine.board_matrix()] == [17]
    assert [r["district"] for r in mine.sla_by_district()] == [17]
    trend = mine.weekly_trend(3)
    assert [(r["escalations"], r["resolutions"]) for r in trend] == [(0, 0), (0, 0), (3, 1)]
    assert sum(r["total"] for r in mine.category_mix()) == 4
    assert [r["kind"] for r in mine.outcomes_by_requester()] == [
        "citizen", "investor"]
