"""How every Sada process exposes the metrics of `services.metrics` to Prometheus.

- **HTTP services** (`install`, called by `services.web.create_api`): a before/after-request
  hook times every request into `sada_http_request_duration_seconds{service, endpoint, method,
  status}` (`endpoint` is the route template, never the raw path) and `GET /metrics` serves the
  samples. Under gunicorn every worker is its own process, so `services/gunicorn_conf.py` sets
  `PROMETHEUS_MULTIPROC_DIR` before forking them: each worker writes its samples there and a
  scrape of any worker merges all of them (dead workers' counters included). A plain process
  without that variable serves its own default registry.
- **Stream workers** (`serve_worker_metrics`): the routing worker and the projector serve
  `/metrics` on their own port (`SADA_METRICS_PORT`, 9400; 0 turns it off).
- **Consumer lag** (`LagMeter`): `sada_consumer_lag{consumer}`, the events in the partitions a
  consumer holds that it has not processed yet, from the log's end offsets and its position.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)

from services import jsonlog
from services.eventlog.port import EventLog, Offsets
from services.metrics import CONSUMER_LAG, HTTP_DURATION

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"  # the endpoint label of a request no route matched (a 404)
CORRELATION_HEADER = "X-Correlation-Id"


def registry() -> CollectorRegistry:
    """What a scrape of this process shows: every gunicorn worker's samples merged in
    multiprocess mode, else this process's own."""
    if os.environ.get(MULTIPROC_ENV):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return merged
    return REGISTRY


def exposition() -> bytes:
    return generate_latest(registry())


# -- HTTP services ------------------------------------------------------------------------
def install(app: Flask, service: str) -> None:
    """Time every request of `app` and serve `GET /metrics`. Install before any other
    before-request hook (e.g. the auth guard), so refused requests are timed too."""

    @app.before_request
    def _start() -> None:
        g.sada_started = time.perf_counter()
        view_args = request.view_args or {}
        g.sada_log_context = jsonlog.set_context(
            correlation_id=_header_id(request.headers.get(CORRELATION_HEADER)),
            demand_id=view_args.get("demand_id"))

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("sada_started", None)
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            method = request.method if request.method in METHODS else "OTHER"
            HTTP_DURATION.labels(service, rule, method, str(response.status_code)).observe(
                time.perf_counter() - started)
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        token = g.pop("sada_log_context", None)
        if token is not None:
            with contextlib.suppress(ValueError):  # set in another context: nothing to undo
                jsonlog.reset_context(token)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(exposition(), mimetype=CONTENT_TYPE_LATEST)


def _header_id(value: str | None) -> str | None:
    """A caller's correlation id, if it looks like one (printable, at most 64 characters)."""
    if value and len(value) <= 64 and value.isprintable():
        return value
    return None


# -- stream workers -----------------------------------------------------------------------
def serve_worker_metrics(host: str, port: int) -> Callable[[], None] | None:
    """Serve `/metrics` on host:port from a background thread; returns how to stop it. Port
    0 means no metrics endpoint. A port that is taken is logged, not fatal: deciding and
    projecting matter more than being scraped."""
    if port <= 0:
        return None
    try:
        server, thread = start_http_server(port, addr=host, registry=registry())
    except OSError as exc:
        log.error("cannot serve metrics on %s:%d: %s", host, port, exc)
        return None
    log.info("metrics on http://%s:%d/metrics", host, port)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop


class LagMeter:
    """Sets `sada_consumer_lag{consumer}`: events in `assigned` partitions beyond `position`.

    An end-offsets query is a round trip to the log, so `update` asks at most once every
    `interval` seconds unless forced."""

    def __init__(self, log: EventLog, consumer: str, interval: float = 1.0) -> None:
        self.log, self.consumer, self.interval = log, consumer, interval
        self._asked = float("-inf")
        self.gauge = CONSUMER_LAG.labels(consumer=consumer)

    def update(self, position: Offsets, assigned: Iterable[int], *,
               force: bool = False) -> int | None:
        now = time.monotonic()
        if not force and now - self._asked < self.interval:
            return None
        self._asked = now
        try:
            end = self.log.end_offsets()
        except Exception:
            log.warning("cannot read the log's end offsets for %s's lag", self.consumer,
                        exc_info=True)
            return None
        lag = sum(max(0, end.get(p, 0) - position.get(p, 0)) for p in set(assigned))
        self.gauge.set(lag)
        return lag
