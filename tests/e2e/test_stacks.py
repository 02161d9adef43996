"""Two stacks on one machine, each CLI acting on its own; a killed `sada run` leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from sada.processes import port_open
from tests.e2e.conftest import start_stack, stop_stack, wait_for
from tests.e2e.test_demand_journey import DEMAND


def _record(stack) -> dict:
    return json.loads((stack.data_dir / "stack.json").read_text())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every purpose but its parent's bookkeeping.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_a_killed_run_takes_every_child_with_it(tmp_path):
    stack = start_stack(tmp_path, demo=False)
    children = [p["pid"] for p in _record(stack)["processes"].values()]
    assert len(children) == 7 and all(_alive(pid) for pid in children)
    os.kill(stack.proc.pid, signal.SIGKILL)  # sada run alone: its children have own sessions
    stack.proc.wait()
    try:
        wait_for(lambda: not any(_alive(pid) for pid in children), timeout=30)
        ports = [int(u.rsplit(":", 1)[1]) for u in stack.urls.values()]
        # gunicorn's own workers go with their master
        wait_for(lambda: not any(port_open("127.0.0.1", port) for port in ports), timeout=30)
    finally:
        for pid in children:
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)


def sada(stack, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sada.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def test_two_stacks_side_by_side_each_cli_acts_on_its_own(tmp_path):
    first = start_stack(tmp_path / "first", demo=False)
    try:
        first_mongo = _record(first)["mongo_url"]
        taken = str(urlsplit(first_mongo).port)
        # The second clone is configured with the port the first one's SecantusDB holds.
        second = start_stack(tmp_path / "second", demo=False,
                             env={"SADA_EMBEDDED_MONGO_PORT": taken})
        try:
            assert any(line.startswith("WARNING: port " + taken) for line in second.output)
            second_mongo = _record(second)["mongo_url"]
            assert second_mongo != first_mongo
            sent = requests.post(second.url("intake", "/demands"), json=DEMAND, timeout=30,
                                 headers=second.bearer("intake_clerk", 21)).json()
            wait_for(lambda: requests.get(
                second.url("reporting", f"/demands/{sent['demand_id']}"), timeout=30,
                headers=second.bearer("district_mayor", 21)).status_code == 200, timeout=30)

            env = {"SADA_DATA_DIR": str(second.data_dir), "SADA_EMBEDDED_MONGO_PORT": taken}
            env.pop("SADA_MONGO_URL", None)
            done = sada(second, "replay", "--into", "check", "--no-snapshots", env=env)
            assert done.returncode == 0, done.stdout + done.stderr

            with MongoClient(second_mongo) as mine, MongoClient(first_mongo) as theirs:
                assert mine["check"]["demands"].count_documents({}) == 1
                assert "check" not in theirs.list_database_names()
        finally:
            stop_stack(second)
    finally:
        stop_stack(first)


def test_the_embedded_database_takes_only_its_own_login(tmp_path):
    stack = start_stack(tmp_path, demo=False)
    try:
        url = _record(stack)["mongo_url"]
        port = urlsplit(url).port
        anyone = MongoClient(f"mongodb://127.0.0.1:{port}", serverSelectionTimeoutMS=5000)
        with anyone, pytest.raises(OperationFailure, match="auth"):
            anyone["sada"]["demands"].find_one()
        with MongoClient(url, serverSelectionTimeoutMS=5000) as sada_itself:
            assert sada_itself["sada"].list_collection_names() is not None
        for private in (tmp_path / "mongo-credentials.json", tmp_path / "stack.json"):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
        assert "***" in "".join(stack.output) and urlsplit(url).password not in "".join(
            stack.output)
    finally:
        stop_stack(stack)


def test_a_second_run_from_the_same_data_dir_is_refused(tmp_path):
    stack = start_stack(tmp_path, demo=False)
    try:
        started = time.monotonic()
        again = sada(stack, "run", "--no-demo", env={"SADA_DATA_DIR": str(tmp_path)})
        assert again.returncode == 1 and "already runs from" in again.stderr
        assert time.monotonic() - started < 30
    finally:
        stop_stack(stack)
