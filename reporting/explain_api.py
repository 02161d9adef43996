"""Why a demand's deadlines are what they are, and what a rule or calendar change did.

- `GET /demands/{id}/explanation`: every routing decision on the demand that set or moved its
  deadlines, each with its explanation (rule id and version, the inputs it matched, SLA
  policy, calendar, working hours counted), and the deadlines in force, in Jalali and Gregorian.
- `GET /deadline-changes`: the rule sets published and offices closed, each with how many open
  demands' deadlines it moved; `GET /deadline-changes/{event_id}`: for one of them, each
  demand's deadlines before and after.

Both read the `history` read model (every event, payload included) and respect the token's
scope: a district sees its own demands only.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Api
from pymongo import ASCENDING, DESCENDING

from reporting import schemas
from reporting.api import _ctx, await_fresh, fail
from services import auth
from services.domain.when import DEFAULT_TIMEZONE, shown
from services.events.families.routing import CLOSURE, ROUTING_STREAM_ID, RULES
from services.parsing import Blueprint

TIMED = ("DemandRouted", "DemandEscalated", "DemandReopened", "DemandSentBack",
         "WaitingOnRequester", "DemandResumed", "DeadlineRecomputed", "DeadlineWarning")
CHANGES = (RULES, CLOSURE)

blp = Blueprint("explanations", __name__, description="Why deadlines are what they are")


def _summary(event: dict[str, Any]) -> str:
    p, kind = event["payload"], event["type"]
    if kind == "DemandRouted":
        return (f"routed to {p['department']} by rule {p['rule_id']} "
                f"(v{p.get('rule_version', 1)})" + (" — no rule: triage" if p.get("triage")
                                                    else ""))
    if kind == "DemandEscalated":
        how = "on a passed deadline" if p.get("trigger") == "deadline" else "on request"
        return f"escalated {p['from_level']} -> {p['to_level']} ({p['reason']}, {how})"
    if kind == "DemandSentBack":
        return f"sent back {p['from_level']} -> {p['to_level']}: {p['instructions']}"
    if kind == "DeadlineRecomputed":
        return (f"deadline moved {p['before'].get('deadline')} -> {p['after'].get('deadline')} "
                f"({p['cause']['type']})")
    if kind == "DeadlineWarning":
        return f"the deadline to {p['kind']} ({p['deadline']}) is {p['stage']}"
    if kind == "WaitingOnRequester":
        return f"waiting on the requester: {p['question']}"
    if kind == "DemandResumed":
        return f"the requester answered; {p['paused_hours']:g} working hours paused"
    return f"reopened: {p['reason']}"


def _shown_deadlines(source: dict[str, Any], tz: str) -> dict[str, Any]:
    return {"acknowledge": shown(source.get("ack_deadline"), tz),
            "resolve": shown(source.get("deadline"), tz)}


def _timezone(doc: dict[str, Any]) -> str:
    """The time zone of the calendar the demand's deadlines were counted in."""
    explanation = (doc.get("explanation") or {}).get("calendar") or {}
    return explanation.get("timezone", DEFAULT_TIMEZONE)


@blp.route("/demands/<demand_id>/explanation")
class Explanation(MethodView):
    @blp.arguments(schemas.FreshnessArgs, location="query")
    @blp.response(200)
    @blp.alt_response(404, description="No demand with this id")
    def get(self, args: dict[str, Any], demand_id: str):
        """Each decision that set or moved the demand's deadlines, with why."""
        await_fresh(args)
        models = _ctx().models
        doc = models.demand(demand_id)
        if doc is None:
            fail(404, f"no demand with id {demand_id}")
        auth.require_visible(doc)
        tz = _timezone(doc)
        decisions = [{
            "event_id": e["_id"], "type": e["type"], "version": e["version"],
            "recorded_at": e["recorded_at"], "shown": shown(e["recorded_at"], tz),
            "causation_id": e["causation_id"], "summary": _summary(e),
            "deadlines": _shown_deadlines(e["payload"].get("clock") or e["payload"], tz),
            "explanation": e["payload"].get("explanation"),
        } for e in models.demand_history(demand_id) if e["decision"] and e["type"] in TIMED]
        return {
            "demand_id": demand_id, "status": doc["status"], "level": doc["level"],
            "department": doc.get("department"), "rule_id": doc.get("rule_id"),
            "rule_version": doc.get("rule_version"), "waiting": doc.get("waiting"),
            "deadlines": _shown_deadlines(doc, tz), "clock": doc.get("clock"),
            "count": len(decisions), "decisions": decisions,
        }


def _cause(event: dict[str, Any]) -> dict[str, Any]:
    p = event["payload"]
    out = {"event_id": event["_id"], "type": event["type"], "recorded_at": event["recorded_at"],
           "by": f"{event['actor']['role']}:{event['actor']['id']}"}
    if event["type"] == RULES:
        out.update(version=p["version"], note=p.get("note"))
    else:
        out.update({k: p.get(k) for k in ("closure_id", "district", "start", "end", "kind",
                                          "reason")})
    return out


@blp.route("/deadline-changes")
class DeadlineChanges(MethodView):
    @blp.arguments(schemas.FreshnessArgs, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any]):
        """Rule sets published and offices closed, newest first, with how many open demands'
        deadlines each one moved (all districts)."""
        await_fresh(args)
        history = _ctx().models.history
        causes = history.find({"demand_id": ROUTING_STREAM_ID, "type": {"$in": list(CHANGES)}},
                              {"payload.rule_set": 0}).sort(
            [("partition", DESCENDING), ("offset", DESCENDING)])
        items = [{**_cause(c), "demands_changed": history.count_documents(
            {"causation_id": c["_id"], "type": "DeadlineRecomputed"})} for c in causes]
        return {"count": len(items), "items": items}


@blp.route("/deadline-changes/<event_id>")
class DeadlineChange(MethodView):
    @blp.arguments(schemas.FreshnessArgs, location="query")
    @blp.response(200)
    @blp.alt_response(404, description="No rule set or closure with this event id")
    def get(self, args: dict[str, Any], event_id: str):
        """What one rule set or closure changed: each demand's deadlines before and after."""
        await_fresh(args)
        models = _ctx().models
        cause = models.history.find_one({"demand_id": ROUTING_STREAM_ID, "_id": event_id,
                                         "type": {"$in": list(CHANGES)}},
                                        {"payload.rule_set": 0})
        if cause is None:
            fail(404, f"no rule set published or office closure with event id {event_id}")
        changes = list(models.history.find(
            {"causation_id": event_id, "type": "DeadlineRecomputed"}).sort(
            [("partition", ASCENDING), ("offset", ASCENDING)]))
        docs = models.load_demands(c["demand_id"] for c in changes)
        principal = auth.current_actor()
        items = []
        for change in changes:
            doc = docs.get(change["demand_id"])
            if doc is None or not auth.visible(doc, principal):
                continue
            p = change["payload"]
            items.append({
                "demand_id": change["demand_id"], "title": doc["title"],
                "district": doc["district"], "department": doc.get("department"),
                "level": p["clock"]["level"], "before": p["before"], "after": p["after"],
                "shown": {"before": _shown_deadlines(p["before"], _timezone(doc)),
                          "after": _shown_deadlines(p["after"], _timezone(doc))},
                "note": (p.get("explanation") or {}).get("note"),  # decided before codes
                "stays_in_queue": (p.get("explanation") or {}).get("stays_in_queue"),
            })
        return {"cause": _cause(cause), "count": len(items), "items": items}


def register(api: Api) -> None:
    api.register_blueprint(blp)
