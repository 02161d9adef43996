"""The citizen's tracking page: `/track/<service request id>`, public, no token. Where the
demand is (district, department, rung, status), when it is expected, and its public timeline:
what was decided and when, never who asked, never a name, phone or code, never a note written
inside the municipality. Rate-limited per client address, as Open311's public reads are."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, make_response, render_template, request

from reporting.web.render import current_lang, helpers, translate, web
from reporting.web.views import bp
from services.events.ids import ULID_PATTERN
from services.ratelimit import TokenBuckets

# The decisions a citizen follows: each shown by its label, time and, where it has one, the
# rung or department it moved the demand to. Nothing else a payload holds is shown.
PUBLIC_DECISIONS = ("DemandRouted", "DemandAcknowledged", "DemandEscalated", "DemandSentBack",
                    "DemandTransferred", "WaitingOnRequester", "DemandResumed", "WaitExpired",
                    "DemandResolved", "DemandRejected", "DemandWithdrawn", "DemandReopened",
                    "DemandMerged", "SupportRecorded")
_ID = re.compile(ULID_PATTERN)
_buckets = TokenBuckets(per_minute=60, burst=20)


def public_step(event: dict[str, Any]) -> dict[str, Any]:
    p = event["payload"]
    return {"type": event["type"], "at": event["recorded_at"],
            "to_level": p.get("to_level"), "department": p.get("to_department")
            or (p.get("department") if event["type"] == "DemandRouted" else None)}


def _answer(html: str, status: int, lang: str) -> Response:
    response = make_response(html, status)
    response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/track/<request_id>", endpoint="track")
def track(request_id: str) -> Response:
    lang = current_lang()
    wait = _buckets.take(request.remote_addr or "?")
    if wait is not None:
        response = _answer(render_template("web/track.html", **helpers(lang), demand=None,
                                           message=translate("track.slow_down", lang)),
                           429, lang)
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return response
    demand_id = request_id.upper()
    doc = web().models.demand(demand_id) if _ID.fullmatch(demand_id) else None
    if doc is None:
        return _answer(render_template("web/track.html", **helpers(lang), demand=None,
                                       message=translate("track.not_found", lang)), 404, lang)
    steps = [public_step(e) for e in web().models.demand_history(demand_id)
             if e["decision"] and e["type"] in PUBLIC_DECISIONS]
    demand = {k: doc.get(k) for k in ("demand_id", "title", "category", "district",
                                      "neighbourhood", "department", "level", "status",
                                      "submitted_at", "deadline", "resolved_at", "closed_at")}
    return _answer(render_template("web/track.html", **helpers(lang), demand=demand,
                                   steps=sorted(steps, key=lambda s: s["at"]), message=None),
                   200, lang)
