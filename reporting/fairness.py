"""Whether a group of requesters fares differently from citizens by more than chance explains.

Each community group's figures are compared with citizens': a rate (rejected, withdrawn,
escalated for a passed deadline, reopened) by Fisher's exact test on the 2×2 table of counts;
the working hours to first response and to resolution by the Mann–Whitney U test on the
bands the durations were counted in (ordinal data with ties). Both from SciPy. A difference
is flagged when the two-sided p-value is below 0.05; with few demands on either side nothing
is flagged, however different the figures look.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from reporting.tallies import BUCKETS, OVER

SIGNIFICANCE = 0.05
BASELINE = "citizen"
RATES = ("rejected", "withdrawn", "deadline_escalated", "reopened")
DURATIONS = ("to_response", "to_resolution")
_ORDER = {name: i for i, name in enumerate((*BUCKETS, OVER))}


def flag_differences(rows: list[dict[str, Any]],
                     hours: Mapping[tuple[str, str], Counter[str]]) -> None:
    """Add `differs` to each row: the figures (`rejected_rate`, `to_resolution_hours`, …)
    that differ from citizens' beyond chance, with their p-values."""
    import numpy as np
    from scipy.stats import fisher_exact, mannwhitneyu

    for row in rows:
        row["differs"] = {}
    base = next((r for r in rows if r["kind"] == BASELINE), None)
    if base is None:
        return
    for row in rows:
        if row is base:
            continue
        for name in RATES:
            table = [[row[name], row["demands"] - row[name]],
                     [base[name], base["demands"] - base[name]]]
            p = float(fisher_exact(table).pvalue)
            if p < SIGNIFICANCE:
                row["differs"][f"{name}_rate"] = p
        for name in DURATIONS:
            mine, theirs = hours.get((row["kind"], name)), hours.get((BASELINE, name))
            if not mine or not theirs:
                continue
            a = np.repeat([_ORDER[b] for b in mine], list(mine.values()))
            b = np.repeat([_ORDER[b] for b in theirs], list(theirs.values()))
            if len(set(a) | set(b)) < 2:
                continue  # every duration in one band: nothing to compare
            p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
            if p < SIGNIFICANCE:
                row["differs"][f"{name}_hours"] = p
