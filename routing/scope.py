"""The routing API's early scope check: a `403` before recording an action the read side
already places outside the token's scope.

It is a courtesy, not the guard: `decide` judges every request's scope on routing's own fold
(`routing/domain/scope.py`) and rejects visibly. So a demand the read side does not know yet,
or a read side that cannot be asked, lets the request through to routing's judgement rather
than refusing or stalling an action.
"""

from __future__ import annotations

from services import auth
from services.auth import Principal
from services.demand_places import DemandPlaces, PlaceUnknown


def check_early(places: DemandPlaces, principal: Principal, demand_id: str) -> None:
    """403 if the read side places the demand outside the principal's scope."""
    if principal.district is None:
        return  # every district: nothing to look up
    try:
        place = places.place(demand_id)
    except PlaceUnknown:
        return  # routing judges it from the stream
    if place is None:
        return
    department = place.department
    if department is None:
        # Submitted but not yet routed as far as the read side knows: its district is known,
        # its department not yet; decide() judges the department.
        department = principal.department
    auth.require_visible({"demand_id": demand_id, "district": place.district,
                          "department": department}, principal)
