"""gunicorn settings shared by the three services (`--config python:services.gunicorn_conf`).

Threaded workers: reads may wait for the projector to reach a position (read-your-write),
and a waiting request must not hold up the others.
"""

import os

workers = int(os.environ.get("SADA_WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("SADA_WEB_THREADS", "8"))
timeout = 60
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("SADA_ACCESS_LOG") or None
loglevel = os.environ.get("SADA_LOG_LEVEL", "info").lower()
