"""Headquarters' figures as JSON (or CSV with `format=csv`): the board, deadlines kept per
district, fairness by requester, weekly trends and the channel mix.

Every figure comes from `reporting/dashboards.py`, the same code the pages use, and is scoped
by the caller's token like every listing (a district's token sees its district, a department's
its department). docs/metrics.md defines each figure. Each answer names the moment it was
judged at: the stream's time (the last clock tick projected), the time routing decides by.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import Schema, fields, validate

from reporting import dashboards
from reporting.api import _ctx, await_fresh
from reporting.schemas import FreshnessArgs
from services import auth
from services.events.envelope import format_time, now
from services.parsing import Blueprint
from services.spreadsheet import write_rows


class ReportArgs(FreshnessArgs):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "csv: the report's rows as CSV"})


class TrendArgs(ReportArgs):
    weeks = fields.Integer(load_default=8, validate=validate.Range(min=1, max=104))


class SlaRowSchema(Schema):
    district = fields.Integer()
    met = fields.Integer()
    late = fields.Integer()
    missed = fields.Integer()
    rejected = fields.Integer()
    overdue = fields.Integer()
    waiting = fields.Integer()
    pending = fields.Integer()
    withdrawn = fields.Integer(metadata={"description": "counted apart, outside the rate"})
    merged = fields.Integer(metadata={"description": "counted apart, outside the rate"})
    due = fields.Integer(metadata={"description": "met + late + missed + overdue"})
    rate = fields.Float(allow_none=True, metadata={"description": "met / due; null: none due"})


class FairnessRowSchema(Schema):
    kind = fields.String()
    demands = fields.Integer(metadata={"description": "merged duplicates left out"})
    resolved = fields.Integer()
    rejected = fields.Integer()
    withdrawn = fields.Integer()
    escalated = fields.Integer()
    deadline_escalated = fields.Integer()
    reopened = fields.Integer()
    responded = fields.Integer()
    waited = fields.Integer(metadata={"description": "waited on the requester at some time"})
    overdue = fields.Integer()
    rejected_rate = fields.Float()
    withdrawn_rate = fields.Float()
    escalated_rate = fields.Float()
    deadline_escalated_rate = fields.Float()
    reopened_rate = fields.Float()
    to_response_median_hours = fields.Float(allow_none=True)
    to_response_p90_hours = fields.Float(allow_none=True)
    to_resolution_median_hours = fields.Float(allow_none=True)
    to_resolution_p90_hours = fields.Float(allow_none=True)
    to_response_count = fields.Integer(metadata={"description": "durations measured"})
    to_resolution_count = fields.Integer(metadata={"description": "durations measured"})
    median_hours = fields.Float(allow_none=True)
    differs = fields.Dict(keys=fields.String(), values=fields.Float(), metadata={
        "description": "figures that differ from citizens' beyond chance, with p-values "
                       "(Fisher's exact test for rates, Mann-Whitney U for hours; p < 0.05)"})


class MatrixRowSchema(Schema):
    level = fields.String()
    district = fields.Integer()
    open = fields.Integer()
    overdue = fields.Integer()


class BoardReportSchema(Schema):
    moment = fields.String(metadata={"description": "the stream's time judged at"})
    open = fields.Integer()
    overdue = fields.Integer()
    matrix = fields.List(fields.Nested(MatrixRowSchema))
    items = fields.List(fields.Dict(), metadata={
        "description": "open escalations: overdue first, highest rung, oldest deadline"})


class SlaReportSchema(Schema):
    moment = fields.String()
    items = fields.List(fields.Nested(SlaRowSchema))
    missed_by_rung = fields.List(fields.Dict())
    by_rung = fields.List(fields.Dict(), metadata={
        "description": "per district and rung: acknowledged and resolved in time or late, "
                       "deadlines missed there"})
    transfers = fields.List(fields.Dict())


class FairnessReportSchema(Schema):
    moment = fields.String()
    items = fields.List(fields.Nested(FairnessRowSchema))


class TrendReportSchema(Schema):
    moment = fields.String()
    items = fields.List(fields.Dict(), metadata={
        "description": "week_start, escalations, resolutions; oldest week first"})


class MixReportSchema(Schema):
    moment = fields.String()
    items = fields.List(fields.Dict(), metadata={
        "description": "per channel: total, counts and shares per category"})


reports = Blueprint("reports", __name__, url_prefix="/reports",
                    description="Headquarters' figures (docs/metrics.md)")


def _figures(args: dict[str, Any]) -> dashboards.Figures:
    await_fresh(args)
    return dashboards.gather(_ctx().models, auth.scope_filter(), now())


def _answer(args: dict[str, Any], figures: dashboards.Figures, items: list[dict[str, Any]],
            columns: list[str], **more: Any) -> Any:
    if args["format"] == "csv":
        return _csv(items, columns)
    return {"moment": format_time(figures.moment), "items": items, **more}


def _csv(items: list[dict[str, Any]], columns: list[str]) -> Response:
    out = io.StringIO()
    write_rows(out, columns, ([_cell(row.get(c)) for c in columns] for row in items))
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment"})


def _cell(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return "" if value is None else value


def _report(schema: type[Schema], args_schema: type[Schema] = ReportArgs
            ) -> Callable[[Callable[..., Any]], Any]:
    def wrap(view: Callable[..., Any]) -> Any:
        view = reports.response(200, schema)(view)
        view = reports.doc(responses={"200": {"content": {  # JSON, or CSV with format=csv
            "application/json": {"schema": schema},
            "text/csv": {"schema": {"type": "string"}}}}})(view)
        return reports.arguments(args_schema, location="query")(view)
    return wrap


@reports.route("/board")
class BoardReport(MethodView):
    @_report(BoardReportSchema)
    def get(self, args: dict[str, Any]):
        """The escalation board: open escalations (overdue first) and the matrix per rung
        and district."""
        f = _figures(args)
        matrix = f.board_matrix()
        items = dashboards.board(_ctx().models.demands, f.moment, f.scope)
        columns = ["demand_id", "district", "level", "category", "deadline", "overdue",
                   "submitted_at", "escalated_at", "reason"]
        return _answer(args, f, items, columns, matrix=matrix,
                       open=sum(m["open"] for m in matrix),
                       overdue=sum(m["overdue"] for m in matrix))


@reports.route("/sla")
class SlaReport(MethodView):
    @_report(SlaReportSchema)
    def get(self, args: dict[str, Any]):
        """Deadlines kept per district; per rung, answers in time or late and misses;
        transfers."""
        f = _figures(args)
        columns = ["district", "met", "late", "missed", "rejected", "overdue", "waiting",
                   "pending", "withdrawn", "merged", "due", "rate"]
        return _answer(args, f, f.sla_by_district(), columns,
                       missed_by_rung=f.missed_by_rung(), by_rung=f.by_rung(),
                       transfers=f.transfers())


@reports.route("/fairness")
class FairnessReport(MethodView):
    @_report(FairnessReportSchema)
    def get(self, args: dict[str, Any]):
        """Per requester kind: the counts behind each figure, rates, and median and 90th
        percentile working hours to first response and to resolution (waits on the
        requester left out; upper ends of bands)."""
        f = _figures(args)
        return _answer(args, f, f.outcomes_by_requester(), list(FairnessRowSchema().fields))


@reports.route("/trends")
class TrendReport(MethodView):
    @_report(TrendReportSchema, TrendArgs)
    def get(self, args: dict[str, Any]):
        """Rungs climbed and resolutions standing, per week (weeks start Saturday, Tehran)."""
        f = _figures(args)
        items = [{**r, "week_start": format_time(r["week_start"])}
                 for r in f.weekly_trend(args["weeks"])]
        return _answer(args, f, items, ["week_start", "escalations", "resolutions"])


@reports.route("/mix")
class MixReport(MethodView):
    @_report(MixReportSchema)
    def get(self, args: dict[str, Any]):
        """Demands per category on each channel."""
        f = _figures(args)
        items = f.category_mix()
        if args["format"] == "csv":
            rows = [{"channel": r["channel"], "category": c, "demands": n}
                    for r in items for c, n in r["counts"].items()]
            return _csv(rows, ["channel", "category", "demands"])
        return _answer(args, f, items, [])


def register(api: Api) -> None:
    api.register_blueprint(reports)
