"""A small Sada for the personal-data tests: intake and reporting (Flask test clients) over a
real SQLite log and a real SecantusDB, the routing worker and the projector run by hand.

`PERSON` is a requester with every kind of personal data; `SPELLINGS` every way its values
could appear in clear. The key store sits beside the read models (`<db>_keys`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from pymongo.database import Database

from intake.app import create_app as intake_app
from reporting.app import create_app as reporting_app
from reporting.projector import Projector
from routing.worker import RoutingWorker
from services.config import Settings
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import MASTER_KEY, SECRET, bearer

NATIONAL_ID = "0499370899"
PERSON = {"kind": "citizen", "name": "مریم احمدی", "phone": "۰۹۱۲ ۳۴۵-۶۷۸۹",
          "national_id": "۰۴۹۹۳۷۰۸۹۹"}
SPELLINGS = ("مریم احمدی", "09123456789", "9123456789", "۰۹۱۲", NATIONAL_ID, "۰۴۹۹۳۷۰۸۹۹")
DEMAND = {"channel": "line_137", "district": 21, "neighbourhood": "ویلاشهر",
          "category": "transport", "title": "چراغ راهنمایی تقاطع",
          "description": "تقاطع اصلی چراغ ندارد."}
CLERK = bearer("intake_clerk", 21)
ADMIN = bearer("administrator")


def settings(data_dir: Path, **changes: Any) -> Settings:
    return Settings(data_dir=data_dir, auth_secret=SECRET,
                    **{"master_key": MASTER_KEY, "rate_limit_per_minute": 0,
                       "open311_visible_seconds": 0, **changes})


@dataclass
class World:
    path: Path
    log: SqliteEventLog
    db: Database
    intake: FlaskClient
    reporting: FlaskClient

    def submit(self, requester: dict[str, Any], **changes: Any) -> str:
        r = self.intake.post("/demands", json={**DEMAND, "requester": requester, **changes},
                             headers=CLERK)
        assert r.status_code == 202, r.get_json()
        return r.get_json()["demand_id"]

    def settle(self) -> None:
        """Routing decides everything in the log; the projector projects it."""
        worker = RoutingWorker(self.log, poll_timeout=0.0)
        worker.start()
        worker.drain()
        worker.close()
        self.project()

    def project(self) -> None:
        projector = Projector(self.log, self.db)
        projector.models.ensure_indexes()
        projector.apply_batch(self.log.read(projector.start_offsets([0]), limit=100_000))

    def requester(self, demand_id: str, headers: dict[str, str]) -> dict[str, Any]:
        r = self.reporting.get(f"/demands/{demand_id}", headers=headers)
        assert r.status_code == 200, r.get_json()
        return r.get_json()["requester"]

    def log_bytes(self) -> bytes:
        """Every byte the SQLite log keeps on disk: the database file and its WAL."""
        files = [self.path, self.path.with_name(self.path.name + "-wal")]
        return b"".join(p.read_bytes() for p in files if p.exists())

    def env(self) -> dict[str, str]:
        host, port = next(iter(self.db.client.nodes))
        return {"SADA_EVENT_LOG": "sqlite", "SADA_SQLITE_PATH": str(self.path),
                "SADA_MONGO_URL": f"mongodb://{host}:{port}", "SADA_MONGO_DB": self.db.name,
                "SADA_MASTER_KEY": MASTER_KEY, "SADA_DATA_DIR": str(self.path.parent)}


def world(tmp_path: Path, db: Database) -> World:
    path = tmp_path / "events.sqlite3"
    log = SqliteEventLog(path)
    config = settings(tmp_path)
    return World(path, log, db, intake_app(config, log, db).test_client(),
                 reporting_app(config, log, db).test_client())


def plaintext_in(data: bytes | str) -> list[str]:
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    return [s for s in SPELLINGS if s in text]
