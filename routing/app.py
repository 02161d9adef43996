"""The routing API service: `create_app()` is what gunicorn runs (`routing.app:create_app()`).
The worker that decides runs separately (`python -m routing.worker`)."""

from __future__ import annotations

from flask import Flask

from routing.api import blp
from routing.domain.rules import DEFAULT_RULES, RuleTable
from services import config
from services.config import Settings
from services.eventlog import EventLog, open_log
from services.web import create_api


def create_app(settings: Settings | None = None, log: EventLog | None = None,
               rules: RuleTable = DEFAULT_RULES) -> Flask:
    settings = settings or config.load()
    app = Flask("routing")
    app.extensions["sada.settings"] = settings
    app.extensions["sada.log"] = log if log is not None else open_log(settings)
    app.extensions["sada.rules"] = rules
    api = create_api(app, "Sada routing",
                     "Records people's actions on demands as requests; the routing worker "
                     "turns each into a decision or a visible rejection.")
    api.register_blueprint(blp)
    return app
