"""`sada tick`, `sada close-office` and `sada rules`: routing's facts from the command line.

Each writes straight to the event log (as `sada run`'s services do), so it works with or
without the services running; the routing worker decides on the fact when it reads it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from marshmallow import ValidationError

from routing.facts import office_closed, rule_set_published, tick
from routing.proposals import proposed_rules, read_file
from routing.stream_view import StreamFacts
from routing.views import calendar_view, publications_view
from services import config
from services.events.envelope import Actor, Event, format_time, now
from services.events.families.routing import CLOSURE_KINDS
from services.events.ids import new_id

ADMIN = Actor("administrator", "sada-cli")


def _aware(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO time: {value!r}", param_hint=name) from None
    if at.tzinfo is None:
        raise click.BadParameter("give the time zone too, e.g. 2025-03-10T09:00+03:30",
                                 param_hint=name)
    return at


def _echo(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _broadcast(event: Event) -> dict[str, Any]:
    from services.eventlog import open_log

    with open_log(config.load()) as log:
        positions = log.broadcast([event])
    return {"event_id": event.event_id, "type": event.type,
            "at": event.recorded_at_text, "positions": [str(p) for p in positions]}


def _facts() -> StreamFacts:
    from services.eventlog import open_log

    log = open_log(config.load())
    facts = StreamFacts(log)
    facts.refresh()
    log.close()
    return facts


@click.command("tick", help="Tell routing the time: append a clock tick (a simulated clock for "
                            "tests and demos). Deadlines passed by then escalate their demands.")
@click.option("--at", "at", default=None,
              help="ISO time with its zone, e.g. 2025-03-10T14:35+03:30 (default: now).")
def tick_command(at: str | None) -> None:
    when = _aware(at, "--at") or now()
    clock = _facts().context.now
    if clock is not None and format_time(when) <= clock:
        raise click.ClickException(f"the clock is already at {clock}; a tick must move it "
                                   "forward")
    _echo(_broadcast(tick(when, source="manual")))


@click.command("close-office", help="Close offices for a stretch of time (air pollution, a lunar "
                                    "holiday confirmed late, …): deadlines move around it.")
@click.option("--district", type=click.IntRange(1, 22), default=None,
              help="One district's offices (default: every district, city-wide).")
@click.option("--from", "start", required=True,
              help="ISO time with zone, e.g. 2025-12-21T07:30+03:30")
@click.option("--to", "end", required=True, help="ISO time with zone, e.g. 2025-12-21T14:30+03:30")
@click.option("--kind", type=click.Choice(CLOSURE_KINDS), default="other", show_default=True)
@click.option("--reason", required=True)
def close_office(district: int | None, start: str, end: str, kind: str, reason: str) -> None:
    begin, until = _aware(start, "--from"), _aware(end, "--to")
    assert begin is not None and until is not None
    if until <= begin:
        raise click.BadParameter("must be after --from", param_hint="--to")
    closure_id = new_id()
    out = _broadcast(office_closed(closure_id, begin, until, now(), actor=ADMIN, reason=reason,
                                   district=district, kind=kind))
    _echo({"closure_id": closure_id, **out})


@click.group("rules", help="The routing rules in force, and publishing new ones.")
def rules() -> None:
    pass


@rules.command("show", help="The rule set in force, its history and the calendar.")
def show() -> None:
    facts = _facts()
    ctx = facts.context
    click.echo(f"rule set version {ctx.rules.version}"
               f"{'' if ctx.published else ' (the default; not yet published)'}")
    for r in ctx.rules.rules:
        where = {k: v for k, v in r.conditions().items() if k != "category"}
        click.echo(f"  {r.rule_id:<24} {r.category:<16} {json.dumps(where, ensure_ascii=False):<40}"
                   f" -> {r.department:<16} sla={r.sla}"
                   f"{f' priority>={r.priority}' if r.priority else ''}")
    click.echo(f"  (no rule: {ctx.rules.triage_rule('*').department}, "
               f"sla={ctx.rules.triage_sla})")
    for name, p in ctx.rules.policies.items():
        click.echo(f"  sla {name:<14} acknowledge {p.acknowledge_hours:g}h, resolve "
                   f"{p.resolve_hours:g}h, warn {p.warn_hours:g}h before (working hours)")
    _echo({"levels": dict(ctx.rules.level_sla), "calendar": calendar_view(ctx)["calendar"],
           "history": publications_view(facts.publications)["items"]})


@rules.command("publish", help="Publish a rule file (JSON or YAML): the sections it has replace "
                               "those in force; open demands' deadlines are recomputed.")
@click.argument("rules_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--note", default=None, help="Why (kept with the rule set).")
def publish(rules_file: str, note: str | None) -> None:
    current = _facts().context.rules
    try:
        proposal = proposed_rules(current, read_file(rules_file), current.version + 1,
                                  today=now().date())
    except ValidationError as exc:
        raise click.ClickException("the rule file is not valid:\n" + json.dumps(
            exc.messages, ensure_ascii=False, indent=2)) from None
    except (ValueError, OSError) as exc:  # unreadable JSON or YAML
        raise click.ClickException(f"cannot read {rules_file}: {exc}") from None
    out = _broadcast(rule_set_published(proposal, now(), actor=ADMIN, note=note))
    _echo({"version": proposal.version, **out})
