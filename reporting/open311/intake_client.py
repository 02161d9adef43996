"""Open311's POST, sent on to intake's `POST /demands` as the caller: intake's one code path
records the demand (validation, privacy sealing, idempotency), so reporting never appends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reporting.service_calls import Outcome, send
from services import idempotency

# The caller's headers intake needs to act as the caller did: who, and the retry key.
FORWARDED = ("Authorization", idempotency.FIELD, "Accept-Language")


def submit(intake_url: str, demand: dict[str, Any], headers: Mapping[str, str]) -> Outcome:
    """POST the demand to intake with the caller's token and key: intake's answer, or a 502
    if intake could not be reached (nothing was recorded)."""
    sent = {name: headers[name] for name in FORWARDED if headers.get(name)}
    return send(f"{intake_url}/demands", demand, sent, "intake")
