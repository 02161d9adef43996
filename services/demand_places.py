"""Where a demand is (its district and department) as a read side knows it: the port the
routing API's early scope check reads through, and its MongoDB adapter.

The name of reporting's demands collection is defined here, once: reporting's read models and
this adapter both use it, so renaming it cannot silently turn the early check off. The check is
a courtesy (an early `403`); the guard that counts is routing's own fold
(`routing/domain/scope.py`).
"""

from __future__ import annotations

import logging
from typing import NamedTuple, Protocol

from pymongo.database import Database
from pymongo.errors import PyMongoError

logger = logging.getLogger(__name__)

DEMANDS_READ_MODEL = "demands"


class DemandPlace(NamedTuple):
    district: int
    department: str | None  # None until the demand is routed


class PlaceUnknown(Exception):
    """The read side could not be asked."""


class DemandPlaces(Protocol):
    def place(self, demand_id: str) -> DemandPlace | None:
        """The demand's place, None if the read side does not know it (yet); raises
        PlaceUnknown if it cannot be asked."""


class ReadModelPlaces:
    """The demands read model in MongoDB, read only."""

    def __init__(self, db: Database) -> None:
        self.demands = db[DEMANDS_READ_MODEL]

    def place(self, demand_id: str) -> DemandPlace | None:
        try:
            doc = self.demands.find_one({"_id": demand_id}, {"district": 1, "department": 1})
        except PyMongoError as exc:
            logger.warning("reading the place of %s failed: %s", demand_id, exc)
            raise PlaceUnknown(str(exc)) from exc
        return None if doc is None else DemandPlace(doc["district"], doc.get("department"))


class InMemoryPlaces:
    """Places given outright: for tests and tools that hold no read model."""

    def __init__(self, places: dict[str, DemandPlace] | None = None) -> None:
        self.places = dict(places or {})

    def place(self, demand_id: str) -> DemandPlace | None:
        return self.places.get(demand_id)
