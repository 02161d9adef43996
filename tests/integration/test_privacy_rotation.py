"""Erasure that stays erased: key-encryption keys rotated and destroyed.

On a real SecantusDB, which keeps an oplog (`local.oplog.rs`) as every replica set does: after
an erasure and a rotation, the requester opens from no copy of their key (the key store, the
oplog's original insert, a backup of the key store taken before the erasure), with the master
key and every key-encryption key that is left. Rotation keeps live requesters readable,
migrates keys wrapped under the master key, and survives a crash between any two steps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from sada.cli import main as sada
from services.events.envelope import decode
from services.privacy.crypto import InvalidTag, MasterKey, open_sealed, unwrap_under_kek
from services.privacy.keks import KekDir
from services.privacy.keystore import KEYS
from services.privacy.rotation import MASTER, rotate
from services.privacy.vault import Vault
from tests.auth_helpers import MASTER_KEY
from tests.privacy_world import CLERK, PERSON, World, settings, world

OTHER = {"kind": "citizen", "name": "حسین رضایی", "phone": "09121112233"}
THIRD = {"kind": "guild", "name": "صنف نانوایان منطقه", "national_id": "0013542419"}


@pytest.fixture
def w(tmp_path, mongo_db) -> Iterator[World]:
    city = world(tmp_path, mongo_db)
    yield city
    city.log.close()


def cli(w: World, *args: str) -> tuple[int, Any]:
    result = CliRunner(env=w.env()).invoke(sada, list(args))
    try:
        return result.exit_code, json.loads(result.output)
    except ValueError:
        return result.exit_code, result.output


def fresh_vault(w: World) -> Vault:
    """The key store as a process started now sees it (nothing cached)."""
    return Vault.open(settings(w.path.parent), w.db)


def sealed_requester(w: World, demand_id: str) -> dict[str, Any]:
    for record in w.log.scan():
        if record.event.demand_id == demand_id and record.event.type == "DemandSubmitted":
            return record.event.payload["requester"]
    raise AssertionError(demand_id)


def oplog_copies(w: World, requester_id: str) -> list[dict[str, Any]]:
    """Every wrapped key of this requester that the oplog holds, as `{_id, wrapped, kek?}`."""
    ns = f"{w.db.name}_keys.{KEYS}"
    copies = []
    for entry in w.db.client["local"]["oplog.rs"].find({"ns": ns}):
        if (entry.get("o2") or entry.get("o") or {}).get("_id") != requester_id:
            continue
        stack = [entry["o"]]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                if isinstance(value.get("wrapped"), str):
                    copies.append({"_id": requester_id, "wrapped": value["wrapped"],
                                   **({"kek": value["kek"]} if "kek" in value else {})})
                stack.extend(value.values())
    return copies


def attack(w: World, copy: dict[str, Any]) -> bytes | None:
    """The data key in `copy`, by every means left: the master key, and each key-encryption
    key still on disk under its own id and under the copy's."""
    master = MasterKey.from_text(MASTER_KEY)
    rid, wrapped = copy["_id"], copy["wrapped"]
    try:
        return master.unwrap(wrapped, rid)
    except InvalidTag:
        pass
    keks = KekDir(settings(w.path.parent).kek_path)
    for kek_id in keks.ids():
        kek = keks.load(kek_id, master)
        for aad_id in {kek_id, copy.get("kek") or kek_id}:
            try:
                return unwrap_under_kek(kek, aad_id, wrapped, rid)
            except InvalidTag:
                pass
    return None


def opens(w: World, demand_id: str, key: bytes | None) -> bool:
    requester = sealed_requester(w, demand_id)
    if key is None:
        return False
    aad = f"sada/requester/{requester['requester_id']}/{demand_id}".encode()
    return b"09123456789" in open_sealed(key, requester["sealed"], aad)


def test_an_erased_requester_opens_from_no_copy_after_a_rotation(w) -> None:
    assert cli(w, "privacy", "rotate")[0] == 0  # a store that was rotated before
    mine = w.submit(PERSON)
    other = w.submit(OTHER)
    rid = sealed_requester(w, mine)["requester_id"]
    backup = list(w.db.client[f"{w.db.name}_keys"][KEYS].find())  # a backup, before erasure
    [backed_up] = [d for d in backup if d["_id"] == rid]
    assert opens(w, mine, attack(w, backed_up))  # the backup opens it, today

    code, erased = cli(w, "erase", "--demand", mine)
    assert code == 0, erased
    # Erased, but not yet for good: the oplog's copy of the key still opens the log's
    # ciphertext, and the scan says so, and that the erasure awaits a rotation.
    copies = oplog_copies(w, rid)
    assert copies and any(opens(w, mine, attack(w, c)) for c in copies)
    code, report = cli(w, "privacy-scan", "--json")
    assert code == 1 and report["oplog"]["checked"] is True, report
    assert [f["kind"] for f in report["findings"]] == ["erased_key"], report
    assert report["rotation"]["erasures_pending"] == 1
    assert report["rotation"]["every_hours"] == 24

    code, rotated = cli(w, "privacy", "rotate")
    assert code == 0 and rotated["rotated"] is True, rotated

    # No copy opens any more: the key store, the oplog, the backup.
    assert fresh_vault(w).open_requester(sealed_requester(w, mine), mine).status == "erased"
    copies = oplog_copies(w, rid)
    assert copies
    for copy in [*copies, backed_up]:
        assert attack(w, copy) is None, copy
    # The other requester is as readable as before, from the store and over HTTP.
    assert fresh_vault(w).open_requester(sealed_requester(w, other), other).personal[
        "name"] == OTHER["name"]
    w.settle()
    assert w.requester(mine, CLERK)["personal"] == "erased"
    assert w.requester(other, CLERK)["name"] == OTHER["name"]
    code, report = cli(w, "privacy-scan", "--json", "--find", PERSON["name"])
    assert code == 0 and report["findings"] == [], report
    assert report["oplog"]["checked"] is True and report["oplog"]["entries"] > 0
    assert report["rotation"]["erasures_pending"] == 0
    assert report["rotation"]["erasures_final"] == 1
    assert report["rotation"]["last_rotation"] == rotated["finished_at"]
    plain = CliRunner(env=w.env()).invoke(sada, ["privacy-scan"])
    assert "key rotation: last " + rotated["finished_at"] in plain.output, plain.output


def test_the_first_rotation_migrates_keys_wrapped_under_the_master_key(w) -> None:
    before = [w.submit(PERSON), w.submit(OTHER)]  # made before any rotation
    store = w.db.client[f"{w.db.name}_keys"][KEYS]
    assert all("kek" not in d for d in store.find())
    code, report = cli(w, "privacy-scan", "--json")
    assert code == 0 and report["rotation"]["last_rotation"] is None, report

    code, rotated = cli(w, "privacy", "rotate")
    assert code == 0 and rotated["destroyed"] == [MASTER] and rotated["rewrapped"] == 2
    assert {d["kek"] for d in store.find()} == {rotated["kek"]}
    vault = fresh_vault(w)
    for demand_id in before:
        assert vault.open_requester(sealed_requester(w, demand_id), demand_id).status == (
            "readable")
    # Keys made after it are wrapped under the current key-encryption key; a second
    # rotation destroys the first's.
    after = w.submit(THIRD)
    assert store.find_one({"_id": sealed_requester(w, after)["requester_id"]})[
        "kek"] == rotated["kek"]
    code, again = cli(w, "privacy", "rotate")
    assert code == 0 and again["destroyed"] == [rotated["kek"]] and again["rewrapped"] == 3
    assert KekDir(settings(w.path.parent).kek_path).ids() == [again["kek"]]
    vault = fresh_vault(w)
    for demand_id in [*before, after]:
        assert vault.open_requester(sealed_requester(w, demand_id), demand_id).status == (
            "readable")


class Crash(Exception):
    pass


def crash_at(name: str):
    def step(reached: str) -> None:
        if reached.split(":")[0] == name:
            raise Crash(reached)
    return step


@pytest.mark.parametrize("where", ["recorded", "kek-written", "current", "rewrapped",
                                   "destroyed"])
def test_a_rotation_interrupted_anywhere_leaves_every_key_readable(w, where) -> None:
    demands = [w.submit(PERSON)]  # under the master key
    assert cli(w, "privacy", "rotate")[0] == 0
    demands += [w.submit(OTHER), w.submit(THIRD)]  # under the first KEK
    first = fresh_vault(w).store.current_kek()

    with pytest.raises(Crash):
        rotate(fresh_vault(w), step=crash_at(where), batch=1)  # a crash between two keys

    vault = fresh_vault(w)
    if where == "rewrapped":  # some keys under the new KEK, some still under the old
        assert len({d["kek"] for d in vault.store.keys.find()}) == 2
    for demand_id in demands:
        assert vault.open_requester(sealed_requester(w, demand_id), demand_id).status == (
            "readable"), where
    demands.append(w.submit({"kind": "citizen", "name": "زهرا کریمی",
                             "phone": "09351234567"}))  # recorded mid-rotation
    code, report = cli(w, "privacy-scan", "--json")
    assert code == 0 and report["rotation"]["in_progress"] is True, report
    assert "was interrupted" in CliRunner(env=w.env()).invoke(sada, ["privacy-scan"]).output

    code, done = cli(w, "privacy", "rotate")
    assert code == 0 and done["resumed"] is True and done["destroyed"] == [first], done
    assert KekDir(settings(w.path.parent).kek_path).ids() == [done["kek"]]
    vault = fresh_vault(w)
    for demand_id in demands:
        assert vault.open_requester(sealed_requester(w, demand_id), demand_id).status == (
            "readable"), where
    assert {d.get("kek") for d in vault.store.keys.find()} == {done["kek"]}
    assert cli(w, "privacy-scan", "--json")[1]["rotation"]["in_progress"] is False


def test_a_rotation_refuses_to_run_beside_another(w) -> None:
    w.submit(PERSON)
    vault = fresh_vault(w)
    assert vault.store.claim_rotation("someone-else", *_lease())
    code, output = cli(w, "privacy", "rotate")
    assert code == 1 and "another key rotation is running" in output
    vault.store.release_rotation("someone-else")
    assert cli(w, "privacy", "rotate")[0] == 0


def _lease():
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return now, now + timedelta(minutes=5)


def test_the_log_itself_never_held_a_key(w) -> None:
    """What a rotation cannot reach must hold no key: the log's bytes carry ciphertext only."""
    demand_id = w.submit(PERSON)
    for record in w.log.scan():
        event = decode(record.raw)
        assert "wrapped" not in json.dumps(event.payload), demand_id


def test_the_embedded_runner_rotates_at_start_and_then_once_a_day(w) -> None:
    from datetime import UTC, datetime, timedelta

    from sada.key_rotation import ScheduledRotation
    from services.privacy.rotation import due

    said: list[str] = []
    config = settings(w.path.parent, mongo_url=w.env()["SADA_MONGO_URL"],
                      mongo_db=w.db.name)
    schedule = ScheduledRotation(config, said.append)
    assert config.kek_rotation_hours == 24
    first = schedule.run_once()  # a new store: its first KEK
    assert first is not None and first.destroyed == (MASTER,)
    assert schedule.run_once() is None  # not due again for a day
    vault = fresh_vault(w)
    later = datetime.now(UTC) + timedelta(hours=24, minutes=1)
    assert not due(vault, 24) and due(vault, 24, later) and not due(vault, 0, later)
    assert any("rotated the key-encryption key" in line for line in said)


def test_a_key_made_while_a_rotation_runs_is_not_lost_with_the_old_kek(w) -> None:
    """A new requester's key wrapped under the old KEK, stored after the rotation finished
    (and destroyed that KEK), is wrapped again under the new one by its writer."""
    from services.privacy.keystore import KeyStore

    assert cli(w, "privacy", "rotate")[0] == 0
    old = fresh_vault(w).store.current_kek()
    rotations: list = []

    class RotationBeforeInsert(KeyStore):
        def create(self, requester_id, wrapped, kek=None):
            if not rotations:  # the writer has wrapped under `old`; a rotation runs now
                rotations.append(rotate(fresh_vault(w)))
            super().create(requester_id, wrapped, kek)

    writer = fresh_vault(w)
    writer.store = RotationBeforeInsert(writer.store.db)
    sealed = writer.seal(OTHER, "01JQ8Z3W2N5X7Y9B1C3D5F7H9K")
    [done] = rotations
    assert done.destroyed == (old,) and not KekDir(settings(w.path.parent).kek_path).exists(old)
    doc = fresh_vault(w).store.get(sealed["requester_id"])
    assert doc["kek"] == done.kek
    opened = fresh_vault(w).open_requester(sealed, "01JQ8Z3W2N5X7Y9B1C3D5F7H9K")
    assert opened.personal["name"] == OTHER["name"]


def test_a_rotation_that_loses_its_lease_stops_before_destroying_anything(w) -> None:
    from services.privacy.rotation import RotationBusy

    demands = [w.submit(PERSON), w.submit(OTHER), w.submit(THIRD)]
    assert cli(w, "privacy", "rotate")[0] == 0
    first = fresh_vault(w).store.current_kek()
    meta = fresh_vault(w).store.meta

    def lease_taken(reached: str) -> None:  # its lease ran out; another rotation took it
        if reached.startswith("rewrapped"):
            meta.update_one({"_id": "kek"}, {"$set": {"lease_owner": "another"}})

    with pytest.raises(RotationBusy):
        rotate(fresh_vault(w), step=lease_taken, batch=1)
    assert KekDir(settings(w.path.parent).kek_path).exists(first)
    vault = fresh_vault(w)
    for demand_id in demands:
        assert vault.open_requester(sealed_requester(w, demand_id), demand_id).status == (
            "readable")


def test_a_service_that_cannot_read_the_current_kek_refuses_to_start(w, tmp_path) -> None:
    from intake.app import create_app as intake_app
    from reporting.app import create_app as reporting_app
    from services.privacy.crypto import MasterKeyError

    w.submit(PERSON)
    assert cli(w, "privacy", "rotate")[0] == 0
    elsewhere = settings(w.path.parent, kek_dir=tmp_path / "not-the-shared-one")
    for create in (intake_app, reporting_app):
        with pytest.raises(MasterKeyError, match="must read the same SADA_KEK_DIR"):
            create(elsewhere, w.log, w.db)
    result = CliRunner(env={**w.env(), "SADA_KEK_DIR": str(tmp_path / "nope")}).invoke(
        sada, ["privacy-scan"])
    assert result.exit_code == 1 and "must read the same SADA_KEK_DIR" in result.output


def test_a_key_read_just_before_a_rotation_still_opens_after_it(w) -> None:
    demand_id = w.submit(PERSON)
    assert cli(w, "privacy", "rotate")[0] == 0
    rid = sealed_requester(w, demand_id)["requester_id"]
    stale = fresh_vault(w).store.get(rid)  # read by a service as the rotation begins
    assert cli(w, "privacy", "rotate")[0] == 0  # ...which destroys the KEK it names
    vault = fresh_vault(w)
    assert vault.try_unwrap(stale) is None
    assert vault.unwrap(stale) == vault.unwrap(vault.store.get(rid))
