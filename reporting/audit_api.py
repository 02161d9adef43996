"""`/audit/...`: the log's seals as the read models hold them, for publishing.

The sealer (`services/audit/sealer.py`) records a `LogSealed` in each partition; the
projector keeps it in `history` like any event (under the pseudo-demand `AUDIT_STREAM_ID`).
Whoever publishes the latest chain digest lets anyone check, with `sada verify --digest`, that
a copy of the log is the one that was sealed.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, fields, validate
from pymongo import DESCENDING

from reporting.api import _ctx, fail
from reporting.timetravel.moments import jalali
from services.events.families.audit import AUDIT_STREAM_ID, SEAL
from services.parsing import Blueprint

blp = Blueprint("audit", __name__, url_prefix="/audit",
                description="Seals of the event log's hash chain")


class SealSchema(Schema):
    partition = fields.Integer()
    upto_offset = fields.Integer(metadata={"description": "sealed: every offset below this"})
    count = fields.Integer(metadata={"description": "records sealed since the partition began"})
    chain_digest = fields.String(metadata={"description": "sha256 chain digest, hex"})
    algorithm = fields.String()
    sealed_at = fields.String()
    jalali = fields.String()
    position = fields.String(metadata={"description": "where the seal itself sits"})
    event_id = fields.String()


class LatestSealsSchema(Schema):
    partitions = fields.Dict(keys=fields.String(), values=fields.Nested(SealSchema))
    published = fields.String(metadata={
        "description": "one line to publish: each partition's sealed count and digest"})


class SealListArgs(Schema):
    partition = fields.Integer(load_default=None, validate=validate.Range(min=0, max=2**31 - 1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=1000))


class SealListSchema(Schema):
    count = fields.Integer()
    items = fields.List(fields.Nested(SealSchema))


def _seal(doc: dict[str, Any]) -> dict[str, Any]:
    p = doc["payload"]
    return {"partition": p["partition"], "upto_offset": p["upto_offset"], "count": p["count"],
            "chain_digest": p["chain_digest"], "algorithm": p.get("algorithm", "sha256"),
            "sealed_at": doc["recorded_at"], "jalali": jalali(doc["recorded_at"]),
            "position": f"{doc['partition']}:{doc['offset']}", "event_id": doc["_id"]}


def _seals(query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    history = _ctx().models.history
    cursor = history.find({"demand_id": AUDIT_STREAM_ID, "type": SEAL, **query}).sort(
        [("partition", DESCENDING), ("offset", DESCENDING)]).limit(limit)
    return [_seal(doc) for doc in cursor]


@blp.route("/seal")
class LatestSeal(MethodView):
    @blp.response(200, LatestSealsSchema)
    @blp.alt_response(404, description="Nothing is sealed yet")
    def get(self):
        """The latest seal of each partition: the chain digest to publish."""
        history = _ctx().models.history
        partitions = sorted(history.distinct("partition", {"demand_id": AUDIT_STREAM_ID}))
        latest = {}
        for p in partitions:
            found = _seals({"partition": p}, 1)
            if found:
                latest[str(p)] = found[0]
        if not latest:
            fail(404, "nothing is sealed yet: the sealer seals the log as it grows")
        published = " ".join(f"{p}:{s['count']}:{s['chain_digest']}"
                             for p, s in sorted(latest.items(), key=lambda kv: int(kv[0])))
        return {"partitions": latest, "published": published}


@blp.route("/seals")
class SealList(MethodView):
    @blp.arguments(SealListArgs, location="query")
    @blp.response(200, SealListSchema)
    def get(self, args: dict[str, Any]):
        """Seals, newest first (optionally of one partition)."""
        query = {} if args["partition"] is None else {"partition": args["partition"]}
        items = _seals(query, args["limit"])
        return {"count": len(items), "items": items}


def register(api: Api) -> None:
    api.register_blueprint(blp)
