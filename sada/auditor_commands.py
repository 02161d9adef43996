"""The auditor's commands: `sada verify`, `sada replay` and `sada export`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sada import stack


@click.command(help="Check the event log against the seals recorded in it, and name the first "
                    "record that was altered, removed, reordered or inserted. SOURCE is an "
                    "archive from `sada export` (its directory or log.jsonl) or a SQLite log "
                    "file; without it, the configured log. Exits 1 if anything differs.")
@click.argument("source", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--digest", default=None, metavar="HEX",
              help="A published chain digest that must be among the log's seals (catches a "
                   "log cut short after it).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(source: Path | None, digest: str | None, as_json: bool) -> None:
    from services.audit.verify import describe, from_log, records_from
    from services.audit.verify import verify as check
    from services.eventlog import open_log

    if source is not None:
        try:
            report = check(records_from(source), published=digest)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    else:
        with open_log(stack.settings()) as log:
            report = check(from_log(log), published=digest)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for line in describe(report):
            click.echo(line)
    sys.exit(0 if report.ok else 1)


@click.command(help="Rebuild every read model from position zero of the log, then say whether "
                    "the rebuilt models equal the live ones. With --into, rebuild into a "
                    "separate database and leave the live one untouched.")
@click.option("--into", default=None, metavar="DBNAME",
              help="Rebuild into this database instead of the live one.")
@click.option("--snapshots/--no-snapshots", default=True, show_default=True,
              help="Rebuild the time-travel snapshots too.")
def replay(into: str | None, snapshots: bool) -> None:
    from reporting import provenance
    from reporting.compare import differing, fingerprint, first_difference
    from reporting.replay import ProgressReport
    from reporting.replay import replay as rebuild
    from reporting.timetravel.snapshots import SnapshotStore, Snapshotter
    from services.eventlog import open_log

    settings = stack.settings()
    if into == settings.mongo_db:
        raise click.UsageError(f"--into names the live database {into!r}; name another")
    client = stack.mongo(settings)
    live = client[settings.mongo_db]
    target = client[into] if into else live
    with open_log(settings) as log:
        try:
            provenance.check(target, log)  # never rebuild one log's read models from another
        except provenance.ForeignLog as exc:
            raise click.ClickException(f"{exc}: refusing to replay") from None
        before = None if into else fingerprint(live)
        total = sum(log.end_offsets().values())
        report = ProgressReport(total, lambda line: click.echo(line, err=True))
        stats = rebuild(log, target, progress=report)
        provenance.stamp(target, log)
        click.echo(f"replayed {stats['events']} events into {stats['demands']} demands "
                   f"in {stats['seconds']:.1f} s: {stats['rate'] or 0} events/s"
                   + (f" (database {into})" if into else ""))
        if snapshots:
            store = SnapshotStore(target)
            store.drop()
            store.ensure_indexes()
            written = Snapshotter(log, target).catch_up()
            click.echo(f"time-travel snapshots rebuilt: {written}")
    after = fingerprint(target)
    changed = differing(before if before is not None else fingerprint(live), after)
    stats["equal_to_live"] = not changed
    if not changed:
        click.echo("the rebuilt read models equal the live ones")
    else:
        click.echo("the rebuilt read models DIFFER from the live ones "
                   "(if the projector is running, the live ones may have moved on):")
        for name in changed:
            detail = first_difference(live, target, name) if into else None
            click.echo(f"  {detail or name}")
    click.echo(json.dumps(stats, ensure_ascii=False))
    client.close()
    sys.exit(0 if not changed else 1)


@click.command(help="Write the log (JSON lines, each record's stored bytes) and the read "
                    "models (CSV) to DIRECTORY for offline checking, with a manifest of "
                    "sha256 sums. `sada verify DIRECTORY` checks the log's seals. DIRECTORY "
                    "must be empty (or --force); a symlink in it is refused. CSV cells that a "
                    "spreadsheet would run as a formula get a leading '.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace the files of an earlier export in DIRECTORY (never through a link).")
def export(directory: Path, force: bool) -> None:
    from reporting.export import export as write
    from services.eventlog import open_log
    from services.safefiles import Refused

    settings = stack.settings()
    client = stack.mongo(settings)
    try:
        with open_log(settings) as log:
            manifest = write(log, client[settings.mongo_db], directory, force=force)
    except Refused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    for name, info in manifest["files"].items():
        click.echo(f"{directory / name}: {info['rows']} rows, sha256 {info['sha256']}")
    click.echo(f"{directory / 'manifest.json'}")
