"""Real traffic through the five real processes moves the scraped metrics by exactly the
right amounts; gunicorn's workers are summed into one scrape, dead workers included."""

from __future__ import annotations

import os
import signal

import requests

from services.events.ids import new_id
from tests.auth_helpers import bearer
from tests.observability.stack import children, scrape, total, value, wait_for

PROCESSES = ("intake", "routing", "reporting", "routing-worker", "reporting-projector")
DURATION = "sada_http_request_duration_seconds"


def demand(district: int, channel: str) -> dict:
    return {"requester": {"kind": "citizen"}, "channel": channel, "district": district,
            "neighbourhood": "محله نمونه", "category": "transport",
            "title": "چراغ راهنمایی تقاطع", "description": "تقاطع بدون چراغ است."}


def submit(stack, body: dict) -> dict:
    r = requests.post(stack.url("intake", "/demands"), json=body,
                      headers=bearer("intake_clerk", body["district"]), timeout=30)
    assert r.status_code == 202, r.text
    return r.json()


def decided(stack, demand_id: str, request_id: str) -> dict:
    r = requests.get(stack.url("reporting", f"/demands/{demand_id}"),
                     params={"decided": request_id, "wait": 30},
                     headers=bearer("headquarters"), timeout=40)
    assert r.status_code == 200, r.text
    return r.json()


def lag(stack, worker: str) -> float | None:
    return scrape(stack.metrics_url(worker)).get(
        ("sada_consumer_lag", frozenset({("consumer", worker)})))


def test_traffic_moves_every_metric_by_what_happened(stack):
    before = {p: scrape(stack.scrape_url(p)) for p in PROCESSES}

    sent = [submit(stack, demand(21, "staff_supervision")) for _ in range(4)]
    sent += [submit(stack, demand(17, "line_137")) for _ in range(3)]
    invalid = requests.post(stack.url("intake", "/demands"), json={"district": 21},
                            headers=bearer("intake_clerk", 21), timeout=30)
    anonymous = requests.post(stack.url("intake", "/demands"), json=demand(21, "web"),
                              timeout=30)
    assert (invalid.status_code, anonymous.status_code) == (422, 401)
    routed = [decided(stack, s["demand_id"], s["event_id"]) for s in sent]
    missing = requests.get(stack.url("reporting", f"/demands/{new_id()}"),
                           headers=bearer("headquarters"), timeout=30)
    assert missing.status_code == 404
    stray = requests.get(stack.url("intake", f"/no/such/{new_id()}"), timeout=30)
    for doc in routed[:2]:  # two of district 21's demands go up to the district mayor
        r = requests.post(stack.url("routing", f"/demands/{doc['demand_id']}/escalation"),
                          json={"reason": "beyond_budget"},
                          headers=bearer("department_staff", 21, doc["department"]),
                          timeout=30)
        assert r.status_code == 202, r.text
        assert decided(stack, doc["demand_id"], r.json()["request_id"])["level"] == \
            "district_mayor"

    # Both workers have done all there is: their lag is back to zero.
    for worker in ("routing-worker", "reporting-projector"):
        wait_for(lambda w=worker: lag(stack, w) == 0, what=f"{worker}'s lag to reach 0")
    after = {p: scrape(stack.scrape_url(p)) for p in PROCESSES}

    def moved(process: str, name: str, **labels: str) -> float:
        return value(after[process], name, **labels) - value(before[process], name, **labels)

    submitted = "sada_demands_submitted_total"
    assert moved("intake", submitted, district="21", channel="staff_supervision") == 4
    assert moved("intake", submitted, district="17", channel="line_137") == 3
    assert total(after["intake"], submitted) - total(before["intake"], submitted) == 7

    count = f"{DURATION}_count"
    assert moved("intake", count, service="intake", endpoint="/demands", method="POST",
                 status="202") == 7
    assert moved("intake", count, service="intake", endpoint="/demands", method="POST",
                 status="422") == 1
    assert moved("intake", count, service="intake", endpoint="/demands", method="POST",
                 status="401") == 1
    assert moved("routing", count, service="routing", method="POST", status="202",
                 endpoint="/demands/<demand_id>/escalation") == 2
    assert moved("reporting", count, service="reporting", endpoint="/demands/<demand_id>",
                 method="GET", status="200") == 9
    assert moved("reporting", count, service="reporting", endpoint="/demands/<demand_id>",
                 method="GET", status="404") == 1
    # A path no route matches is counted under one label, never under its raw path.
    assert moved("intake", count, service="intake", endpoint="<unmatched>", method="GET",
                 status=str(stray.status_code)) == 1
    assert not any("/no/such/" in dict(labels).get("endpoint", "")
                   for _, labels in after["intake"])
    # The histogram is whole: every request falls in the +Inf bucket and took some time.
    assert moved("intake", f"{DURATION}_bucket", service="intake", endpoint="/demands",
                 method="POST", status="202", le="+Inf") == 7
    assert moved("intake", f"{DURATION}_sum", service="intake", endpoint="/demands",
                 method="POST", status="202") > 0

    decisions, escalations = "sada_decisions_total", "sada_escalations_total"
    assert moved("routing-worker", decisions, type="DemandRouted", district="21") == 4
    assert moved("routing-worker", decisions, type="DemandRouted", district="17") == 3
    assert moved("routing-worker", decisions, type="DemandEscalated", district="21") == 2
    assert total(after["routing-worker"], decisions) - \
        total(before["routing-worker"], decisions) == 9
    assert moved("routing-worker", escalations, level="district_mayor", district="21") == 2
    assert total(after["routing-worker"], escalations) - \
        total(before["routing-worker"], escalations) == 2


def _workers_with_samples(stack, master: int) -> list[int]:
    """The master's live workers that have written metric samples (served a request)."""
    files = os.listdir(stack.settings.data_dir / "metrics" / "intake")
    written = {int(f.rsplit("_", 1)[1].removesuffix(".db")) for f in files}
    return sorted(children(master) & written)


def test_a_scrape_sums_every_gunicorn_worker_even_a_killed_one(stack):
    master = stack.process("intake").proc.pid
    url = stack.url("intake", "/healthz")
    for _ in range(40):  # a connection each, so both workers take some
        assert requests.get(url, timeout=10).status_code == 200
    serving = wait_for(lambda: _workers_with_samples(stack, master), what="a worker's samples")
    before = total(scrape(stack.url("intake", "/metrics")), f"{DURATION}_count")

    victim = serving[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: victim not in children(master) and len(children(master)) == 2,
             what="gunicorn to replace the killed worker")
    # Everything it counted is still in the sum: only the scrape above was added since.
    after = total(scrape(stack.url("intake", "/metrics")), f"{DURATION}_count")
    assert after == before + 1
    for _ in range(5):
        assert requests.get(url, timeout=10).status_code == 200
    again = total(scrape(stack.url("intake", "/metrics")), f"{DURATION}_count")
    assert again == after + 1 + 5
