"""Revoked tokens are refused by every service within a minute: one token by its id, or every
token a person was issued until the revocation (`sada token revoke`)."""

from __future__ import annotations

import time

from click.testing import CliRunner

from reporting.app import create_app
from sada.cli import main as sada
from services import auth, revocation
from services.config import Settings
from services.revocation import Revocations
from tests.auth_helpers import MASTER_KEY, SECRET, token


def app_and_client(tmp_path, mongo_db):
    app = create_app(Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY),
                     db=mongo_db)
    return app, app.test_client()


def get(client, text: str):
    return client.get("/demands", headers={"Authorization": f"Bearer {text}"})


def refresh(app) -> None:
    app.extensions["sada.auth"].revocations.refresh()


def test_a_revoked_token_is_refused_and_others_still_work(tmp_path, mongo_db):
    app, client = app_and_client(tmp_path, mongo_db)
    leaked, other = token("headquarters", subject="hq-1"), token("headquarters", subject="hq-1")
    assert get(client, leaked).status_code == 200
    principal = auth.verify(SECRET, leaked)
    revocation.revoke_token(mongo_db, principal.token_id, by="test", until=principal.expires_at)
    refresh(app)
    refused = get(client, leaked)
    assert refused.status_code == 401 and "revoked" in refused.get_json()["message"]
    assert get(client, other).status_code == 200


def test_revoking_a_subject_refuses_its_earlier_tokens_not_later_ones(tmp_path, mongo_db):
    app, client = app_and_client(tmp_path, mongo_db)
    before = token("auditor", subject="auditor-7", now=time.time() - 60)
    revocation.revoke_subject(mongo_db, "auditor-7", by="test")
    refresh(app)
    assert get(client, before).status_code == 401
    after = token("auditor", subject="auditor-7", now=time.time() + 2)
    assert get(client, after).status_code == 200
    assert get(client, token("auditor", subject="auditor-8")).status_code == 200


def test_a_service_learns_of_a_revocation_within_its_refresh_interval(mongo_db):
    now = [1000.0]
    seen = Revocations(lambda: mongo_db[revocation.COLLECTION], refresh_seconds=30,
                       clock=lambda: now[0])
    assert not seen.revoked("jti-1", "x", 0)
    revocation.revoke_token(mongo_db, "jti-1", by="test", until=0)
    now[0] += 29
    assert not seen.revoked("jti-1", "x", 0)  # still its copy from a moment ago
    now[0] += 2
    assert seen.revoked("jti-1", "x", 0)  # 31 s later: refreshed


def test_sada_token_revoke(tmp_path, mongo_db, mongo_url):
    env = {"SADA_DATA_DIR": str(tmp_path), "SADA_AUTH_SECRET": SECRET,
           "SADA_MONGO_URL": mongo_url, "SADA_MONGO_DB": mongo_db.name}
    leaked = token("administrator", subject="admin-9")
    done = CliRunner(env=env).invoke(sada, ["token", "revoke", "--token", leaked])
    assert done.exit_code == 0, done.output
    assert "revoked token" in done.output
    by_subject = CliRunner(env=env).invoke(sada, ["token", "revoke", "--subject", "clerk-3"])
    assert by_subject.exit_code == 0, by_subject.output
    seen = Revocations(lambda: mongo_db[revocation.COLLECTION])
    assert seen.revoked(auth.verify(SECRET, leaked).token_id, "admin-9", 0)
    assert seen.revoked("", "clerk-3", int(time.time()) - 5)
    bad = CliRunner(env=env).invoke(sada, ["token", "revoke"])
    assert bad.exit_code != 0 and "exactly one" in bad.output
    issued = CliRunner(env=env).invoke(sada, ["token", "--role", "auditor", "--ttl", "1h"])
    assert issued.exit_code == 0 and issued.output.count(".") == 2
