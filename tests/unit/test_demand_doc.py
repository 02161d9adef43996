"""A demand's document (what `dataclasses.asdict` would give, sharing nothing with the state)
and the log's time format: the projector writes both for every demand a batch touches."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone

import bson
from hypothesis import given
from hypothesis import strategies as st

from reporting.readmodels import demand_doc, encoded_demand
from services.domain.demand import Demand
from services.eventlog.port import Position
from services.events.envelope import Actor, Event, decode, format_time, parse_time

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                               max_size=4),
    max_leaves=12)
records = st.lists(st.dictionaries(st.text(max_size=3), json_like, max_size=4), max_size=4)


@given(requester=st.dictionaries(st.text(max_size=3), json_like, max_size=4),
       escalations=records, answers=records, waited=st.lists(st.lists(st.text(max_size=4))),
       decided=st.lists(st.text(max_size=4)),
       merge_answers=st.dictionaries(st.text(max_size=3), st.dictionaries(
           st.text(max_size=3), json_like, max_size=3), max_size=3))
def test_the_document_is_the_states_fields_copied_all_the_way_down(
        requester, escalations, answers, waited, decided, merge_answers) -> None:
    state = Demand(demand_id="D", submitted_event_id="s", submitted_at="t", requester=requester,
                   channel="web", district=21, neighbourhood="n", category="transport",
                   title="t", description="d", priority="normal", escalations=escalations,
                   answers=answers, waited=waited, decided=decided,
                   merge_answers=merge_answers)
    doc = state.to_doc()
    assert doc == asdict(state)
    assert list(doc) == list(asdict(state))
    before = asdict(state)
    # The fold goes on mutating the state's lists and dicts: the document must not follow.
    for nested in (*state.escalations, *state.answers, *state.merge_answers.values()):
        nested["new"] = 1
    for nested in state.waited:
        nested.append("new")
    for value in (state.requester, state.merge_answers):
        value["new"] = 1
    for value in (state.escalations, state.answers, state.waited, state.decided):
        value.append({"new": 1})
    assert doc == before


bson_like = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(st.characters(blacklist_characters="\x00$."), max_size=3), inner, max_size=4),
    max_leaves=12)


@given(requester=st.dictionaries(st.text(st.characters(blacklist_characters="\x00$."),
                                         max_size=3), bson_like, max_size=4),
       decided=st.lists(st.text(max_size=4)), offset=st.integers(0, 2**40))
def test_the_encoded_document_is_the_stored_document_and_does_not_follow_the_state(
        requester, decided, offset) -> None:
    """The projector writes `encoded_demand`; everything else reads `demand_doc`'s shape."""
    state = Demand(demand_id="D", submitted_event_id="s", submitted_at="t", requester=requester,
                   channel="web", district=21, neighbourhood="n", category="transport",
                   title="t", description="d", priority="normal", decided=decided)
    at = Position(1, offset)
    encoded = encoded_demand(state, at)
    assert bson.decode(encoded.raw) == demand_doc(state, at)
    before = demand_doc(state, at)
    state.requester["new"] = 1
    state.decided.append("new")
    assert bson.decode(encoded.raw) == before


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=3, minutes=30)),
                                               timezone(timedelta(hours=-5))])))
def test_the_log_time_format_is_utc_to_the_millisecond_truncated(at: datetime) -> None:
    utc = at.astimezone(UTC)
    text = format_time(at)
    assert text == (f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:"
                    f"{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z")
    assert parse_time(text) == utc.replace(microsecond=utc.microsecond // 1000 * 1000)


SPELLINGS = {
    "canonical": lambda text: text,
    "offset": lambda text: text[:-1] + "+00:00",
    "four digits": lambda text: text[:-1] + "5Z",  # parses; formatting drops the digit
}


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=3, minutes=30))])),
       st.sampled_from(sorted(SPELLINGS)))
def test_an_events_time_text_is_its_time_formatted_however_the_log_spelled_it(
        at: datetime, spelling: str) -> None:
    """An event decoded from the log keeps the text it held instead of formatting it again,
    but only where that text is what formatting gives; any other spelling is formatted."""
    event = Event(event_id="E", demand_id="D", type="NoteAdded", recorded_at=at,
                  actor=Actor("staff", "s"), correlation_id="c")
    assert event.recorded_at_text == format_time(at)
    data = event.to_dict()
    data["recorded_at"] = SPELLINGS[spelling](data["recorded_at"])
    decoded = decode(json.dumps(data).encode())
    assert decoded.recorded_at_text == format_time(decoded.recorded_at)
