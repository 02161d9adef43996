"""The reporting service's app factory (served by gunicorn: `reporting.app:create_app()`)."""

from __future__ import annotations

import threading

from flask import Flask
from pymongo import MongoClient
from pymongo.database import Database

from reporting import api
from reporting.projector import PROJECTION
from reporting.readmodels import ReadModels
from services import config
from services.eventlog import open_log
from services.eventlog.port import EventLog
from services.web import create_api


def _lazy_log(settings: config.Settings, log: EventLog | None):
    """The log is opened on first use: only /status needs it, and reads must work without."""
    lock = threading.Lock()
    opened: list[EventLog] = [log] if log is not None else []

    def get() -> EventLog:
        with lock:
            if not opened:
                opened.append(open_log(settings))
            return opened[0]

    return get


def create_app(settings: config.Settings | None = None, log: EventLog | None = None,
               db: Database | None = None) -> Flask:
    settings = settings or config.load()
    if db is None:
        db = MongoClient(settings.mongo_url)[settings.mongo_db]
    app = Flask("reporting")
    rest = create_api(app, "Sada reporting",
                      "Read models of every demand: state, timeline, department queues and "
                      "headquarters' escalation board. `after=<partition:offset>` reads your "
                      "own write.")
    app.extensions["sada.reporting"] = api.Context(
        models=ReadModels(db), projection=PROJECTION, log=_lazy_log(settings, log))
    api.register(rest)
    return app
