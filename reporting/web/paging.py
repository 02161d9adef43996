"""The audit list in pages: newest first, a page at a time, each page named by a cursor.

A cursor is a demand's id: `after=<id>` is the page of demands submitted before that one (older,
the next page), `before=<id>` the page of those submitted after it (newer, the previous page).
The order is (`submitted_at`, `_id`), both descending, so two demands submitted in the same
millisecond still have their one place. Like `ReadModels.search`, each page is looked for in
widening windows of time from its cursor: SecantusDB reads every index entry in range before a
limit applies, so a narrow window first keeps a page cheap however long the log is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection

from services.events.envelope import format_time, now, parse_time

PAGE_SIZE = 100
WINDOW_DAYS = (1, 7, 30, 365, None)
NEWEST_FIRST = [("submitted_at", DESCENDING), ("_id", DESCENDING)]
OLDEST_FIRST = [("submitted_at", ASCENDING), ("_id", ASCENDING)]


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: next to demand `demand_id`, submitted at `at`; `older` pages run
    from it back in time, newer ones forward."""

    demand_id: str
    at: str
    older: bool


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    older: str | None  # the cursor (`after=`) of the next, older page, if there is one
    newer: str | None  # the cursor (`before=`) of the previous, newer page, if there is one


def _beyond(cursor: Cursor) -> dict[str, Any]:
    """Demands strictly past the cursor in its direction."""
    op = "$lt" if cursor.older else "$gt"
    return {"$or": [{"submitted_at": {op: cursor.at}},
                    {"submitted_at": cursor.at, "_id": {op: cursor.demand_id}}]}


def _window(cursor: Cursor | None, days: int | None) -> dict[str, Any]:
    if days is None:
        return {}
    anchor = now() if cursor is None else parse_time(cursor.at)
    if cursor is None or cursor.older:
        return {"submitted_at": {"$gte": format_time(anchor - timedelta(days=days))}}
    return {"submitted_at": {"$lte": format_time(anchor + timedelta(days=days))}}


def _fetch(demands: Collection, query: dict[str, Any], cursor: Cursor | None,
           want: int) -> list[dict[str, Any]]:
    """Up to `want` demands past the cursor, nearest to it first."""
    order = OLDEST_FIRST if cursor is not None and not cursor.older else NEWEST_FIRST
    parts = [query] + ([_beyond(cursor)] if cursor is not None else [])
    for days in WINDOW_DAYS:
        window = _window(cursor, days)
        where = {"$and": [*parts, window]} if window else {"$and": parts}
        docs = list(demands.find(where).sort(order).limit(want))
        if len(docs) >= want or days is None:
            return docs
    return []


def page_of(demands: Collection, query: dict[str, Any], cursor: Cursor | None,
            size: int = PAGE_SIZE) -> Page:
    """One page of the demands matching `query`, newest first, starting at `cursor`."""
    docs = _fetch(demands, query, cursor, size + 1)
    more, rows = len(docs) > size, docs[:size]
    if cursor is None:
        return Page(rows, rows[-1]["_id"] if more else None, None)
    if cursor.older:
        return Page(rows, rows[-1]["_id"] if more else None, rows[0]["_id"] if rows else None)
    if not more:  # nothing newer than this page: it is the first page
        return page_of(demands, query, None, size)
    rows.reverse()
    return Page(rows, rows[-1]["_id"], rows[0]["_id"])
