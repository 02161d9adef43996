"""A demand's priority score for the district's annual plan («من شهردارم»).

    score = BASE[priority] + K * log2(1 + supporters)

rounded to three decimals. The base keeps an urgent demand ahead of a normal one until a normal
one gathers enough supporters (with K = 2, three supporters outweigh one step of priority);
the logarithm keeps a campaign of many supporters from burying everything else. Pure and
deterministic: routing writes the score into each SupportRecorded, reporting ranks by it.
"""

from __future__ import annotations

import math

BASE: dict[str, float] = {"low": 1.0, "normal": 2.0, "high": 3.0, "urgent": 4.0}
K = 2.0


def score(priority: str, supporters: int) -> float:
    if supporters < 0:
        raise ValueError("supporters cannot be negative")
    return round(BASE[priority] + K * math.log2(1 + supporters), 3)
