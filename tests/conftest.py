"""Session-wide real servers and per-test isolation.

Servers start once per test session (each in ~0.1-0.5 s) on free loopback ports and are
killed at the end. Tests isolate themselves with fresh topic and database names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from tests import servers


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory) -> Iterator:
    yield tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session")
def noida_bootstrap(server_dir) -> Iterator[str]:
    proc = servers.noida(server_dir).start()
    yield f"127.0.0.1:{proc.port}"
    proc.kill()


@pytest.fixture(scope="session")
def tansu_bootstrap(server_dir) -> Iterator[str]:
    proc = servers.tansu(server_dir).start()
    yield f"127.0.0.1:{proc.port}"
    proc.kill()


@pytest.fixture(scope="session")
def mongo_server(server_dir):
    proc = servers.mongo(server_dir).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def mongo_url(mongo_server) -> str:
    return f"mongodb://127.0.0.1:{mongo_server.port}"


@pytest.fixture
def mongo_db(mongo_url) -> Iterator:
    """A fresh database per test, dropped afterwards (with the key store made beside it)."""
    client = MongoClient(mongo_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield client[name]
    client.drop_database(name)
    client.drop_database(f"{name}_keys")
    client.close()


@pytest.fixture
def unique_name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"
