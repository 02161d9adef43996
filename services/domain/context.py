"""What routing knows from the stream's facts: the rule set in force, the office closures and
the time. Folded from the facts in log order, like a demand from its events; decisions are
made against it, so a replay of the same stream makes the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.domain.calendar import Closure, WorkingCalendar
from services.domain.rules import DEFAULT_RULES, RuleSet, from_document
from services.events.envelope import Event, parse_time
from services.events.families.routing import (
    HORIZON,
    ROUTING_FACTS,
    ROUTING_STREAM_ID,
    RULES,
    TICK,
)

DISTRICT_LEVELS = ("department", "district_mayor")


def is_routing_fact(event: Event) -> bool:
    return event.type in ROUTING_FACTS and event.demand_id == ROUTING_STREAM_ID


def closure_from(payload: dict) -> Closure:
    return Closure(closure_id=payload["closure_id"], start=parse_time(payload["start"]),
                   end=parse_time(payload["end"]), district=payload.get("district"),
                   reason=payload["reason"], kind=payload.get("kind", "other"))


@dataclass
class RoutingContext:
    rules: RuleSet = DEFAULT_RULES
    published: bool = False  # a rule set was published in the stream (not only the default)
    closures: dict[str, Closure] = field(default_factory=dict)
    now: str | None = None  # the latest tick, as the log writes times
    # Rule-set versions whose calendar horizon routing has warned about (CalendarHorizonNear).
    horizon_warned: set[int] = field(default_factory=set)
    _calendars: dict[int | None, WorkingCalendar] = field(default_factory=dict, repr=False)

    def remember(self, fact: Event) -> None:
        """Take in a fact routing decides nothing on but keeps in mind (its own warnings)."""
        if fact.type == HORIZON:
            self.horizon_warned.add(fact.payload["rule_set_version"])

    def absorb(self, fact: Event) -> bool:
        """Take in a routing fact. False if it changes nothing: a tick that does not move the
        clock forward, a rule set not newer than the one in force, a closure already known
        (each also what a fact stored twice looks like)."""
        if not is_routing_fact(fact):
            return False
        if fact.type == TICK:
            at = fact.recorded_at_text
            if self.now is not None and at <= self.now:
                return False
            self.now = at
            return True
        if fact.type == RULES:
            version = fact.payload["version"]
            if version < self.rules.version or (version == self.rules.version
                                                and self.published):
                return False
            new = from_document(fact.payload["rule_set"], version)
            changed = new != self.rules
            self.rules, self.published = new, True
            self._calendars.clear()
            return changed
        closure_id = fact.payload["closure_id"]
        if closure_id in self.closures:
            return False
        self.closures[closure_id] = closure_from(fact.payload)
        self._calendars.clear()
        return True

    def calendar(self, district: int | None) -> WorkingCalendar:
        """The calendar a clock counts in: the rule set's, with the city-wide closures and
        those of `district`'s offices (None: above the districts, city-wide ones only)."""
        found = self._calendars.get(district)
        if found is None:
            closures = tuple(c for c in self.closures.values() if c.applies_to(district))
            found = self._calendars[district] = WorkingCalendar(self.rules.calendar, closures)
        return found

    @staticmethod
    def district_for(level: str, district: int) -> int | None:
        """Whose closures count at a rung: the district's up to its mayor, none above."""
        return district if level in DISTRICT_LEVELS else None


def as_context(rules: RuleSet | RoutingContext) -> RoutingContext:
    return rules if isinstance(rules, RoutingContext) else RoutingContext(rules=rules)
