"""The event envelope: canonical bytes, round trips, payload validation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from services.events.envelope import (
    Actor,
    decode,
    encode,
    format_time,
    from_dict,
    make,
    parse_time,
)
from tests.unit.streams import CLERK, DEMAND, DEMAND_ID, T0

TEHRAN = timezone(timedelta(hours=3, minutes=30))
EVENT_ID = "01JNHW0Z5V8K3Q2M4N6P7R9S1T"


def submitted(payload=None, **kw):
    return make("DemandSubmitted", DEMAND_ID, payload or DEMAND, actor=CLERK,
                event_id=EVENT_ID, recorded_at=kw.pop("at", T0), **kw)


def test_the_same_event_always_encodes_to_the_same_bytes():
    reordered = dict(reversed(list(DEMAND.items())))
    assert encode(submitted()) == encode(submitted(reordered))
    assert encode(submitted()) == encode(decode(encode(submitted())))


def test_encoding_is_compact_sorted_utf8():
    raw = encode(submitted())
    text = raw.decode("utf-8")
    assert "یوسف‌آباد" in text  # Persian stays readable, not \u-escaped
    assert ": " not in text and ", " not in text.replace(DEMAND["description"], "")
    data = json.loads(raw)
    assert list(data) == sorted(data)
    assert list(data["payload"]) == sorted(data["payload"])


def test_round_trip_keeps_every_field():
    event = submitted(correlation_id="corr-1", causation_id=None)
    back = decode(encode(event), validate_payload=True)
    assert back == event
    assert back.payload["priority"] == "normal"  # defaults are filled in by make
    assert back.payload["requester"] == {"kind": "neighbourhood_trustee",
                                         "requester_id": None, "sealed": None}


def test_time_is_utc_with_milliseconds_whatever_the_input_zone():
    at = datetime(2025, 3, 3, 10, 0, 0, 123456, tzinfo=TEHRAN)
    event = submitted(at=at)
    assert json.loads(encode(event))["recorded_at"] == "2025-03-03T06:30:00.123Z"
    assert decode(encode(event)).recorded_at == datetime(2025, 3, 3, 6, 30, 0, 123000, tzinfo=UTC)
    assert parse_time(format_time(at)) == at.replace(microsecond=123000)
    with pytest.raises(ValueError):
        format_time(datetime(2025, 1, 1))


@pytest.mark.parametrize(("change", "field"), [
    ({"district": 23}, "district"),
    ({"channel": "fax"}, "channel"),
    ({"requester": {"kind": "alien"}}, "requester"),
    ({"title": ""}, "title"),
])
def test_make_rejects_an_invalid_payload(change, field):
    with pytest.raises(ValidationError) as err:
        submitted({**DEMAND, **change})
    assert field in err.value.messages


def test_make_rejects_a_missing_payload_field():
    payload = {k: v for k, v in DEMAND.items() if k != "category"}
    with pytest.raises(ValidationError) as err:
        submitted(payload)
    assert "category" in err.value.messages


def test_decode_validates_foreign_bytes_on_request():
    data = json.loads(encode(submitted()))
    data["payload"]["district"] = 0
    raw = json.dumps(data).encode()
    assert decode(raw).payload["district"] == 0  # log bytes are trusted by default
    with pytest.raises(ValidationError) as err:
        decode(raw, validate_payload=True)
    assert "district" in err.value.messages["payload"]


@pytest.mark.parametrize(("field", "value"), [
    ("event_id", "not-a-ulid"), ("type", "DemandTeleported"), ("envelope", 2),
    ("actor", {"role": "king", "id": "x"}),
])
def test_decode_rejects_a_bad_envelope(field, value):
    data = json.loads(encode(submitted()))
    data[field] = value
    with pytest.raises(ValidationError) as err:
        from_dict(data)
    assert field in err.value.messages


def test_decisions_and_requests_are_told_apart():
    assert not submitted().is_decision
    acknowledged = make("DemandAcknowledged", DEMAND_ID, {}, actor=Actor("system", "routing"),
                        event_id=EVENT_ID, recorded_at=T0)
    assert acknowledged.is_decision and not acknowledged.is_fact


def test_an_event_of_an_earlier_payload_version_still_decodes():
    data = json.loads(encode(submitted()))
    data.update(type="DemandRouted", version=1, payload={
        "department": "transport", "district": 6, "queue": "6/transport",
        "deadline": "2025-03-08T06:30:00.000Z", "rule_id": "transport"})
    old = decode(json.dumps(data).encode(), validate_payload=True)
    assert (old.version, old.payload["deadline"]) == (1, "2025-03-08T06:30:00.000Z")
    data["version"] = 2  # the same payload is not a valid version 2
    with pytest.raises(ValidationError) as err:
        decode(json.dumps(data).encode(), validate_payload=True)
    assert "clock" in err.value.messages["payload"]
