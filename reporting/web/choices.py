"""Which actions a page offers a person on a demand: only what they may choose.

Routing decides in the end (and records a refusal as an ActionRejected with its code); a page
offers a form only where routing would take it from this person: the role of the demand's rung
(or an administrator; the district mayor works the triage desk), within their district and
department, in a state the action allows.
Send back is for headquarters and central management, escalation stops at the top, and a
demand already waiting on its requester is not asked again until they answer. A higher rung
(the district mayor, headquarters, central management) may call a demand below it up to itself.
Merging is offered as a link to the demand beside its likely duplicates (`/demands/<id>/
likely-duplicates`), where the merge form is.
"""

from __future__ import annotations

from typing import Any

from services import auth
from services.auth import Principal
from services.domain.rules import TRIAGE_DEPARTMENT
from services.domain.vocabulary import LEVEL_CODES, ROLE_FOR_LEVEL, Level

# In the order the forms are shown.
ACTIONS = ("acknowledge", "note", "ask", "transfer", "resolve", "reject", "escalate",
           "send_back", "call_up", "merge")
OPEN_STATUSES = ("routed", "acknowledged")
SENDS_BACK = (Level.HEADQUARTERS, Level.CENTRAL_MANAGEMENT)
TOP = len(LEVEL_CODES) - 1
# The rung each role calls a demand up to, past the rungs between.
CALLS_UP = {auth.MAYOR: Level.DISTRICT_MAYOR, auth.HQ: Level.HEADQUARTERS,
            auth.CENTRAL: Level.CENTRAL_MANAGEMENT}


def acts_at_rung(actor: Principal | None, doc: dict[str, Any]) -> bool:
    """Whether `actor` speaks for the demand's current rung (None: nobody in particular)."""
    if actor is None or actor.role == auth.ADMIN:
        return True
    needed = ROLE_FOR_LEVEL[Level(LEVEL_CODES.index(doc["level"]))]
    if (needed == auth.STAFF and doc.get("department") == TRIAGE_DEPARTMENT
            and actor.role == auth.MAYOR):
        needed = auth.MAYOR  # the district mayor works the triage desk
    if actor.role != needed:
        return False
    if needed == auth.STAFF:
        return actor.sees(doc["district"], doc.get("department"))
    if needed == auth.MAYOR:
        return actor.sees(doc["district"])
    return True


def calls_up(actor: Principal | None, doc: dict[str, Any]) -> bool:
    """Whether `actor` may take the open demand up to their own, higher rung (the district
    mayor within their district)."""
    if actor is None or actor.role not in CALLS_UP or doc.get("status") not in OPEN_STATUSES:
        return False
    below = LEVEL_CODES.index(doc["level"]) < CALLS_UP[actor.role]
    return below and actor.sees(doc["district"])


def offered(actor: Principal | None, doc: dict[str, Any]) -> tuple[str, ...]:
    """The actions whose forms a page shows `actor` for this demand, in order."""
    allowed = {"call_up"} if calls_up(actor, doc) else set()
    if doc.get("status") not in OPEN_STATUSES or not acts_at_rung(actor, doc):
        return tuple(a for a in ACTIONS if a in allowed)
    rung = LEVEL_CODES.index(doc["level"])
    allowed |= {"note", "transfer", "resolve", "reject", "merge"}
    if doc["status"] == "routed":
        allowed.add("acknowledge")
    if not doc.get("waiting"):  # one question at a time
        allowed.add("ask")
    if rung < TOP:
        allowed.add("escalate")
    if rung in SENDS_BACK:
        allowed.add("send_back")
    return tuple(a for a in ACTIONS if a in allowed)


def may_send(actor: Principal | None, doc: dict[str, Any], action: str) -> bool:
    """Whether a form for `action` on this demand may go on to routing from `actor`: they
    speak for its rung, or call it up to theirs (routing then judges the state)."""
    return acts_at_rung(actor, doc) or (action == "call_up" and calls_up(actor, doc))


def lower_levels(doc: dict[str, Any]) -> list[str]:
    """The rungs a demand may be sent back down to: every one below its own."""
    return LEVEL_CODES[:LEVEL_CODES.index(doc["level"])]
