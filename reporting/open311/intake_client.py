"""Open311's POST, sent on to intake's `POST /demands` as the caller: intake's one code path
records the demand (validation, privacy sealing, idempotency), so reporting never appends."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services import idempotency

TIMEOUT_SECONDS = 10.0
# The caller's headers intake needs to act as the caller did: who, and the retry key.
FORWARDED = ("Authorization", idempotency.FIELD, "Accept-Language")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def submit(intake_url: str, demand: dict[str, Any], headers: Mapping[str, str]) -> Answer:
    """POST the demand to intake with the caller's token and key; intake's answer, or 503
    if intake could not be reached (nothing was recorded)."""
    sent = {name: headers[name] for name in FORWARDED if headers.get(name)}
    req = urllib.request.Request(
        f"{intake_url}/demands", method="POST",
        data=json.dumps(demand, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json", **sent})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as response:
            return Answer(response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        return Answer(exc.code, body if isinstance(body, dict) else {})
    except (urllib.error.URLError, TimeoutError, OSError):
        return Answer(503, {"message": "intake is not reachable"})
