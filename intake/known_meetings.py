"""The meetings the log holds, as intake needs them: which district each was held in.

A demand raised at a meeting names it in `meeting_id`; intake checks that the meeting was
recorded (MeetingRecorded, `services/events/families/civic.py`) and is the demand's district's,
so that no meeting's follow-up counts a demand it never heard. Intake reads no read model: it
follows the log itself (`services/logtail.py`), reading only what is new at each look.
"""

from __future__ import annotations

import re

from services.eventlog.port import Record
from services.events.families.civic import MEETING
from services.logtail import LogTail

_MARK = re.compile(rf'"type"\s*:\s*"{MEETING}"'.encode())

UNKNOWN = "No meeting with this id has been recorded; record the meeting first (POST /meetings)."


def elsewhere(district: int) -> str:
    return f"The meeting was held in district {district}, not the demand's district."


class KnownMeetings(LogTail):
    def __init__(self, log) -> None:
        super().__init__(log)
        self._districts: dict[str, int] = {}

    def take(self, record: Record) -> None:
        if _MARK.search(record.raw) is None:
            return
        event = record.event
        if event.type == MEETING:
            self._districts.setdefault(event.demand_id, event.payload["district"])

    def district_of(self, meeting_id: str) -> int | None:
        """The district of the recorded meeting (ids are ULIDs: any case), or None if the log
        holds no such meeting. Raises whatever the log raises if it cannot be read."""
        self.refresh()
        return self._districts.get(meeting_id.upper())
