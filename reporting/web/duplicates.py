"""Likely duplicates of a demand, each shown beside it, with a form to merge it into one.

The page shares its address with the API's `GET /demands/<id>/likely-duplicates` (browsers get
the page, every other client the JSON). The candidates are the API's own (`civic.likely_
duplicates`: open demands of the same district, neighbourhood and category, the most alike
first). The merge form closes *this* demand as a duplicate of the one beside it, through
routing's `POST /demands/<id>/merge` with the user's token (`forms.submit`); it is offered only
to whoever speaks for this demand's rung, and the target takes its supporters.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for

from reporting import civic
from reporting.web import choices, forms
from reporting.web.render import not_found, page, wants_html, web
from reporting.web.scope import demand_filter, may_see, viewer
from reporting.web.views import bp
from services import auth
from services.events.ids import new_id

API_ENDPOINT = "duplicates.LikelyDuplicates"
#: Who merges (routing.api's LADDER); the form is offered only at the demand's own rung.
MERGERS = (auth.STAFF, auth.MAYOR, auth.HQ, auth.CENTRAL, auth.ADMIN)
SHOWN = 10


def duplicates_page(demand_id: str, error: str | None = None, status: int = 200) -> Response:
    models = web().models
    doc = models.demand(demand_id.upper())
    if doc is None or not may_see(viewer(), doc):
        return not_found("demand.not_found")
    found = civic.likely_duplicates(
        doc, civic.duplicate_candidates(models.db, doc, demand_filter(viewer())), SHOWN)
    whole = models.load_demands(c["demand_id"] for c in found)
    pairs: list[dict[str, Any]] = [
        {**c, "doc": whole[c["demand_id"]]} for c in found if c["demand_id"] in whole]
    may_merge = doc.get("status") in choices.OPEN_STATUSES and choices.acts_at_rung(viewer(),
                                                                                     doc)
    return page("duplicates.html", status, page_id="duplicates", demand=doc, pairs=pairs,
                may_merge=may_merge, error=error, form_key=new_id,
                result=forms.result_of(request.args.get("done"), request.args.get("demand")))


@bp.post("/demands/<demand_id>/merge", endpoint="merge")
@auth.roles(*MERGERS)
def merge(demand_id: str) -> Response:
    """The page's merge form, sent on to routing; back to this page with its decision."""
    demand_id = demand_id.upper()
    refused = forms.check_rung(demand_id, "merge")
    if refused is not None:
        return refused
    return forms.submit(
        demand_id, "merge",
        back=lambda done, acted_on: url_for(API_ENDPOINT, demand_id=demand_id, done=done,
                                            demand=acted_on),
        again=lambda error, status: duplicates_page(demand_id, error=error, status=status))


@bp.before_app_request
def _duplicates_page_for_browsers():
    if (request.method == "GET" and request.endpoint == API_ENDPOINT and wants_html(request)
            and request.view_args):
        return duplicates_page(request.view_args["demand_id"])
    return None
