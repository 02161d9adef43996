"""A district department's page: its queue, oldest deadline first, with the actions as forms."""

from __future__ import annotations

from flask import Response, request, url_for

from reporting.api import present
from reporting.web import choices, forms
from reporting.web.render import not_found, page, web
from reporting.web.scope import may_act_for, viewer
from reporting.web.views import bp
from services import auth
from services.domain.vocabulary import DEPARTMENTS
from services.events.envelope import format_time, now
from services.events.ids import new_id

QUEUE_LIMIT = 200


def _bad_place(district: int, department: str) -> Response | None:
    if not 1 <= district <= 22:
        return not_found("error.district")
    if department not in DEPARTMENTS:
        return not_found("error.department", d=department)
    return None


@bp.get("/districts/<int:district>/departments/<department>", endpoint="department")
def queue_page(district: int, department: str, error: str | None = None, status: int = 200):
    bad = _bad_place(district, department)
    if bad is not None:
        return bad
    if not viewer().sees(district, department):
        return forms.forbidden("error.out_of_scope")  # as the API answers here
    models = web().models
    docs, total = models.queue_page(district, department, QUEUE_LIMIT)
    items = [present(d) for d in docs]
    offers = {d["demand_id"]: acts for d in items if (acts := choices.offered(viewer(), d))}
    return page(
        "department.html", status, page_id="department", district=district,
        department=department, items=items, total=total,
        can_act=may_act_for(viewer(), district, department) or bool(offers), error=error,
        result=forms.result_of(request.args.get("done"), request.args.get("demand")),
        form_key=new_id, moment=format_time(now()),
        offered=lambda d: offers.get(d["demand_id"], ()), lower_levels=choices.lower_levels,
        act_url=lambda demand_id, action: url_for(
            "web.act", district=district, department=department, demand_id=demand_id,
            action=action))


@bp.post("/districts/<int:district>/departments/<department>/demands/<demand_id>/<action>")
@auth.roles(auth.STAFF, auth.ADMIN, *choices.CALLS_UP)
def act(district: int, department: str, demand_id: str, action: str):
    """The queue's own staff (and administrators) send any of its forms; a higher rung (the
    district mayor, headquarters, central management) only calls a demand up from it."""
    bad = _bad_place(district, department)
    if bad is not None:
        return bad
    if action not in choices.ACTIONS:
        return not_found("error.action", a=action)
    if not may_act_for(viewer(), district, department):
        if not viewer().sees(district, department):
            return forms.forbidden("error.out_of_scope")
        refused = forms.check_rung(demand_id, action, district)
        if refused is not None:
            return forms.forbidden("dept.read_only") if refused.status_code == 403 else refused
    return forms.submit(
        demand_id, action,
        back=lambda done, acted_on: url_for("web.department", district=district,
                                            department=department, done=done, demand=acted_on),
        again=lambda error, status: with_error(district, department, error, status))


def with_error(district: int, department: str, error: str, status: int) -> Response:
    """The queue again, with why the form was not recorded (and routing's status code)."""
    return queue_page(district, department, error=error, status=status)
