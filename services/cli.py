"""The `sada` command: run the embedded default, replay read models, submit a demand."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import click

from services import config


@click.group(help="Sada (صدا): every demand a city hears, from district office to resolution.")
def main() -> None:
    pass


@main.command(help="Start Sada on the embedded default: SQLite log, local SecantusDB, the three "
                   "services and the two workers, with Persian demo data. Ctrl-C stops it all.")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Load the demo history into an empty log.")
def run(demo: bool) -> None:
    from services.embedded import Embedded, mongo_is_external, resolve_ports
    from services.eventlog import open_log

    settings = config.load()
    say = click.echo
    settings = resolve_ports(settings, say)
    app = Embedded(settings, say, external_mongo=mongo_is_external())
    try:
        settings = app.start_mongo()
        if demo:
            with open_log(settings) as log:
                loaded = load_demo(log)
            if loaded:
                say(f"loaded the demo history: {loaded} events")
        app.start_services()
        say("")
        say(f"  Sada is running — صدا اجراست:  {settings.service_url('reporting')}/")
        for name in ("intake", "routing", "reporting"):
            url = settings.service_url(name)
            say(f"    {name:<10} {url}   (API: {url}/openapi.json)")
        say(f"    event log  {settings.event_log_path}   read models {settings.mongo_url}")
        say("  Ctrl-C to stop.")
        app.wait()
    finally:
        say("stopping…")
        app.stop()


def load_demo(log) -> int:
    """Append the demo history if the log is empty; returns how many events were added."""
    from services.demo import generate
    from services.events.envelope import now

    if any(log.end_offsets().values()):
        return 0
    events = generate(now())
    for i in range(0, len(events), 500):
        log.append(events[i:i + 500])
    return len(events)


@main.command(help="Drop every read model and rebuild it from the start of the log.")
def replay() -> None:
    from pymongo import MongoClient

    from reporting.replay import replay as rebuild
    from services.eventlog import open_log

    settings = config.load()
    with open_log(settings) as log:
        total = sum(log.end_offsets().values())
        db = MongoClient(settings.mongo_url)[settings.mongo_db]
        with click.progressbar(length=total, label="replaying") as bar:
            stats = rebuild(log, db, progress=bar.update)
    click.echo(json.dumps(stats, ensure_ascii=False))


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
def submit(district, category, title, description, neighbourhood, channel, kind, priority,
           idempotency_key, url) -> None:
    settings = config.load()
    body = {"requester": {"kind": kind}, "channel": channel, "district": district,
            "neighbourhood": neighbourhood, "category": category, "title": title,
            "description": description, "priority": priority}
    headers = {"Content-Type": "application/json", "X-Sada-District": str(district)}
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


if __name__ == "__main__":
    main()
