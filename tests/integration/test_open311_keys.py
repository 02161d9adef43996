"""An application posts Open311 requests with the API key an administrator issued, and no
Sada token: recorded by intake with the application as its actor, within the key's district,
rate-limited per key, refused once the key is revoked. The key is stored only as a hash."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from sada.cli import main as sada
from services import apikeys
from services.eventlog.sqlite import SqliteEventLog
from tests.auth_helpers import MASTER_KEY, SECRET
from tests.integration.test_open311_public import FORM, serve


@pytest.fixture
def log(tmp_path) -> Iterator[SqliteEventLog]:
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as log:
        yield log


def posted(server, form, fmt="json"):
    status, headers, body = server.post(f"requests.{fmt}", form)
    return status, headers, body


def test_an_application_posts_with_its_key_and_no_token(log, mongo_db):
    key = apikeys.create(mongo_db, "tehran-137", 21, by="test")
    assert mongo_db[apikeys.COLLECTION].find_one({"_id": {"$ne": None}})["name"] == "tehran-137"
    assert key not in json.dumps(list(mongo_db[apikeys.COLLECTION].find({}, {"_id": 0})))
    for server in serve(log, mongo_db):
        status, _, body = posted(server, {**FORM, "api_key": key})
        assert status == 201, body
        request_id = json.loads(body)[0]["service_request_id"]
        [event] = [r.event for r in log.scan()]
        assert (event.demand_id, event.actor.role, event.actor.id, event.actor.district) == (
            request_id, "application", "app:tehran-137", 21)
        assert "احمدی" not in json.dumps(event.payload, ensure_ascii=False)  # sealed by intake

        status, _, body = posted(server, {**FORM, "api_key": key, "attribute[district]": "5"})
        assert status == 403 and b"district" in body  # its key is district 21's
        for bad in ({**FORM, "api_key": "sada_guessed"}, FORM):
            status, _, body = posted(server, bad, "xml")
            assert status == 401 and b"<errors><error><code>401</code>" in body
        apikeys.revoke(mongo_db, "tehran-137", by="test")
        status, _, _ = posted(server, {**FORM, "api_key": key})
        assert status == 401
    assert len(list(log.scan())) == 1


def test_keys_are_rate_limited_per_key(log, mongo_db):
    key = apikeys.create(mongo_db, "busy-app", None, by="test")
    for server in serve(log, mongo_db, SADA_RATE_LIMIT_BURST="2",
                        SADA_RATE_LIMIT_PER_MINUTE="1"):
        answers = [posted(server, {**FORM, "api_key": key})[0] for _ in range(4)]
        assert answers[:2] == [201, 201] and 429 in answers[2:]


def test_sada_api_key_create_and_revoke(tmp_path, mongo_db, mongo_url):
    env = {"SADA_DATA_DIR": str(tmp_path), "SADA_AUTH_SECRET": SECRET,
           "SADA_MASTER_KEY": MASTER_KEY, "SADA_MONGO_URL": mongo_url,
           "SADA_MONGO_DB": mongo_db.name}
    made = CliRunner(env=env).invoke(sada, ["api-key", "create", "--name", "sms-gateway",
                                            "--district", "17"])
    assert made.exit_code == 0, made.output
    key = made.output.strip()
    assert apikeys.find(mongo_db, key) == apikeys.Application("sms-gateway", 17)
    twice = CliRunner(env=env).invoke(sada, ["api-key", "create", "--name", "sms-gateway"])
    assert twice.exit_code != 0 and "already has a key" in twice.output
    gone = CliRunner(env=env).invoke(sada, ["api-key", "revoke", "--name", "sms-gateway"])
    assert gone.exit_code == 0 and apikeys.find(mongo_db, key) is None
