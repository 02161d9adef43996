"""A district's civic pages: its meetings with their follow-up counts
(`/districts/<d>/meetings`), and its annual-plan priorities, most supported first («من
شهردارم»), at the API's own address `/districts/<d>/priorities` for browsers."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request, url_for

from reporting import civic, dashboards
from reporting.web import forms
from reporting.web.render import not_found, page, wants_html, web
from reporting.web.scope import demand_filter, viewer
from reporting.web.views import bp
from services.events.envelope import format_time, now
from services.parsing import small_number

LIST_LIMIT = 50
PRIORITIES_ENDPOINT = "priorities.Priorities"
FOLLOW_UP_ENDPOINT = "meetings.FollowUp"


def _refused(district: int | None) -> Response | None:
    if district is None:
        return not_found("error.district")
    if viewer().district not in (None, district):
        return forms.forbidden("error.out_of_scope")
    return None


@bp.get("/districts/<int:district>/meetings", endpoint="meetings")
def meetings_page(district: int):
    refused = _refused(district if 1 <= district <= 22 else None)
    if refused is not None:
        return refused
    models, scope = web().models, demand_filter(viewer())
    db, moment = models.db, format_time(dashboards.stream_time(models, now()))
    linked = FOLLOW_UP_ENDPOINT in current_app.view_functions
    items: list[dict[str, Any]] = []
    for m in civic.meetings(db, district, LIST_LIMIT):
        counts = civic.follow_up(civic.meeting_demands(db, m["meeting_id"], scope),
                                 moment)["counts"]
        url = url_for(FOLLOW_UP_ENDPOINT, meeting_id=m["meeting_id"]) if linked else None
        items.append({**m, "counts": counts, "url": url})
    return page("meetings.html", page_id="meetings", district=district, meetings=items)


def priorities_page(raw_district: str) -> Response:
    district = small_number(raw_district, 1, 22)
    refused = _refused(district)
    if refused is not None:
        return refused
    rows = civic.priorities(web().models.db, district, demand_filter(viewer()), LIST_LIMIT)
    return page("priorities.html", page_id="priorities", district=district, rows=rows,
                result=forms.result_of(request.args.get("done"), request.args.get("demand")))


@bp.before_app_request
def _priorities_page_for_browsers():
    if (request.method == "GET" and request.endpoint == PRIORITIES_ENDPOINT
            and wants_html(request) and request.view_args):
        return priorities_page(str(request.view_args["district"]))
    return None
