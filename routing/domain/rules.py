"""The routing rule table: (category, district) -> department and time to resolve.

A rule for a specific district wins over the city-wide rule for the same category. A category
with no rule goes to the district mayor's triage desk, visibly: never lost.
"""

from __future__ import annotations

from dataclasses import dataclass

TRIAGE_DEPARTMENT = "mayor_triage"
ANY_DISTRICT = 0


@dataclass(frozen=True)
class Rule:
    rule_id: str
    category: str
    department: str
    resolve_hours: int
    district: int = ANY_DISTRICT


@dataclass(frozen=True)
class RuleTable:
    rules: tuple[Rule, ...]
    triage_hours: int = 48
    # Hours each rung of the ladder gets once a demand is escalated to it.
    level_hours: tuple[int, int, int, int] = (0, 72, 120, 240)

    def match(self, category: str, district: int) -> Rule:
        best: Rule | None = None
        for rule in self.rules:
            if rule.category != category or rule.district not in (ANY_DISTRICT, district):
                continue
            if best is None or rule.district > best.district:
                best = rule
        if best is None:
            return Rule("triage", category, TRIAGE_DEPARTMENT, self.triage_hours)
        return best


DEFAULT_RULES = RuleTable(rules=(
    Rule("urban-planning", "urban_planning", "urban_planning", 240),
    Rule("transport", "transport", "transport", 120),
    Rule("urban-services", "urban_services", "urban_services", 72),
    Rule("green-space", "green_space", "urban_services", 120),
    Rule("social", "social", "social", 168),
    Rule("civil-works", "civil_works", "civil_works", 240),
))

PRIORITY_FACTOR = {"low": 1.5, "normal": 1.0, "high": 0.5, "urgent": 0.25}
