"""The intake desk: a clerk (or a district mayor, or headquarters) records a demand, with the
meeting it was raised at, or a meeting with its attendees by group. Each form goes to intake's
own API (`POST /demands`, `POST /meetings`) with the user's token and the form's one-time key
as its Idempotency-Key: the page is only a way to fill in the body, never a second path."""

from __future__ import annotations

from typing import Any

from flask import Response, redirect, request, url_for

from reporting import civic
from reporting.web import actions
from reporting.web.forms import forbidden
from reporting.web.render import current_lang, not_found, page, translate, web
from reporting.web.scope import demand_filter, token_of, viewer
from reporting.web.views import bp
from services import auth
from services.domain.vocabulary import (
    CATEGORIES,
    CHANNELS,
    PRIORITIES,
    REQUESTER_KINDS,
)
from services.events.families.civic import MEETING_KINDS
from services.events.ids import new_id

# Who records demands and meetings at intake (intake.api.SUBMITTERS).
RECORDERS = (auth.CLERK, auth.MAYOR, auth.HQ, auth.CENTRAL)
RECENT_MEETINGS = 50
# Open demands offered by title on the support form (any other is typed by its id).
SUPPORTABLE = 200
# How long the page waits for a recorded demand's routing to show before opening its page.
ROUTED_WAIT_SECONDS = 5.0


def _district_or_refusal(district: int) -> Response | None:
    if not 1 <= district <= 22:
        return not_found("error.district")
    if viewer().district not in (None, district) or viewer().role not in RECORDERS:
        return forbidden("error.out_of_scope")
    return None


@bp.get("/districts/<int:district>/intake", endpoint="intake_desk")
def desk(district: int, error: str | None = None, status: int = 200,
         form: dict[str, str] | None = None, which: str | None = None) -> Response:
    refused = _district_or_refusal(district)
    if refused is not None:
        return refused
    if form is None and request.args.get("support"):  # from a row of the priorities page
        form, which = {"demand_id": request.args["support"]}, "support"
    return page("intake.html", status, page_id="intake", district=district, error=error,
                which=which, form=form or {}, form_key=new_id,
                meetings=civic.meetings(web().models.db, district, RECENT_MEETINGS),
                supportable=civic.priorities(web().models.db, district,
                                             demand_filter(viewer()), SUPPORTABLE),
                kinds=list(REQUESTER_KINDS), channels=list(CHANNELS),
                categories=list(CATEGORIES), priorities=list(PRIORITIES),
                meeting_kinds=list(MEETING_KINDS))


def demand_body(district: int, form: dict[str, str]) -> dict[str, Any]:
    """Intake's JSON body from the demand form: empty optional fields are left out."""
    requester = {"kind": form.get("kind", "")}
    for field in ("name", "phone", "national_id"):
        if form.get(field, "").strip():
            requester[field] = form[field].strip()
    body: dict[str, Any] = {"requester": requester, "district": district}
    for field in ("channel", "neighbourhood", "category", "title", "description", "priority"):
        body[field] = form.get(field, "")
    if form.get("meeting_id"):
        body["meeting_id"] = form["meeting_id"]
    return body


def meeting_body(district: int, form: dict[str, str]) -> dict[str, Any]:
    """Intake's JSON body from the meeting form: a head count per group that came."""
    attendees: dict[str, int | str] = {}
    for kind in REQUESTER_KINDS:
        text = form.get(f"attendees_{kind}", "").strip()
        if text:
            number = actions.number_of(text)
            attendees[kind] = number if isinstance(number, int) else text
    return {"kind": form.get("kind", ""), "district": district,
            "held_on": form.get("held_on", ""), "title": form.get("title", ""),
            "attendees": attendees, "minutes": form.get("minutes", "")}


def _send(district: int, path: str, body: dict[str, Any], which: str) -> actions.Outcome | Response:
    outcome = actions.send(f"{web().intake_url}{path}", body, actions.headers_for(
        token_of(request.headers, request.cookies), request.form.get("key")), "intake")
    if outcome.accepted:
        return outcome
    why = translate("intake.failed", current_lang(), why=outcome.message)
    return desk(district, error=why, status=outcome.status if 400 <= outcome.status < 600
                else 502, form=request.form.to_dict(), which=which)


@bp.post("/districts/<int:district>/intake/demands")
@auth.roles(*RECORDERS)
def record_demand(district: int) -> Response:
    refused = _district_or_refusal(district)
    if refused is not None:
        return refused
    sent = _send(district, "/demands", demand_body(district, request.form.to_dict()), "demand")
    if isinstance(sent, Response):
        return sent
    demand_id = sent.body["demand_id"]
    actions.await_decision(web().models, demand_id, sent.body["event_id"],
                           wait=ROUTED_WAIT_SECONDS)
    return redirect(url_for("demands.DemandItem", demand_id=demand_id), code=303)


@bp.post("/districts/<int:district>/intake/meetings")
@auth.roles(*RECORDERS)
def record_meeting(district: int) -> Response:
    refused = _district_or_refusal(district)
    if refused is not None:
        return refused
    sent = _send(district, "/meetings", meeting_body(district, request.form.to_dict()),
                 "meeting")
    if isinstance(sent, Response):
        return sent
    return redirect(url_for("web.meetings", district=district), code=303)
