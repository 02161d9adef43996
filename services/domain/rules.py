"""The routing rule set: rules as data, versioned in the stream.

A rule maps (category, district, requester kind, channel) to a department, a priority floor and
an SLA policy. The most specific matching rule wins: the one that names the most of district,
requester kind and channel, then the one naming a district, then a requester kind, then the
first in the table. A category with no rule goes to the district mayor's triage desk, visibly.

An SLA policy gives the working hours to acknowledge and to resolve, and when to warn. The
department's policy comes from the rule; each rung above it has its own (`level_sla`). The
priority factor scales the hours (urgent: a quarter of the time). The working calendar the
hours are counted in is part of the rule set too.

A rule set is published as a `RuleSetPublished` event; `DEFAULT_RULES` (version 1) holds until
one is. `document()` and `from_document()` convert to and from the event's payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from services.domain.calendar import CalendarSpec, frozen_offsets
from services.domain.official_holidays import DEFAULT_YEARS, official_holidays, source
from services.domain.vocabulary import LEVEL_CODES, PRIORITIES

TRIAGE_DEPARTMENT = "mayor_triage"
TRIAGE_RULE_ID = "triage"
ANY_DISTRICT = 0
PRIORITY_ORDER = list(PRIORITIES)  # low, normal, high, urgent


@dataclass(frozen=True)
class SlaPolicy:
    acknowledge_hours: float
    resolve_hours: float
    warn_hours: float = 0.0

    def __post_init__(self) -> None:
        # Always floats: a rule set read back from the stream must equal, and explain its
        # decisions in the same bytes as, the one it was written from.
        for name in ("acknowledge_hours", "resolve_hours", "warn_hours"):
            object.__setattr__(self, name, float(getattr(self, name)))


@dataclass(frozen=True)
class Rule:
    rule_id: str
    category: str
    department: str
    sla: str
    district: int = ANY_DISTRICT
    requester_kind: str | None = None
    channel: str | None = None
    priority: str | None = None  # a floor: demands under this rule are at least this urgent

    def matches(self, inputs: Inputs) -> bool:
        return (self.category == inputs.category
                and self.district in (ANY_DISTRICT, inputs.district)
                and self.requester_kind in (None, inputs.requester_kind)
                and self.channel in (None, inputs.channel))

    @property
    def specificity(self) -> tuple[int, bool, bool, bool]:
        named = (self.district != ANY_DISTRICT, self.requester_kind is not None,
                 self.channel is not None)
        return (sum(named), *named)

    def conditions(self) -> dict[str, Any]:
        """What the rule asks of a demand (the fields it names)."""
        out: dict[str, Any] = {"category": self.category}
        if self.district != ANY_DISTRICT:
            out["district"] = self.district
        if self.requester_kind is not None:
            out["requester_kind"] = self.requester_kind
        if self.channel is not None:
            out["channel"] = self.channel
        return out


@dataclass(frozen=True)
class Inputs:
    """What routing looks at in a demand."""

    category: str
    district: int
    requester_kind: str | None = None
    channel: str | None = None
    priority: str = "normal"

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "district": self.district,
                "requester_kind": self.requester_kind, "channel": self.channel,
                "priority": self.priority}


def _default_calendar() -> CalendarSpec:
    holidays = official_holidays()
    first, last = date(DEFAULT_YEARS[0], 1, 1), date(DEFAULT_YEARS[-1], 12, 31)
    return CalendarSpec(holidays=holidays, holiday_source=source(),
                        offsets=frozen_offsets(CalendarSpec.timezone, first, last))


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    policies: Mapping[str, SlaPolicy]
    triage_sla: str = "triage"
    level_sla: Mapping[str, str] = field(default_factory=lambda: {
        "district_mayor": "mayor", "headquarters": "headquarters",
        "central_management": "central"})
    priority_factor: Mapping[str, float] = field(default_factory=lambda: {
        "low": 1.5, "normal": 1.0, "high": 0.5, "urgent": 0.25})
    calendar: CalendarSpec = field(default_factory=_default_calendar)
    version: int = 1
    # Working hours the requester's side has to appeal a rejection, and to answer a question
    # before the clock runs again without the answer (ten working days each by default).
    appeal_hours: float = 70.0
    wait_hours: float = 70.0

    def match(self, category: str, district: int, requester_kind: str | None = None,
              channel: str | None = None) -> Rule:
        """The rule for these inputs; the triage rule if none matches."""
        inputs = Inputs(category, district, requester_kind, channel)
        best: Rule | None = None
        for rule in self.rules:
            if rule.matches(inputs) and (best is None or rule.specificity > best.specificity):
                best = rule
        return best or self.triage_rule(category)

    def for_department(self, department: str, inputs: Inputs) -> Rule:
        """The rule a demand transferred to `department` runs under: the department's most
        specific rule for these inputs, preferring its rules for the demand's category; the
        triage rule for the triage desk; and, for a department no rule names, one with the
        triage desk's SLA policy (so the receiving queue always has a clock)."""
        if department == TRIAGE_DEPARTMENT:
            return self.triage_rule(inputs.category)
        fits = [r for r in self.rules if r.department == department
                and r.district in (ANY_DISTRICT, inputs.district)
                and r.requester_kind in (None, inputs.requester_kind)
                and r.channel in (None, inputs.channel)]
        if not fits:
            return Rule(f"to-{department}", inputs.category, department, self.triage_sla)
        return max(fits, key=lambda r: (r.category == inputs.category, r.specificity))

    def triage_rule(self, category: str) -> Rule:
        return Rule(TRIAGE_RULE_ID, category, TRIAGE_DEPARTMENT, self.triage_sla)

    def policy_name(self, level: str, rule: Rule) -> str:
        return rule.sla if level == LEVEL_CODES[0] else self.level_sla[level]

    def effective_priority(self, requested: str, rule: Rule) -> str:
        if rule.priority is None:
            return requested
        return max(requested, rule.priority, key=PRIORITY_ORDER.index)


def _hours(days: float) -> float:
    """Working hours in `days` working days of the default calendar (7 hours each)."""
    return days * 7


DEFAULT_RULES = RuleSet(
    rules=(
        Rule("urban-planning", "urban_planning", "urban_planning", "planning"),
        Rule("transport", "transport", "transport", "standard"),
        Rule("urban-services", "urban_services", "urban_services", "services"),
        Rule("green-space", "green_space", "urban_services", "standard"),
        Rule("social", "social", "social", "social"),
        Rule("civil-works", "civil_works", "civil_works", "works"),
    ),
    policies={
        "planning": SlaPolicy(_hours(2), _hours(10), _hours(1)),
        "standard": SlaPolicy(_hours(2), _hours(5), _hours(1)),
        "services": SlaPolicy(_hours(1), _hours(3), _hours(1)),
        "social": SlaPolicy(_hours(2), _hours(7), _hours(1)),
        "works": SlaPolicy(_hours(2), _hours(10), _hours(1)),
        "triage": SlaPolicy(_hours(1), _hours(2), _hours(0.5)),
        "mayor": SlaPolicy(_hours(2), _hours(5), _hours(1)),
        "headquarters": SlaPolicy(_hours(3), _hours(10), _hours(2)),
        "central": SlaPolicy(_hours(5), _hours(20), _hours(3)),
    },
)


# -- documents (the payload of RuleSetPublished) ------------------------------------------------
def document(rules: RuleSet) -> dict[str, Any]:
    """The rule set as published in the stream (RuleSetSchema's shape, without the version)."""
    cal = rules.calendar
    return {
        "rules": [{"rule_id": r.rule_id, "category": r.category, "district": r.district,
                   "requester_kind": r.requester_kind, "channel": r.channel,
                   "department": r.department, "priority": r.priority, "sla": r.sla}
                  for r in rules.rules],
        "triage": {"sla": rules.triage_sla},
        "sla_policies": {name: {"acknowledge_hours": p.acknowledge_hours,
                                "resolve_hours": p.resolve_hours, "warn_hours": p.warn_hours}
                         for name, p in rules.policies.items()},
        "levels": dict(rules.level_sla),
        "priority_factor": dict(rules.priority_factor),
        "calendar": {"name": cal.name, "timezone": cal.timezone,
                     "working_days": list(cal.working_days), "opens": f"{cal.opens:%H:%M}",
                     "closes": f"{cal.closes:%H:%M}",
                     "holidays": [{"date": d.isoformat(), "name": n} for d, n in cal.holidays],
                     "holiday_source": cal.holiday_source,
                     "offsets": [{"from": d.isoformat(), "minutes": m} for d, m in cal.offsets]},
        "lifecycle": {"appeal_hours": rules.appeal_hours, "wait_hours": rules.wait_hours},
    }


def _time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def from_document(doc: dict[str, Any], version: int) -> RuleSet:
    """A rule set from a validated document (RuleSetSchema)."""
    cal = doc["calendar"]
    return RuleSet(
        rules=tuple(Rule(rule_id=r["rule_id"], category=r["category"],
                         department=r["department"], sla=r["sla"],
                         district=r.get("district") or ANY_DISTRICT,
                         requester_kind=r.get("requester_kind"), channel=r.get("channel"),
                         priority=r.get("priority"))
                    for r in doc["rules"]),
        policies={name: SlaPolicy(float(p["acknowledge_hours"]), float(p["resolve_hours"]),
                                  float(p.get("warn_hours") or 0.0))
                  for name, p in doc["sla_policies"].items()},
        triage_sla=doc["triage"]["sla"],
        level_sla={level: doc["levels"][level] for level in LEVEL_CODES[1:]},
        priority_factor={p: float(doc["priority_factor"][p]) for p in PRIORITY_ORDER},
        calendar=CalendarSpec(
            name=cal["name"], timezone=cal["timezone"],
            working_days=tuple(cal["working_days"]), opens=_time(cal["opens"]),
            closes=_time(cal["closes"]),
            holidays=tuple((_day(h["date"]), h["name"]) for h in cal.get("holidays", [])),
            holiday_source=cal.get("holiday_source", ""),
            offsets=tuple((_day(o["from"]), int(o["minutes"])) for o in cal.get("offsets", []))),
        version=version,
        appeal_hours=float(doc.get("lifecycle", {}).get("appeal_hours", 70.0)),
        wait_hours=float(doc.get("lifecycle", {}).get("wait_hours", 70.0)),
    )
