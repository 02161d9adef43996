"""The intake service: `create_app()` is what gunicorn runs (`intake.app:create_app()`)."""

from __future__ import annotations

from flask import Flask

from intake.api import blp
from services import config
from services.config import Settings
from services.eventlog import EventLog, open_log
from services.web import create_api


def create_app(settings: Settings | None = None, log: EventLog | None = None) -> Flask:
    settings = settings or config.load()
    app = Flask("intake")
    app.extensions["sada.settings"] = settings
    app.extensions["sada.log"] = log if log is not None else open_log(settings)
    api = create_api(app, "Sada intake",
                     "Records the demands a city hears: each one becomes a DemandSubmitted "
                     "event in the log.")
    api.register_blueprint(blp)
    return app
