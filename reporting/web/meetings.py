"""A meeting as pages show it: a demand's page names its meeting by title, kind and day, with
a link to the meeting's page (`/meetings/<id>/follow-up` for browsers: what became of each
demand raised in it; API clients get the JSON there, as before)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for

from reporting import civic, dashboards
from reporting.web.render import not_found, page, wants_html, web
from reporting.web.scope import demand_filter, viewer
from reporting.web.views import bp
from services.events.envelope import format_time, now

API_ENDPOINT = "meetings.FollowUp"


def meeting_of(meeting_id: str | None) -> dict[str, Any] | None:
    """The meeting a demand was raised at, with the URL of its page, if the read model has it
    and it is of a district the viewer sees (None otherwise: the page shows the bare id)."""
    if not meeting_id:
        return None
    doc = civic.meeting(web().models.db, meeting_id)
    if doc is None or viewer().district not in (None, doc["district"]):
        return None
    url = (url_for(API_ENDPOINT, meeting_id=meeting_id)
           if API_ENDPOINT in current_app.view_functions else None)
    return {**doc, "url": url}


def meeting_page(meeting_id: str) -> Response:
    meeting = meeting_of(meeting_id.upper())
    if meeting is None:
        return not_found("meeting.not_found")
    demands = civic.meeting_demands(web().models.db, meeting["meeting_id"],
                                    demand_filter(viewer()))
    return page("meeting.html", page_id="meeting", meeting=meeting,
                **civic.follow_up(demands, format_time(dashboards.stream_time(web().models,
                                                                              now()))))


@bp.before_app_request
def _meeting_page_for_browsers():
    if (request.method == "GET" and request.endpoint == API_ENDPOINT and wants_html(request)
            and request.view_args):
        return meeting_page(request.view_args["meeting_id"])
    return None
