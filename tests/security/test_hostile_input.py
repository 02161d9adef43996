"""Hostile and malformed input: Persian normalisation, size limits, strict schemas.

Every refusal is a 4xx JSON body naming the field and the reason, and records nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from intake.app import create_app as intake_app
from reporting.app import create_app as reporting_app
from routing.app import create_app as routing_app
from services.config import Settings
from services.eventlog.sqlite import SqliteEventLog
from services.text import ascii_digits, normalise
from services.web import MAX_BODY_BYTES
from tests.auth_helpers import MASTER_KEY, SECRET, authorize, bearer

DEMAND: dict[str, Any] = {
    "requester": {"kind": "citizen"}, "channel": "line_137", "district": 21,
    "neighbourhood": "ویلاشهر", "category": "transport", "title": "ترافیک ورودی",
    "description": "صف خودروها هر صبح تا بزرگراه کشیده می‌شود."}


# -- normalisation --------------------------------------------------------------------------
@pytest.mark.parametrize(("raw", "clean"), [
    ("علي", "علی"),                                    # Arabic yeh
    ("مصطفى", "مصطفی"),                                # alef maksura
    ("كوچه", "کوچه"),                                  # Arabic kaf
    ("می‌شود", "می‌شود"),                              # ZWNJ kept
    ("پل\u200dسفید", "پلسفید"),                        # ZWJ dropped
    ("\u202eکوچه\u202c", "کوچه"),                      # bidi override dropped
    ("a\u2066b\u2069c\u200fd\u200ee\u061cf", "abcdef"),  # isolates and marks dropped
    ("\ufeffسلام\u200b", "سلام"),                      # BOM, zero-width space
    ("x\x00y\x07z\x1b", "xyz"),                        # control characters
    ("خط یک\r\nخط دو\u2028سه", "خط یک\nخط دو\nسه"),    # newlines
    ("\ud800بی\udfffجفت", "بیجفت"),                    # lone surrogates
    ("  کافه  ", "کافه"),
    ("e\u0301", "é"),                                  # NFC
    ("پلاک ۱۲ و ٣٤", "پلاک ۱۲ و ٣٤"),                 # digits kept in text
])
def test_text_is_normalised(raw, clean) -> None:
    assert normalise(raw) == clean
    assert normalise(clean) == clean  # idempotent


def test_digits_become_ascii_where_a_value_is_a_number() -> None:
    assert ascii_digits("۰۹۱۲٣٤٥") == "0912345"


@pytest.fixture
def log(tmp_path) -> Iterator[SqliteEventLog]:
    with SqliteEventLog(tmp_path / "events.sqlite3") as log:
        yield log


@pytest.fixture
def intake(tmp_path, log, mongo_db):
    app = intake_app(Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY),
                     log, db=mongo_db)
    return authorize(app.test_client(), "intake_clerk", 21)


def test_every_text_field_is_normalised_on_the_way_in(intake, log) -> None:
    body = {**DEMAND, "requester": {"kind": "citizen", "name": "علي\u202e",
                                    "phone": "۰۹۱۲-۱۲۳-٤٥٦٧"},
            "neighbourhood": "كوي\u200f نصر", "title": "\u202bترافیك\u202c",
            "description": "صف\x00 خودروها می‌شود\r\nهر روز"}
    r = intake.post("/demands", json=body)
    assert r.status_code == 202, r.get_json()
    [record] = list(log.scan())
    p = record.event.payload
    assert p["requester"]["kind"] == "citizen"  # name and phone are sealed (services/privacy)
    assert (p["neighbourhood"], p["title"]) == ("کوی نصر", "ترافیک")
    assert p["description"] == "صف خودروها می‌شود\nهر روز"


@pytest.mark.parametrize("title", ["\u202e\u202c", "\u200b\u200b", "\x00", "   \u200f  "])
def test_a_field_of_only_invisible_characters_is_blank(intake, log, title) -> None:
    r = intake.post("/demands", json={**DEMAND, "title": title})
    assert r.status_code == 422 and "title" in r.get_json()["errors"]["json"]
    assert log.end_offsets() == {0: 0}


def test_a_lone_surrogate_never_breaks_the_answer(intake, log) -> None:
    raw = json.dumps({**DEMAND, "colour\ud800": "x"}, ensure_ascii=True)
    r = intake.post("/demands", data=raw, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)
    assert "colour" in r.get_json()["errors"]["json"]


# -- size limits ----------------------------------------------------------------------------
def test_a_body_over_the_size_limit_is_a_413(intake, log) -> None:
    body = json.dumps({**DEMAND, "description": "ب" * MAX_BODY_BYTES})
    r = intake.post("/demands", data=body, content_type="application/json")
    assert r.status_code == 413, r.get_data(as_text=True)
    assert r.get_json()["code"] == 413 and r.get_json()["message"]
    assert log.end_offsets() == {0: 0}


@pytest.mark.parametrize(("field", "limit"), [
    ("title", 200), ("neighbourhood", 200), ("description", 4000)])
def test_each_text_field_has_a_length_limit(intake, log, field, limit) -> None:
    assert intake.post("/demands", json={**DEMAND, field: "ج" * limit}).status_code == 202
    r = intake.post("/demands", json={**DEMAND, field: "ج" * (limit + 1)})
    assert r.status_code == 422 and field in r.get_json()["errors"]["json"]
    assert log.end_offsets() == {0: 1}


@pytest.mark.parametrize("body", [  # deep, but under the 64 KiB body limit: parsed
    "[" * 30_000 + "]" * 30_000,
    '{"requester": ' * 4_000 + "1" + "}" * 4_000,
])
def test_absurdly_nested_json_is_a_422(intake, log, body) -> None:
    assert len(body.encode()) < MAX_BODY_BYTES
    r = intake.post("/demands", data=body, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)[:200]
    assert "nested too deeply" in str(r.get_json()["errors"])
    assert r.is_json and r.get_json()["code"] == r.status_code
    assert log.end_offsets() == {0: 0}


def test_an_over_long_header_value_is_named(intake, log) -> None:
    r = intake.post("/demands", json=DEMAND, headers={"Idempotency-Key": "k" * 129})
    assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["errors"]["headers"]


# -- strict schemas -------------------------------------------------------------------------
def _apps(tmp_path, log, mongo_db):
    settings = Settings(data_dir=tmp_path, auth_secret=SECRET, master_key=MASTER_KEY)
    return [intake_app(settings, log, db=mongo_db), routing_app(settings, log, db=mongo_db),
            reporting_app(settings, log=log, db=mongo_db)]


def _objects(schema: dict[str, Any], spec: dict[str, Any], where: str) -> Iterator[tuple]:
    """Every object schema inside `schema`, with where it is."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        yield from _objects(spec["components"]["schemas"][name], spec, f"{where}>{name}")
        return
    if schema.get("type") == "object" or "properties" in schema:
        yield where, schema
        for prop, sub in schema.get("properties", {}).items():
            yield from _objects(sub, spec, f"{where}.{prop}")
    if "items" in schema:
        yield from _objects(schema["items"], spec, f"{where}[]")


# Free-form objects in a body, each validated strictly by its endpoint: (the object, a body
# with an unknown key inside it, which must be a 422 naming the field).
FREE_FORM = {
    "routing post /rules application/json>PublishV1.rule_set":
        ("administrator", "/rules", {"rule_set": {"bogus_section": {}}}, "rule_set"),
    "routing post /rules/what-if application/json>WhatIfV1.rule_set":
        ("administrator", "/rules/what-if", {"rule_set": {"bogus_section": {}}}, "rule_set"),
}


# Bodies that deliberately ignore unknown fields, and why. What they carry is then checked by
# a strict schema (Open311's form becomes intake's submission, validated as `POST /demands`).
LENIENT = {
    f"reporting post /open311/v2/requests.{{fmt}} {media}>RequestForm":
        "Open311 GeoReport v2: clients send api_key and fields a server may ignore"
    for media in ("application/x-www-form-urlencoded", "application/json")
}


def test_every_request_body_schema_rejects_unknown_fields(tmp_path, log, mongo_db) -> None:
    bodies = 0
    for app in _apps(tmp_path, log, mongo_db):
        spec = app.test_client().get("/openapi.json").get_json()
        for path, operations in spec["paths"].items():
            for method, operation in operations.items():
                if not isinstance(operation, dict):
                    continue  # path-level "parameters"
                content = operation.get("requestBody", {}).get("content", {})
                for media, body in content.items():
                    for where, obj in _objects(body["schema"], spec,
                                               f"{app.name} {method} {path} {media}"):
                        bodies += 1
                        if where in FREE_FORM:
                            role, url, sample, field = FREE_FORM[where]
                            r = authorize(app.test_client(), role).post(url, json=sample)
                            assert r.status_code == 422, (where, r.get_json())
                            assert field in r.get_json()["errors"]["json"], where
                            continue
                        if where in LENIENT:
                            continue
                        assert obj.get("additionalProperties") is False, where
    assert bodies >= 9  # intake's demand and requester, routing's seven actions
    assert log.end_offsets() == {0: 0}


def test_an_unknown_field_is_named_in_every_write(tmp_path, log, mongo_db) -> None:
    intake, routing, _ = (authorize(a.test_client(), "administrator")
                          for a in _apps(tmp_path, log, mongo_db))
    authorize(intake, "headquarters")
    r = intake.post("/demands", json={**DEMAND, "district_mayor_override": True})
    assert r.status_code == 422 and "district_mayor_override" in r.get_json()["errors"]["json"]
    for action in ("acknowledge", "notes", "resolution", "escalation", "rejection",
                   "withdrawal", "reopen"):
        r = routing.post(f"/demands/01JABCDEFGHJKMNPQRSTVWXYZ0/{action}", json={"actor": "hq"})
        assert r.status_code == 422 and "actor" in r.get_json()["errors"]["json"], action
    assert log.end_offsets() == {0: 0}


def test_query_strings_are_normalised_too(tmp_path, log, mongo_db) -> None:
    reporting = authorize(_apps(tmp_path, log, mongo_db)[2].test_client(), "auditor")
    assert reporting.get("/demands?category=transport%E2%80%8F&district=%DB%B2%DB%B1"
                         ).status_code == 200  # "transport" + RLM, district "۲۱"
    r = reporting.get("/demands?category=%E2%80%AEtransport%E2%80%ACx")
    assert r.status_code == 422 and "category" in r.get_json()["errors"]["query"]


# -- numbers --------------------------------------------------------------------------------
HUGE = "9" * 5_000  # past Python's int-string limit (4,300 digits)


@pytest.mark.parametrize(("raw", "where"), [
    (f'"district": {HUGE}', ("district",)),
    (f'"district": -{HUGE}', ("district",)),
    ('"district": 99999999999999999999999', ("district",)),  # past a 64-bit integer
    ('"district": 1e999', ("district",)),                     # a float that is infinite
    ('"district": NaN', ("district",)),
    ('"district": -Infinity', ("district",)),
    (f'"location": {{"lat": {HUGE}, "long": 51.4}}', ("location", "lat")),
    (f'"location": {{"lat": 35.{HUGE}, "long": 51.4}}', ("location", "lat")),
])
def test_a_number_no_field_could_hold_is_a_422_naming_the_field(intake, log, raw,
                                                                  where) -> None:
    body = json.dumps({k: v for k, v in DEMAND.items() if k != where[0]})
    body = body[:-1] + ", " + raw + "}"
    r = intake.post("/demands", data=body, content_type="application/json")
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    errors = r.get_json()["errors"]["json"]
    for key in where:
        errors = errors[key]
    assert errors and all(isinstance(reason, str) for reason in errors), errors
    assert log.end_offsets() == {0: 0}


def test_a_huge_number_is_a_422_in_every_services_bodies(tmp_path, log, mongo_db) -> None:
    intake, routing, reporting = (a.test_client() for a in _apps(tmp_path, log, mongo_db))
    for client, role, url, body, field in [
        (routing, ("administrator",), "/closures",
         f'{{"district": {HUGE}, "start": "2026-01-01T00:00:00Z", '
         '"end": "2026-01-02T00:00:00Z", "reason": "x"}', "district"),
        (routing, ("headquarters",), "/demands/01JABCDEFGHJKMNPQRSTVWXYZ0/escalation",
         f'{{"reason": "other", "note": {HUGE}}}', "note"),
        (reporting, ("intake_clerk", 21), "/open311/v2/requests.json",
         f'{{"service_code": "transport", "district": {HUGE}}}', "district"),
    ]:
        r = client.post(url, data=body, content_type="application/json",
                        headers=bearer(*role))
        # Open311 answers its own error shape, a 400 listing {code, description}
        expected = 400 if "open311" in url else 422
        assert r.status_code == expected, (url, r.get_data(as_text=True)[:300])
        assert field in str(r.get_json()), (url, r.get_json())
        assert "Not a number any field holds" in str(r.get_json()), (url, r.get_json())
    assert log.end_offsets() == {0: 0}


@pytest.mark.parametrize("query", [f"district={HUGE}", "district=99999999999999999999999",
                                   f"limit={HUGE}"])
def test_a_huge_number_in_a_query_is_a_422(tmp_path, log, mongo_db, query) -> None:
    reporting = authorize(_apps(tmp_path, log, mongo_db)[2].test_client(), "auditor")
    r = reporting.get(f"/demands?{query}")
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert query.split("=")[0] in r.get_json()["errors"]["query"]


def test_a_partition_past_64_bits_is_a_422(tmp_path, log, mongo_db) -> None:
    reporting = authorize(_apps(tmp_path, log, mongo_db)[2].test_client(), "auditor")
    r = reporting.get("/audit/seals?partition=99999999999999999999999")
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert "partition" in r.get_json()["errors"]["query"]


@pytest.mark.parametrize("query", ["category[$ne]=x", 'category={"$ne": null}',
                                   "district[$gt]=0", "status=open&$where=1"])
def test_a_mongodb_operator_never_reaches_a_query(tmp_path, log, mongo_db, query) -> None:
    reporting = authorize(_apps(tmp_path, log, mongo_db)[2].test_client(), "district_mayor", 21)
    r = reporting.get(f"/demands?{query}")
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert r.get_json()["errors"]["query"]


@pytest.mark.parametrize("district", [HUGE, "²", "٢١٠", "1" * 30])
def test_a_district_no_number_names_is_refused_by_pages_and_paths(tmp_path, log, mongo_db,
                                                                  district) -> None:
    reporting = authorize(_apps(tmp_path, log, mongo_db)[2].test_client(), "headquarters")
    html = {"Accept": "text/html"}
    r = reporting.get(f"/queue?district={district}&department=transport", headers=html)
    assert r.status_code == 404, r.get_data(as_text=True)[:300]
    assert reporting.get(f"/audit?district={district}", headers=html).status_code == 200
    r = reporting.get(f"/queues/{district}/transport")
    assert r.status_code == 422 and "district" in r.get_json()["errors"]["path"], r.get_json()


def test_a_guessed_idempotency_key_neither_swallows_nor_reveals_anothers_demand(
        intake, log) -> None:
    """A clerk of another district who guesses a victim's key gets a demand of their own, and
    learns nothing of the victim's; the victim's retry still answers the victim's demand."""
    victim = intake.post("/demands", json=DEMAND, headers={"Idempotency-Key": "item-7"})
    assert victim.status_code == 202
    other = {**DEMAND, "district": 5, "title": "جمع‌آوری زباله"}
    attack = intake.post("/demands", json=other,
                         headers={"Idempotency-Key": "item-7", **bearer("intake_clerk", 5)})
    assert attack.status_code == 202
    assert attack.get_json()["demand_id"] != victim.get_json()["demand_id"]
    assert victim.get_json()["demand_id"] not in attack.get_data(as_text=True)
    again = intake.post("/demands", json=DEMAND, headers={"Idempotency-Key": "item-7"})
    assert again.get_json()["demand_id"] == victim.get_json()["demand_id"]
    assert [r.event.payload["title"] for r in log.scan()] == [DEMAND["title"], other["title"]]
