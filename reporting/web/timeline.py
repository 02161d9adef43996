"""A demand's page: its timeline from submission to resolution, every decision explained.

It shares its address with the JSON API's `GET /demands/<id>`: a browser (which prefers
`text/html`) gets this page, every other client (`Accept: application/json`, `*/*` or none)
gets the JSON as before.
"""

from __future__ import annotations

from flask import Response, current_app, request, url_for

from reporting import personal
from reporting.api import present
from reporting.web import meetings
from reporting.web.render import not_found, page, wants_html, web
from reporting.web.scope import may_see, viewer
from reporting.web.views import bp

API_ENDPOINT = "demands.DemandItem"


def demand_page(demand_id: str) -> Response:
    models = web().models
    doc = models.demand(demand_id)
    if doc is None or not may_see(viewer(), doc):
        return not_found("demand.not_found")
    # In time order: a decision carries its request's time, so it follows its request even
    # when routing appended it much later in the log (each item shows its log position too).
    events = sorted(models.demand_history(demand_id),
                    key=lambda e: (e["recorded_at"], e["partition"], e["offset"]))
    return page("demand.html", page_id="demand", demand=personal.show_demand(present(doc)),
                events=events, meeting=meetings.meeting_of(doc.get("meeting_id")),
                asof=_url_if("asof.DemandAsOf", demand_id),
                explanation=_url_if("explanations.Explanation", demand_id),
                duplicates=_url_if("duplicates.LikelyDuplicates", demand_id)
                if doc.get("open") else None)


def _url_if(endpoint: str, demand_id: str) -> str | None:
    """The URL of a per-demand endpoint (time travel, explanation), if this app has it."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, demand_id=demand_id)


@bp.before_app_request
def _demand_page_for_browsers():
    if (request.method == "GET" and request.endpoint == API_ENDPOINT and wants_html(request)
            and request.view_args):
        return demand_page(request.view_args["demand_id"])
    return None
