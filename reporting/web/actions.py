"""The pages' action forms, forwarded to routing's action API.

A form posts to reporting (the department queue's
`/districts/<d>/departments/<dep>/demands/<id>/<action>`, the board's
`/board/demands/<id>/<action>`, the mayor's desk's `/districts/<d>/mayor/demands/<id>/<action>`;
all handled by `reporting.web.forms.submit`), which
sends the same request to routing with the user's own token (so routing records the user as the
actor and checks their scope) and the form's one-time `Idempotency-Key` (so a form submitted
twice is recorded once). Routing answers 202 with the request id; the page then waits until the
read models show routing's decision on it, so the next page shows its effect.
"""

from __future__ import annotations

import math
from typing import Any

from reporting import waits
from reporting.readmodels import ReadModels
from reporting.service_calls import Outcome, fetch, send  # noqa: F401  (the pages call them)

# form action -> (routing path, the form fields that make the body)
ACTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "acknowledge": ("acknowledge", ("note",)),
    "note": ("notes", ("note",)),
    "ask": ("requester-info", ("question",)),
    "transfer": ("transfer", ("to_department", "to_district", "reason", "note")),
    "resolve": ("resolution", ("summary",)),
    "escalate": ("escalation", ("reason", "note")),
    "reject": ("rejection", ("reason", "code")),
    "send_back": ("send-back", ("to_level", "instructions", "resolve_hours")),
    "call_up": ("call-up", ("reason", "note")),
    "merge": ("merge", ("into", "reason")),
    # The person supporting, by national code or phone (`supporter`; none: anonymous).
    "support": ("support", ("on_behalf_of", "national_id", "phone")),
}
NESTED = {"national_id": "supporter", "phone": "supporter"}  # field -> the object it goes in
NUMBERS = frozenset({"resolve_hours"})
WHOLE_NUMBERS = frozenset({"to_district"})
DECISION_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05


def body_of(action: str, form: dict[str, str]) -> dict[str, Any]:
    """The JSON body for routing: the action's fields, blank ones left out (an optional
    note) so routing's own validation speaks for the required ones."""
    _, names = ACTIONS[action]
    body: dict[str, Any] = {n: form[n].strip() for n in names if (form.get(n) or "").strip()}
    for name in NUMBERS & body.keys():
        body[name] = _number(body[name])
    for name in WHOLE_NUMBERS & body.keys():
        whole = body[name].translate(_LATIN_DIGITS)
        body[name] = int(whole) if whole.isascii() and whole.isdigit() else body[name]
    for name in NESTED.keys() & body.keys():
        body.setdefault(NESTED[name], {})[name] = body.pop(name)
    return body


def _number(text: str) -> float | str:
    """A number field as a number; anything else as it was typed, for routing to refuse."""
    try:
        value = float(text.translate(_LATIN_DIGITS))
    except ValueError:
        return text
    return value if math.isfinite(value) else text


_LATIN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٫", "0123456789.")


def headers_for(token: str | None, key: str | None) -> dict[str, str]:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    return headers


def forward(routing_url: str, demand_id: str, action: str, body: dict[str, Any],
            headers: dict[str, str]) -> Outcome:
    path, _ = ACTIONS[action]
    return send(f"{routing_url}/demands/{demand_id}/{path}", body, headers, "routing")


def number_of(text: str) -> int | str:
    """A whole-number field as a number (Persian digits too); anything else as typed, for the
    service to refuse with its reason."""
    digits = text.strip().translate(_LATIN_DIGITS)
    return int(digits) if digits.isdigit() else text


def await_decision(models: ReadModels, demand_id: str, request_id: str,
                   wait: float = DECISION_WAIT_SECONDS) -> bool:
    """Whether routing's decision on the request reached the read models within `wait` s."""
    return waits.until(lambda: models.is_decided(demand_id, request_id), wait, POLL_SECONDS)


def decision_on(models: ReadModels, request_id: str) -> dict[str, Any] | None:
    """The decision event routing recorded for a request (None while there is none)."""
    return models.history.find_one({"causation_id": request_id})
