"""Civic participation: citizens' supports of a demand («من شهردارم») and the record of the
meetings where demands are heard (payload version 1).

A support is a request on the demand's stream; routing decides it (`SupportRecorded`, or a
visible ActionRejected when the same person supports the demand twice or it is closed).
Supports are per person: payload version 2 of SupportRequested names the supporter by the key
store's opaque id of a person (`supporter_id`, found through the keyed hash of their national
code or phone, `services/privacy/`), never by anything in clear; a support naming nobody is
anonymous, and SupportRecorded version 2 counts it apart (`anonymous_supporters`), never as a
person. Version 1 named the supporter by the recording token's subject (and a clerk's free
reference); those events still decode and fold as they were decided. A merge carries the
duplicate's anonymous supports (optional `anonymous_supporters`, 0 in logs written before).

A meeting (a staff-supervision session, a weekly «شهر خوب، شهر ارتباطی» stakeholder meeting,
a Monday public meeting) is a FACT in its own stream, whose key is the meeting id: it changes no
demand and needs no decision, so the demand fold and routing pass it by; reporting keeps it as
a read model. Demands raised in it name it in DemandSubmitted's `meeting_id`. Attendees are
counted by group, never named: the log is append-only and names are personal data.

A merge closes a duplicate into another demand, and only once the target has taken it in.
MergeRequested on the duplicate's stream is decided there (MergeProposed: the duplicate stays
open, marked as being merged); with it routing writes a MergeOffered request on the target's
stream, which the target's own partition decides: DemandAbsorbed (it records the duplicate and
takes its supporters) with a MergeAccepted message back to the duplicate, which then closes
(DemandMerged: status `merged`, a pointer `into`, its supporters carried); or MergeRefused with
a MergeDeclined message back, which the duplicate records as a visible ActionRejected and stays
exactly as it was. Logs written before this protocol hold DemandMerged straight after
MergeRequested; they fold the same. Both histories stay.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.domain.vocabulary import CHANNELS, REQUESTER_KINDS
from services.events.ids import ULID_PATTERN

MEETING = "MeetingRecorded"
MEETING_KINDS = ("staff_supervision", "stakeholder_meeting", "monday_public_meeting")
assert set(MEETING_KINDS) <= set(CHANNELS)
_ref = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$",
                       error="Must be 1-64 letters, digits, '-', '_' or '.'.")


class SupportRequestedV1(Schema):
    on_behalf_of = fields.String(load_default=None, allow_none=True, validate=_ref, metadata={
        "description": "a clerk's opaque reference to the citizen supported for (no name)"})


class SupportRequestedV2(SupportRequestedV1):
    """Version 2: the supporter is a person of the key store, or nobody (anonymous).
    `on_behalf_of` stays the clerk's own reference (a form, a card): it identifies no one."""

    supporter_id = fields.String(load_default=None, allow_none=True, validate=validate.Regexp(
        ULID_PATTERN, error="Must be a person's id (a ULID)."), metadata={
        "description": "the key store's id of the person supporting (national code or phone, "
                       "through its keyed hash); null for an anonymous support"})


class SupportRecordedV1(Schema):
    supporter = fields.String(required=True, metadata={
        "description": "the token subject, or subject/on_behalf_of for a clerk"})
    supporters = fields.Integer(required=True, metadata={"description": "the count after it"})
    score = fields.Float(required=True, metadata={"description": "the priority score after it"})


class SupportRecordedV2(Schema):
    supporter = fields.String(required=True, allow_none=True, metadata={
        "description": "the person's id (version 1: a token subject); null when anonymous"})
    supporters = fields.Integer(required=True, metadata={
        "description": "people supporting it, after it"})
    anonymous_supporters = fields.Integer(required=True, metadata={
        "description": "anonymous supports, after it: counted apart, never as people"})
    score = fields.Float(required=True, metadata={
        "description": "the priority score after it (from the people only)"})


class MeetingRecordedV1(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(MEETING_KINDS))
    district = fields.Integer(required=True, validate=validate.Range(min=1, max=22))
    held_on = fields.Date(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attendees = fields.Dict(keys=fields.String(validate=validate.OneOf(list(REQUESTER_KINDS))),
                            values=fields.Integer(validate=validate.Range(min=0, max=10_000)),
                            load_default=dict, metadata={"description": "head count by group"})
    minutes = fields.String(required=True, validate=validate.Length(min=1, max=20_000))


_ulid = validate.Regexp(ULID_PATTERN, error="Must be a demand id (a ULID).")


class MergeRequestedV1(Schema):
    into = fields.String(required=True, validate=_ulid, metadata={
        "description": "the demand this one duplicates: it stays open and takes the supporters"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class MergeOfferedV1(Schema):
    """Written by routing alone, on the target's stream, with the duplicate's MergeProposed:
    the target's own partition then decides it (DemandAbsorbed or MergeRefused)."""

    from_demand = fields.String(required=True, validate=_ulid)
    district = fields.Integer(required=True)
    title = fields.String(required=True)
    supporters = fields.List(fields.String(), load_default=list)
    anonymous_supporters = fields.Integer(load_default=0)
    reason = fields.String(load_default=None, allow_none=True)
    requested_by = fields.Dict(load_default=None, allow_none=True, metadata={
        "description": "the actor who asked for the merge: the target checks their scope"})


class MergeAnsweredV1(Schema):
    """Routing's answer, on the duplicate's stream, to the offer the target decided."""

    into = fields.String(required=True, validate=_ulid)
    code = fields.String(load_default=None, allow_none=True)
    reason = fields.String(load_default=None, allow_none=True)


class MergeProposedV1(Schema):
    into = fields.String(required=True)
    reason = fields.String(required=True)
    requested_by = fields.Dict(required=True)
    supporters = fields.List(fields.String(), load_default=list)
    anonymous_supporters = fields.Integer(load_default=0)


class MergeRefusedV1(Schema):
    from_demand = fields.String(required=True)
    code = fields.String(required=True)
    reason = fields.String(required=True)


class DemandMergedV1(Schema):
    into = fields.String(required=True)
    reason = fields.String(required=True)
    supporters = fields.List(fields.String(), load_default=list,
                             metadata={"description": "carried over to the target"})
    anonymous_supporters = fields.Integer(load_default=0)


class DemandAbsorbedV1(Schema):
    from_demand = fields.String(required=True)
    supporters_added = fields.List(fields.String(), load_default=list)
    supporters = fields.Integer(required=True, metadata={"description": "the count after it"})
    anonymous_added = fields.Integer(load_default=0)
    anonymous_supporters = fields.Integer(load_default=0, metadata={
        "description": "anonymous supports after it"})
    score = fields.Float(required=True)


REQUESTS: dict[str, type[Schema]] = {"SupportRequested": SupportRequestedV2,
                                     "MergeRequested": MergeRequestedV1,
                                     "MergeOffered": MergeOfferedV1,
                                     "MergeAccepted": MergeAnsweredV1,
                                     "MergeDeclined": MergeAnsweredV1}
DECISIONS: dict[str, type[Schema]] = {"SupportRecorded": SupportRecordedV2,
                                      "MergeProposed": MergeProposedV1,
                                      "DemandMerged": DemandMergedV1,
                                      "DemandAbsorbed": DemandAbsorbedV1,
                                      "MergeRefused": MergeRefusedV1}
FACTS: dict[str, type[Schema]] = {MEETING: MeetingRecordedV1}
OLD_VERSIONS: dict[tuple[str, int], type[Schema]] = {
    ("SupportRequested", 1): SupportRequestedV1,
    ("SupportRecorded", 1): SupportRecordedV1,
}
