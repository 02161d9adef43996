"""The read models of civic participation: a district's annual-plan priorities («من شهردارم»)
and the meetings where demands are heard, with each meeting's follow-up list.

Priorities are read from `demands` (each document carries `priority_score`,
`supporters_count`, the people supporting it, and `anonymous_supporters`, the supports that
named nobody, counted apart: `reporting.readmodels.demand_doc`). Meetings live in `meetings`, one
document per MeetingRecorded, keyed by meeting id: writing one twice replaces it with itself.
`follow_up` is pure: it summarises a meeting's demands at a moment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReplaceOne
from pymongo.database import Database

from reporting.readmodels import MEETINGS
from services.events.envelope import Event

PRIORITY_FIELDS = ("demand_id", "title", "district", "neighbourhood", "category", "priority",
                   "status", "level", "department", "submitted_at", "supporters_count",
                   "anonymous_supporters", "priority_score")


def meeting_doc(event: Event) -> dict[str, Any]:
    p = event.payload
    return {"_id": event.demand_id, "meeting_id": event.demand_id, "kind": p["kind"],
            "district": p["district"], "held_on": p["held_on"], "title": p["title"],
            "attendees": dict(p.get("attendees") or {}), "minutes": p["minutes"],
            "recorded_at": event.recorded_at_text, "recorded_by": event.actor.role}


def write_meetings(db: Database, docs: Iterable[dict[str, Any]]) -> None:
    ops = [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs]
    if ops:
        db[MEETINGS].bulk_write(ops, ordered=False)


def meetings(db: Database, district: int | None, limit: int) -> list[dict[str, Any]]:
    query = {} if district is None else {"district": district}
    return list(db[MEETINGS].find(query).sort([("held_on", DESCENDING), ("_id", DESCENDING)])
                .limit(limit))


def meeting(db: Database, meeting_id: str) -> dict[str, Any] | None:
    return db[MEETINGS].find_one({"_id": meeting_id})


def meeting_demands(db: Database, meeting_id: str,
                    scope: dict[str, Any]) -> list[dict[str, Any]]:
    return list(db["demands"].find({**scope, "meeting_id": meeting_id})
                .sort([("submitted_at", ASCENDING), ("_id", ASCENDING)]))


def priorities(db: Database, district: int, scope: dict[str, Any],
               limit: int) -> list[dict[str, Any]]:
    """A district's open demands, most supported (highest score) first; ties oldest first."""
    docs = db["demands"].find({**scope, "district": district, "open": True}).sort(
        [("priority_score", DESCENDING), ("submitted_at", ASCENDING), ("_id", ASCENDING)])
    return [{**{k: d.get(k) for k in PRIORITY_FIELDS},
             "anonymous_supporters": d.get("anonymous_supporters", 0)} for d in docs.limit(limit)]


def follow_up(demands: list[dict[str, Any]], moment: str) -> dict[str, Any]:
    """What became of the demands raised in a meeting: each one's state, and the counts
    headquarters follows up on (raised, open, resolved, escalated, overdue). Overdue: open,
    and its deadline has passed by the wall clock or routing's clock already escalated it for
    a missed deadline."""
    items = []
    for d in demands:
        overdue = bool(d.get("open") and (
            (d.get("deadline") and d["deadline"] < moment) or _missed(d)))
        items.append({"demand_id": d["demand_id"], "title": d["title"],
                      "neighbourhood": d["neighbourhood"], "category": d["category"],
                      "status": d["status"], "level": d["level"],
                      "department": d.get("department"), "deadline": d.get("deadline"),
                      "escalated": bool(d.get("escalations")), "overdue": overdue,
                      "supporters_count": len(d.get("supporters") or []),
                      "anonymous_supporters": d.get("anonymous_supporters", 0)})
    counts = {"raised": len(items), "open": sum(1 for d in demands if d.get("open")),
              "resolved": sum(1 for i in items if i["status"] == "resolved"),
              "escalated": sum(1 for i in items if i["escalated"]),
              "overdue": sum(1 for i in items if i["overdue"])}
    return {"counts": counts, "items": items}


def _missed(doc: dict[str, Any]) -> bool:
    return any(e.get("trigger") == "deadline" for e in doc.get("escalations") or [])


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[\s\u200c،,.;:!?؟()«»\"'-]+", text.casefold()) if len(w) > 1}


def likely_duplicates(demand: dict[str, Any], candidates: Iterable[dict[str, Any]],
                      limit: int) -> list[dict[str, Any]]:
    """Open demands of the same district, neighbourhood and category as `demand`, the most
    alike first: by the share of title and description words they have in common (Jaccard),
    then the oldest (the one a duplicate would be merged into)."""
    mine = _words(f"{demand['title']} {demand['description']}")
    found = []
    for c in candidates:
        if (c["demand_id"] == demand["demand_id"] or not c.get("open")
                or (c["district"], c["neighbourhood"], c["category"])
                != (demand["district"], demand["neighbourhood"], demand["category"])):
            continue
        theirs = _words(f"{c['title']} {c['description']}")
        alike = len(mine & theirs) / len(mine | theirs) if mine | theirs else 0.0
        found.append({"demand_id": c["demand_id"], "title": c["title"],
                      "status": c["status"], "submitted_at": c["submitted_at"],
                      "district": c["district"], "department": c.get("department"),
                      "supporters_count": len(c.get("supporters") or []),
                      "anonymous_supporters": c.get("anonymous_supporters", 0),
                      "similarity": round(alike, 3)})
    found.sort(key=lambda f: (-f["similarity"], f["submitted_at"], f["demand_id"]))
    return found[:limit]


def duplicate_candidates(db: Database, demand: dict[str, Any],
                         scope: dict[str, Any]) -> list[dict[str, Any]]:
    return list(db["demands"].find({**scope, "district": demand["district"], "open": True,
                                    "neighbourhood": demand["neighbourhood"],
                                    "category": demand["category"]}).limit(2000))
