"""gunicorn settings shared by the three services (`--config python:services.gunicorn_conf`).

gevent workers: every connection is a greenlet, not a thread from a fixed pool, so idle or
slowly trickling connections (up to `worker_connections` per worker) cost a little memory and
hold up no one; and reads that wait for the projector to reach a position (read-your-write)
wait without holding up the others. With threaded workers 32 held connections (2 workers x 16
threads) were enough to stall `/healthz` and submissions (docs/security.md, "Slow clients").
pymongo and kafka-python work unchanged under gevent's monkey patching, which gunicorn applies
in each worker before the application is loaded.

Metrics: every worker is its own process, so before the first fork `on_starting` points
prometheus_client's multiprocess mode at a directory (PROMETHEUS_MULTIPROC_DIR: the one given,
emptied of a previous run's files, or a fresh temporary one) and `child_exit` marks a dead
worker's live gauges gone; `/metrics` on any worker merges them all (services/observability.py).

Logs: every line, gunicorn's own and the application's, is JSON (services/jsonlog.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from gunicorn.glogging import Logger

from services import jsonlog

# Workers and threads, chosen with `python -m bench` (2,000 demands from 8 concurrent clients,
# the embedded default: all three services, both workers, SecantusDB and the clients on one
# 2-core machine, every service with the same settings). The machine was shared, with a load
# average of 2 to 12 during the runs, so the figures scatter: medians over 3 to 7 runs each, and
# the quietest run (load about 2 to 4). Requests or demands per second:
#
#   workers x threads   runs   intake median   end-to-end median   quietest: reference/intake/e2e
#        1 x 8            7         232              189               880 / 349 / 298
#        1 x 16           3         227              199            (load 6) 821 / 227 / 199
#        2 x 2            3         261              248            (load 6) 1015 / 261 / 248
#        2 x 4            7         197              191               962 / 346 / 336
#        2 x 8            7         234              219              1060 / 410 / 361
#        2 x 16           6         290              218              1095 / 406 / 375
#        3 x 4            3         172              164              1123 / 306 / 292
#        3 x 8            6         233              207              1178 / 362 / 348
#        4 x 4            6         207              201               898 / 333 / 314
#        4 x 8            3         191              165            (load 5) 874 / 172 / 165
#
# Two workers per two cores did best; more processes only added contention. 16 threads matched
# 8 end to end and took submissions faster under load; they also leave room for reads that wait
# for the projector (`?after=`, `?decided=`, up to 30 s each) without queueing the rest.
# ("reference" is a bare Flask endpoint under the same settings, measured in the same run.)
workers = int(os.environ.get("SADA_WEB_WORKERS", "2"))
# The figures above were measured with gthread. gevent, `python -m bench --only e2e --quick`
# (300 demands, 8 clients, load 4 to 5), end to end: gthread 111 and 87 demands/s, gevent 66,
# 70 and 161 (intake alone: gthread 221, gevent 76 and 186): within the machine's scatter,
# perhaps somewhat slower, and it keeps answering while slow clients hold connections, which
# threads did not (docs/security.md, "Slow clients"). SADA_WEB_WORKER_CLASS=gthread restores
# threads (SADA_WEB_THREADS per worker), e.g. behind a buffering proxy that absorbs slow clients.
worker_class = os.environ.get("SADA_WEB_WORKER_CLASS", "gevent")
threads = int(os.environ.get("SADA_WEB_THREADS", "16"))
worker_connections = int(os.environ.get("SADA_WEB_CONNECTIONS", "1000"))
timeout = 60
# SIGTERM: stop accepting, let requests in flight finish (a read-your-write wait is at most
# 30 s; most take milliseconds) for up to this long, then kill. Below the pods' 30 s
# terminationGracePeriodSeconds, so gunicorn, not the kubelet, ends the stragglers.
graceful_timeout = 20
keepalive = 5
# gunicorn's control socket ($HOME/.gunicorn/gunicorn.ctl) is not used, and three masters on one
# machine (`sada run`) would fight over the one path.
control_socket_disable = True
accesslog = os.environ.get("SADA_ACCESS_LOG") or None
loglevel = os.environ.get("SADA_LOG_LEVEL", "info").lower()

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_created: list[str] = []  # a temporary metrics directory this master made, removed on exit


class JsonLogger(Logger):
    """gunicorn's logger, writing Sada's JSON lines; the root logger (the application's
    records) goes the same way."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        service = jsonlog.service_of(cfg.default_proc_name)
        jsonlog.configure(service, cfg.loglevel)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(jsonlog.JsonFormatter(service))


logger_class = JsonLogger


def on_starting(server: Any) -> None:
    """Before any worker exists: the metrics directory every worker will write to."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        os.makedirs(path, exist_ok=True)
        for name in os.listdir(path):  # a previous run's samples would be counted again
            if name.endswith(".db"):
                os.remove(os.path.join(path, name))
    else:
        path = tempfile.mkdtemp(prefix="sada-metrics-")
        _created.append(path)
        os.environ[MULTIPROC_ENV] = path


def child_exit(server: Any, worker: Any) -> None:
    """A worker died or was replaced: its counters stay in the sums, its live gauges go."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    for path in _created:
        shutil.rmtree(path, ignore_errors=True)
