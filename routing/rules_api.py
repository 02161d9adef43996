"""What routing decides by, over HTTP: the rule set, the working calendar and the clock.

Reading is open to every signed-in role. Changing them is the administrator's: publishing a
rule set, closing offices and ticking the clock each append one *fact*, broadcast to every
partition; the routing worker then recomputes open demands' deadlines, or warns and escalates
on the tick. Each answers 202 with the fact's id: reporting's `/deadline-changes/<id>` shows
what it changed, demand by demand. Trying a proposal first (`POST /rules/what-if`, also the
administrator's) replays the log under it and writes nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import abort as flask_abort
from flask import current_app
from flask.views import MethodView
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from webargs.flaskparser import abort

from routing.facts import office_closed, rule_set_published, tick
from routing.proposals import proposed_rules
from routing.stream_view import StreamFacts
from routing.views import calendar_view, publications_view, rules_view
from routing.whatif import try_proposal
from services import auth
from services.eventlog.port import EventLog
from services.events.envelope import format_time, now
from services.events.families.routing import CLOSURE_KINDS
from services.events.ids import new_id
from services.parsing import Blueprint
from services.web import fail, unavailable

logger = logging.getLogger(__name__)

MAX_CLOSURE = timedelta(days=92)
UNAVAILABLE = "could not record durably; retry"

blp = Blueprint("rules", __name__,
                description="The rule set, the working calendar and the clock routing uses.")


class _Body(Schema):
    class Meta:
        unknown = RAISE


class PublishV1(_Body):
    rule_set = fields.Dict(required=True, metadata={
        "description": "the sections to change: rules, triage, sla_policies, levels, "
                       "priority_factor, calendar, lifecycle (see docs/rules.md)"})
    note = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(min=1, max=4000))


class ClosureV1(_Body):
    district = fields.Integer(load_default=None, allow_none=True,
                              validate=validate.Range(min=1, max=22),
                              metadata={"description": "omit or null: every district"})
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    kind = fields.String(load_default="other", validate=validate.OneOf(CLOSURE_KINDS))
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=4000),
                                                    validate.Regexp(r"\S")])

    @validates_schema
    def _span(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["end"] <= data["start"]:
            raise ValidationError("Must be after start.", "end")
        if data["end"] - data["start"] > MAX_CLOSURE:
            raise ValidationError(f"A closure lasts at most {MAX_CLOSURE.days} days.", "end")


class TickV1(_Body):
    at = fields.AwareDateTime(load_default=None, validate=validate.Range(
        min=datetime(2000, 1, 1, tzinfo=UTC), max=datetime(2100, 1, 1, tzinfo=UTC),
        error="Must be from 2000 to 2100."), metadata={
        "description": "the time the clock says (default: now); a simulated clock chooses it"})


class FactAcceptedV1(Schema):
    event_id = fields.String()
    positions = fields.List(fields.String())
    at = fields.String()
    version = fields.Integer()
    closure_id = fields.String()
    links = fields.Dict(keys=fields.String(), values=fields.String())


def facts() -> StreamFacts:
    return current_app.extensions["sada.facts"]


def _broadcast(event) -> list[str]:
    log: EventLog = current_app.extensions["sada.log"]
    try:
        return [str(p) for p in log.broadcast([event])]
    except Exception:
        logger.exception("broadcasting %s %s failed", event.type, event.event_id)
        flask_abort(unavailable(UNAVAILABLE))


def _changes_link(event_id: str) -> dict[str, str]:
    reporting = current_app.extensions["sada.settings"].service_url("reporting")
    return {"deadline_changes": f"{reporting}/deadline-changes/{event_id}"}


@blp.route("/rules")
class Rules(MethodView):
    @blp.response(200)
    def get(self):
        """The rule set in force (version, rules, SLA policies, calendar) and its history."""
        ctx = facts().refresh()
        return rules_view(ctx, facts().publications)

    @auth.roles(auth.ADMIN)
    @blp.arguments(PublishV1)
    @blp.response(202, FactAcceptedV1)
    @blp.alt_response(422, description="The rule set is not valid: the fields at fault.")
    def post(self, body: dict[str, Any]):
        """Publish a new version of the rules: the sections given replace those in force.

        Open demands' deadlines are recomputed under it (`DeadlineRecomputed`)."""
        ctx = facts().refresh()
        try:
            rules = proposed_rules(ctx.rules, body["rule_set"], ctx.rules.version + 1,
                                   today=now().date())
        except ValidationError as exc:
            abort(422, exc=exc, messages={"json": {"rule_set": exc.messages}})
        event = rule_set_published(rules, now(), actor=auth.current_actor().actor(),
                                   note=body["note"])
        positions = _broadcast(event)
        return {"event_id": event.event_id, "version": rules.version, "positions": positions,
                "at": event.recorded_at_text, "links": _changes_link(event.event_id)}


class WhatIfV1(_Body):
    rule_set = fields.Dict(required=True, metadata={
        "description": "the sections that would change, as for publishing (docs/rules.md)"})


# One what-if at a time per process: each replays the whole log twice, holding its worker
# (about 1 s per 2,000 events on two loaded cores). A longer log is refused with the command
# that replays it anywhere (`sada what-if`), rather than holding a worker for minutes.
_what_if_running = threading.Lock()
WHAT_IF_MAX_EVENTS = 50_000


@blp.route("/rules/what-if")
class WhatIf(MethodView):
    @auth.roles(auth.ADMIN)
    @blp.arguments(WhatIfV1)
    @blp.response(200)
    @blp.alt_response(422, description="The proposal is not valid: the fields at fault.")
    @blp.alt_response(409, description="The log is too long to replay here: use `sada what-if`.")
    def post(self, body: dict[str, Any]):
        """Try a proposal on the history before publishing it: the whole log replayed under
        the rules in force and under the proposal (as `sada what-if`). Writes nothing.

        The answer compares both: load and open demands per department, the highest rung
        reached, deadlines met and missed, refused actions, and the demands that would have
        climbed or been routed differently."""
        log: EventLog = current_app.extensions["sada.log"]
        events = sum(log.end_offsets().values())
        if events > WHAT_IF_MAX_EVENTS:
            fail(409, f"the log holds {events} events, more than this API replays "
                      f"({WHAT_IF_MAX_EVENTS}); run `sada what-if RULES_FILE` instead")
        current = facts().refresh().rules
        with _what_if_running:
            try:
                report = try_proposal(log, current, body["rule_set"], today=now().date())
            except ValidationError as exc:
                abort(422, exc=exc, messages={"json": {"rule_set": exc.messages}})
        return {"version": current.version, "proposed_version": current.version + 1,
                **report}


@blp.route("/rules/history")
class RuleHistory(MethodView):
    @blp.response(200)
    def get(self):
        """Every rule set published, oldest first."""
        facts().refresh()
        return publications_view(facts().publications)


@blp.route("/calendar")
class Calendar(MethodView):
    @blp.response(200)
    def get(self):
        """The working calendar: days, hours, upcoming holidays, office closures, the clock."""
        return calendar_view(facts().refresh())


@blp.route("/closures")
class Closures(MethodView):
    @auth.roles(auth.ADMIN)
    @blp.arguments(ClosureV1)
    @blp.response(202, FactAcceptedV1)
    def post(self, body: dict[str, Any]):
        """Close offices (a district's, or city-wide): for air pollution, a lunar holiday
        confirmed late, … Open demands' deadlines are recomputed around it."""
        closure_id = new_id()
        event = office_closed(closure_id, body["start"], body["end"], now(),
                              actor=auth.current_actor().actor(), reason=body["reason"],
                              district=body["district"], kind=body["kind"])
        positions = _broadcast(event)
        return {"event_id": event.event_id, "closure_id": closure_id, "positions": positions,
                "at": event.recorded_at_text, "links": _changes_link(event.event_id)}


@blp.route("/clock/ticks")
class ClockTicks(MethodView):
    @auth.roles(auth.ADMIN)
    @blp.arguments(TickV1)
    @blp.response(202, FactAcceptedV1)
    @blp.alt_response(409, description="The clock is already at or past this time.")
    def post(self, body: dict[str, Any]):
        """Tell routing the time (a simulated clock for tests and demos): deadlines that
        passed by then escalate their demands, those near get a warning."""
        at = body["at"] or now()
        clock = facts().refresh().now
        if clock is not None and format_time(at) <= clock:
            fail(409, f"the clock is already at {clock}; a tick must move it forward",
                 {"json": {"at": [f"Must be after {clock}."]}})
        event = tick(at, source="manual")
        positions = _broadcast(event)
        return {"event_id": event.event_id, "at": event.recorded_at_text,
                "positions": positions}

