"""A demand's journey through the running system, over HTTP only."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import wait_for

DEMAND = {
    "requester": {"kind": "neighbourhood_trustee", "name": "معتمد محله ویلاشهر"},
    "channel": "staff_supervision",
    "district": 21,
    "neighbourhood": "ویلاشهر",
    "category": "transport",
    "title": "ترافیک ورودی تهرانسر",
    "description": "صف خودروها هر صبح تا بزرگراه کشیده می‌شود.",
}


@pytest.fixture(autouse=True)
def reads_as_headquarters(stack, http):
    """Reads go out with a headquarters token; writes send their own."""
    http.headers.update(stack.bearer("headquarters"))


def submit(stack, http, body=DEMAND, key=None):
    headers = {**stack.bearer("intake_clerk", 21), **({"Idempotency-Key": key} if key else {})}
    r = http.post(stack.url("intake", "/demands"), json=body, headers=headers)
    assert r.status_code == 202, r.text
    return r.json()


def act(stack, http, demand_id, action, body):
    dept = stack.bearer("department_staff", 21, "transport")
    r = http.post(stack.url("routing", f"/demands/{demand_id}/{action}"), json=body, headers=dept)
    assert r.status_code == 202, r.text
    return r.json()


def demand_after_decision(stack, http, demand_id, request_id):
    r = http.get(stack.url("reporting", f"/demands/{demand_id}"),
                 params={"decided": request_id, "wait": 20})
    assert r.status_code == 200, r.text
    return r.json()


def history_of(stack, http, demand_id):
    r = http.get(stack.url("reporting", f"/demands/{demand_id}/history"))
    assert r.status_code == 200, r.text
    return r.json()["events"]


def test_submit_route_acknowledge_resolve_history(stack, http):
    sent = submit(stack, http)
    demand_id = sent["demand_id"]
    demand = demand_after_decision(stack, http, demand_id, sent["event_id"])
    assert demand["status"] == "routed"
    assert demand["queue"] == "21/transport"

    queue = http.get(stack.url("reporting", "/queues/21/transport")).json()
    assert demand_id in [d["demand_id"] for d in queue["items"]]
    assert queue["total"] >= queue["count"] >= 1
    deadlines = [d["deadline"] for d in queue["items"]]
    assert deadlines == sorted(deadlines)

    ack = act(stack, http, demand_id, "acknowledge", {"note": "بررسی شد"})
    acked = demand_after_decision(stack, http, demand_id, ack["request_id"])
    assert acked["status"] == "acknowledged"
    done = act(stack, http, demand_id, "resolution", {"summary": "چراغ راهنمایی نصب شد"})
    resolved = demand_after_decision(stack, http, demand_id, done["request_id"])
    assert resolved["status"] == "resolved"

    queue = http.get(stack.url("reporting", "/queues/21/transport")).json()
    assert demand_id not in [d["demand_id"] for d in queue["items"]]

    history = history_of(stack, http, demand_id)
    assert [e["type"] for e in history] == [
        "DemandSubmitted", "DemandRouted", "AcknowledgementRequested", "DemandAcknowledged",
        "ResolutionReported", "DemandResolved"]
    offsets = [tuple(map(int, e["position"].split(":"))) for e in history]
    assert offsets == sorted(offsets)


def test_action_not_allowed_is_rejected_visibly(stack, http):
    sent = submit(stack, http)
    demand_after_decision(stack, http, sent["demand_id"], sent["event_id"])
    # Resolve and then try to acknowledge: the second is not allowed on a resolved demand.
    done = act(stack, http, sent["demand_id"], "resolution", {"summary": "انجام شد"})
    demand_after_decision(stack, http, sent["demand_id"], done["request_id"])
    late = act(stack, http, sent["demand_id"], "acknowledge", {})
    demand = demand_after_decision(stack, http, sent["demand_id"], late["request_id"])
    assert demand["status"] == "resolved"
    history = history_of(stack, http, sent["demand_id"])
    assert history[-1]["type"] == "ActionRejected"
    assert history[-1]["causation_id"] == late["request_id"]


def test_retried_submission_makes_one_demand(stack, http):
    key = str(uuid.uuid4())
    first = submit(stack, http, key=key)
    second = submit(stack, http, key=key)
    assert first["demand_id"] == second["demand_id"]
    demand_after_decision(stack, http, first["demand_id"], first["event_id"])
    history = history_of(stack, http, first["demand_id"])
    assert [e["type"] for e in history].count("DemandSubmitted") == 1
    assert [e["type"] for e in history].count("DemandRouted") == 1


def test_a_key_is_the_clerks_own_and_bound_to_the_body(stack, http):
    """Over the running services (several worker processes): two clerks with one key make two
    demands; a clerk reusing a key for another demand gets a 422 and nothing is recorded."""
    key = f"item-{uuid.uuid4()}"
    garbage = {**DEMAND, "category": "urban_services", "title": "جمع‌آوری زباله"}
    lights = http.post(stack.url("intake", "/demands"), json={**DEMAND, "district": 5},
                       headers={**stack.bearer("intake_clerk", 5), "Idempotency-Key": key})
    ours = submit(stack, http, body=garbage, key=key)
    assert lights.status_code == 202, lights.text
    assert ours["demand_id"] != lights.json()["demand_id"]
    assert demand_after_decision(stack, http, ours["demand_id"],
                                 ours["event_id"])["title"] == "جمع‌آوری زباله"
    for _ in range(4):  # whichever worker process answers
        reused = http.post(stack.url("intake", "/demands"), json=DEMAND, headers={
            **stack.bearer("intake_clerk", 21), "Idempotency-Key": key})
        assert reused.status_code == 422, reused.text
        assert "Idempotency-Key" in reused.json()["errors"]["headers"]
        assert submit(stack, http, body=garbage, key=key) == ours
    assert [e["type"] for e in history_of(stack, http, ours["demand_id"])].count(
        "DemandSubmitted") == 1


def test_demo_data_is_loaded_and_escalations_reach_headquarters(stack, http):
    board = wait_for(lambda: http.get(stack.url("reporting", "/escalations")).json()["items"])
    levels = {d["level"] for d in board}
    assert levels & {"headquarters", "central_management"}
    assert all(d["level"] != "department" for d in board)


def test_bad_input_is_a_clear_422_and_writes_nothing(stack, http):
    before = http.get(stack.url("reporting", "/status")).json()
    r = http.post(stack.url("intake", "/demands"), json={**DEMAND, "district": 23},
                  headers=stack.bearer("intake_clerk", 21))
    assert r.status_code == 422
    assert "district" in r.json()["errors"]["json"]
    after = http.get(stack.url("reporting", "/status")).json()
    assert after["end_offsets"] == before["end_offsets"]


def test_every_service_serves_health_and_openapi(stack, http):
    for service in ("intake", "routing", "reporting"):
        assert http.get(stack.url(service, "/healthz")).status_code == 200
        spec = http.get(stack.url(service, "/openapi.json")).json()
        assert spec["openapi"].startswith("3.")
        assert spec["paths"]
