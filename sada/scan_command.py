"""`sada privacy-scan`: an auditor's check that no personal data is left in clear."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from sada import stack
from services.privacy.crypto import MasterKeyError


@click.command(name="privacy-scan",
               help="Look for personal data in clear in the log, every read model and the key "
                    "store: the names, phones and national codes of requesters the key store "
                    "still knows, and anything shaped like an Iranian mobile number or a valid "
                    "national code. Exits 1 if anything is found.")
@click.option("--find", "extra", multiple=True, metavar="TEXT",
              help="Also look for this value (e.g. an erased requester's name or phone).")
@click.option("--path", "paths", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="Also scan these files or directories byte by byte (the SQLite log file, "
                   "an export).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def privacy_scan(extra: tuple[str, ...], paths: tuple[Path, ...], as_json: bool) -> None:
    from services.eventlog import open_log
    from services.privacy import scan
    from services.privacy.master import open_vault

    settings = stack.settings()
    client = stack.mongo(settings)
    try:
        vault = open_vault(settings)
    except MasterKeyError as exc:
        raise click.ClickException(str(exc)) from None
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
        scan.scan_files(matcher, paths, report)
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
    sys.exit(0 if report.ok else 1)
