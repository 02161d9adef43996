"""/readyz answers 503, naming what is wrong, when a service cannot do its work: the log or
MongoDB is unreachable, or the read models are too far behind; and 200 once it can."""

from __future__ import annotations

import time

from pymongo import MongoClient

from intake.app import create_app as intake_app
from reporting.app import create_app as reporting_app
from reporting.replay import replay
from sada.processes import free_port
from services.config import Settings
from services.eventlog.kafka import KafkaEventLog
from services.eventlog.sqlite import SqliteEventLog
from tests import servers
from tests.auth_helpers import MASTER_KEY, SECRET
from tests.integration.test_reporting_stream import append_all, city
from tests.unit.streams import lifecycle


def settings(tmp_path, **changes) -> Settings:
    return Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY, **changes)


def test_reporting_is_not_ready_while_the_read_models_lag_behind(tmp_path, mongo_db):
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        events = city(10, 20, seed=3)
        append_all(log, events)
        client = reporting_app(settings(tmp_path, ready_max_lag=5), log, mongo_db).test_client()
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.get_json()["checks"]["read_models"] == "ok"
        assert f"{len(events)} events behind" in r.get_json()["checks"]["projector_lag"]

        replay(log, mongo_db)
        log.append(lifecycle(1))  # 5 new events: within the bound
        r = client.get("/readyz")
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["checks"] == {"read_models": "ok", "projector_lag": "ok",
                                          "processes": "ok"}


def test_reporting_without_mongodb_is_not_ready(tmp_path):
    unreachable = MongoClient(f"mongodb://127.0.0.1:{free_port()}",
                              serverSelectionTimeoutMS=300)["nowhere"]
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        client = reporting_app(settings(tmp_path), log, unreachable).test_client()
        r = client.get("/readyz")
    assert r.status_code == 503
    assert r.get_json()["checks"]["read_models"].startswith("ServerSelectionTimeoutError")
    assert client.get("/healthz").status_code == 200  # alive all the same


def test_intake_is_not_ready_once_its_broker_is_gone(tmp_path):
    broker = servers.noida(tmp_path).start()
    try:
        log = KafkaEventLog(f"127.0.0.1:{broker.port}", "readyz", partitions=2, timeout=1.0)
        client = intake_app(settings(tmp_path), log).test_client()
        assert client.get("/readyz").get_json() == {
            "status": "ready", "checks": {"event_log": "ok", "processes": "ok"}}
        broker.kill()
        started = time.monotonic()
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.get_json()["status"] == "not ready"
        assert time.monotonic() - started < 5  # a probe never hangs on a dead dependency
        log.close()
    finally:
        broker.kill()
