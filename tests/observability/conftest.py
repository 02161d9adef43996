from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.observability import stack as stack_module


@pytest.fixture(scope="package")
def stack(tmp_path_factory, mongo_url) -> Iterator[stack_module.Stack]:
    """A fresh Sada (SQLite log, its own read-model database) shared by this package's
    tests; each looks only at what its own traffic changed."""
    from pymongo import MongoClient

    name = f"t_{uuid.uuid4().hex[:12]}"
    running = stack_module.start(tmp_path_factory.mktemp("sada"), mongo_url, name)
    yield running
    running.embedded.stop()
    with MongoClient(mongo_url) as client:
        client.drop_database(name)
