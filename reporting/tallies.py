"""Headquarters' figures as tallies: what each demand adds to them, and the figures they give.

A demand's *contribution* is a small bag of counter keys worked out from its folded state
alone (never from a clock): its channel and category, what became of its deadlines, the rungs
it climbed and the weeks it climbed them in, its requester kind's outcomes. The projector
keeps, per partition of the log, the sum of its demands' contributions (`reporting/
tally_store.py`); when an event moves a demand it adds the difference between the demand's
contribution after and before. So a page reads a few small documents whatever the size of
the city's history, and a replay sums the same contributions to the same tallies.

Keys are `district|department|figure|…` (department `-` before routing), so a scope (a
district, a department) is a filter on keys. Trends and fairness are kept per district only
(department `*`): a single department's staff are not shown them. "Overdue" depends on the
moment: each open demand adds when it falls due, and the demands overdue at a moment are the
sum of those due before it (`overdue_rows`). docs/metrics.md defines every figure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from services.domain.calendar import to_ms
from services.domain.demand import Demand
from services.domain.vocabulary import CATEGORIES, CHANNELS, LEVEL_CODES, REQUESTER_KINDS
from services.domain.when import TEHRAN
from services.events.envelope import parse_time

SATURDAY = 5  # datetime.weekday(): the Iranian week starts on Saturday
# Upper edges (hours) of the buckets durations are counted in; a quantile is reported as the
# upper edge of the bucket it falls in ("at most"), so it never flatters. Buckets are named by
# their edge in minutes (a key holds no dot: MongoDB would read one as a path).
HOUR_EDGES = (0.5, 1, 2, 3, 4, 6, 8, 12, 16, 24, 36, 48, 72, 96, 120, 168, 240, 336, 504,
              720, 1080, 1440)
BUCKETS = tuple(str(round(e * 60)) for e in HOUR_EDGES)
OVER = "over"  # the bucket above the last edge
DISTRICT_WIDE = "*"  # the department part of the keys of figures kept per district only
# A demand id (a ULID) starts with when it was made: its first 8 characters to about a second
# (1.024 s). Every id that starts so sorts below that start followed by ID_ABOVE.
ID_SECOND = 8
ID_ABOVE = "~"
APART = ("withdrawn", "merged")  # closed by the requester or into another: counted apart
SLA_OUTCOMES = ("met", "late", "missed", "rejected", "waiting", "open")
FAIRNESS_COUNTS = ("demands", "resolved", "rejected", "withdrawn", "escalated",
                   "deadline_escalated", "reopened", "responded", "waited")

Tallies = Mapping[str, int]
Scope = Mapping[str, Any] | None


# -- what one demand adds -------------------------------------------------------------------
def week_of(at: str) -> str:
    """The start of the Tehran week (Saturday 00:00 local) `at` falls in, as an ISO date."""
    local = parse_time(at).astimezone(TEHRAN)
    return (local.date() - timedelta(days=(local.weekday() - SATURDAY) % 7)).isoformat()


def missed(s: Demand) -> bool:
    """A deadline passed at some rung: the clock escalated it, or recorded the miss at the
    top. A later resolution does not undo it."""
    return (any(e.get("trigger") == "deadline" for e in s.escalations)
            or any(w.get("stage") == "missed" for w in s.warnings))


def sla_outcome(s: Demand) -> str | None:
    """What became of a routed demand's deadlines, without "now": `open` is either pending or
    overdue, which only the stream's time tells (docs/metrics.md). None: not counted
    (withdrawn, merged, never routed)."""
    if s.status in ("withdrawn", "merged", "submitted"):
        return None
    if missed(s):
        return "missed"
    by_deadline = s.closed_at is not None and s.deadline is not None and s.closed_at <= s.deadline
    if s.status == "resolved":
        return "met" if by_deadline else "late"
    if s.status == "rejected":
        return "rejected" if by_deadline else "late"
    if s.waiting is not None:
        return "waiting"
    if not s.is_open:
        return None  # closed otherwise (no response): not a deadline kept or missed
    return "open"


def hour_bucket(hours: float) -> str:
    i = bisect_left(HOUR_EDGES, hours)
    return OVER if i == len(HOUR_EDGES) else BUCKETS[i]


def contribution(s: Demand | None) -> Counter[str]:
    """The counter keys one demand adds to the tallies, as it stands."""
    out: Counter[str] = Counter()
    if s is None:
        return out
    base = f"{s.district}|{s.department or '-'}"
    whole = f"{s.district}|{DISTRICT_WIDE}"  # figures of the district, not of a department
    kind = s.requester.get("kind", "unknown")
    out[f"{base}|mix|{s.channel}|{s.category}"] += 1
    outcome = sla_outcome(s)
    if outcome is not None:
        out[f"{base}|sla|{outcome}"] += 1
    elif s.status in APART:
        out[f"{base}|apart|{s.status}"] += 1
    if s.is_open and s.level_index > 0:
        out[f"{base}|escalated|{s.level}"] += 1
    if s.is_open and s.deadline is not None:
        # When it falls due: "overdue" at any moment is a sum over these.
        due = to_ms(parse_time(s.deadline))
        out[f"{base}|due|{s.level}|{kind}|{overdue_outcome(s)}|{due}"] += 1
        if s.level_index == 0:  # in its department's queue: where it stands among those due
            out[f"{base}|head|{due}|{s.demand_id[:ID_SECOND]}"] += 1
    for e in s.escalations:
        out[f"{whole}|climbed|{week_of(e['at'])}"] += 1
        if e.get("trigger") == "deadline":
            out[f"{base}|missed_at|{e['from']}"] += 1
    for w in s.warnings:
        if w.get("stage") == "missed":
            out[f"{base}|missed_at|{w['level']}"] += 1
    for a in s.answers:
        out[f"{base}|answered|{a['level']}|{a['kind']}|{'kept' if a['kept'] else 'late'}"] += 1
    for t in s.transfers:
        out[f"{base}|transfer|{t['reason']}"] += 1
    if s.status == "resolved" and s.resolved_at:
        out[f"{whole}|resolved|{week_of(s.resolved_at)}"] += 1
    if s.status != "merged":
        _fairness(s, f"{whole}|fair|{kind}", out)
    return out


def overdue_outcome(s: Demand) -> str:
    """An open demand's deadline outcome, as the overdue figures count it."""
    return "missed" if missed(s) else "waiting" if s.waiting is not None else "open"


def _fairness(s: Demand, key: str, out: Counter[str]) -> None:
    out[f"{key}|demands"] += 1
    for name, counted in (("resolved", s.status == "resolved"),
                          ("rejected", s.status == "rejected"),
                          ("withdrawn", s.status == "withdrawn"),
                          ("escalated", bool(s.escalations)),
                          ("deadline_escalated", missed(s)),
                          ("reopened", s.reopened > 0)):
        if counted:
            out[f"{key}|{name}"] += 1
    if s.waited or s.waiting is not None:
        out[f"{key}|waited"] += 1
    first = s.first_response
    if first is not None:
        out[f"{key}|responded"] += 1
        if "working_hours" in first:  # measured by routing (decisions since it measures)
            out[f"{key}|to_response|{hour_bucket(first['working_hours'])}"] += 1
    took = s.resolution_time
    if s.status == "resolved" and took is not None and "working_hours" in took:
        out[f"{key}|to_resolution|{hour_bucket(took['working_hours'])}"] += 1


def difference(after: Counter[str], before: Counter[str]) -> Counter[str]:
    """after - before, keeping negative counts (Counter's `-` drops them)."""
    out = Counter(after)
    for key, n in before.items():
        out[key] -= n
    return Counter({k: n for k, n in out.items() if n})


def add(tallies: dict[str, int], delta: Mapping[str, int]) -> dict[str, int]:
    """Add `delta` into `tallies` in place, dropping keys that reach zero; returns the keys
    changed with their new counts (0: removed)."""
    changed = {}
    for key, n in delta.items():
        value = tallies.get(key, 0) + n
        if value:
            tallies[key] = value
        else:
            tallies.pop(key, None)
        changed[key] = value
    return changed


# -- the figures ----------------------------------------------------------------------------
def in_scope(tallies: Tallies, scope: Scope) -> Iterable[tuple[list[str], int]]:
    """(key parts after district and department, count) for the keys `scope` may see."""
    district = (scope or {}).get("district")
    department = (scope or {}).get("department")
    for key, n in tallies.items():
        d, dep, *rest = key.split("|")
        if district is not None and int(d) != district:
            continue
        if department is not None and dep != department:
            continue
        yield [d, *rest], n


class Scoped:
    """The tallies a scope may see, grouped by figure once: each figure is a count by the rest
    of its key (district first)."""

    def __init__(self, tallies: Tallies, scope: Scope = None) -> None:
        self.figures: dict[str, Counter[tuple[str, ...]]] = {}
        for (d, figure, *rest), n in in_scope(tallies, scope):
            self.figures.setdefault(figure, Counter())[(d, *rest)] += n

    def __getitem__(self, figure: str) -> Counter[tuple[str, ...]]:
        return self.figures.get(figure, Counter())


def board_matrix(view: Scoped, overdue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open escalations per (level, district), with how many are overdue: highest rung
    first, then by district."""
    late = Counter((r["level"], r["district"]) for r in overdue if r["level_index"] > 0)
    out = [{"level": level, "district": int(d), "open": n, "overdue": late[(level, int(d))]}
           for (d, level), n in view["escalated"].items() if n]
    return sorted(out, key=lambda r: (-LEVEL_CODES.index(r["level"]), r["district"]))


def sla_by_district(view: Scoped, overdue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per district, each routed demand once by what became of its deadlines; `open` ones
    are `overdue` when past their deadline at the stream's time, else `pending`. Withdrawn
    and merged demands are counted apart, outside every deadline figure."""
    counts, apart = view["sla"], view["apart"]
    late_now = Counter(r["district"] for r in overdue if r["sla"] == "open")
    out = []
    for district in sorted({int(d) for d, _ in counts} | {int(d) for d, _ in apart}):
        row = {k: counts[(str(district), k)] for k in SLA_OUTCOMES}
        row.update({k: apart[(str(district), k)] for k in APART})
        open_ = row.pop("open")
        row["overdue"] = min(late_now[district], open_)
        row["pending"] = open_ - row["overdue"]
        due = row["met"] + row["late"] + row["missed"] + row["overdue"]
        out.append({"district": district, **row, "due": due,
                    "rate": row["met"] / due if due else None})
    return out


def week_starts(moment: datetime, weeks: int) -> list[datetime]:
    """The starts (Saturday 00:00 in Tehran, as UTC) of the last `weeks` weeks up to and
    including the one `moment` is in, and the start of the week after: `weeks + 1` bounds."""
    local = moment.astimezone(TEHRAN)
    this_week = (local - timedelta(days=(local.weekday() - SATURDAY) % 7)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    return [(this_week + timedelta(weeks=i)).astimezone(UTC) for i in range(-weeks + 1, 2)]


def weekly_trend(view: Scoped, moment: datetime, weeks: int = 8) -> list[dict[str, Any]]:
    """Escalations (rungs climbed) and resolutions that still stand, per week, oldest
    first."""
    climbed = Counter()
    for (_, week), n in view["climbed"].items():
        climbed[week] += n
    resolved = Counter()
    for (_, week), n in view["resolved"].items():
        resolved[week] += n
    out = []
    for start in week_starts(moment, weeks)[:-1]:
        week = start.astimezone(TEHRAN).date().isoformat()
        out.append({"week_start": start, "escalations": climbed[week],
                    "resolutions": resolved[week]})
    return out


def category_mix(view: Scoped) -> list[dict[str, Any]]:
    """Per channel (in the vocabulary's order): `total`, `counts` per category, `shares`."""
    counts: dict[str, Counter[str]] = {}
    for (_, channel, category), n in view["mix"].items():
        if n:
            counts.setdefault(channel, Counter())[category] += n
    order = [c for c in CHANNELS if c in counts] + sorted(set(counts) - set(CHANNELS))
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    out = []
    for channel in order:
        per = dict(sorted(counts[channel].items(), key=lambda kv: rank.get(kv[0], len(rank))))
        total = sum(per.values())
        out.append({"channel": channel, "total": total, "counts": per,
                    "shares": {c: n / total for c, n in per.items()}})
    return out


def quantile(buckets: Mapping[str, int], q: float) -> float | None:
    """The upper edge (hours) of the bucket holding the q-th of the durations counted; None
    with none, infinity when it lies above the last edge."""
    total = sum(buckets.values())
    if not total:
        return None
    rank, seen = q * total, 0
    for name, hours in (*zip(BUCKETS, HOUR_EDGES, strict=True), (OVER, float("inf"))):
        seen += buckets.get(name, 0)
        if seen >= rank:
            return float(hours)
    return float("inf")


def outcomes_by_requester(view: Scoped, overdue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per requester kind: the counts behind every figure, the rates over its demands
    (merged duplicates left out), and median and 90th percentile working hours to first
    response and to resolution (waits on the requester left out), with how many durations
    each is over."""
    counts: dict[str, Counter[str]] = {}
    hours: dict[tuple[str, str], Counter[str]] = {}
    for (_, kind, name, *bucket), n in view["fair"].items():
        if bucket:
            hours.setdefault((kind, name), Counter())[bucket[0]] += n
        else:
            counts.setdefault(kind, Counter())[name] += n
    late_now = Counter(r["kind"] for r in overdue)
    order = [k for k in REQUESTER_KINDS if k in counts] + sorted(
        set(counts) - set(REQUESTER_KINDS))
    out = []
    for kind in order:
        c = counts[kind]
        n = c["demands"]
        if not n:
            continue
        row: dict[str, Any] = {"kind": kind, **{k: c[k] for k in FAIRNESS_COUNTS},
                               "overdue": late_now[kind]}
        for name in ("rejected", "withdrawn", "escalated", "deadline_escalated", "reopened"):
            row[f"{name}_rate"] = c[name] / n
        for name in ("to_response", "to_resolution"):
            b = hours.get((kind, name), Counter())
            row[f"{name}_median_hours"] = quantile(b, 0.5)
            row[f"{name}_p90_hours"] = quantile(b, 0.9)
            row[f"{name}_count"] = sum(b.values())
        row["median_hours"] = row["to_resolution_median_hours"]
        out.append(row)
    from reporting.fairness import flag_differences  # SciPy: loaded when first asked
    flag_differences(out, hours)
    return out


def by_rung(view: Scoped) -> list[dict[str, Any]]:
    """Per district and rung: answers that kept the rung's deadline or came late (first
    response: acknowledged; resolution: resolved or rejected), and deadlines missed there."""
    rows: dict[tuple[int, str], dict[str, Any]] = {}

    def row(d: str, level: str) -> dict[str, Any]:
        return rows.setdefault((int(d), level), {
            "district": int(d), "level": level, "acknowledged_in_time": 0,
            "acknowledged_late": 0, "resolved_in_time": 0, "resolved_late": 0, "missed": 0})

    names = {("acknowledge", "kept"): "acknowledged_in_time",
             ("acknowledge", "late"): "acknowledged_late",
             ("resolve", "kept"): "resolved_in_time", ("resolve", "late"): "resolved_late"}
    for (d, level, kind, kept), n in view["answered"].items():
        row(d, level)[names[(kind, kept)]] += n
    for (d, level), n in view["missed_at"].items():
        row(d, level)["missed"] += n
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], LEVEL_CODES.index(k[1])))]


def missed_by_rung(view: Scoped) -> list[dict[str, Any]]:
    """Deadlines missed per district and rung (the rung that held the demand then)."""
    return [{"district": r["district"], "level": r["level"], "missed": r["missed"]}
            for r in by_rung(view) if r["missed"]]


def transfers_by_district(view: Scoped) -> list[dict[str, Any]]:
    """Transfers per district the demand is in now, and reason."""
    counts = view["transfer"]
    return [{"district": int(d), "reason": reason, "transfers": n}
            for (d, reason), n in sorted(counts.items(), key=lambda kv: (int(kv[0][0]),
                                                                         kv[0][1])) if n]


def overdue_rows(view: Scoped, moment: datetime) -> list[dict[str, Any]]:
    """The open demands in scope past their deadline at `moment`, as (district, level, kind,
    outcome) rows, one per demand: summed from when each falls due."""
    limit = to_ms(moment)
    rows = []
    for (d, level, kind, outcome, due), n in view["due"].items():
        if int(due) < limit:
            row = {"district": int(d), "level": level, "level_index": LEVEL_CODES.index(level),
                   "kind": kind, "sla": outcome}
            rows.extend([row] * n)
    return rows


# -- a department's queue, bounded ----------------------------------------------------------
def _under(tallies: Tallies, prefix: str) -> Iterator[tuple[str, int]]:
    """(the rest of the key, its count) of each counter under `prefix` that is not zero."""
    for key, n in tallies.items():
        if n and key.startswith(prefix):
            yield key[len(prefix):], n


def queue_dues(tallies: Tallies, district: int, department: str) -> list[tuple[int, int]]:
    """When the open demands of a department's queue with a deadline fall due: (epoch ms,
    how many), soonest first. Those waiting on their requester have no deadline: not here."""
    dues: Counter[int] = Counter()
    for due, n in _under(tallies, f"{district}|{department}|due|{LEVEL_CODES[0]}|"):
        dues[int(due.rsplit("|", 1)[1])] += n
    return sorted(dues.items())


def queue_heads(tallies: Tallies, district: int, department: str, due: int
                ) -> list[tuple[str, int]]:
    """The open demands of a department's queue that fall due at `due` (epoch ms), by the
    second their id was made: (the id's first `ID_SECOND` characters, how many), oldest first.
    A queue orders demands due together by id, so these say which ids its page reaches."""
    return sorted(_under(tallies, f"{district}|{department}|head|{due}|"))


def id_bound(heads: list[tuple[str, int]], wanted: int) -> str | None:
    """The smallest id above every id of the earliest seconds in `heads` that hold at least
    `wanted` demands; None when all of them are needed (or there are none)."""
    total = 0
    for second, n in heads[:-1]:
        total += n
        if total >= wanted:
            return second + ID_ABOVE
    return None


def deadline_bound(dues: list[tuple[int, int]], wanted: int) -> int | None:
    """The earliest deadline (epoch ms) by which at least `wanted` of `dues` fall due (the
    last one if fewer do); None when there are none."""
    if not dues:
        return None
    total = 0
    for due, n in dues:
        total += n
        if total >= wanted:
            return due
    return dues[-1][0]
