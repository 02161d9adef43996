"""Reporting calling another Sada service over HTTP as the user: the pages' forms (routing's
actions, intake's demands and meetings, routing's rules) and Open311's POST (intake). One
client, so every caller gets the same answers: the service's status and JSON, or a 502 saying
it could not be reached."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]

    @property
    def accepted(self) -> bool:
        return self.status == 202

    @property
    def message(self) -> str:
        """The service's reason for refusing, with the fields at fault."""
        text = str(self.body.get("message") or f"HTTP {self.status}")
        errors = self.body.get("errors")
        return f"{text}: {json.dumps(errors, ensure_ascii=False)}" if errors else text


def call(method: str, url: str, headers: dict[str, str], service: str,
         body: dict[str, Any] | None = None, timeout: float = TIMEOUT_SECONDS) -> Outcome:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    sent = {"Accept": "application/json", **headers}
    if data is not None:
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(url, method=method, data=data, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Outcome(response.status, json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read() or b"{}")
        except ValueError:
            detail = {}
        return Outcome(exc.code, detail if isinstance(detail, dict) else {})
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        parts = urlsplit(url)
        reason = getattr(exc, "reason", exc)
        return Outcome(502, {"message": f"{service} is not reachable at "
                                        f"{parts.scheme}://{parts.netloc}: {reason}"})


def send(url: str, body: dict[str, Any], headers: dict[str, str], service: str,
         timeout: float = TIMEOUT_SECONDS) -> Outcome:
    """POST a JSON body to one of Sada's services, as the user."""
    return call("POST", url, headers, service, body, timeout)


def fetch(url: str, headers: dict[str, str], service: str) -> Outcome:
    """GET one of Sada's services' JSON, as the user."""
    return call("GET", url, headers, service)
