"""Routing's own events (payload version 1): the stream-wide facts routing decides on, and the
requests and decisions of a demand's SLA clock.

**Facts** — time, rule sets and the working calendar — belong to one pseudo-demand,
`ROUTING_STREAM_ID`, and are broadcast to every partition (`EventLog.broadcast`), so each
partition's routing worker meets them in order among its demands' events. Unlike the log's
seals, routing *does* decide on these: a tick may warn about or escalate a demand whose
deadline approaches or passed, and a new rule set or office closure recomputes the deadlines of
open demands. Decisions thus depend on the stream alone, and a replay repeats them exactly.

A level **clock** (`ClockSchema`) is what a demand's deadlines at one rung of the ladder are
computed from: when it started, the working hours allotted, the pauses while the demand waited
on its requester, and the SLA policy, rule and calendar that set them. Every decision that sets
deadlines carries the whole clock, so the fold only copies it.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.domain.vocabulary import (
    CATEGORIES,
    CHANNELS,
    DEPARTMENTS,
    LEVEL_CODES,
    PRIORITIES,
    REQUESTER_KINDS,
)
from services.events.ids import id_from_key

ROUTING_STREAM_ID = id_from_key("stream", "routing")
TICK, RULES, CLOSURE = "ClockTicked", "RuleSetPublished", "OfficeClosed"
# Routing's warning that the calendar in force is within a year of its horizon: a fact in the
# stream (for auditors and operators), on which nothing is decided.
HORIZON = "CalendarHorizonNear"
ROUTING_FACTS = (TICK, RULES, CLOSURE)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CLOSURE_KINDS = ("pollution", "holiday", "weather", "other")
DEADLINE_KINDS = ("acknowledge", "resolve")
WARNING_STAGES = ("approaching", "missed")

_text = validate.Length(min=1, max=4000)
_short = validate.Length(min=1, max=200)
_hours = validate.Range(min=0.01, max=3000)
# A rule set must give its longest deadline within this many weeks of its own working time.
MAX_SLA_WEEKS = 156
_hhmm = validate.Regexp(r"^([01][0-9]|2[0-3]):[0-5][0-9]$", error="Must be HH:MM (24-hour).")
_id = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$",
                      error="Must be 1-64 letters, digits, '-', '_' or '.'.")


# -- the rule set document ----------------------------------------------------------------
class RuleSchema(Schema):
    rule_id = fields.String(required=True, validate=_id)
    category = fields.String(required=True, validate=validate.OneOf(list(CATEGORIES)))
    district = fields.Integer(load_default=0, validate=validate.Range(min=0, max=22),
                              metadata={"description": "0: every district"})
    requester_kind = fields.String(load_default=None, allow_none=True,
                                   validate=validate.OneOf(list(REQUESTER_KINDS)))
    channel = fields.String(load_default=None, allow_none=True,
                            validate=validate.OneOf(list(CHANNELS)))
    department = fields.String(required=True, validate=validate.OneOf(list(DEPARTMENTS)))
    priority = fields.String(load_default=None, allow_none=True,
                             validate=validate.OneOf(list(PRIORITIES)),
                             metadata={"description": "at least this urgent (a floor)"})
    sla = fields.String(required=True, validate=_id, metadata={"description": "an SLA policy"})


class SlaPolicySchema(Schema):
    acknowledge_hours = fields.Float(required=True, validate=_hours)
    resolve_hours = fields.Float(required=True, validate=_hours)
    warn_hours = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=3000),
                              metadata={"description": "warn this many working hours before "
                                                       "a deadline (at most half the time)"})


class TriageSchema(Schema):
    sla = fields.String(required=True, validate=_id)


class LevelsSchema(Schema):
    """The SLA policy of each rung above the department (the department's comes from its rule)."""

    district_mayor = fields.String(required=True, validate=_id)
    headquarters = fields.String(required=True, validate=_id)
    central_management = fields.String(required=True, validate=_id)


class LifecycleSchema(Schema):
    """How long the requester's side has, in working hours: to appeal a rejection, and to
    answer a question before the demand's clock runs again without the answer."""

    appeal_hours = fields.Float(load_default=70.0, validate=validate.Range(min=1, max=3000))
    wait_hours = fields.Float(load_default=70.0, validate=validate.Range(min=1, max=3000))


class HolidaySchema(Schema):
    date = fields.Date(required=True)
    name = fields.String(required=True, validate=_short)


class OffsetSchema(Schema):
    """From this local day on, the calendar's time zone is this many minutes ahead of UTC."""

    from_ = fields.Date(required=True, data_key="from")
    minutes = fields.Integer(required=True, validate=validate.Range(min=-16 * 60, max=16 * 60))


class CalendarSchema(Schema):
    name = fields.String(required=True, validate=_short)
    timezone = fields.String(required=True, validate=_short)
    working_days = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)), required=True,
                               validate=validate.Length(min=1, max=7))
    opens = fields.String(required=True, validate=_hhmm)
    closes = fields.String(required=True, validate=_hhmm)
    holidays = fields.List(fields.Nested(HolidaySchema), load_default=list,
                           validate=validate.Length(max=2000))
    holiday_source = fields.String(load_default="", validate=validate.Length(max=200))
    offsets = fields.List(fields.Nested(OffsetSchema), load_default=list,
                          validate=validate.Length(max=2000), metadata={
                              "description": "the zone's UTC offsets frozen at publication"})

    @validates_schema
    def _check(self, data, **kwargs) -> None:
        if data["opens"] >= data["closes"]:
            raise ValidationError("Must close after it opens.", "closes")
        if _minutes(data["closes"]) - _minutes(data["opens"]) < 60:
            raise ValidationError("A working day lasts at least an hour.", "closes")
        if len(set(data["working_days"])) != len(data["working_days"]):
            raise ValidationError("A day is named twice.", "working_days")
        try:
            ZoneInfo(data["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError("Not a known time zone (e.g. Asia/Tehran).",
                                  "timezone") from None


class RuleSetSchema(Schema):
    rules = fields.List(fields.Nested(RuleSchema), required=True,
                        validate=validate.Length(max=2000))
    triage = fields.Nested(TriageSchema, required=True)
    sla_policies = fields.Dict(keys=fields.String(validate=_id),
                               values=fields.Nested(SlaPolicySchema), required=True,
                               validate=validate.Length(min=1, max=200))
    levels = fields.Nested(LevelsSchema, required=True)
    priority_factor = fields.Dict(keys=fields.String(validate=validate.OneOf(list(PRIORITIES))),
                                  values=fields.Float(validate=validate.Range(min=0.01, max=4)),
                                  required=True)
    calendar = fields.Nested(CalendarSchema, required=True)
    lifecycle = fields.Nested(LifecycleSchema, load_default=lambda: LifecycleSchema().load({}))

    @validates_schema
    def _check(self, data, **kwargs) -> None:
        policies = data["sla_policies"]
        errors: dict = {}
        ids = [r["rule_id"] for r in data["rules"]]
        for i, rule in enumerate(data["rules"]):
            if ids.count(rule["rule_id"]) > 1:
                errors.setdefault("rules", {})[i] = {"rule_id": ["Another rule has this id."]}
            elif rule["sla"] not in policies:
                errors.setdefault("rules", {})[i] = {"sla": [f"No SLA policy {rule['sla']!r}."]}
        if data["triage"]["sla"] not in policies:
            errors["triage"] = {"sla": [f"No SLA policy {data['triage']['sla']!r}."]}
        for level, name in data["levels"].items():
            if name not in policies:
                errors.setdefault("levels", {})[level] = [f"No SLA policy {name!r}."]
        missing = [p for p in PRIORITIES if p not in data["priority_factor"]]
        if missing:
            errors["priority_factor"] = [f"Missing: {', '.join(missing)}."]
        cal = data["calendar"]
        weekly = len(cal["working_days"]) * (_minutes(cal["closes"]) - _minutes(cal["opens"])) / 60
        longest = max(max(p["acknowledge_hours"], p["resolve_hours"]) for p in policies.values())
        factor = max(data["priority_factor"].values(), default=1)
        if longest * factor > weekly * MAX_SLA_WEEKS:
            errors["sla_policies"] = [
                f"The longest time ({longest:g} working hours x {factor:g}) would take more "
                f"than {MAX_SLA_WEEKS} weeks of this calendar ({weekly:g} hours a week)."]
        if errors:
            raise ValidationError(errors)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


# -- facts ----------------------------------------------------------------------------------
class ClockTickedV1(Schema):
    """The time is the event's `recorded_at`: a simulated clock chooses it."""

    source = fields.String(load_default="clock",
                           validate=validate.OneOf(["clock", "manual", "demo"]))


class RuleSetPublishedV1(Schema):
    version = fields.Integer(required=True, validate=validate.Range(min=1))
    rule_set = fields.Nested(RuleSetSchema, required=True)
    note = fields.String(load_default=None, allow_none=True, validate=_text)


class OfficeClosedV1(Schema):
    closure_id = fields.String(required=True, validate=_id)
    district = fields.Integer(load_default=None, allow_none=True,
                              validate=validate.Range(min=1, max=22),
                              metadata={"description": "null: every district (city-wide)"})
    start = fields.String(required=True)
    end = fields.String(required=True)
    kind = fields.String(load_default="other", validate=validate.OneOf(CLOSURE_KINDS))
    reason = fields.String(required=True, validate=_text)


# -- the level clock --------------------------------------------------------------------------
class ClockSchema(Schema):
    level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES))
    policy = fields.String(required=True)
    priority = fields.String(required=True, validate=validate.OneOf(list(PRIORITIES)))
    factor = fields.Float(required=True)
    started = fields.String(required=True)
    ack_hours = fields.Float(required=True)
    resolve_hours = fields.Float(required=True)
    warn_hours = fields.Float(required=True)
    fixed_hours = fields.Float(load_default=None, allow_none=True, metadata={
        "description": "working hours set by whoever sent the demand back, if they did"})
    pauses = fields.List(fields.List(fields.String(allow_none=True)), load_default=list,
                         metadata={"description": "[from, to] while waiting on the requester; "
                                                  "to is null while still waiting"})
    rule_id = fields.String(required=True)
    rule_version = fields.Integer(required=True)
    calendar = fields.String(required=True)
    district = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "whose office closures count (null above the district)"})
    ack_deadline = fields.String(load_default=None, allow_none=True)
    ack_warn_at = fields.String(load_default=None, allow_none=True)
    deadline = fields.String(load_default=None, allow_none=True)
    warn_at = fields.String(load_default=None, allow_none=True)


# -- requests ---------------------------------------------------------------------------------
class RequesterInfoRequestedV1(Schema):
    question = fields.String(required=True, validate=_text)


class RequesterRespondedV1(Schema):
    answer = fields.String(required=True, validate=_text)


class SendBackRequestedV1(Schema):
    to_level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES[:-1]))
    instructions = fields.String(required=True, validate=_text)
    resolve_hours = fields.Float(load_default=None, allow_none=True,
                                 validate=validate.Range(min=0.5, max=2000))


# -- decisions --------------------------------------------------------------------------------
class WaitingOnRequesterV1(Schema):
    question = fields.String(required=True)
    since = fields.String(required=True)
    clock = fields.Nested(ClockSchema, required=True)
    until = fields.String(load_default=None, allow_none=True, metadata={
        "description": "when the wait ends without an answer and the clock runs again"})


class WaitExpiredV1(Schema):
    """The requester did not answer in time: the clock runs again without the answer."""

    since = fields.String(required=True)
    until = fields.String(required=True)
    paused_hours = fields.Float(required=True)
    clock = fields.Nested(ClockSchema, required=True)


class DemandResumedV1(Schema):
    answer = fields.String(required=True)
    paused_hours = fields.Float(required=True, metadata={"description": "working hours paused"})
    clock = fields.Nested(ClockSchema, required=True)
    explanation = fields.Dict(load_default=dict)


class DemandSentBackV1(Schema):
    from_level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES))
    to_level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES))
    instructions = fields.String(required=True)
    deadline = fields.String(required=True)
    clock = fields.Nested(ClockSchema, required=True)
    explanation = fields.Dict(load_default=dict)


class DeadlineWarningV1(Schema):
    level = fields.String(required=True, validate=validate.OneOf(LEVEL_CODES))
    kind = fields.String(required=True, validate=validate.OneOf(DEADLINE_KINDS))
    stage = fields.String(required=True, validate=validate.OneOf(WARNING_STAGES))
    deadline = fields.String(required=True)
    working_hours_left = fields.Float(required=True)


class DeadlineRecomputedV1(Schema):
    cause = fields.Dict(required=True, metadata={
        "description": "the fact that changed the deadlines: type, event id, version or closure"})
    before = fields.Dict(required=True)
    after = fields.Dict(required=True)
    clock = fields.Nested(ClockSchema, required=True)
    explanation = fields.Dict(load_default=dict)


REQUESTS: dict[str, type[Schema]] = {
    "RequesterInfoRequested": RequesterInfoRequestedV1,
    "RequesterResponded": RequesterRespondedV1,
    "SendBackRequested": SendBackRequestedV1,
}

class DemandResumedV2(DemandResumedV1):
    """Version 2: the explanation holds codes, UTC times and numbers only."""


class DemandSentBackV2(DemandSentBackV1):
    """Version 2: the explanation holds codes, UTC times and numbers only."""


class DeadlineRecomputedV2(DeadlineRecomputedV1):
    """Version 2: a rule that would route the demand elsewhere is said as codes
    (`explanation.stays_in_queue`), not as an English note."""


OLD_VERSIONS: dict[tuple[str, int], type[Schema]] = {
    ("DemandResumed", 1): DemandResumedV1,
    ("DemandSentBack", 1): DemandSentBackV1,
    ("DeadlineRecomputed", 1): DeadlineRecomputedV1,
}

DECISIONS: dict[str, type[Schema]] = {
    "WaitingOnRequester": WaitingOnRequesterV1,
    "DemandResumed": DemandResumedV2,
    "WaitExpired": WaitExpiredV1,
    "DemandSentBack": DemandSentBackV2,
    "DeadlineWarning": DeadlineWarningV1,
    "DeadlineRecomputed": DeadlineRecomputedV2,
}

class CalendarHorizonNearV1(Schema):
    rule_set_version = fields.Integer(required=True)
    horizon = fields.String(required=True, metadata={
        "description": "the last day the calendar knows holidays and offsets for"})
    days_left = fields.Integer(required=True)


FACTS: dict[str, type[Schema]] = {
    HORIZON: CalendarHorizonNearV1,
    TICK: ClockTickedV1,
    RULES: RuleSetPublishedV1,
    CLOSURE: OfficeClosedV1,
}
