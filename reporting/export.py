"""`sada export DIR`: the log and the read models, written for offline checking.

- `log.jsonl`: every record, one per line, its stored bytes verbatim (`services/audit/archive`);
  `sada verify DIR` checks it against the seals it contains.
- `demands.csv`, `history.csv`: the read models, one row per document; nested values (the
  requester, escalations, payloads) as JSON in their cell.
- `manifest.json`: what was exported, how far, and the sha256 of each file.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

from pymongo.database import Database

from reporting.history import HISTORY, EventHistory
from reporting.projector import PROJECTION
from reporting.readmodels import DEMANDS, ReadModels
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
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
            count += 1
    return count


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export(log: EventLog, db: Database, directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    end = log.end_offsets()
    records = archive.write(log, directory / archive.LOG_FILE, end)

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
    (directory / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest
