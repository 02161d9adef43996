"""Whether a request's actor may act on a demand at all, judged on routing's own fold.

This is the guard that does not depend on any read model: the routing worker knows every
demand's district, department and submitter from the stream, so a request from outside the
actor's scope is refused visibly (`ActionRejected` `out_of_scope`) however far behind the
pages are. The API's early 403 is a courtesy on top of it, never the only check.
"""

from __future__ import annotations

from services.domain.demand import Demand
from services.domain.vocabulary import Role
from services.events.envelope import Actor, Event

# Requests no person's scope governs: a submission is scoped by intake (a clerk records for
# their own district), a merge offer is routing's own message to the target demand.
UNSCOPED = ("DemandSubmitted", "MergeOffered", "MergeAccepted", "MergeDeclined")
# A citizen may support any open demand («من شهردارم»); every other citizen's request is the
# submitter's own.
ANY_CITIZEN = ("SupportRequested",)


def out_of_scope(state: Demand, request: Event) -> str | None:
    """Why the request's actor is outside the demand's scope, or None if within it."""
    if request.type in UNSCOPED:
        return None
    return actor_out_of_scope(state, request.actor, request.type)


def actor_out_of_scope(state: Demand, actor: Actor, request_type: str) -> str | None:
    """Why `actor` may not make a request of `request_type` on the demand, or None."""
    if actor.role in (Role.ADMINISTRATOR, Role.SYSTEM):
        return None
    if actor.role == Role.CITIZEN:
        if request_type in ANY_CITIZEN or _submitted_by(state, actor.role, actor.id):
            return None
        return "a citizen acts only on the demands they submitted themselves"
    if actor.district is not None and actor.district != state.district:
        return (f"the demand belongs to district {state.district}; the actor acts for "
                f"district {actor.district}")
    if (actor.role == Role.DEPARTMENT_STAFF and actor.department is not None
            and state.department is not None and actor.department != state.department):
        return f"the demand is in the queue of {state.department}, not {actor.department}"
    return None


def _submitted_by(state: Demand, role: str, actor_id: str) -> bool:
    by = state.submitted_by or {}
    return by.get("role") == role and by.get("id") == actor_id
