"""Rendering a page: the language, its direction and the helpers every template uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, make_response, render_template, request, url_for

from reporting.readmodels import ReadModels
from reporting.web import i18n
from reporting.web.messages import EVENT_LABELS, MESSAGES, REFUSALS, ROLE_LABELS
from reporting.web.scope import viewer
from services.domain.vocabulary import (
    CATEGORIES,
    CHANNELS,
    DEPARTMENTS,
    ESCALATION_REASONS,
    LEVELS,
    PRIORITIES,
    REJECTION_CODES,
    REQUESTER_KINDS,
    STATUSES,
    TRANSFER_REASONS,
)

TABLES = {"status": STATUSES, "level": LEVELS, "category": CATEGORIES,
          "department": DEPARTMENTS, "channel": CHANNELS, "priority": PRIORITIES,
          "kind": REQUESTER_KINDS, "reason": ESCALATION_REASONS, "event": EVENT_LABELS,
          "role": ROLE_LABELS, "transfer_reason": TRANSFER_REASONS,
          "rejection": REJECTION_CODES, "refusal": REFUSALS}
LANG_COOKIE_SECONDS = 365 * 24 * 3600


@dataclass
class WebContext:
    models: ReadModels
    routing_url: str
    intake_url: str = ""


def web() -> WebContext:
    return current_app.extensions["sada.web"]


def wants_html(req: Any) -> bool:
    """Whether a request (a browser's) prefers a page to JSON at an address both answer."""
    return req.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def current_lang() -> str:
    return i18n.choose(request.args.get("lang"), request.cookies.get(i18n.COOKIE))


def translate(key: str, lang: str, **values: Any) -> str:
    fa, en = MESSAGES.get(key, (key, key))
    text = fa if lang == "fa" else en
    if values:
        text = text.format(**{k: i18n.digits(v, lang) if isinstance(v, int) else v
                              for k, v in values.items()})
    return text


def _switch_url(lang: str) -> str:
    other = "en" if lang == "fa" else "fa"
    args = {**request.args.to_dict(), "lang": other}
    if request.endpoint is None:
        return f"?lang={other}"
    return url_for(request.endpoint, **(request.view_args or {}), **args)


#: Reasons a person on the ladder may give for escalating or calling up: only the clock passes a
#: deadline, and only the requester's side appeals.
CHOOSABLE_REASONS = {code: words for code, words in ESCALATION_REASONS.items()
                     if code not in ("deadline_passed", "requester_appeal")}


def refusal(payload: dict[str, Any], lang: str) -> str:
    """Why routing refused an action, in the page's language from its code (routing's own
    English reason only for a code this catalogue does not know yet)."""
    code = payload.get("code")
    if code in REFUSALS:
        return i18n.label(REFUSALS, code, lang)
    return str(payload.get("reason") or code or "—")


def helpers(lang: str) -> dict[str, Any]:
    return {
        "lang": lang, "dir": i18n.direction(lang),
        "other_lang": "en" if lang == "fa" else "fa",
        "switch_url": _switch_url(lang),
        "t": lambda key, **kw: translate(key, lang, **kw),
        "lbl": lambda table, code: i18n.label(TABLES[table], code, lang),
        "refusal": lambda payload: refusal(payload, lang),
        "jalali": lambda at, with_time=True: i18n.jalali(at, lang, with_time),
        "day": lambda text: i18n.jalali_day(text, lang),
        "n": lambda value, decimals=0: i18n.number(value, lang, decimals),
        "pct": lambda ratio: i18n.percent(ratio, lang),
        "dur": lambda hours: i18n.duration(hours, lang),
        "digits": lambda text: i18n.digits(text, lang),
        "DEPARTMENTS": DEPARTMENTS, "CATEGORIES": CATEGORIES, "STATUSES": STATUSES,
        "REASONS": CHOOSABLE_REASONS, "TRANSFER_REASONS": TRANSFER_REASONS,
        "REJECTION_CODES": REJECTION_CODES,
    }


def page(template: str, status: int = 200, **context: Any) -> Response:
    lang = current_lang()
    html = render_template(f"web/{template}", **helpers(lang), who=viewer(), **context)
    response = make_response(html, status)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept, Cookie"
    response.headers["Cache-Control"] = "no-store"
    if request.args.get("lang") in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, lang, max_age=LANG_COOKIE_SECONDS, samesite="Lax")
    return response


def not_found(message_key: str, **values: Any) -> Response:
    return page("error.html", 404, message=translate(message_key, current_lang(), **values))


def bad_request(message_key: str, **values: Any) -> Response:
    lang = current_lang()
    return page("error.html", 400, heading=translate("error.bad_request", lang),
                message=translate(message_key, lang, **values))
