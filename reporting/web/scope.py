"""Who is looking at a page, and what they may see and do from it.

The guard (`services.auth`) has already verified the request's token (or the browser's
`/login` cookie) before a page runs; `viewer()` is that principal. Every page reads demands
through `demand_filter(viewer())`, the same scope the JSON API applies. The helpers also take
None (nobody in particular: every district), which is what tests of the pure parts pass.
"""

from __future__ import annotations

from typing import Any

from services import auth
from services.auth import Principal


def viewer() -> Principal:
    return auth.current_actor()


def demand_filter(actor: Principal | None) -> dict[str, Any]:
    """A MongoDB filter on `demands` for what `actor` may see ({} = everything)."""
    return {} if actor is None else auth.scope_filter(actor)


def may_see(actor: Principal | None, doc: dict[str, Any]) -> bool:
    return actor is None or auth.visible(doc, actor)


def may_act_for(actor: Principal | None, district: int, department: str) -> bool:
    """Whether the department page's forms are offered to `actor`: the department's own
    staff, or an administrator (routing decides in the end, by role, level and state)."""
    if actor is None or actor.role == auth.ADMIN:
        return True
    return actor.role == auth.STAFF and actor.sees(district, department)


def token_of(headers: Any, cookies: Any) -> str | None:
    """The request's own token (header or `/login` cookie), to act with it elsewhere."""
    header = headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return cookies.get(auth.COOKIE) or None
