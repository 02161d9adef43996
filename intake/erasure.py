"""`POST /requesters/{requester_id}/erasure`: erase a requester's personal data (administrators).

The requester's key is deleted and a `RequesterErased` event recorded
(`services/privacy/erasure.py`); from then on their name, phone and national code are
unreadable through Sada, and everywhere once the key-encryption key next rotates
(`services/privacy/rotation.py`), while every demand, count and timeline stays. A requester
id is the `requester_id` of a demand's requester. Asking again is harmless: it answers what
was done.
"""

from __future__ import annotations

import re

from flask import abort, current_app
from marshmallow import Schema, fields
from pymongo.errors import PyMongoError

from services import auth
from services.eventlog.port import EventLog
from services.events.ids import ULID_PATTERN
from services.parsing import Blueprint
from services.privacy import service
from services.privacy.erasure import erase
from services.web import unavailable

_REQUESTER_ID = re.compile(ULID_PATTERN)

blp = Blueprint("erasure", __name__, description="Erase a requester's personal data.")


class ErasedV1(Schema):
    requester_id = fields.String(required=True)
    erased_at = fields.String(required=True)
    event_id = fields.String(required=True, metadata={"description": "the RequesterErased event"})
    position = fields.String(allow_none=True, metadata={
        "description": "where this call recorded it (partition:offset); null if done before"})
    already_erased = fields.Boolean(required=True)


@blp.route("/requesters/<requester_id>/erasure", methods=["POST"])
@blp.response(200, ErasedV1)
@blp.alt_response(404, description="The key store knows no such requester.")
@blp.alt_response(503, description="The key store or the log did not answer; ask again.")
@auth.roles(auth.ADMIN)
def erasure(requester_id: str):
    """Erase a requester: their key is deleted and `RequesterErased` recorded.

    Their demands stay, with every count, deadline and timeline; their name, phone and
    national code can no longer be read through Sada (log, read models, replays, exports).
    The erasure is final at the next key rotation (every 24 h by default): until then a copy
    of the key that MongoDB keeps (its oplog, a backup) still opens with the master key."""
    if not _REQUESTER_ID.match(requester_id):
        abort(404, description=f"no requester {requester_id!r}: a requester id is a "
                               "26-character ULID")
    log: EventLog = current_app.extensions["sada.log"]
    try:
        done = erase(service.vault(), log, requester_id, auth.current_actor().actor())
    except PyMongoError:
        return unavailable()
    if done is None:
        abort(404, description=f"no requester {requester_id} in the key store")
    return done.to_dict()
