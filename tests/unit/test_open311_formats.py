"""Open311's XML and the public view of a demand, pure: element names, escaping, empty and
boolean values, and which fields an anonymous reader gets in which language."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reporting.open311 import formats, mapping


def test_lists_are_named_after_what_they_hold_and_text_is_escaped() -> None:
    body = formats.to_xml("service_requests", [
        {"service_request_id": "A1", "description": "<b>5 & 6</b> \"quoted\"",
         "expected_datetime": None, "flag": True},
        {"service_request_id": "A2", "description": "دوم", "expected_datetime": None,
         "flag": False}])
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ET.fromstring(body)
    assert [r.tag for r in root] == ["request", "request"]
    first, second = root
    assert first.findtext("description") == "<b>5 & 6</b> \"quoted\""
    assert first.find("description").findall("*") == []  # text, never markup
    assert first.findtext("expected_datetime") == "" and first.findtext("flag") == "true"
    assert second.findtext("description") == "دوم" and second.findtext("flag") == "false"


def test_a_definition_nests_attributes_and_values() -> None:
    root = ET.fromstring(formats.to_xml("service_definition", mapping.definition("transport")))
    district = root.find("attributes/attribute")
    assert district.findtext("code") == "district"
    assert [v.findtext("key") for v in district.findall("values/value")] == \
        [str(d) for d in range(1, 23)]
    assert district.findtext("values/value/name") == "منطقه ۱"


def test_errors_are_the_specs_list() -> None:
    root = ET.fromstring(formats.errors(404, ["a", "b"], "xml").get_data())
    assert [(e.findtext("code"), e.findtext("description")) for e in root] == \
        [("404", "a"), ("404", "b")]
    assert formats.errors(400, ["x"], "json").get_json() == [{"code": 400, "description": "x"}]
    assert formats.format_of("/open311/v2/services.json") == "json"
    assert formats.format_of("/open311/v2/services.xml") == "xml"
    assert formats.format_of("/open311/v2/services") == "xml"


DOC = {"_id": "01JDEMAND", "open": True, "status": "acknowledged", "level": "department",
       "level_index": 0, "department": "transport", "category": "transport", "district": 21,
       "neighbourhood": "ویلاشهر", "description": "چراغ خاموش است", "title": "چراغ",
       "submitted_at": "2026-11-01T10:00:00.000Z", "last_event_at": "2026-11-02T10:00:00.000Z",
       "deadline": "2026-11-09T10:00:00.000Z", "resolution": "staff's own words",
       "requester": {"kind": "citizen", "sealed": "v1.xyz"},
       "location": {"lat": 35.7, "long": 51.4, "address": None}}


def test_the_public_view_has_only_public_fields_in_the_language_asked() -> None:
    persian = mapping.public_request(DOC)
    assert list(persian) == list(mapping.PUBLIC_FIELDS)
    assert persian["status_notes"] == "در دست اقدام — معاونت حمل‌ونقل و ترافیک"
    assert persian["agency_responsible"] == "معاونت حمل‌ونقل و ترافیک"
    english = mapping.public_request(DOC, "en")
    assert english["status_notes"] == "In progress — Transport and traffic"
    assert english["service_name"] == "Transport and traffic"
    assert english["expected_datetime"] == DOC["deadline"]
    text = repr(english) + repr(persian)
    assert "staff's own words" not in text and "sealed" not in text and "35.7" not in text
    closed = mapping.public_request({**DOC, "open": False, "status": "resolved"}, "en")
    assert closed["status"] == "closed" and closed["status_notes"] == "Resolved"
    assert closed["expected_datetime"] is None
