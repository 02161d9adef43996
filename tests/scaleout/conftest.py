"""Each scale-out test gets its own broker: the workers' group names are fixed ("routing",
"reporting"), and a group on a shared broker would mix members of different tests.

The member that leaves mid-stream leaves as each broker allows: Tansu evicts a member that
died without a word (kill -9) once its session times out; noida-db 0.2.3 never does (its
groups wait for the dead member for good), so there it leaves with SIGTERM, which finishes
its batch and says goodbye to the group."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests import servers


@dataclass(frozen=True)
class Broker:
    name: str
    bootstrap: str
    departure: str  # how a member leaves mid-stream: "kill" (-9) or "sigterm"


DEPARTURES = {"noida": "sigterm", "tansu": "kill"}


@pytest.fixture(params=sorted(DEPARTURES))
def broker(request, tmp_path) -> Iterator[Broker]:
    proc = getattr(servers, request.param)(tmp_path).start()
    yield Broker(request.param, f"127.0.0.1:{proc.port}", DEPARTURES[request.param])
    proc.kill()
