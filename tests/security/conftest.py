"""Three services over one projected city, and the people who use them.

The city (real events, projected by the real projector into SecantusDB): in district 21 a
transport demand and a civil-works demand, in district 4 a transport demand, and one
escalated demand in each district.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from pymongo import MongoClient
from pymongo.database import Database

from intake.app import create_app as intake_app
from reporting.app import create_app as reporting_app
from routing.app import create_app as routing_app
from sada.processes import free_port
from services.config import Settings
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import MASTER_KEY, SECRET
from tests.integration.test_reporting_stream import Desk
from tests.live import serving
from tests.projected import project


@dataclass(frozen=True)
class Target:
    """What a request is about: a demand, its district and its department."""

    name: str
    district: int
    department: str
    demand_id: str


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    district: int | None = None
    department: str | None = None

    def sees(self, t: Target) -> bool:
        return self.district is None or (self.district == t.district and self.department
                                         in (None, t.department))

    def sees_district(self, t: Target) -> bool:
        return self.district is None or self.district == t.district


PEOPLE = (
    Person("clerk-21", "intake_clerk", 21),
    Person("staff-21-transport", "department_staff", 21, "transport"),
    Person("mayor-21", "district_mayor", 21),
    Person("hq", "headquarters"),
    Person("central", "central_management"),
    Person("auditor", "auditor"),
    Person("admin", "administrator"),
)
# own: the staff's own queue; sibling: the same district, another department; other: elsewhere
TARGET_NAMES = ("own", "sibling", "other")


@dataclass
class World:
    apps: dict[str, Flask]
    log: SqliteEventLog
    targets: dict[str, Target]
    escalated: dict[int, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory, mongo_url) -> Iterator[World]:
    """One city per module: the tests read it, and writes only append requests (no worker
    decides them, no projector projects them), so the read models stay as built."""
    tmp_path = tmp_path_factory.mktemp("world")
    client = MongoClient(mongo_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield from _world(tmp_path, client[name])
    finally:
        client.drop_database(name)
        client.close()


def _world(tmp_path: Path, mongo_db: Database) -> Iterator[World]:
    desk = Desk()
    own = desk.submit(district=21, category="transport")
    sibling = desk.submit(district=21, category="civil_works")
    other = desk.submit(district=4, category="transport")
    escalated = {21: desk.submit(district=21, category="transport"),
                 4: desk.submit(district=4, category="transport")}
    for demand_id in escalated.values():
        desk.escalate(demand_id)
    desk.flush()
    project(desk.events, mongo_db, tmp_path / "events.sqlite3")
    # Pages forward actions to routing's URL: a port where nothing listens. Intake listens
    # for real: Open311's posts and the intake desk's forms are sent on to it.
    settings = Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY,
                        rate_limit_per_minute=0, routing_port=free_port(),
                        intake_port=free_port(), open311_visible_seconds=0)
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        apps = {"intake": intake_app(settings, log, db=mongo_db),
                "routing": routing_app(settings, log, db=mongo_db),
                "reporting": reporting_app(settings, log=log, db=mongo_db)}
        listening = serving(lambda: apps["intake"], settings.intake_port)
        listening.__enter__()
        targets = {"own": Target("own", 21, "transport", own),
                   "sibling": Target("sibling", 21, "civil_works", sibling),
                   "other": Target("other", 4, "transport", other)}
        try:
            yield World(apps, log, targets, escalated)
        finally:
            listening.__exit__(None, None, None)
