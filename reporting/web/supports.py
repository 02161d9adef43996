"""A clerk records a citizen's support of a demand («من شهردارم») from the intake desk.

The form goes to routing's own action API (`POST /demands/{id}/support`, docs/intake.md) with
the clerk's token and the form's one-time key, the citizen named by national code or phone
(never kept: routing only finds the person's id) or by nobody (an anonymous support); the page
then opens the district's priorities with routing's decision on it.
"""

from __future__ import annotations

from flask import Response, redirect, request, url_for

from reporting.web import actions
from reporting.web.forms import forbidden
from reporting.web.intake_desk import desk
from reporting.web.render import current_lang, not_found, translate, web
from reporting.web.scope import may_see, token_of, viewer
from reporting.web.views import bp
from services import auth

#: Who records a citizen's support (routing.api's REQUESTER_SIDE, less the administrator,
#: who has no intake desk).
SUPPORTERS = (auth.CLERK,)


@bp.post("/districts/<int:district>/intake/supports")
@auth.roles(*SUPPORTERS)
def record_support(district: int) -> Response:
    if not 1 <= district <= 22:
        return not_found("error.district")
    if viewer().district not in (None, district):
        return forbidden("error.out_of_scope")
    demand_id = request.form.get("demand_id", "").strip().upper()
    doc = web().models.demand(demand_id) if demand_id else None
    if doc is None or doc["district"] != district or not may_see(viewer(), doc):
        why = translate("support.unknown", current_lang(), d=demand_id or "—")
        return desk(district, error=why, status=404 if demand_id else 400,
                    form=request.form.to_dict(), which="support")
    outcome = actions.forward(
        web().routing_url, demand_id, "support",
        actions.body_of("support", request.form.to_dict()),
        actions.headers_for(token_of(request.headers, request.cookies), request.form.get("key")))
    if not outcome.accepted:
        why = translate("intake.failed", current_lang(), why=outcome.message)
        return desk(district, error=why,
                    status=outcome.status if 400 <= outcome.status < 600 else 502,
                    form=request.form.to_dict(), which="support")
    request_id = outcome.body["request_id"]
    actions.await_decision(web().models, demand_id, request_id)
    return redirect(url_for("priorities.Priorities", district=district, done=request_id,
                            demand=demand_id) + "#result", code=303)
