"""The intake service: `create_app()` is what gunicorn runs (`intake.app:create_app()`)."""

from __future__ import annotations

from flask import Flask
from pymongo.database import Database

from intake import erasure, meetings
from intake.api import blp
from intake.known_meetings import KnownMeetings
from services import config, readiness
from services.config import Settings
from services.eventlog import EventLog, open_log
from services.privacy import service as privacy
from services.web import create_api


def create_app(settings: Settings | None = None, log: EventLog | None = None,
               db: Database | None = None) -> Flask:
    """`db`: the MongoDB database the key store of personal data sits beside (default:
    SADA_MONGO_URL's SADA_MONGO_DB); intake reads no read model."""
    settings = settings or config.load()
    app = Flask("intake")
    app.extensions["sada.settings"] = settings
    app.extensions["sada.log"] = log if log is not None else open_log(settings)
    app.extensions["sada.meetings"] = KnownMeetings(app.extensions["sada.log"])
    api = create_api(app, "Sada intake",
                     "Records the demands a city hears: each one becomes a DemandSubmitted "
                     "event in the log.", db=db)
    readiness.add_check(app, "event_log", readiness.event_log(lambda: app.extensions["sada.log"]))
    privacy.install(app, settings, db)
    api.register_blueprint(blp)
    api.register_blueprint(erasure.blp)
    api.register_blueprint(meetings.blp)
    return app
