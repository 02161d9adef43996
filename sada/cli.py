"""The `sada` command: run the embedded default, submit a demand; for auditors, verify,
replay and export (`sada/auditor_commands.py`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import click

from routing import commands as routing_commands
from routing.whatif import what_if
from sada import (
    apikey_command,
    auditor_commands,
    erase_command,
    mongo_credentials,
    privacy_commands,
    scan_command,
    stack,
    token_command,
)
from services import config


@click.group(help="Sada (صدا): every demand a city hears, from district office to resolution.")
def main() -> None:
    pass


@main.command(help="Start Sada on the embedded default: SQLite log, local SecantusDB, the three "
                   "services and the stream workers, with Persian demo data. Ctrl-C stops it all.")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Load the demo history into an empty log.")
def run(demo: bool) -> None:
    from sada.embedded import Embedded, mongo_is_external, resolve_ports
    from sada.embedded_auth import ensure_secret, print_demo_tokens
    from sada.key_rotation import ScheduledRotation
    from services.eventlog import open_log
    from services.privacy.master import ensure_master_key

    settings = ensure_master_key(ensure_secret(config.load()))
    running = stack.read(settings)
    if running:
        raise click.ClickException(
            f"Sada already runs from {settings.data_dir} (pid {running['pid']}); stop it first, "
            "or give this one its own SADA_DATA_DIR")
    say = click.echo
    settings = resolve_ports(settings, say)
    app = Embedded(settings, say, external_mongo=mongo_is_external())
    rotation: ScheduledRotation | None = None
    try:
        settings = app.start_mongo()
        vault = stack.privacy_vault(settings)  # a lost master key stops everything here, loudly
        rotation = ScheduledRotation(settings, say)
        rotation.run_once()  # a new store's first KEK comes before its first key
        if demo:
            with open_log(settings) as log:
                loaded = load_demo(log, vault.seal)
            if loaded:
                say(f"loaded the demo history: {loaded} events")
        app.start_services()
        say("")
        say(f"  Sada is running — صدا اجراست:  {settings.service_url('reporting')}/")
        for name in ("intake", "routing", "reporting"):
            url = settings.service_url(name)
            say(f"    {name:<10} {url}   (API: {url}/openapi.json)")
        say(f"    open311    {settings.service_url('reporting')}/open311/v2/   "
            f"(tracking page: {settings.service_url('reporting')}/track/<id>)")
        models = mongo_credentials.redacted(settings.mongo_url)
        say(f"    event log  {settings.event_log_path}   read models {models}")
        metrics = [f"{name} http://{settings.host}:{port}/metrics"
                   for name, port in app.metrics_ports.items() if port]
        if metrics:
            say(f"    metrics    {', '.join(metrics)}")
        if settings.kek_rotation_hours > 0:
            say(f"    keys       rotated every {settings.kek_rotation_hours} h (an erasure is "
                f"final at the next rotation; `sada privacy rotate` runs one now)")
        print_demo_tokens(settings, say)
        say("  Ctrl-C to stop.")
        rotation.start()
        app.wait()
    finally:
        say("stopping…")
        if rotation is not None:
            rotation.stop()
        app.stop()


def load_demo(log, seal=None) -> int:
    """Append the demo history if the log is empty; returns how many events were added.
    `seal` seals its requesters' personal data (without it, they are left out)."""
    from routing.facts import append_in_order
    from sada.demo import generate
    from services.events.envelope import now

    if any(log.end_offsets().values()):
        return 0
    events = generate(now(), seal=seal)
    append_in_order(log, events)  # the demo's facts (clock, rules) go to every partition
    return len(events)


@main.command(help="Submit one demand through the intake API.")
@click.option("--district", type=click.IntRange(1, 22), required=True)
@click.option("--category", required=True, help="e.g. urban_planning, transport, urban_services")
@click.option("--title", required=True)
@click.option("--description", required=True)
@click.option("--neighbourhood", required=True)
@click.option("--channel", default="line_137", show_default=True)
@click.option("--requester", "kind", default="citizen", show_default=True)
@click.option("--priority", default="normal", show_default=True)
@click.option("--idempotency-key", default=None)
@click.option("--url", default=None, help="Intake base URL (default from SADA_INTAKE_PORT).")
@click.option("--token", envvar="SADA_TOKEN", default=None,
              help="Bearer token [env SADA_TOKEN]; default: a 10-minute clerk token for "
                   "--district from the local secret.")
def submit(district, category, title, description, neighbourhood, channel, kind, priority,
           idempotency_key, url, token) -> None:
    from sada.token_command import clerk_token

    settings = stack.settings()
    body = {"requester": {"kind": kind}, "channel": channel, "district": district,
            "neighbourhood": neighbourhood, "category": category, "title": title,
            "description": description, "priority": priority}
    headers = {"Content-Type": "application/json",
               "Authorization": f"Bearer {token or clerk_token(district)}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    request = urllib.request.Request(
        f"{url or settings.service_url('intake')}/demands",
        data=json.dumps(body, ensure_ascii=False).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            click.echo(response.read().decode())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(exc.read().decode()) from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"intake is not reachable: {exc.reason}") from None


@main.command(help="Print, as shell assignments, where the Sada running from this data "
                   "directory listens: eval \"$(sada env)\" sets INTAKE, ROUTING and REPORTING.")
def env() -> None:
    settings = stack.settings()
    if stack.read(settings) is None:
        raise click.ClickException(f"no `sada run` is running from {settings.data_dir}; "
                                   "start it with `make run`")
    for name in ("intake", "routing", "reporting"):
        click.echo(f"{name.upper()}={settings.service_url(name)}")


main.add_command(token_command.token)
main.add_command(apikey_command.api_key)
main.add_command(auditor_commands.verify)
main.add_command(auditor_commands.replay)
main.add_command(auditor_commands.export)
main.add_command(routing_commands.tick_command)
main.add_command(routing_commands.close_office)
main.add_command(routing_commands.rules)
main.add_command(what_if)
main.add_command(erase_command.erase)
main.add_command(scan_command.privacy_scan)
main.add_command(privacy_commands.privacy)

if __name__ == "__main__":
    main()
