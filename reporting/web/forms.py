"""Sending a page's action form on to routing, and showing what became of it.

Every page with action forms (the department queue, the escalation board, the mayor's desk)
goes through `submit`: the form's fields become routing's JSON body (`actions.body_of`), sent
with the user's own token and the form's one-time key (`actions.forward`); once routing's
decision shows in the read models the page comes back with it (`?done=<request id>`), or, if
routing did not take the request, with why and routing's status code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, redirect, request

from reporting.web import actions, choices
from reporting.web.render import current_lang, not_found, page, translate, web
from reporting.web.scope import may_see, token_of, viewer


def result_of(request_id: str | None, demand_id: str | None) -> dict[str, Any] | None:
    """What became of the last form sent from a page (`?done=<request id>&demand=<id>`)."""
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


def forbidden(message_key: str) -> Response:
    lang = current_lang()
    return page("error.html", 403, heading=translate("error.forbidden", lang),
                message=translate(message_key, lang))


def submit(demand_id: str, action: str, back: Callable[[str, str], str],
           again: Callable[[str, int], Response]) -> Response:
    """Forward the posted form to routing. `back(request_id, demand_id)` is the page to see
    the decision on; `again(error, status)` the page again with why it was not recorded."""
    outcome = actions.forward(web().routing_url, demand_id, action,
                              actions.body_of(action, request.form.to_dict()),
                              actions.headers_for(token_of(request.headers, request.cookies),
                                                  request.form.get("key")))
    if not outcome.accepted:
        why = translate("dept.failed", current_lang(), why=outcome.message)
        return again(why, outcome.status if 400 <= outcome.status < 600 else 502)
    request_id, acted_on = outcome.body["request_id"], outcome.body["demand_id"]
    actions.await_decision(web().models, acted_on, request_id)
    return redirect(back(request_id, acted_on) + "#result", code=303)


def check_rung(demand_id: str, action: str, district: int | None = None) -> Response | None:
    """A 404 page for an unknown action or a demand out of sight (or not of `district`), a
    403 page if the viewer neither speaks for the demand's rung nor calls it up to theirs;
    None if the form may go on to routing."""
    if action not in choices.ACTIONS:
        return not_found("error.action", a=action)
    doc = web().models.demand(demand_id.upper())
    if doc is None or not may_see(viewer(), doc) or district not in (None, doc["district"]):
        return not_found("demand.not_found")
    if not choices.may_send(viewer(), doc, action):
        return forbidden("act.not_your_rung")
    return None
