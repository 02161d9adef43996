"""Which actions a page offers a person on a demand: only what they may choose.

Routing decides in the end (and records a refusal as an ActionRejected with its code); a page
offers a form only where routing would take it from this person: the role of the demand's rung
(or an administrator), within their district and department, in a state the action allows.
Send back is for headquarters and central management, escalation stops at the top, and a
demand already waiting on its requester is not asked again until they answer.
"""

from __future__ import annotations

from typing import Any

from services import auth
from services.auth import Principal
from services.domain.vocabulary import LEVEL_CODES, ROLE_FOR_LEVEL, Level

# In the order the forms are shown.
ACTIONS = ("acknowledge", "note", "ask", "resolve", "reject", "escalate", "send_back")
OPEN_STATUSES = ("routed", "acknowledged")
SENDS_BACK = (Level.HEADQUARTERS, Level.CENTRAL_MANAGEMENT)
TOP = len(LEVEL_CODES) - 1


def acts_at_rung(actor: Principal | None, doc: dict[str, Any]) -> bool:
    """Whether `actor` speaks for the demand's current rung (None: nobody in particular)."""
    if actor is None or actor.role == auth.ADMIN:
        return True
    needed = ROLE_FOR_LEVEL[Level(LEVEL_CODES.index(doc["level"]))]
    if actor.role != needed:
        return False
    if needed == auth.STAFF:
        return actor.sees(doc["district"], doc.get("department"))
    if needed == auth.MAYOR:
        return actor.sees(doc["district"])
    return True


def offered(actor: Principal | None, doc: dict[str, Any]) -> tuple[str, ...]:
    """The actions whose forms a page shows `actor` for this demand, in order."""
    if doc.get("status") not in OPEN_STATUSES or not acts_at_rung(actor, doc):
        return ()
    rung = LEVEL_CODES.index(doc["level"])
    allowed = {"note", "resolve", "reject"}
    if doc["status"] == "routed":
        allowed.add("acknowledge")
    if not doc.get("waiting"):  # one question at a time
        allowed.add("ask")
    if rung < TOP:
        allowed.add("escalate")
    if rung in SENDS_BACK:
        allowed.add("send_back")
    return tuple(a for a in ACTIONS if a in allowed)


def lower_levels(doc: dict[str, Any]) -> list[str]:
    """The rungs a demand may be sent back down to: every one below its own."""
    return LEVEL_CODES[:LEVEL_CODES.index(doc["level"])]
