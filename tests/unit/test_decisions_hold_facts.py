"""Decisions hold codes, UTC times and numbers: no sentence and no local calendar date, so a
replay's bytes never depend on the installed date or language libraries, and pages say them
in the reader's language."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from routing.facts import tick
from tests.unit.streams import MAYOR, STAFF, Router, Stream

JALALI = re.compile(r"\b1[34]\d\d/\d\d/\d\d\b")
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]+ [a-z]+ [a-z]+ [a-z]+")  # four words in a row


def strings(value):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def test_no_decision_carries_a_sentence_or_a_jalali_date():
    r, s = Router(), Stream()
    r.one(s.submit(category="other"))  # the triage desk: "why" is a code
    other = Stream(demand_id="01JNDB4XJ0KJ2Y5DW37ER2ERK9")
    r.one(other.submit())
    r.one(other.request("EscalationRequested", {"reason": "beyond_budget"}, STAFF))
    r.one(other.request("AcknowledgementRequested", {}, MAYOR))
    for hours in range(1, 400, 5):  # the clock escalates and warns
        r.send(tick(s.at + timedelta(hours=hours)))
    decisions = [e for e in r.log if e.is_decision]
    assert {e.type for e in decisions} >= {"DemandRouted", "DemandEscalated",
                                           "DeadlineWarning"}
    for e in decisions:
        for text in strings(e.payload):
            assert not JALALI.search(text), (e.type, text)
            assert not ENGLISH_SENTENCE.search(text), (e.type, text)
    assert json.dumps([e.payload for e in decisions])  # plain data throughout


def test_a_rule_change_that_would_route_elsewhere_says_so_in_codes():
    from dataclasses import replace

    from routing.facts import rule_set_published
    from services.domain.rules import DEFAULT_RULES, Rule
    from services.events.envelope import Actor

    r, s = Router(), Stream()
    r.one(s.submit())  # transport
    v2 = replace(DEFAULT_RULES, version=2, rules=(
        *[x for x in DEFAULT_RULES.rules if x.rule_id != "transport"],
        Rule("transport", "transport", "civil_works", "works")))
    [changed] = r.send(rule_set_published(v2, s.at + timedelta(hours=1),
                                          actor=Actor("administrator", "admin")))
    stays = changed.payload["explanation"]["stays_in_queue"]
    assert stays == {"rule_id": "transport", "rule_version": 2,
                     "would_route_to": "civil_works", "stays_in": "transport"}
    for text in strings(changed.payload):
        assert not ENGLISH_SENTENCE.search(text), text
