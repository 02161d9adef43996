"""`sada export DIR`: the log and the read models, written for offline checking.

- `log.jsonl`: every record, one per line, its stored bytes verbatim (`services/audit/archive`);
  `sada verify DIR` checks it against the seals it contains.
- `demands.csv`, `history.csv`: the read models, one row per document; nested values (the
  requester, escalations, payloads) as JSON in their cell.
- `manifest.json`: what was exported, how far, and the sha256 of each file.

The CSV files are safe to open in a spreadsheet: a cell that would be a formula (it begins
with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, as does one that
already begins with `'` (`services/spreadsheet.py`); drop one leading `'` to read a value back.
The folder must be empty, or `force` given; a symlink planted in it is refused and no file is
written through a link (`services/safefiles.py`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pymongo.database import Database

from reporting.history import HISTORY, EventHistory
from reporting.projector import PROJECTION
from reporting.readmodels import DEMANDS, ReadModels
from services import safefiles, spreadsheet
from services.audit import archive
from services.domain.demand import Demand
from services.eventlog.port import EventLog
from services.events.envelope import format_time, now

DEMAND_COLUMNS = ["demand_id", *[f for f in Demand.__dataclass_fields__ if f != "demand_id"],
                  "position", "open", "level_index", "escalated"]
HISTORY_COLUMNS = ["event_id", "demand_id", "partition", "offset", "type", "version",
                   "decision", "recorded_at", "actor", "causation_id", "correlation_id",
                   "payload"]


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "" if value is None else value


def _write_csv(path: Path, columns: list[str], rows) -> int:
    with safefiles.replacing(path) as out:
        return spreadsheet.write_rows(out, columns,
                                      ([_cell(row.get(c)) for c in columns] for row in rows))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


FILES = [archive.LOG_FILE, "demands.csv", "history.csv", "manifest.json"]


def export(log: EventLog, db: Database, directory: Path, *,
           force: bool = False) -> dict[str, Any]:
    """Write the export into `directory` (created if need be); safefiles.Refused if it is not
    empty and `force` is not given, or if one of the files' names is a symlink."""
    safefiles.check_folder(directory, FILES, force=force)
    directory.mkdir(parents=True, exist_ok=True)
    end = log.end_offsets()
    with safefiles.replacing(directory / archive.LOG_FILE, "wb") as out:
        records = archive.write_to(log, out, end)

    def demands():
        for doc in db[DEMANDS].find().sort("_id", 1):
            yield {**doc, "demand_id": doc["_id"],
                   "position": "{partition}:{offset}".format(**doc["position"])}

    def history():
        for doc in EventHistory(db[HISTORY]).in_log_order():
            yield {**doc, "event_id": doc["_id"]}

    counts = {"log.jsonl": records,
              "demands.csv": _write_csv(directory / "demands.csv", DEMAND_COLUMNS, demands()),
              "history.csv": _write_csv(directory / "history.csv", HISTORY_COLUMNS, history())}
    checkpoint = ReadModels(db).checkpoint(PROJECTION)
    manifest = {
        "exported_at": format_time(now()),
        "log_end_offsets": {str(p): o for p, o in sorted(end.items())},
        "read_models_checkpoint": {str(p): o for p, o in sorted(checkpoint.items())},
        "files": {name: {"rows": n, "sha256": _sha256(directory / name)}
                  for name, n in counts.items()},
    }
    with safefiles.replacing(directory / "manifest.json") as out:
        out.write(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return manifest
