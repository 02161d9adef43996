"""Intake's own knowledge of the recorded meetings (intake/known_meetings.py), read from the
log: which district each was held in."""

from __future__ import annotations

from datetime import UTC, datetime

from intake.known_meetings import KnownMeetings
from services.eventlog.memory import MemoryEventLog
from services.events.envelope import Actor, make
from services.events.ids import new_id

MAYOR_17 = Actor("district_mayor", "mayor-17", 17)
AT = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _meeting(log: MemoryEventLog, district: int) -> str:
    meeting_id = new_id()
    log.append([make("MeetingRecorded", meeting_id, {
        "kind": "stakeholder_meeting", "district": district, "held_on": "2026-12-01",
        "title": "شهر خوب، شهر ارتباطی", "minutes": "پارک محله مطرح شد."},
        actor=MAYOR_17, event_id=new_id(), recorded_at=AT)])
    return meeting_id


def test_a_meeting_is_known_with_its_district_as_soon_as_the_log_has_it():
    log = MemoryEventLog(partitions=3)
    meetings = KnownMeetings(log)
    assert meetings.district_of(new_id()) is None
    ids = {_meeting(log, d): d for d in (17, 21, 17, 5, 9, 17)}  # across the partitions
    for meeting_id, district in ids.items():
        assert meetings.district_of(meeting_id) == district
        assert meetings.district_of(meeting_id.lower()) == district
    assert KnownMeetings(log).district_of(next(iter(ids))) == 17  # after a restart too


def test_other_events_are_no_meetings():
    log = MemoryEventLog(partitions=2)
    demand = new_id()
    log.append([make("ProgressNoteSubmitted", demand, {"note": "MeetingRecorded"},
                     actor=MAYOR_17, event_id=new_id(), recorded_at=AT)])
    assert KnownMeetings(log).district_of(demand) is None
