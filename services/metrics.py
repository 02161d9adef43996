"""Every Prometheus metric Sada exports, defined in one place.

The names and labels are the contract with the dashboards (deploy/README.md, "Metrics").
Each process imports what it records; how a process exposes them (gunicorn's multiprocess
mode, a worker's own port) is `services.observability`'s job.
"""

from prometheus_client import Counter, Gauge, Histogram

DEMANDS_SUBMITTED = Counter(
    "sada_demands_submitted", "Demands recorded by intake (a DemandSubmitted appended).",
    ["district", "channel"])
DECISIONS = Counter(
    "sada_decisions", "Decisions appended by routing, by decision type and district.",
    ["type", "district"])
ESCALATIONS = Counter(
    "sada_escalations", "Escalations decided, by the level escalated to and district.",
    ["level", "district"])
CONSUMER_LAG = Gauge(
    "sada_consumer_lag", "Events in the log not yet processed by this consumer.",
    ["consumer"], multiprocess_mode="max")
HTTP_DURATION = Histogram(
    "sada_http_request_duration_seconds", "HTTP request duration.",
    ["service", "endpoint", "method", "status"])
AUTH_FAILURES = Counter(
    "sada_auth_failures", "Failed authentication or authorization, by service and reason.",
    ["service", "reason"])
DEAD_LETTERS = Counter(
    "sada_dead_letters", "Events a consumer could not process, parked with the reason.",
    ["consumer"])
LOG_COMMITS = Counter(
    "sada_log_commits", "Transactions that appended to the embedded (SQLite) log; concurrent "
    "appends share one (group commit).")
LOG_APPENDS_PER_COMMIT = Histogram(
    "sada_log_appends_per_commit", "Appends (each one caller's events) per transaction on the "
    "embedded (SQLite) log.", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
