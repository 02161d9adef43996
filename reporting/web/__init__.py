"""Reporting's web pages, in Persian (right to left) with an English switch (`?lang=en`).

- `/` headquarters: the escalation board across the 22 districts, weekly trends, deadlines
  kept per district, topics per channel, outcomes per requester kind;
- `/districts/<d>/departments/<dep>`: a department's queue, with its actions as forms
  forwarded to routing's action API;
- `/districts/<d>/mayor`: the district mayor's desk: the demands escalated to the mayor and
  the triage desk, with their actions as forms (the board's rows have forms too);
- `/demands/<id>` (for browsers): a demand's timeline with every decision explained;
- `/meetings/<id>/follow-up` (for browsers): a meeting and what became of its demands;
- `/districts/<d>/meetings` and `/districts/<d>/priorities` (for browsers): a district's
  meetings with their follow-up counts, and its priorities, most supported first;
- `/districts/<d>/intake`: the intake desk: a demand, a meeting, a citizen's support;
- `/demands/<id>/likely-duplicates` (for browsers): a demand beside each likely duplicate,
  with a form to merge it into one;
- `/rules`: the administrator's rules, what-if, publishing and office closures;
- `/audit`: search, each demand's history, and what the API offers for export.

Pages read the read models only (through `reporting.dashboards` and `ReadModels`), draw charts
as inline SVG on the server and need no script.
"""

from __future__ import annotations

from flask import Flask

from reporting.readmodels import ReadModels
from reporting.web import (  # noqa: F401  (their routes join `bp`)
    department,
    district,
    duplicates,
    intake_desk,
    mayor,
    meetings,
    rules_desk,
    supports,
    timeline,
    track,
)
from reporting.web.render import WebContext
from reporting.web.views import bp
from services.config import Settings


def register(app: Flask, settings: Settings, models: ReadModels) -> None:
    app.extensions["sada.web"] = WebContext(models=models,
                                            routing_url=settings.service_url("routing"),
                                            intake_url=settings.service_url("intake"))
    app.register_blueprint(bp)
