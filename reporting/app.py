"""The reporting service's app factory (served by gunicorn: `reporting.app:create_app()`)."""

from __future__ import annotations

import threading

from flask import Flask
from pymongo import MongoClient
from pymongo.database import Database

from reporting import api, audit_api, civic_api, explain_api, reports_api, web
from reporting.open311 import api as open311_api
from reporting.projector import PROJECTION
from reporting.readmodels import ReadModels
from reporting.timetravel import api as timetravel_api
from services import config, readiness
from services.eventlog import open_log
from services.eventlog.port import EventLog
from services.privacy import service as privacy
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
    app.extensions["sada.settings"] = settings
    rest = create_api(app, "Sada reporting",
                      "Read models of every demand: state, timeline, department queues, "
                      "headquarters' escalation board and reports. "
                      "`after=<partition:offset>` reads your own write.", db=db)
    app.extensions["sada.reporting"] = api.Context(
        models=ReadModels(db), projection=PROJECTION, log=_lazy_log(settings, log))
    context = app.extensions["sada.reporting"]
    privacy.install(app, settings, db)  # the key store beside the read models, never in them
    readiness.add_check(app, "read_models", readiness.mongo(db))
    readiness.add_check(app, "projector_lag", readiness.projector_lag(
        context.log, lambda: context.models.checkpoint(PROJECTION), settings.ready_max_lag))
    api.register(rest)
    audit_api.register(rest)
    explain_api.register(rest)
    timetravel_api.register(rest)
    open311_api.register(rest)
    civic_api.register(rest)
    reports_api.register(rest)
    web.register(app, settings, context.models)
    return app
