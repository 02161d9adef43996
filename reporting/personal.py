"""Showing a requester: personal data only to the roles that work with requesters.

The read models hold a requester as the log does: the kind in clear, name, phone and national
code sealed (`services/privacy/`). Reporting opens them only when it shows one demand (or its
history) to a role in `PERSONAL_DATA_ROLES`, which sees only demands within its scope anyway:
the clerk and the mayor of the district, the department holding it, headquarters, central
management and auditors. An administrator manages rules, calendars and erasures and sees no
personal data. Each shown requester says what became of it in `personal`:

- `shown`: name, phone and national code (those given) are in it;
- `withheld`: this role may not see them;
- `erased`: the requester's key was erased; nobody can read them any more;
- `none`: none were given; `unreadable`: the sealed value was altered.
"""

from __future__ import annotations

from typing import Any

from services import auth
from services.auth import Principal
from services.privacy import service
from services.privacy.vault import PERSONAL_FIELDS

PERSONAL_DATA_ROLES = frozenset({auth.CLERK, auth.STAFF, auth.MAYOR, auth.HQ, auth.CENTRAL,
                                 auth.AUDITOR})


def may_see(principal: Principal) -> bool:
    return principal.role in PERSONAL_DATA_ROLES


def requester(stored: dict[str, Any], demand_id: str, principal: Principal) -> dict[str, Any]:
    """A stored requester as `principal` may see it."""
    out: dict[str, Any] = {"kind": stored.get("kind"),
                           "requester_id": stored.get("requester_id")}
    if not stored.get("sealed") and not any(stored.get(f) for f in PERSONAL_FIELDS):
        return {**out, "personal": "none"}
    if not may_see(principal):
        return {**out, "personal": "withheld"}
    opened = service.vault().open_requester(stored, demand_id)
    status = "shown" if opened.status == "readable" else opened.status
    return {**out, **opened.personal, "personal": status}


def show_demand(doc: dict[str, Any]) -> dict[str, Any]:
    """A demand (as the API presents it) with its requester shown to the current principal."""
    if not isinstance(doc.get("requester"), dict):
        return doc
    return {**doc, "requester": requester(doc["requester"], doc.get("demand_id") or doc["_id"],
                                          auth.current_actor())}


def show_history(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A demand's history with the requester of its submission shown to the current
    principal (every other event holds no personal data)."""
    principal = auth.current_actor()
    out = []
    for event in events:
        payload = event.get("payload") or {}
        if event.get("type") == "DemandSubmitted" and isinstance(payload.get("requester"), dict):
            shown = requester(payload["requester"], event["demand_id"], principal)
            event = {**event, "payload": {**payload, "requester": shown}}
        out.append(event)
    return out
