"""`sada privacy-scan`: an auditor's check that no personal data is left in clear."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sada import stack


@click.command(name="privacy-scan",
               help="Look for personal data in clear in the log, every read model, the key "
                    "store and MongoDB's oplog: the names, phones and national codes of "
                    "requesters the key store still knows, and anything shaped like an "
                    "Iranian mobile number or a valid national code; and, in the oplog, "
                    "copies of erased requesters' keys that still open (until the next key "
                    "rotation). Says when the key was last rotated and how many erasures "
                    "await it. Exits 1 if anything is found.")
@click.option("--find", "extra", multiple=True, metavar="TEXT",
              help="Also look for this value (e.g. an erased requester's name or phone).")
@click.option("--path", "paths", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Also scan these files or directories byte by byte (the SQLite log file, "
                   "an export).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def privacy_scan(extra: tuple[str, ...], paths: tuple[Path, ...], as_json: bool) -> None:
    from services.eventlog import open_log
    from services.privacy import rotation, scan

    settings = stack.settings()
    client = stack.mongo(settings)
    vault = stack.privacy_vault(settings)
    report = scan.Report()
    try:
        with open_log(settings) as log:
            known = scan.known_from_log(vault, log.scan(), report)
            for value in extra:
                known.add_text(value)
            report.known = len(known)
            matcher = scan.Matcher(known)
            scan.scan_log(matcher, log.scan(), report)
        scan.scan_database(matcher, client[settings.mongo_db], report)
        scan.scan_database(matcher, vault.store.db, report)
        scan.scan_oplog(matcher, vault, client, [settings.mongo_db, vault.store.db.name],
                        report)
        scan.scan_files(matcher, paths, report)
        report.rotation = {**rotation.status(vault).to_dict(),
                           "every_hours": settings.kek_rotation_hours}
    finally:
        client.close()
        vault.close()
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        for finding in report.findings:
            click.echo(f"FOUND {finding.kind:<13} {finding.sample:<16} {finding.where}")
        click.echo(f"scanned {report.records} log records, {report.documents} documents"
                   + (f", {report.files} files" if paths else "")
                   + f"; sealed requesters {report.sealed} (readable {report.readable}, "
                     f"erased {report.erased}); {report.known} known values looked for: "
                   + ("no personal data in clear" if report.ok
                      else f"{len(report.findings)} findings"))
        click.echo(_oplog_line(report.oplog))
        click.echo(_rotation_line(report.rotation))
    sys.exit(0 if report.ok else 1)


def _oplog_line(oplog: dict) -> str:
    if oplog.get("checked"):
        return f"oplog: {oplog['entries']} entries of Sada's databases scanned"
    return f"oplog: not scanned ({oplog.get('reason', 'not reached')})"


def _rotation_line(state: dict) -> str:
    every = (f"every {state['every_hours']} h" if state["every_hours"] > 0
             else "only on demand (`sada privacy rotate`)")
    last = state["last_rotation"] or "never"
    pending = state["erasures_pending"]
    line = f"key rotation: last {last}, {every}"
    if state["in_progress"]:
        line += "; a rotation was interrupted: run `sada privacy rotate` to finish it"
    if pending:
        line += (f"; {pending} erasure{'s' if pending != 1 else ''} pending the next rotation "
                 "(copies of their keys in the oplog or backups open until then)")
    return line + "."
