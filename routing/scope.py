"""Whether an action on a demand is within the actor's scope, from the reporting read model.

Routing's API reads the `demands` read model (MongoDB, read-only) to learn a demand's district
and department before it records an action: a department acts on its own queue only, a district
on its own district. A demand the read model does not know yet (just submitted, the projector
behind) is left to the domain, and so is the department of one not yet routed: `decide` checks
the actor's district and department against the demand's state and records a visible
rejection if they do not match.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.database import Database
from pymongo.errors import PyMongoError

from services import auth
from services.auth import Principal

logger = logging.getLogger(__name__)

DEMANDS = "demands"
UNREACHABLE = "cannot check the demand's district and department now; retry"


class ScopeUnknown(Exception):
    """The read model could not be asked."""


class DemandScopes:
    def __init__(self, db: Database) -> None:
        self.demands = db[DEMANDS]

    def lookup(self, demand_id: str) -> dict[str, Any] | None:
        """The demand's district and department, or None if the read model lacks it."""
        try:
            return self.demands.find_one({"_id": demand_id},
                                         {"district": 1, "department": 1, "demand_id": 1})
        except PyMongoError as exc:
            logger.warning("reading the scope of %s failed: %s", demand_id, exc)
            raise ScopeUnknown(UNREACHABLE) from exc

    def check(self, principal: Principal, demand_id: str) -> None:
        """403 if the read model places the demand outside the principal's scope."""
        if principal.district is None:
            return  # every district: nothing to look up
        doc = self.lookup(demand_id)
        if doc is None:
            return
        if doc.get("department") is None:
            # Submitted but not yet routed as far as the read model knows: its district is
            # known, its department is not yet; decide() judges the department.
            doc = {**doc, "department": principal.department}
        auth.require_visible(doc, principal)
