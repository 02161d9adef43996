"""`sada what-if RULES_FILE`: what would have happened under other rules or another calendar.

Reads the whole event log (read-only: nothing is written anywhere), keeps its requests and
facts, and routes them twice with the pure domain: once as the stream has it, once with the
proposal in force from the start. Prints the differences: the load on each department, the
demands that would have climbed higher (or less high) and to which level, deadlines met and
missed, and actions the proposal would have refused. The offices' work is replayed as done by
whoever holds the demand under the proposal (`routing.domain.replay`).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import click
from marshmallow import ValidationError

from routing.domain.replay import Outcome, replay, triggers
from routing.proposals import proposed_rules, read_file
from routing.stream_view import StreamFacts
from services import config
from services.domain.rules import RuleSet
from services.domain.vocabulary import LEVEL_CODES
from services.eventlog.port import EventLog


def compare(actual: Outcome, proposed: Outcome) -> dict[str, Any]:
    """The differences between two replays of one history, as a JSON-able report."""
    a, p = actual.demands, proposed.demands
    ids = sorted(set(a) | set(p))

    def counts(outcome: Outcome, key) -> Counter[str]:
        return Counter(k for d in outcome.demands.values() if (k := key(d)) is not None)

    def pairs(x: Counter[str], y: Counter[str], order: list[str] | None = None):
        keys = order or sorted(set(x) | set(y))
        return [{"key": k, "actual": x.get(k, 0), "proposed": y.get(k, 0),
                 "change": y.get(k, 0) - x.get(k, 0)} for k in keys if x.get(k) or y.get(k)]

    climbed = []
    for i in ids:
        if i in a and i in p and a[i].highest_level != p[i].highest_level:
            climbed.append({"demand_id": i, "title": p[i].title, "district": p[i].district,
                            "category": p[i].category,
                            "actual": LEVEL_CODES[a[i].highest_level],
                            "proposed": LEVEL_CODES[p[i].highest_level],
                            "by_deadline": p[i].deadline_escalations})
    climbed.sort(key=lambda r: (LEVEL_CODES.index(r["actual"]) - LEVEL_CODES.index(r["proposed"]),
                                r["demand_id"]))
    rerouted = [{"demand_id": i, "title": p[i].title, "actual": a[i].department,
                 "proposed": p[i].department}
                for i in ids if i in a and i in p and a[i].department != p[i].department]

    def deadlines(o: Outcome) -> Counter[str]:
        c: Counter[str] = Counter()
        for d in o.demands.values():
            if d.resolved:
                c[f"resolved {d.resolved.replace('_', ' ')}"] += 1
            c["escalated for a passed deadline"] += len(d.deadline_escalations)
            c["open and overdue at the end"] += d.overdue
        return c

    order = ["resolved on time", "resolved late", "escalated for a passed deadline",
             "open and overdue at the end"]
    return {
        "demands": len(ids), "clock": proposed.clock or actual.clock,
        "load_per_department": pairs(counts(actual, lambda d: d.department),
                                     counts(proposed, lambda d: d.department)),
        "open_per_department": pairs(
            counts(actual, lambda d: d.department if d.status in ("routed", "acknowledged")
                   and d.level == "department" else None),
            counts(proposed, lambda d: d.department if d.status in ("routed", "acknowledged")
                   and d.level == "department" else None)),
        "highest_level_reached": pairs(
            counts(actual, lambda d: LEVEL_CODES[d.highest_level]),
            counts(proposed, lambda d: LEVEL_CODES[d.highest_level]), LEVEL_CODES),
        "climbed_differently": climbed,
        "routed_differently": rerouted,
        "deadlines": pairs(deadlines(actual), deadlines(proposed), order),
        "refused_actions": pairs(actual.refused, proposed.refused),
    }


def try_proposal(log: EventLog, current: RuleSet, changes: dict[str, Any],
                 today: date | None = None) -> dict[str, Any]:
    """The what-if report of a proposal (the sections that change, as for publishing) over the
    whole log: read only, nothing written. ValidationError (by field) if it is not valid."""
    proposal = proposed_rules(current, changes, current.version + 1, today=today)
    history = triggers((r.partition, r.event) for r in log.scan())
    actual = replay(history)
    return compare(actual, replay(history, proposal, held=actual.accepted))


def _table(title: str, rows: list[dict[str, Any]], say=click.echo) -> None:
    say(f"\n{title}")
    if not rows:
        say("  (no difference)")
        return
    width = max(len(str(r["key"])) for r in rows)
    say(f"  {'':<{width}}  {'actual':>8}  {'proposed':>8}  {'change':>7}")
    for r in rows:
        say(f"  {r['key']:<{width}}  {r['actual']:>8}  {r['proposed']:>8}  {r['change']:>+7}")


def render(report: dict[str, Any], limit: int, say=click.echo) -> None:
    say(f"what-if over {report['demands']} demands (clock at {report['clock']})")
    _table("Demands routed to each department", report["load_per_department"], say)
    _table("Open in each department's queue at the end", report["open_per_department"], say)
    _table("Highest rung of the ladder reached", report["highest_level_reached"], say)
    _table("Deadlines", report["deadlines"], say)
    _table("Actions refused (e.g. acknowledging a demand already escalated)",
           report["refused_actions"], say)
    climbed = report["climbed_differently"]
    say(f"\nDemands that would climb differently: {len(climbed)}")
    for r in climbed[:limit]:
        how = f" (by deadline: {' -> '.join(r['by_deadline'])})" if r["by_deadline"] else ""
        say(f"  {r['demand_id']}  d{r['district']:<2} {r['category']:<15} "
            f"{r['actual']} -> {r['proposed']}{how}  {r['title']}")
    rerouted = report["routed_differently"]
    say(f"\nDemands routed to another department: {len(rerouted)}")
    for r in rerouted[:limit]:
        say(f"  {r['demand_id']}  {r['actual']} -> {r['proposed']}  {r['title']}")


@click.command("what-if", help="Replay the history through proposed rules or a proposed "
                               "calendar (a JSON or YAML rule file, as for `sada rules "
                               "publish`) and print what would have been different. Reads "
                               "the log only; changes nothing.")
@click.argument("rules_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--limit", default=20, show_default=True, help="Demands listed per section.")
def what_if(rules_file: str, as_json: bool, limit: int) -> None:
    from services.eventlog import open_log

    try:
        changes = read_file(rules_file)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"cannot read {rules_file}: {exc}") from None
    with open_log(config.load()) as log:
        current = StreamFacts(log).refresh().rules
        try:
            report = try_proposal(log, current, changes)
        except ValidationError as exc:
            raise click.ClickException("the rule file is not valid:\n" + json.dumps(
                exc.messages, ensure_ascii=False, indent=2)) from None
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        render(report, limit)

