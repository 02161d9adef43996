"""The administrator's rules page: the rule set and calendar in force, read from routing, and
forms to publish a change to the rules or to close offices, each sent to routing's own API
(`POST /rules`, `POST /closures`) with the administrator's token; a change is tried first
on the history through routing's `POST /rules/what-if` (which writes nothing), its comparison
shown as tables. A change is written as
people write proposals (the sections that change, in YAML or JSON; docs/rules.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import yaml
from flask import Response, redirect, request, url_for

from reporting.web import actions
from reporting.web.forms import forbidden
from reporting.web.render import current_lang, page, translate, web
from reporting.web.scope import token_of, viewer
from reporting.web.views import bp
from services import auth
from services.domain.when import TEHRAN
from services.events.families.routing import CLOSURE_KINDS
from services.events.ids import new_id

#: How long the page waits for routing's replay (routing refuses a log too long to replay
#: within it: routing.rules_api.WHAT_IF_MAX_EVENTS).
WHAT_IF_TIMEOUT_SECONDS = 50.0
#: Demands listed in each of the what-if's lists (the counts cover them all).
WHAT_IF_SHOWN = 20
#: The what-if report's deadline rows (routing names them in English words) -> message keys.
WHAT_IF_DEADLINES = {"resolved on time": "whatif.d.on_time", "resolved late": "whatif.d.late",
                     "escalated for a passed deadline": "whatif.d.escalated",
                     "open and overdue at the end": "whatif.d.overdue"}


def _headers() -> dict[str, str]:
    return actions.headers_for(token_of(request.headers, request.cookies),
                               request.form.get("key"))


@bp.get("/rules", endpoint="rules_desk")
def rules_page(error: str | None = None, status: int = 200,
               form: dict[str, str] | None = None,
               what_if: dict[str, Any] | None = None) -> Response:
    if viewer().role != auth.ADMIN:
        return forbidden("rules.admin_only")
    rules = actions.fetch(f"{web().routing_url}/rules", _headers(), "routing")
    calendar = actions.fetch(f"{web().routing_url}/calendar", _headers(), "routing")
    if not rules.status == calendar.status == 200:
        error = error or translate("rules.unreachable", current_lang(),
                                   why=rules.message if rules.status != 200 else calendar.message)
    return page("rules.html", status if rules.status == 200 else 502, page_id="rules",
                rules=rules.body if rules.status == 200 else None,
                calendar=calendar.body if calendar.status == 200 else None,
                error=error, done=request.args.get("done"), form=form or {},
                closure_kinds=CLOSURE_KINDS, districts=range(1, 23), form_key=new_id,
                what_if=what_if, what_if_shown=WHAT_IF_SHOWN,
                deadline_keys=WHAT_IF_DEADLINES)


def parse_changes(text: str) -> dict[str, Any]:
    """The sections a proposal changes, from YAML or JSON; ValueError saying why not."""
    try:
        changes = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    if not isinstance(changes, dict) or not changes:
        raise ValueError("write the sections that change, e.g. `lifecycle: {wait_hours: 35}`")
    return changes


def _tehran_iso(text: str) -> str:
    """A datetime-local field, read in Tehran time, as an ISO time with its offset."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=TEHRAN).isoformat()
    except ValueError:
        return text  # routing names the field and why


def _after(outcome: actions.Outcome, done: str) -> Response:
    if outcome.accepted:
        return redirect(url_for("web.rules_desk", done=done), code=303)
    why = translate("rules.failed", current_lang(), why=outcome.message)
    return rules_page(error=why, status=outcome.status if 400 <= outcome.status < 600 else 502,
                      form=request.form.to_dict())


@bp.post("/rules/publish")
@auth.roles(auth.ADMIN)
def publish() -> Response:
    try:
        changes = parse_changes(request.form.get("changes", ""))
    except ValueError as exc:
        return rules_page(error=translate("rules.failed", current_lang(), why=str(exc)),
                          status=400, form=request.form.to_dict())
    body = {"rule_set": changes, "note": request.form.get("note") or None}
    return _after(actions.send(f"{web().routing_url}/rules", body, _headers(), "routing"),
                  "published")


@bp.post("/rules/what-if", endpoint="rules_what_if")
@auth.roles(auth.ADMIN)
def what_if() -> Response:
    """A proposal tried on the history by routing's `POST /rules/what-if` (it writes
    nothing): the page comes back with the comparison, and the publish form holds the change
    as tried, for a note and the publish button."""
    try:
        changes = parse_changes(request.form.get("changes", ""))
    except ValueError as exc:
        return rules_page(error=translate("rules.failed", current_lang(), why=str(exc)),
                          status=400, form=request.form.to_dict())
    outcome = actions.send(f"{web().routing_url}/rules/what-if", {"rule_set": changes},
                           _headers(), "routing", timeout=WHAT_IF_TIMEOUT_SECONDS)
    if outcome.status != 200:
        why = translate("whatif.failed", current_lang(), why=outcome.message)
        return rules_page(error=why, status=outcome.status if 400 <= outcome.status < 600
                          else 502, form=request.form.to_dict())
    return rules_page(form=request.form.to_dict(), what_if=outcome.body)


@bp.post("/rules/closures")
@auth.roles(auth.ADMIN)
def close_offices() -> Response:
    form = request.form
    body = {"district": actions.number_of(form["district"]) if form.get("district") else None,
            "start": _tehran_iso(form.get("start", "")), "end": _tehran_iso(form.get("end", "")),
            "kind": form.get("kind", "other"), "reason": form.get("reason", "")}
    return _after(actions.send(f"{web().routing_url}/closures", body, _headers(), "routing"),
                  "closed")
