"""The routing API service: `create_app()` is what gunicorn runs (`routing.app:create_app()`).
The worker that decides runs separately (`python -m routing.worker`)."""

from __future__ import annotations

from flask import Flask
from pymongo import MongoClient
from pymongo.database import Database

from routing import rules_api
from routing.api import blp
from routing.stream_view import StreamFacts
from services import config, readiness
from services.config import Settings
from services.demand_places import ReadModelPlaces
from services.domain.rules import DEFAULT_RULES, RuleSet
from services.eventlog import EventLog, open_log
from services.privacy import service as privacy
from services.web import create_api

SCOPE_TIMEOUT_MS = 2000


def create_app(settings: Settings | None = None, log: EventLog | None = None,
               rules: RuleSet = DEFAULT_RULES, db: Database | None = None) -> Flask:
    settings = settings or config.load()
    app = Flask("routing")
    app.extensions["sada.settings"] = settings
    app.extensions["sada.log"] = log if log is not None else open_log(settings)
    app.extensions["sada.rules"] = rules
    # The rule set, calendar and clock in force, followed from the log (`rules` until one is
    # published).
    app.extensions["sada.facts"] = StreamFacts(app.extensions["sada.log"], rules)
    # The demands read model, read-only, for the early 403 (services/demand_places.py).
    if db is None:
        db = MongoClient(settings.mongo_url, serverSelectionTimeoutMS=SCOPE_TIMEOUT_MS)[
            settings.mongo_db]
    app.extensions["sada.places"] = ReadModelPlaces(db)
    api = create_api(app, "Sada routing",
                     "Records people's actions on demands as requests; the routing worker "
                     "turns each into a decision or a visible rejection.", db=db)
    readiness.add_check(app, "event_log", readiness.event_log(lambda: app.extensions["sada.log"]))
    readiness.add_check(app, "read_models", readiness.mongo(db))
    # The key store, to name a supporter by the id of a person, never by their national code
    # or phone (routing/supporter.py).
    privacy.install(app, settings, db)
    api.register_blueprint(blp)
    api.register_blueprint(rules_api.blp)
    return app
