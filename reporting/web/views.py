"""Headquarters' board (`/`) with its rows' action forms (`/board/demands/<id>/<action>`),
the auditor's search (`/audit`, in pages) and the queue picker."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, request, url_for

from reporting import dashboards
from reporting.web import charts, choices, forms, i18n, paging
from reporting.web.render import bad_request, current_lang, not_found, page, translate, web
from reporting.web.scope import demand_filter, may_see, viewer
from services import auth
from services.domain.vocabulary import CATEGORIES, DEPARTMENTS, LEVEL_CODES, STATUSES
from services.events.envelope import now
from services.events.ids import new_id
from services.parsing import small_number

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/web")
TREND_WEEKS = 8
BOARD_PAGE = 50  # escalations per page of the board, each with its action forms
#: The roles that act on demands above the department, from the board.
BOARD_ROLES = (auth.MAYOR, auth.HQ, auth.CENTRAL, auth.ADMIN)


def _overall(sla: list[dict[str, Any]]) -> float | None:
    due = sum(r["due"] for r in sla)
    return sum(r["met"] for r in sla) / due if due else None


def board_forms(board: list[dict[str, Any]], error: str | None) -> dict[str, Any]:
    """What the board needs for its action forms: the actions offered on each row (by its
    demand id) and the last form's outcome. The board's rows leave out the state the forms
    depend on, so the rows' demands are read whole, and only for a role that acts there."""
    offered: dict[str, tuple[str, ...]] = {}
    if viewer().role in BOARD_ROLES and board:
        docs = web().models.load_demands(r["demand_id"] for r in board)
        offered = {i: choices.offered(viewer(), d) for i, d in docs.items()}
    return {"offered": offered, "error": error, "form_key": new_id,
            "lower_levels": choices.lower_levels,
            "result": forms.result_of(request.args.get("done"), request.args.get("demand")),
            "act_url": lambda demand_id, action: url_for("web.board_act", demand_id=demand_id,
                                                          action=action)}


@bp.post("/board/demands/<demand_id>/<action>")
@auth.roles(*BOARD_ROLES)
def board_act(demand_id: str, action: str):
    """A form from the escalation board, sent on to routing; back to the board."""
    refused = forms.check_rung(demand_id, action)
    if refused is not None:
        return refused
    return forms.submit(
        demand_id, action,
        back=lambda done, acted_on: url_for("web.headquarters", done=done, demand=acted_on),
        again=lambda error, status: headquarters(error=error, status=status))


def _trend_chart(trend: list[dict[str, Any]], lang: str):
    series = [charts.Series("escalations", translate("trend.escalations", lang), "bar-esc"),
              charts.Series("resolutions", translate("trend.resolutions", lang), "bar-res")]
    labels = [i18n.short_jalali(r["week_start"], lang) for r in trend]
    axis = i18n.axis_jalali([r["week_start"] for r in trend], lang)
    return charts.weekly_bars(trend, series, labels, translate("trend.chart", lang),
                              rtl=lang == "fa", number=lambda v: i18n.number(v, lang),
                              axis=axis)


@bp.get("/")
def headquarters(error: str | None = None, status: int = 200):
    scope = demand_filter(viewer())
    models, lang = web().models, current_lang()
    figures = dashboards.gather(models, scope, now())
    start = small_number(request.args.get("from", "0"), 0, 1_000_000) or 0
    board = dashboards.board(models.demands, figures.moment, scope,
                             limit=start + BOARD_PAGE)[start:]
    matrix = figures.board_matrix()
    trend = figures.weekly_trend(TREND_WEEKS)
    sla = figures.sla_by_district()
    levels = [lv for lv in reversed(LEVEL_CODES) if any(m["level"] == lv for m in matrix)]
    districts = sorted({m["district"] for m in matrix})
    cells = {(m["level"], m["district"]): m for m in matrix}
    return page(
        "hq.html", status, page_id="hq", board=board, levels=levels, districts=districts,
        cells=cells, trend=trend, chart=_trend_chart(trend, lang), sla=sla,
        sla_overall=_overall(sla), by_rung=figures.by_rung(), mix=figures.category_mix(),
        outcomes=figures.outcomes_by_requester(),
        open_total=sum(m["open"] for m in matrix),
        overdue_total=sum(m["overdue"] for m in matrix),
        resolved_this_week=trend[-1]["resolutions"] if trend else 0,
        board_pages=_board_pages(start, sum(m["open"] for m in matrix)),
        categories=list(CATEGORIES), **board_forms(board, error))


def _board_pages(start: int, total: int) -> dict[str, str | None]:
    """Links to the board's previous and next pages (None where there is none)."""
    lang = request.args.get("lang")
    extra = {"lang": lang} if lang else {}
    return {"newer": url_for("web.headquarters", **({"from": max(0, start - BOARD_PAGE)}
                                                    | extra)) if start else None,
            "older": url_for("web.headquarters", **({"from": start + BOARD_PAGE} | extra))
            if start + BOARD_PAGE < total else None}


@bp.get("/queue")
def queue_picker():
    """The header's district + department form lands here and goes to that queue."""
    district, department = request.args.get("district", ""), request.args.get("department", "")
    number = small_number(district, 1, 22)
    if number is None:
        return not_found("error.district")
    if department not in DEPARTMENTS:
        return not_found("error.department", d=department)
    return redirect(url_for("web.department", district=number, department=department))


def _search_args() -> dict[str, Any]:
    district = small_number(request.args.get("district", ""), 1, 22)
    status = request.args.get("status") or None
    category = request.args.get("category") or None
    return {"district": district,
            "status": status if status in STATUSES else None,
            "category": category if category in CATEGORIES else None}


# What the API offers an auditor beyond search, when this service has it: time travel
# (`/asof/...`), the log's seals (`/audit/seal`, checked with `sada verify`) and deadline
# changes. Each link is shown only if its endpoint is registered.
AUDIT_TOOLS = {"board_asof": "asof.BoardAsOf", "seal": "audit.LatestSeal",
               "seals": "audit.SealList", "deadline_changes": "explanations.DeadlineChanges"}


def available(endpoints: dict[str, str]) -> dict[str, str]:
    """name -> URL of each endpoint this app serves."""
    return {name: url_for(endpoint) for name, endpoint in endpoints.items()
            if endpoint in current_app.view_functions}


def _cursor() -> paging.Cursor | None | Response:
    """The page asked for (`after=` or `before=` a demand id), or a 400 page saying why not."""
    after, before = request.args.get("after"), request.args.get("before")
    if after and before:
        return bad_request("error.cursor_both")
    demand_id = (after or before or "").strip().upper()
    if not demand_id:
        return None
    doc = web().models.demand(demand_id)
    if doc is None or not may_see(viewer(), doc):
        return bad_request("error.cursor", c=demand_id)
    return paging.Cursor(demand_id, doc["submitted_at"], older=bool(after))


@bp.get("/audit")
def audit():
    args = _search_args()
    scope = demand_filter(viewer())
    cursor = _cursor()
    if isinstance(cursor, Response):
        return cursor
    found = paging.Page([], None, None)
    if args["district"] in (None, scope.get("district", args["district"])):
        query = {k: v for k, v in args.items() if v is not None} | scope
        found = paging.page_of(web().models.demands, query, cursor)
    searched = {k: v for k, v in args.items() if v}
    export = url_for("demands.DemandList", **searched, limit=500)
    pages = {"older": found.older and url_for("web.audit", **searched, after=found.older),
             "newer": found.newer and url_for("web.audit", **searched, before=found.newer),
             "newest": cursor is not None and url_for("web.audit", **searched)}
    return page("audit.html", page_id="audit", args=args, results=found.rows, export=export,
                pages=pages, tools=available(AUDIT_TOOLS))
