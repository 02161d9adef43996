"""Structured logs for every Sada process, configured here and nowhere else.

Each line on stderr is one JSON object:

    {"time": "2025-03-03T06:30:00.123Z", "level": "INFO", "service": "intake",
     "logger": "intake.api", "message": "recorded DemandSubmitted …",
     "correlation_id": "01J…", "demand_id": "01J…"}

`correlation_id` (and `demand_id`) name the demand a line is about when that is known: the
event being recorded or processed (`event_fields(event)` as a log call's `extra`), or the
request being served (`set_context`, which the HTTP hooks in `services.observability` call,
or `bind` around a block). Any other `extra` a log call passes (e.g. `partitions`) becomes a
key of its own; a traceback goes in `exc`.

The stream workers call `configure(service)` in their `main`; under gunicorn the logger class
in `services/gunicorn_conf.py` does it for the master and its workers, gunicorn's own error and
access logs included.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol

_CONTEXT: ContextVar[dict[str, str] | None] = ContextVar("sada_log_context", default=None)

# Attributes every LogRecord has: anything else on a record came from `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


class _AboutADemand(Protocol):
    correlation_id: str
    demand_id: str


def event_fields(event: _AboutADemand) -> dict[str, str]:
    """`extra` for a log line about one event: its demand and correlation id."""
    return {"correlation_id": event.correlation_id, "demand_id": event.demand_id}


def set_context(**fields: str | None) -> object:
    """Add `fields` (e.g. correlation_id, demand_id) to every line logged until
    `reset_context` (a request's before and teardown hooks): returns the token to pass it."""
    return _CONTEXT.set({**(_CONTEXT.get() or {}),
                         **{k: v for k, v in fields.items() if v is not None}})


def reset_context(token: object) -> None:
    _CONTEXT.reset(token)  # type: ignore[arg-type]


def _time(created: float) -> str:
    at = datetime.fromtimestamp(created, UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _time(record.created), "level": record.levelname,
            "service": self.service, "logger": record.name, "message": record.getMessage(),
            "correlation_id": None,
        }
        out.update(_CONTEXT.get() or {})
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


def handler(service: str) -> logging.Handler:
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(JsonFormatter(service))
    return h


def configure(service: str, level: str = "INFO") -> None:
    """Send every log record of this process to stderr as JSON lines naming `service`."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(service))
    root.setLevel(level.upper())
    # kafka-python narrates every connection at INFO; its warnings and errors still show.
    logging.getLogger("kafka").setLevel(max(root.level, logging.WARNING))
    logging.captureWarnings(True)


def service_of(app_uri: str | None) -> str:
    """The service a gunicorn app URI names: 'intake.app:create_app()' -> 'intake'."""
    if not app_uri:
        return "gunicorn"
    return app_uri.split(":", 1)[0].split(".", 1)[0] or "gunicorn"

