"""The reporting API: reads MongoDB read models only, never the log (except its end, for lag).

Every read accepts `after=<partition:offset>`: the answer waits until the projector's
checkpoint has passed that position, so a client that just wrote (and got the position back
from intake or routing) reads its own write, or gets a 504 saying the projector is behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Api

from reporting import personal, schemas
from reporting.readmodels import ReadModels
from reporting.waits import WaitSlots
from services import auth
from services.domain.vocabulary import (
    CATEGORIES,
    CHANNELS,
    DEPARTMENTS,
    LEVELS,
    PRIORITIES,
    STATUSES,
    Labels,
)
from services.eventlog.port import EventLog, Position
from services.events.envelope import format_time, now
from services.parsing import Blueprint, small_number
from services.web import fail

POLL_SECONDS = 0.02


@dataclass
class Context:
    models: ReadModels
    projection: str
    log: Callable[[], EventLog]  # opened on first use: only /status needs it
    waits: WaitSlots = field(default_factory=WaitSlots)  # read-your-write waits per subject


def _ctx() -> Context:
    return current_app.extensions["sada.reporting"]


# -- read-your-write --------------------------------------------------------------------
def await_fresh(args: dict[str, Any], demand_id: str | None = None) -> None:
    """Block until `after` is projected (and `decided` has its decision), or fail with 504.
    A read not yet fresh holds one of its token subject's few wait slots (reporting/waits.py),
    or is refused with 429 when they are all taken."""
    ctx = _ctx()
    after: Position | None = args.get("after")
    decided: str | None = args.get("decided")
    if _fresh(ctx, after, decided, demand_id) == (None, None):
        return
    with ctx.waits.hold(auth.current_actor().subject):
        _wait_fresh(ctx, after, decided, demand_id, args["wait"])


def _fresh(ctx: Context, after: Position | None, decided: str | None,
           demand_id: str | None) -> tuple[Position | None, str | None]:
    """What the read models have still not reached of `after` and `decided`."""
    if after is not None and after.reached_by(ctx.models.checkpoint(ctx.projection)):
        after = None
    if decided is not None and ctx.models.is_decided(demand_id or "", decided):
        decided = None
    return after, decided


def _wait_fresh(ctx: Context, after: Position | None, decided: str | None,
                demand_id: str | None, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        after, decided = _fresh(ctx, after, decided, demand_id)
        if after is None and decided is None:
            return
        if time.monotonic() >= deadline:
            waiting = (f"position {after}" if after is not None
                       else f"the decision on request {decided}")
            fail(504, f"the read models have not yet reached {waiting} after {wait:g} s; "
                      "the projector is behind or stopped: retry later")
        time.sleep(POLL_SECONDS)


# -- presentation -----------------------------------------------------------------------
def _label(table: Labels, code: str | None) -> dict[str, str] | None:
    if code is None or code not in table:
        return None
    fa, en = table[code]
    return {"fa": fa, "en": en}


def present(doc: dict[str, Any], moment: str | None = None) -> dict[str, Any]:
    """A stored demand as the API shows it: its position as text, labels, overdue."""
    moment = moment or format_time(now())
    out = dict(doc)
    pos = doc.get("position") or {}
    out["position"] = f"{pos.get('partition')}:{pos.get('offset')}" if pos else None
    out["overdue"] = bool(doc.get("open") and doc.get("deadline") and doc["deadline"] < moment)
    out["labels"] = {
        "status": _label(STATUSES, doc.get("status")), "level": _label(LEVELS, doc.get("level")),
        "category": _label(CATEGORIES, doc.get("category")),
        "department": _label(DEPARTMENTS, doc.get("department")),
        "channel": _label(CHANNELS, doc.get("channel")),
        "priority": _label(PRIORITIES, doc.get("priority")),
    }
    return out


def _listing(docs: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    moment = format_time(now())
    return {"count": len(docs), "items": [present(d, moment) for d in docs], **extra}


def _district(raw: str) -> int:
    number = small_number(raw, 1, 22)
    if number is None:
        fail(422, f"district must be a number from 1 to 22, got {raw[:40]!r}",
             {"path": {"district": ["Must be an integer from 1 to 22."]}})
    return number


# -- blueprints ---------------------------------------------------------------------------
demands = Blueprint("demands", __name__, url_prefix="/demands",
                    description="Demands and their timelines")
queues = Blueprint("queues", __name__, url_prefix="/queues",
                   description="Each district department's queue")
escalations = Blueprint("escalations", __name__, url_prefix="/escalations",
                        description="Headquarters' escalation board")
status = Blueprint("status", __name__, url_prefix="/status",
                   description="How far the read models are behind the log")


@demands.route("")
class DemandList(MethodView):
    @demands.arguments(schemas.SearchArgs, location="query")
    @demands.response(200, schemas.DemandListSchema)
    def get(self, args: dict[str, Any]):
        """Demands, newest first, optionally by district, status and category.

        Only those within the token's scope: its district (and department), or every one."""
        district = auth.require_district(args["district"])
        await_fresh(args)
        return _listing(_ctx().models.search(
            district=district, status=args["status"], category=args["category"],
            limit=args["limit"], department=auth.current_actor().department))


@demands.route("/<demand_id>")
class DemandItem(MethodView):
    @demands.arguments(schemas.DemandArgs, location="query")
    @demands.response(200, schemas.DemandSchema)
    @demands.alt_response(404, description="No demand with this id")
    @demands.alt_response(504, description="The read models did not catch up in time")
    def get(self, args: dict[str, Any], demand_id: str):
        """One demand's current state."""
        await_fresh(args, demand_id)
        doc = _ctx().models.demand(demand_id)
        if doc is None:
            fail(404, f"no demand with id {demand_id}")
        auth.require_visible(doc)
        return personal.show_demand(present(doc))


@demands.route("/<demand_id>/history")
class DemandHistory(MethodView):
    @demands.arguments(schemas.FreshnessArgs, location="query")
    @demands.response(200, schemas.HistorySchema)
    @demands.alt_response(404, description="No event for this demand id")
    def get(self, args: dict[str, Any], demand_id: str):
        """Every event of a demand, in log order."""
        await_fresh(args)
        models = _ctx().models
        if auth.current_actor().district is not None:
            # A district sees the history of its own demands; a request about a demand that
            # was never submitted belongs to no district.
            doc = models.demand(demand_id)
            if doc is None:
                fail(404, f"no events for demand id {demand_id}")
            auth.require_visible(doc)
        events = models.demand_history(demand_id)
        if not events:
            fail(404, f"no events for demand id {demand_id}")
        for e in events:
            e["position"] = f"{e['partition']}:{e['offset']}"
        return {"demand_id": demand_id, "count": len(events),
                "events": personal.show_history(events)}


@queues.route("/<district>/<department>")
class Queue(MethodView):
    @queues.arguments(schemas.QueueArgs, location="query")
    @queues.response(200, schemas.QueueSchema)
    @queues.alt_response(404, description="No such department")
    def get(self, args: dict[str, Any], district: str, department: str):
        """A district department's open demands, oldest deadline first."""
        number = _district(district)
        if department not in DEPARTMENTS:
            fail(404, f"no department {department!r}; departments are: "
                      + ", ".join(DEPARTMENTS))
        auth.require_queue(number, department)
        await_fresh(args)
        models = _ctx().models
        docs, total = models.queue_page(number, department, args["limit"])
        return _listing(docs, total=total,
                        queue=f"{number}/{department}", district=number,
                        department=department,
                        labels={"department": _label(DEPARTMENTS, department)})


@escalations.route("")
class EscalationBoard(MethodView):
    @escalations.arguments(schemas.EscalationArgs, location="query")
    @escalations.response(200, schemas.BoardSchema)
    def get(self, args: dict[str, Any]):
        """Open demands above the department, highest rung first, then oldest deadline.

        A district mayor sees its own district's board; a department what it escalated."""
        district = auth.require_district(args["district"])
        await_fresh(args)
        docs = _ctx().models.escalations(district, args["level"], args["limit"],
                                         department=auth.current_actor().department)
        return _listing(docs, district=district, level=args["level"])


@status.route("")
class Status(MethodView):
    @status.response(200, schemas.StatusSchema)
    def get(self):
        """The projector's checkpoint, the log's end and the lag between them."""
        ctx = _ctx()
        done = ctx.models.checkpoint(ctx.projection)
        body: dict[str, Any] = {"projection": ctx.projection,
                                "checkpoint": {str(p): o for p, o in sorted(done.items())}}
        try:
            end = ctx.log().end_offsets()
        except Exception as exc:  # the log being down must not hide the checkpoint
            body["log_error"] = f"{type(exc).__name__}: {exc}"
            return body
        lag = {str(p): max(0, o - done.get(p, 0)) for p, o in sorted(end.items())}
        body.update(end_offsets={str(p): o for p, o in sorted(end.items())}, lag=lag,
                    total_lag=sum(lag.values()))
        return body


def register(api: Api) -> None:
    for blueprint in (demands, queues, escalations, status):
        api.register_blueprint(blueprint)
