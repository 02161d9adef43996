"""A district department's page: its queue, oldest deadline first, with the actions as forms."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for

from reporting.api import present
from reporting.web import actions
from reporting.web.render import current_lang, not_found, page, translate, web
from reporting.web.scope import may_act_for, may_see, token_of, viewer
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


def _result(request_id: str | None, demand_id: str | None) -> dict[str, Any] | None:
    """What became of the last form sent from this page (`?done=<request id>`)."""
    models = web().models
    if not request_id or not demand_id:
        return None
    doc = models.demand(demand_id)
    if doc is None or not may_see(viewer(), doc):
        return None
    decision = actions.decision_on(models, request_id)
    if decision is not None and decision["demand_id"] != demand_id:
        decision = None
    return {"decision": decision, "demand_id": demand_id, "title": doc["title"]}


@bp.get("/districts/<int:district>/departments/<department>", endpoint="department")
def queue_page(district: int, department: str, error: str | None = None, status: int = 200):
    bad = _bad_place(district, department)
    if bad is not None:
        return bad
    if not viewer().sees(district, department):
        lang = current_lang()  # the API answers 403 here; so does the page
        return page("error.html", 403, heading=translate("error.forbidden", lang),
                    message=translate("error.out_of_scope", lang))
    models = web().models
    items = [present(d) for d in models.queue(district, department, QUEUE_LIMIT)]
    return page(
        "department.html", status, page_id="department", district=district,
        department=department, items=items, total=models.queue_size(district, department),
        can_act=may_act_for(viewer(), district, department), error=error,
        result=_result(request.args.get("done"), request.args.get("demand")),
        form_key=new_id, moment=format_time(now()))


@bp.post("/districts/<int:district>/departments/<department>/demands/<demand_id>/<action>")
@auth.roles(auth.STAFF, auth.ADMIN)
def act(district: int, department: str, demand_id: str, action: str):
    bad = _bad_place(district, department)
    if bad is not None:
        return bad
    if action not in actions.ACTIONS:
        return not_found("error.action", a=action)
    if not may_act_for(viewer(), district, department):
        lang = current_lang()
        return page("error.html", 403, heading=translate("error.forbidden", lang),
                    message=translate("dept.read_only", lang))
    headers = actions.headers_for(token_of(request.headers, request.cookies),
                                  request.form.get("key"))
    ctx = web()
    outcome = actions.forward(ctx.routing_url, demand_id, action,
                              actions.body_of(action, request.form.to_dict()), headers)
    if not outcome.accepted:
        why = translate("dept.failed", current_lang(), why=outcome.message)
        return with_error(district, department, why, outcome.status)
    request_id = outcome.body["request_id"]
    actions.await_decision(ctx.models, outcome.body["demand_id"], request_id)
    return redirect(url_for("web.department", district=district, department=department,
                            done=request_id, demand=outcome.body["demand_id"]) + "#result",
                    code=303)


def with_error(district: int, department: str, error: str, status: int) -> Response:
    """The queue again, with why the form was not recorded (and routing's status code)."""
    code = status if 400 <= status < 600 else 502
    return queue_page(district, department, error=error, status=code)
