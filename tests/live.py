"""A Sada service app served for real over HTTP, in a thread: for tests where one service
talks to another (reporting's pages and Open311 send writes on to intake and routing)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server

from sada.processes import free_port


@contextmanager
def serving(make_app, port: int | None = None) -> Iterator[int]:
    """Serve `make_app()` on `port` (a free one if None) until the block ends; the port."""
    port = port or free_port()
    server = make_server("127.0.0.1", port, make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.shutdown()
        thread.join(timeout=5)
