"""What one demand adds to headquarters' tallies, and the figures read back from them."""

from __future__ import annotations

import math
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from reporting import tallies
from services.domain.demand import Demand


def demand(**fields) -> Demand:
    base = dict(demand_id="A", submitted_event_id="s", submitted_at="2025-03-01T08:00:00.000Z",
                requester={"kind": "citizen"}, channel="web", district=21, neighbourhood="n",
                category="transport", title="t", description="d", priority="normal",
                status="routed", department="transport", deadline="2025-03-05T08:00:00.000Z")
    return Demand(**{**base, **fields})


def test_a_demand_escalated_for_a_deadline_then_resolved_counts_as_a_miss_at_its_rung():
    s = demand(status="resolved", level="district_mayor", resolved_at="2025-03-03T08:00:00.000Z",
               closed_at="2025-03-03T08:00:00.000Z",
               resolution_time={"at": "2025-03-03T08:00:00.000Z", "working_hours": 48.0,
                                "waited_working_hours": 0.0},
               escalations=[{"from": "department", "to": "district_mayor", "reason": "x",
                             "at": "2025-03-02T08:00:00.000Z", "trigger": "deadline"}])
    bag = tallies.contribution(s)
    assert bag["21|transport|sla|missed"] == 1
    assert bag["21|transport|missed_at|department"] == 1
    assert "21|transport|sla|met" not in bag
    assert bag["21|*|fair|citizen|to_resolution|2880"] == 1  # 48 h: the band to 48


def test_merged_duplicates_are_outside_sla_and_fairness_and_withdrawn_outside_sla():
    merged = tallies.contribution(demand(status="merged", closed_at="2025-03-02T08:00:00.000Z"))
    assert not any("|sla|" in k or "|fair|" in k for k in merged)
    withdrawn = tallies.contribution(demand(status="withdrawn"))
    assert not any("|sla|" in k for k in withdrawn)
    assert withdrawn["21|*|fair|citizen|withdrawn"] == 1


def test_waiting_and_rejected_are_their_own_outcomes():
    assert tallies.sla_outcome(demand(waiting={"since": "x"})) == "waiting"
    rejected = demand(status="rejected", closed_at="2025-03-02T08:00:00.000Z")
    assert tallies.sla_outcome(rejected) == "rejected"
    assert tallies.sla_outcome(demand(status="rejected",
                                      closed_at="2025-03-09T08:00:00.000Z")) == "late"


def test_weeks_are_tehran_weeks_starting_saturday():
    # Friday 23:59 Tehran is still the old week; Saturday 00:00 Tehran the new one.
    assert tallies.week_of("2025-03-14T20:29:00.000Z") == "2025-03-08"
    assert tallies.week_of("2025-03-14T20:30:00.000Z") == "2025-03-15"


def test_a_quantile_is_the_upper_end_of_its_band():
    buckets = Counter({tallies.hour_bucket(h): 1 for h in (1, 5, 30)})
    assert tallies.quantile(buckets, 0.5) == 6
    assert tallies.quantile(buckets, 0.9) == 36
    assert tallies.quantile(Counter(), 0.5) is None
    assert tallies.quantile(Counter({tallies.hour_bucket(5000): 1}), 0.5) == float("inf")


@given(st.lists(st.floats(min_value=0, max_value=3000), min_size=1, max_size=60),
       st.sampled_from([0.5, 0.9]))
def test_a_band_quantile_never_flatters(hours, q):
    """The reported figure is at least the true quantile and at most one band above it."""
    buckets = Counter(tallies.hour_bucket(h) for h in hours)
    got = tallies.quantile(buckets, q)
    ordered = sorted(hours)
    true = ordered[math.ceil(q * len(ordered)) - 1]
    assert got >= true
    edges = (*tallies.HOUR_EDGES, float("inf"))
    assert got == next(e for e in edges if e >= true)


@given(st.lists(st.dictionaries(st.sampled_from("abcde"), st.integers(-3, 3)), max_size=8))
def test_adding_differences_gives_the_sum_with_no_zero_keys(deltas):
    total: dict[str, int] = {}
    for d in deltas:
        tallies.add(total, d)
    expected = Counter()
    for d in deltas:
        expected.update(d)
    assert total == {k: n for k, n in expected.items() if n}


def test_a_difference_keeps_what_was_taken_away():
    after, before = Counter({"a": 1, "b": 2}), Counter({"b": 2, "c": 1})
    assert tallies.difference(after, before) == Counter({"a": 1, "c": -1})


def test_a_scope_reads_only_its_district_and_department():
    counts = {"21|transport|sla|met": 2, "21|social|sla|met": 1, "5|transport|sla|met": 4}
    assert tallies.Scoped(counts, {"district": 21})["sla"] == Counter(
        {("21", "met"): 3})
    assert tallies.Scoped(counts, {"district": 21, "department": "social"})["sla"] == \
        Counter({("21", "met"): 1})


def test_overdue_at_a_moment_is_summed_from_when_open_demands_fall_due():
    from datetime import UTC, datetime
    counts: dict[str, int] = {}
    tallies.add(counts, tallies.contribution(demand()))  # due 2025-03-05 08:00
    tallies.add(counts, tallies.contribution(demand(demand_id="B", status="resolved",
                                                    closed_at="2025-03-02T08:00:00.000Z")))
    before = datetime(2025, 3, 5, 7, 59, tzinfo=UTC)
    after = datetime(2025, 3, 5, 8, 1, tzinfo=UTC)
    assert tallies.overdue_rows(tallies.Scoped(counts), before) == []
    assert tallies.overdue_rows(tallies.Scoped(counts), after) == [
        {"district": 21, "level": "department", "level_index": 0, "kind": "citizen",
         "sla": "open"}]
    assert tallies.overdue_rows(tallies.Scoped(counts, {"district": 5}), after) == []


def test_a_queue_falls_due_from_its_departments_open_deadlines_only():
    counts = {"9|transport|due|department|citizen|open|3000": 2,
              "9|transport|due|department|trustee|missed|1000": 1,
              "9|transport|due|district_mayor|citizen|open|500": 4,  # escalated: not queued
              "9|social|due|department|citizen|open|100": 5,
              "19|transport|due|department|citizen|open|200": 5,
              "9|transport|due|department|citizen|open|2000": 0,
              "9|transport|sla|open": 3}
    dues = tallies.queue_dues(counts, 9, "transport")
    assert dues == [(1000, 1), (3000, 2)]
    assert [tallies.deadline_bound(dues, n) for n in (1, 2, 3, 9)] == [1000, 3000, 3000, 3000]
    assert tallies.deadline_bound([], 5) is None


def test_a_queues_demands_due_together_are_counted_by_the_second_their_id_was_made():
    """Ids are ULIDs: their first characters are when they were made, and a queue orders
    demands due together by id."""
    first, later = "01JQ0AAA" + "0" * 18, "01JQ0AAB" + "Z" * 18
    counts: dict[str, int] = {}
    for demand_id in (first, first[:-1] + "1", later):
        tallies.add(counts, tallies.contribution(demand(demand_id=demand_id)))
    tallies.add(counts, tallies.contribution(demand(demand_id="01JQ0AAC" + "0" * 18,
                                                    level="district_mayor")))
    [(due, queued)] = tallies.queue_dues(counts, 21, "transport")
    assert queued == 3
    heads = tallies.queue_heads(counts, 21, "transport", due)
    assert heads == [("01JQ0AAA", 2), ("01JQ0AAB", 1)]  # not the escalated one
    assert tallies.queue_heads(counts, 21, "transport", due + 1) == []
    above = tallies.id_bound(heads, 2)
    assert above is not None and first < first[:-1] + "1" < above < later
    assert tallies.id_bound(heads, 3) is None  # every second is needed: no bound
    assert tallies.id_bound([], 1) is None
