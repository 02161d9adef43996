"""Personal data in the running system (`sada run`): sealed on the way in, shown to the clerk,
withheld from the administrator, erased on request; the erased key's copy in SecantusDB's oplog
still opens until `sada privacy rotate`, after which `sada privacy-scan` finds nothing in the
log file, the read models or the oplog."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.e2e.conftest import wait_for

PERSON = {"kind": "citizen", "name": "زهرا رضایی", "phone": "09127778899",
          "national_id": "0790419904"}
DEMAND = {"requester": PERSON, "channel": "line_137", "district": 21,
          "neighbourhood": "شهرک استقلال", "category": "transport",
          "title": "ایستگاه اتوبوس بدون سایبان", "description": "ایستگاه سایبان ندارد."}


def _cli(stack, *args: str) -> subprocess.CompletedProcess:
    # The command finds the stack (and its database's login) from the data directory.
    env = {**os.environ, "SADA_DATA_DIR": str(stack.data_dir)}
    for name in ("SADA_MASTER_KEY", "SADA_SQLITE_PATH", "SADA_MONGO_DB", "SADA_EVENT_LOG",
                 "SADA_MONGO_URL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-m", "sada.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_requester_is_sealed_shown_withheld_and_erased(stack, http) -> None:
    clerk, admin = stack.bearer("intake_clerk", 21), stack.bearer("administrator")
    sent = http.post(stack.url("intake", "/demands"), json=DEMAND, headers=clerk).json()
    url = stack.url("reporting", f"/demands/{sent['demand_id']}")
    shown = http.get(url, params={"after": sent["position"], "wait": 20}, headers=clerk)
    assert shown.status_code == 200, shown.text
    requester = shown.json()["requester"]
    assert (requester["name"], requester["phone"], requester["national_id"]) == (
        PERSON["name"], PERSON["phone"], PERSON["national_id"])
    assert http.get(url, headers=admin).json()["requester"]["personal"] == "withheld"
    log_file = (stack.data_dir / "events.sqlite3").read_bytes()
    assert PERSON["name"].encode() not in log_file and b"09127778899" not in log_file

    erased = http.post(stack.url("intake", f"/requesters/{requester['requester_id']}/erasure"),
                       headers=admin)
    assert erased.status_code == 200, erased.text
    assert wait_for(lambda: http.get(url, headers=clerk).json()["requester"]["personal"]
                    == "erased")
    pending = _cli(stack, "privacy-scan", "--json")
    assert pending.returncode == 1, pending.stdout + pending.stderr
    report = json.loads(pending.stdout)
    assert {f["kind"] for f in report["findings"]} == {"erased_key"}, report
    assert report["rotation"]["last_rotation"] is not None  # `sada run` rotated at start
    assert report["rotation"]["erasures_pending"] == 1
    rotated = _cli(stack, "privacy", "rotate")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert len(list((stack.data_dir / "keks").glob("*.kek"))) == 1

    scan = _cli(stack, "privacy-scan", "--json", "--find", PERSON["name"],
                "--find", PERSON["phone"], "--path", str(stack.data_dir / "events.sqlite3"))
    assert scan.returncode == 0, scan.stdout + scan.stderr
    report = json.loads(scan.stdout)
    assert report["findings"] == [] and report["erased"] >= 1
    assert report["oplog"]["checked"] and report["rotation"]["erasures_pending"] == 0
    assert report["sealed_requesters"] > report["erased"]  # the demo's phones are sealed too
