"""`sada run` itself: what it starts it stops, and what it recorded is there after a restart."""

from __future__ import annotations

from urllib.parse import urlparse

import requests

from sada.processes import port_open
from tests.e2e.conftest import start_stack, stop_stack, wait_for
from tests.e2e.test_demand_journey import DEMAND


def _ports(stack) -> list[int]:
    return [urlparse(u).port for u in stack.urls.values()]


def test_stop_stops_everything_and_a_restart_keeps_the_data(tmp_path):
    stack = start_stack(tmp_path, demo=False)
    try:
        sent = requests.post(stack.url("intake", "/demands"), json=DEMAND, timeout=30,
                             headers=stack.bearer("intake_clerk", 21)).json()
        demand_url = stack.url("reporting", f"/demands/{sent['demand_id']}")
        mayor = stack.bearer("district_mayor", 21)
        routed = requests.get(demand_url, params={"decided": sent["event_id"], "wait": 20},
                              headers=mayor, timeout=30).json()
        assert routed["status"] == "routed"
    finally:
        stop_stack(stack)
    assert stack.proc.returncode == 0
    assert not any(port_open("127.0.0.1", p) for p in _ports(stack))

    again = start_stack(tmp_path, demo=False)
    try:
        url = again.url("reporting", f"/demands/{sent['demand_id']}")
        # The secret is kept in the data dir: a token from before the restart still works.
        demand = wait_for(lambda: requests.get(url, headers=mayor, timeout=30).json(),
                          timeout=30)
        assert demand["status"] == "routed"
        assert demand["queue"] == "21/transport"
    finally:
        stop_stack(again)
