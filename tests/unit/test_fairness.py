"""A group's figure is flagged only when it differs from citizens' beyond chance."""

from __future__ import annotations

from collections import Counter

from reporting.fairness import flag_differences


def row(kind: str, demands: int, rejected: int) -> dict:
    return {"kind": kind, "demands": demands, "rejected": rejected, "withdrawn": 0,
            "deadline_escalated": 0, "reopened": 0}


def test_a_large_difference_on_many_demands_is_flagged_and_a_small_sample_is_not():
    rows = [row("citizen", 400, 40), row("investor", 400, 120), row("guild", 4, 1)]
    flag_differences(rows, {})
    assert rows[0]["differs"] == {}
    assert set(rows[1]["differs"]) == {"rejected_rate"}  # 10% against 30% of 400: not chance
    assert rows[1]["differs"]["rejected_rate"] < 1e-6
    assert rows[2]["differs"] == {}  # 1 of 4 against 10%: four demands explain it


def test_durations_are_compared_band_by_band():
    slow, quick = Counter({"1440": 200, "2880": 100}), Counter({"60": 250, "120": 50})
    rows = [row("citizen", 300, 0), row("charity", 300, 0), row("guild", 300, 0)]
    flag_differences(rows, {("citizen", "to_resolution"): slow,
                            ("charity", "to_resolution"): quick,
                            ("guild", "to_resolution"): Counter(slow)})
    assert set(rows[1]["differs"]) == {"to_resolution_hours"}
    assert rows[2]["differs"] == {}  # the same bands as citizens'
