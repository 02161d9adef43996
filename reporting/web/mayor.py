"""The district mayor's desk: the demands escalated to the mayor's rung, and the triage desk
(demands no rule placed), each with the action forms its reader may choose."""

from __future__ import annotations

from flask import request, url_for

from reporting.api import present
from reporting.web import choices, forms
from reporting.web.render import not_found, page, web
from reporting.web.scope import may_see, viewer
from reporting.web.views import bp
from services import auth
from services.domain.rules import TRIAGE_DEPARTMENT
from services.events.envelope import format_time, now
from services.events.ids import new_id

DESK_LIMIT = 200


@bp.get("/districts/<int:district>/mayor", endpoint="mayor")
def desk(district: int, error: str | None = None, status: int = 200):
    if not 1 <= district <= 22:
        return not_found("error.district")
    if viewer().district not in (None, district):
        return forms.forbidden("error.out_of_scope")
    models, moment = web().models, format_time(now())
    # Within the district, each sees what their scope holds (the desk's own staff: its queue).
    rung = [present(d, moment) for d in models.escalations(district, "district_mayor",
                                                            DESK_LIMIT) if may_see(viewer(), d)]
    queued, triage_total = models.queue_page(district, TRIAGE_DEPARTMENT, DESK_LIMIT)
    triage = [present(d, moment) for d in queued if may_see(viewer(), d)]
    return page(
        "mayor.html", status, page_id="mayor", district=district, rung=rung, triage=triage,
        triage_total=triage_total, error=error,
        result=forms.result_of(request.args.get("done"), request.args.get("demand")),
        form_key=new_id, moment=moment, lower_levels=choices.lower_levels,
        offers={d["demand_id"]: acts for d in rung + triage
                if (acts := choices.offered(viewer(), d))},
        act_url=lambda demand_id, action: url_for(
            "web.mayor_act", district=district, demand_id=demand_id, action=action))


@bp.post("/districts/<int:district>/mayor/demands/<demand_id>/<action>")
@auth.roles(auth.MAYOR, auth.STAFF, auth.ADMIN)
def mayor_act(district: int, demand_id: str, action: str):
    """A form from the mayor's desk, sent on to routing; back to the desk."""
    if not 1 <= district <= 22:
        return not_found("error.district")
    refused = forms.check_rung(demand_id, action, district)
    if refused is not None:
        return refused
    return forms.submit(
        demand_id, action,
        back=lambda done, acted_on: url_for("web.mayor", district=district, done=done,
                                            demand=acted_on),
        again=lambda error, status: desk(district, error=error, status=status))
