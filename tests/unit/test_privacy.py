"""Personal data's pure parts: national codes, sealing, the master key, the scan's matcher,
and the event schema that keeps plaintext out of the log."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from services.events.envelope import Actor, make, now
from services.events.ids import new_id
from services.privacy import nationalid
from services.privacy.crypto import (
    InvalidTag,
    MasterKey,
    MasterKeyError,
    new_data_key,
    new_master_key,
    open_sealed,
    seal,
)
from services.privacy.scan import Known, Matcher, mask
from services.privacy.vault import canonical_phone
from tests.auth_helpers import MASTER_KEY

CLERK = Actor("intake_clerk", "clerk-21", 21)


def national_code(first_nine: str) -> str:
    return first_nine + nationalid.check_digit(first_nine)


@pytest.mark.parametrize(("code", "valid"), [
    ("0499370899", True), ("0790419904", True), ("0084575948", True),
    ("0499370898", False),  # check digit off by one
    ("1111111111", False),  # all the same digit: never issued
    ("049937089", False), ("04993708999", False), ("04993708a9", False), ("", False),
])
def test_a_national_code_has_ten_digits_and_a_check_digit(code, valid) -> None:
    assert nationalid.is_valid(code) is valid


def test_every_nine_digits_have_exactly_one_check_digit() -> None:
    for first in ("123456789", "001234567", "987654321"):
        good = national_code(first)
        assert nationalid.is_valid(good)
        assert [d for d in "0123456789" if nationalid.is_valid(first + d)] == [good[-1]]


def test_a_sealed_value_opens_only_with_its_key_and_where_it_belongs() -> None:
    key = new_data_key()
    token = seal(key, "مریم احمدی".encode(), b"here")
    assert token.startswith("v1.") and "مریم" not in token
    assert open_sealed(key, token, b"here").decode() == "مریم احمدی"
    assert seal(key, b"x", b"here") != seal(key, b"x", b"here")  # a fresh nonce each time
    for wrong_key, aad, text in ((new_data_key(), b"here", token), (key, b"there", token),
                                 (key, b"here", token[:-2] + "AA"), (key, b"here", "v2.abc")):
        with pytest.raises(InvalidTag):
            open_sealed(wrong_key, text, aad)


@pytest.mark.parametrize("text", ["", "   ", "not-base64!!", "c2hvcnQ", MASTER_KEY + "AAAA"])
def test_an_unusable_master_key_is_refused_saying_so(text) -> None:
    with pytest.raises(MasterKeyError, match="SADA_MASTER_KEY"):
        MasterKey.from_text(text)


def test_the_master_key_wraps_data_keys_and_names_lookups() -> None:
    master, other = MasterKey.from_text(MASTER_KEY), MasterKey.from_text(new_master_key())
    key = new_data_key()
    wrapped = master.wrap(key, "R1")
    assert master.unwrap(wrapped, "R1") == key
    with pytest.raises(InvalidTag):
        other.unwrap(wrapped, "R1")
    with pytest.raises(InvalidTag):
        master.unwrap(wrapped, "R2")  # a wrapped key cannot be moved to another requester
    phone = master.lookup_id("phone", "989121234567")
    assert phone == master.lookup_id("phone", "989121234567") != other.lookup_id(
        "phone", "989121234567")
    assert "9121234567" not in phone and repr(master) == "MasterKey(…)"


@pytest.mark.parametrize("spelling", ["09121234567", "+989121234567", "00989121234567",
                                      "989121234567"])
def test_one_phone_number_has_one_canonical_spelling(spelling) -> None:
    assert canonical_phone(spelling) == "989121234567"


def test_the_log_schema_refuses_personal_data_in_clear() -> None:
    body = {"channel": "line_137", "district": 21, "neighbourhood": "ویلاشهر",
            "category": "transport", "title": "ترافیک", "description": "صف خودروها"}
    for requester in ({"kind": "citizen", "name": "مریم احمدی"},
                      {"kind": "citizen", "phone": "09121234567"},
                      {"kind": "citizen", "requester_id": new_id(), "sealed": None}):
        with pytest.raises(ValidationError) as err:
            make("DemandSubmitted", new_id(), {**body, "requester": requester}, actor=CLERK,
                 event_id=new_id(), recorded_at=now())
        assert "requester" in err.value.messages
    event = make("DemandSubmitted", new_id(), {**body, "requester": {"kind": "citizen"}},
                 actor=CLERK, event_id=new_id(), recorded_at=now())
    assert event.version == 3
    assert event.payload["requester"] == {"kind": "citizen", "requester_id": None,
                                          "sealed": None}


def findings(known: Known, text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.sample) for f in Matcher(known).text("here", text)]


def test_the_scan_finds_known_values_however_they_are_written() -> None:
    known = Known()
    nid = national_code("004757594")
    known.add({"name": "مریم احمدی", "phone": "09121234567", "national_id": nid})
    assert findings(known, "تماس با مریم احمدی") == [("name", mask("مریم احمدی"))]
    assert ("phone", mask("9121234567")) in findings(known, "شماره ۹۱۲-۱۲۳-۴۵۶۷ را بگیرید")
    assert ("phone", mask("+989121234567")) in findings(known, "call +989121234567")
    assert ("national_id", mask(nid)) in findings(known, f"کد ملی {nid}")
    assert findings(known, "مریم احمدیان و 491212345678 و 2025-03-01T12:34:56.000Z") == []
    # A given name alone is a common word (a holiday's name): looked for only when asked.
    known.add({"name": "رضا"})
    assert findings(known, "شهادت امام رضا") == []
    known.add_text("رضا")
    assert findings(known, "شهادت امام رضا") == [("name", mask("رضا"))]


def test_the_scan_finds_mobile_numbers_and_national_codes_by_shape() -> None:
    nobody = Known()
    assert findings(nobody, "شماره تماس ۰۹۱۲ ۳۴۵ ۶۷۸۹") == [("mobile", mask("09123456789"))]
    assert findings(nobody, "+98 935-111-2233") == [("mobile", mask("+989351112233"))]
    code = national_code("123456789")
    assert findings(nobody, f"nid {code}") == [("national_code", mask(code))]
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    # Not shaped like either: a wrong check digit, ids and ciphertext, seals' digests.
    for text in (f"nid {wrong}", "01JQ8Z3W2N5X7Y9B1C3D5F7H9K", "v1.Zm9vYmFy0912345678Zm9v",
                 "0123456789abcdef0123456789abcdef", "offset 1234567890123"):
        assert findings(nobody, text) == [], text
    assert mask("09123456789") == "09*******89" and mask("abc") == "***"


def test_a_key_wrapped_under_a_kek_is_bound_to_its_requester_and_its_kek() -> None:
    from services.privacy.crypto import unwrap_under_kek, wrap_under_kek

    kek, data_key = new_data_key(), new_data_key()
    wrapped = wrap_under_kek(kek, "K1", data_key, "R1")
    assert unwrap_under_kek(kek, "K1", wrapped, "R1") == data_key
    for other_kek, kek_id, requester in ((new_data_key(), "K1", "R1"), (kek, "K2", "R1"),
                                         (kek, "K1", "R2")):
        with pytest.raises(InvalidTag):
            unwrap_under_kek(other_kek, kek_id, wrapped, requester)


def test_a_kek_file_is_private_wrapped_and_destroyed_for_good(tmp_path) -> None:
    from services.privacy.keks import KekDir

    master = MasterKey.from_text(new_master_key())
    keks, kek = KekDir(tmp_path / "keks"), new_data_key()
    keks.write("01JQ8Z3W2N5X7Y9B1C3D5F7H9K", kek, master)
    path = tmp_path / "keks" / "01JQ8Z3W2N5X7Y9B1C3D5F7H9K.kek"
    assert path.stat().st_mode & 0o777 == 0o600
    assert keks.load("01JQ8Z3W2N5X7Y9B1C3D5F7H9K", master) == kek
    assert kek not in path.read_bytes()
    with pytest.raises(InvalidTag):  # the directory alone opens nothing
        keks.load("01JQ8Z3W2N5X7Y9B1C3D5F7H9K", MasterKey.from_text(new_master_key()))
    with pytest.raises(FileExistsError):
        keks.write("01JQ8Z3W2N5X7Y9B1C3D5F7H9K", new_data_key(), master)
    assert keks.ids() == ["01JQ8Z3W2N5X7Y9B1C3D5F7H9K"]
    assert keks.destroy("01JQ8Z3W2N5X7Y9B1C3D5F7H9K") is True
    assert keks.load("01JQ8Z3W2N5X7Y9B1C3D5F7H9K", master) is None and keks.ids() == []
    assert keks.destroy("01JQ8Z3W2N5X7Y9B1C3D5F7H9K") is False
    with pytest.raises(ValueError):
        keks.load("../master-key", master)
