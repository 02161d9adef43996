"""`/asof/...`: a demand, a district department's queue or headquarters' escalation board
as they stood at a past moment or stream position (`at=`)."""

from __future__ import annotations

import time
from typing import Any, NoReturn

from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, ValidationError, fields, validate

from reporting import personal, schemas
from reporting.api import _ctx, _district, _label, fail, present
from reporting.timetravel import cut, moments
from reporting.timetravel.moments import AsOf, AtMoment
from reporting.timetravel.query import Answer, NotYet, OutOfRange, TimeTravel
from services import auth
from services.domain.vocabulary import DEPARTMENTS, LEVEL_CODES
from services.parsing import Blueprint

POLL_SECONDS = 0.05

blp = Blueprint("asof", __name__, url_prefix="/asof",
                description="Time travel: the read models as of a past moment or position")


class AtField(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> AsOf:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"expected {moments.HELP}")
        try:
            return moments.parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc


class AsOfArgs(Schema):
    at = AtField(required=True, metadata={"description": moments.HELP,
                                          "example": "1403/12/11 10:00"})
    wait = fields.Float(load_default=schemas.DEFAULT_WAIT_SECONDS,
                        validate=validate.Range(min=0, max=schemas.MAX_WAIT_SECONDS),
                        metadata={"description": "seconds to wait for the read models to "
                                                 "reach a position not projected yet"})


class AsOfQueueArgs(AsOfArgs):
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class AsOfBoardArgs(AsOfQueueArgs):
    district = fields.Integer(load_default=None, validate=validate.Range(min=1, max=22))
    level = fields.String(load_default=None, validate=validate.OneOf(LEVEL_CODES[1:]))


class AsOfSchema(Schema):
    at = fields.String(metadata={"description": "what was asked, as understood"})
    kind = fields.String(metadata={"description": "moment or position"})
    calendar = fields.String(allow_none=True)
    moment = fields.String(metadata={
        "description": "UTC: the moment asked, or the time of the latest event in the cut"})
    jalali = fields.String(allow_none=True, metadata={"description": "the moment in Tehran"})
    cut = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "per partition, the first offset left out"})
    snapshots = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "per partition, the snapshot the answer started from"})
    tail_events = fields.Integer(metadata={"description": "events folded after them"})


class AsOfDemandSchema(schemas.DemandSchema):
    as_of = fields.Nested(AsOfSchema)


class AsOfQueueSchema(schemas.QueueSchema):
    as_of = fields.Nested(AsOfSchema)


class AsOfBoardSchema(schemas.BoardSchema):
    as_of = fields.Nested(AsOfSchema)


def _travel() -> TimeTravel:
    ctx = _ctx()
    return TimeTravel(ctx.models.db, ctx.log, ctx.projection)


def _bad_at(reason: str) -> NoReturn:
    fail(422, f"at: {reason}", {"query": {"at": [reason]}})


def _answer(call, args: dict[str, Any]):
    """Run `call` once the read models hold the cut (waiting up to `wait`, in one of the
    token subject's wait slots: reporting/waits.py)."""
    try:
        return _once(call)
    except NotYet:
        pass
    with _ctx().waits.hold(auth.current_actor().subject):
        deadline = time.monotonic() + args["wait"]
        while True:
            try:
                return _once(call)
            except NotYet as exc:
                if time.monotonic() >= deadline:
                    fail(504, f"{exc} after {args['wait']:g} s; the projector is behind or "
                              "stopped: retry later")
                time.sleep(POLL_SECONDS)


def _once(call):
    try:
        return call()
    except OutOfRange as exc:
        _bad_at(str(exc))


def _as_of(at: AsOf, answer: Answer) -> dict[str, Any]:
    moment = answer.moment(at)
    return {
        "at": at.describe(), "kind": "moment" if isinstance(at, AtMoment) else "position",
        "calendar": at.calendar if isinstance(at, AtMoment) else None,
        "moment": moment, "jalali": moments.jalali(moment) if moment else None,
        "cut": {str(p): o for p, o in sorted(answer.cut.items())},
        "snapshots": {str(p): o for p, o in sorted(answer.snapshots.items())},
        "tail_events": answer.tail,
    }


def _listing(answer: Answer, ids: list[str], at: AsOf, limit: int) -> dict[str, Any]:
    moment = answer.moment(at) or "0000"
    items = [present(answer.front.doc(d), moment) for d in ids[:limit]]
    return {"count": len(items), "items": items, "as_of": _as_of(at, answer)}


@blp.route("/demands/<demand_id>")
class DemandAsOf(MethodView):
    @blp.arguments(AsOfArgs, location="query")
    @blp.response(200, AsOfDemandSchema)
    @blp.alt_response(404, description="No such demand, or it did not exist yet then")
    @blp.alt_response(422, description="`at` is not a date or a position of this log")
    def get(self, args: dict[str, Any], demand_id: str):
        """One demand as it stood at `at`, folded from its own history."""
        at: AsOf = args["at"]
        current = _ctx().models.demand(demand_id)
        if current is not None:
            auth.require_visible(current)
        doc, answer = _answer(lambda: _travel().demand(demand_id, at), args)
        if answer is None:
            fail(404, f"no demand with id {demand_id}")
        if doc is None:
            fail(404, f"demand {demand_id} did not exist as of {at.describe()}")
        auth.require_visible(doc)
        out = personal.show_demand(present(doc, answer.moment(at) or "0000"))
        out["as_of"] = _as_of(at, answer)
        return out


@blp.route("/queues/<district>/<department>")
class QueueAsOf(MethodView):
    @blp.arguments(AsOfQueueArgs, location="query")
    @blp.response(200, AsOfQueueSchema)
    @blp.alt_response(404, description="No such department")
    @blp.alt_response(422, description="`at` is not a date or a position of this log")
    def get(self, args: dict[str, Any], district: str, department: str):
        """A district department's open demands as they stood at `at`, oldest deadline
        first."""
        number = _district(district)
        if department not in DEPARTMENTS:
            fail(404, f"no department {department!r}; departments are: "
                      + ", ".join(DEPARTMENTS))
        auth.require_queue(number, department)
        at: AsOf = args["at"]
        answer = _answer(lambda: _travel().frontier(at), args)
        ids = cut.queue(answer.front, number, department)
        body = _listing(answer, ids, at, args["limit"])
        body.update(total=len(ids), queue=f"{number}/{department}", district=number,
                    department=department,
                    labels={"department": _label(DEPARTMENTS, department)})
        return body


@blp.route("/escalations")
class BoardAsOf(MethodView):
    @blp.arguments(AsOfBoardArgs, location="query")
    @blp.response(200, AsOfBoardSchema)
    @blp.alt_response(422, description="`at` is not a date or a position of this log")
    def get(self, args: dict[str, Any]):
        """Headquarters' escalation board as it stood at `at`: open demands above the
        department, highest rung first, then oldest deadline."""
        district = auth.require_district(args["district"])
        at: AsOf = args["at"]
        answer = _answer(lambda: _travel().frontier(at), args)
        ids = cut.board(answer.front, district, args["level"],
                        department=auth.current_actor().department)
        body = _listing(answer, ids, at, args["limit"])
        body.update(district=district, level=args["level"])
        return body


def register(api: Api) -> None:
    api.register_blueprint(blp)
