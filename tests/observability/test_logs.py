"""Every process of a running Sada logs one JSON object per line, naming its service, and a
line about a demand carries the demand's correlation id."""

from __future__ import annotations

import requests

from services.events.ids import new_id
from tests.observability.stack import wait_for
from tests.observability.test_metrics import decided, demand, submit

KEYS = {"time", "level", "service", "logger", "message", "correlation_id"}


def test_every_line_of_every_process_is_json_with_the_demand_it_is_about(stack):
    sent = submit(stack, demand(8, "web"))
    decided(stack, sent["demand_id"], sent["event_id"])
    ghost = new_id()
    refused = requests.get(stack.url("reporting", f"/demands/{ghost}"),
                           headers={"X-Correlation-Id": "corr-test-0001"}, timeout=30)
    assert refused.status_code == 401

    names = [p.name for p in stack.embedded.procs]  # every process `sada run` starts
    assert {"intake", "routing", "reporting", "routing-worker", "reporting-projector"} <= \
        set(names)
    for name in names:
        lines = stack.log_lines(name)
        assert lines, f"{name} logged nothing"
        for line in lines:
            assert set(line) >= KEYS, line
            assert line["service"] == name, line
            assert line["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

    def about(name: str, **fields: str) -> list[dict]:
        return [x for x in stack.log_lines(name)
                if all(x.get(k) == v for k, v in fields.items())]

    # The event's correlation id, from intake recording it to the worker deciding on it.
    correlation = {"correlation_id": sent["event_id"], "demand_id": sent["demand_id"]}
    assert about("intake", **correlation)
    wait_for(lambda: about("routing-worker", **correlation), what="the decision's log line")
    assert "DemandRouted" in about("routing-worker", **correlation)[0]["message"]
    # A request's own correlation id and the demand in its path, on what it causes.
    assert about("reporting", correlation_id="corr-test-0001", demand_id=ghost,
                 level="WARNING")
    # gunicorn's own lines are JSON too.
    assert about("intake", logger="gunicorn.error")


def test_healthz_and_readyz_of_every_service_need_no_token(stack):
    # Under `sada run` every service also reports on the processes the runner keeps alive.
    expected = {"intake": {"event_log", "processes"},
                "routing": {"event_log", "read_models", "processes"},
                "reporting": {"read_models", "projector_lag", "processes"}}
    for service, checks in expected.items():
        assert requests.get(stack.url(service, "/healthz"), timeout=10).status_code == 200
        r = requests.get(stack.url(service, "/readyz"), timeout=10)
        assert r.status_code == 200, r.text
        assert r.json() == {"status": "ready", "checks": {c: "ok" for c in checks}}
