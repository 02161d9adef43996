"""Erasure end to end, on a city with history (the demo, sealed as it grew, plus requesters
recorded over HTTP): after `sada erase`, `sada privacy-scan` finds nothing anywhere, while
the dashboards, a replay and `sada verify` give the same numbers as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from click.testing import CliRunner

from reporting import dashboards
from reporting.history import HISTORY, EventHistory
from reporting.readmodels import DEMANDS, ReadModels
from reporting.replay import replay, snapshot
from routing.facts import append_in_order
from sada.cli import main as sada
from sada.demo import generate
from sada.stack import privacy_vault
from services.audit.sealer import Sealer
from services.audit.verify import from_log, verify
from services.events.envelope import Actor, Event, encode, now
from services.events.ids import new_id
from services.privacy.crypto import new_master_key
from services.privacy.master import ensure_master_key, key_path
from services.privacy.rotation import rotate
from services.privacy.vault import Vault
from tests.auth_helpers import bearer
from tests.privacy_world import ADMIN, CLERK, DEMAND, PERSON, World, plaintext_in, settings, world


@pytest.fixture
def city(tmp_path, mongo_db) -> Iterator[World]:
    w = world(tmp_path, mongo_db)
    vault = Vault.open(settings(tmp_path), mongo_db)
    rotate(vault)  # as `sada run` does on a new data dir: keys are wrapped under a KEK
    append_in_order(w.log, generate(now(), demands=24, weeks=3, seed=5, seal=vault.seal))
    w.submit(PERSON)
    w.submit(PERSON, title="تقاطع دوم")
    w.settle()
    sealer = Sealer(w.log, every=40, seconds=3600.0)
    sealer.start()
    sealer.drain()
    sealer.close()
    w.project()
    yield w
    w.log.close()


def numbers(w: World, moment) -> dict:
    f = dashboards.gather(ReadModels(w.db), None, moment)
    return {"board": dashboards.board(w.db[DEMANDS], f.moment),
            "matrix": f.board_matrix(), "weekly": f.weekly_trend(), "sla": f.sla_by_district(),
            "mix": f.category_mix(), "outcomes": f.outcomes_by_requester()}


def chains(w: World) -> dict:
    report = verify(from_log(w.log))
    assert report.ok, report.to_dict()
    return {p: (c.count, c.seals, c.sealed_count, c.sealed_digest.hex())
            for p, c in report.chains.items()}


def scan(w: World, *args: str) -> tuple[int, dict]:
    result = CliRunner(env=w.env()).invoke(sada, ["privacy-scan", "--json", *args])
    return result.exit_code, json.loads(result.output)


def test_after_erasure_nothing_is_readable_and_every_number_stays(city, tmp_path) -> None:
    moment = now()
    before = numbers(city, moment)
    demands_before = snapshot(city.db)[DEMANDS]
    chains_before = chains(city)
    code, report = scan(city)
    assert code == 0 and report["findings"] == [], report
    assert report["readable"] == report["sealed_requesters"] >= 2 + 5  # demo phones too
    assert plaintext_in(city.log_bytes()) == []
    [mine] = [d for d in demands_before if d["requester"].get("requester_id")
              and d["title"] == DEMAND["title"]]

    result = CliRunner(env=city.env()).invoke(sada, ["erase", "--phone", "۰۹۱۲۳۴۵۶۷۸۹",
                                                     "--by", "admin-privacy"])
    assert result.exit_code == 0, result.output
    erased = json.loads(result.output)
    assert erased["requester_id"] == mine["requester"]["requester_id"]
    city.project()
    # The oplog still holds the key's first write: the scan finds it, until the next rotation.
    code, pending = scan(city)
    assert code == 1 and {f["kind"] for f in pending["findings"]} == {"erased_key"}, pending
    assert pending["rotation"]["erasures_pending"] == 1
    result = CliRunner(env=city.env()).invoke(sada, ["privacy", "rotate"])
    assert result.exit_code == 0, result.output

    # No plaintext anywhere, even looking for the erased values by name, and nothing left to
    # decrypt them with.
    export = tmp_path / "export"
    assert CliRunner(env=city.env()).invoke(sada, ["export", str(export)]).exit_code == 0
    code, after = scan(city, "--find", "مریم احمدی", "--find", "09123456789",
                       "--find", "0499370899", "--path", str(city.path), "--path", str(export))
    assert code == 0 and after["findings"] == [], after
    assert (after["erased"], after["readable"]) == (2, report["readable"] - 2)
    for path in export.iterdir():
        assert plaintext_in(path.read_bytes()) == [], path
    assert city.requester(mine["_id"], CLERK)["personal"] == "erased"

    # The same numbers: dashboards, every demand document, the seals.
    assert numbers(city, moment) == before
    assert snapshot(city.db)[DEMANDS] == demands_before
    assert EventHistory(city.db[HISTORY]).count_documents({"type": "RequesterErased"}) == 1
    counts, seals, sealed, digest = chains_before[0]
    assert chains(city) == {0: (counts + 1, seals, sealed, digest)}
    # A replay rebuilds the same read models and leaves the key store alone.
    rebuilt = city.db.client[f"{city.db.name}_replayed"]
    try:
        replay(city.log, rebuilt)
        assert snapshot(rebuilt) == snapshot(city.db)
    finally:
        city.db.client.drop_database(rebuilt.name)
    result = CliRunner(env=city.env()).invoke(sada, ["replay", "--no-snapshots"])
    assert result.exit_code == 0, result.output
    assert snapshot(city.db)[DEMANDS] == demands_before
    assert scan(city)[1]["readable"] == report["readable"] - 2  # no key lost to the replay


def test_the_scan_names_personal_data_left_in_clear(city) -> None:
    # A version 2 submission from before sealing: its requester is in clear, for good.
    clerk = Actor("intake_clerk", "clerk-21", 21)
    at = now() - timedelta(days=400)
    legacy = Event(event_id=new_id(at), demand_id=new_id(at), type="DemandSubmitted",
                   recorded_at=at, actor=clerk, correlation_id="legacy", version=2,
                   payload={**DEMAND, "priority": "normal", "meeting_id": None, "requester": {
                       "kind": "citizen", "name": "رضا قدیمی", "phone": "09350001122"}})
    [position] = city.log.append([legacy])
    assert encode(legacy) in city.log_bytes()
    city.project()
    city.db[DEMANDS].update_one({"_id": legacy.demand_id}, {"$set": {
        "description": "شماره همراه: ۰۹۱۹ ۸۸۸ ۷۷۶۶"}})
    code, report = scan(city)
    assert code == 1
    where = {(f["kind"], f["where"].split(" ")[0]) for f in report["findings"]}
    assert ("name", "log") in where and ("phone", "log") in where
    assert ("mobile", "mongodb") in where
    assert any(f["where"].startswith(f"log {position}") for f in report["findings"])
    assert all("09350001122" not in f["sample"] for f in report["findings"])  # masked
    # Old requesters are still shown only to roles that may see them.
    assert city.requester(legacy.demand_id, CLERK)["name"] == "رضا قدیمی"
    assert city.requester(legacy.demand_id, ADMIN)["personal"] == "withheld"
    assert city.requester(legacy.demand_id, bearer("auditor"))["personal"] == "shown"


def test_a_lost_master_key_stops_the_commands_loudly(city, tmp_path) -> None:
    runner = CliRunner(env={**city.env(), "SADA_MASTER_KEY": new_master_key()})
    result = runner.invoke(sada, ["privacy-scan"])
    assert result.exit_code == 1 and "does not open the key store" in result.output
    result = runner.invoke(sada, ["erase", "01JQ8Z3W2N5X7Y9B1C3D5F7H9K"])
    assert result.exit_code == 1 and "does not open the key store" in result.output
    result = CliRunner(env={**city.env(), "SADA_MASTER_KEY": "",
                            "SADA_DATA_DIR": str(tmp_path / "empty")}).invoke(
        sada, ["privacy-scan"])
    assert result.exit_code == 1 and "SADA_MASTER_KEY must be set" in result.output

    # `sada run` keeps its key in the data dir: made once, then reused...
    data_dir = tmp_path / "run"
    embedded = settings(data_dir, master_key="", mongo_db=city.db.name,
                        mongo_url=city.env()["SADA_MONGO_URL"])
    made = ensure_master_key(embedded)
    assert key_path(embedded).stat().st_mode & 0o777 == 0o600
    assert ensure_master_key(embedded).master_key == made.master_key
    # ...and a lost key file does not make a fresh key that silently reads nothing.
    import click

    with pytest.raises(click.ClickException, match="does not open the key store"):
        privacy_vault(made)
    key_path(embedded).unlink()
    with pytest.raises(click.ClickException, match="does not open the key store"):
        privacy_vault(ensure_master_key(embedded))


def test_the_demo_leaves_personal_data_out_unless_it_can_seal_it() -> None:
    events = [e for e in generate(now(), demands=20, weeks=2, seed=9)
              if e.type == "DemandSubmitted"]
    assert {tuple(e.payload["requester"]) for e in events} == {
        ("kind", "requester_id", "sealed")}
    assert all(e.payload["requester"]["sealed"] is None for e in events)
