"""What an auditor and an Open311 client see of the running system (`sada run` with the demo),
over HTTP only: a service request submitted and read back, the log sealed and verifiable
against the published digest, and the escalation board as of a Jalali date."""

from __future__ import annotations

import requests
from click.testing import CliRunner

from reporting.timetravel.moments import jalali
from sada.cli import main as sada
from services.events.envelope import format_time, now
from tests.e2e.conftest import wait_for


def test_an_open311_client_submits_and_reads_back(stack) -> None:
    base = stack.url("reporting", "/open311/v2")
    client = requests.Session()
    client.headers.update(stack.bearer("intake_clerk", 17))
    services = client.get(f"{base}/services.json", params={"jurisdiction_id": "tehran.ir"})
    assert services.status_code == 200
    assert "urban_planning" in {s["service_code"] for s in services.json()}
    created = client.post(f"{base}/requests.json", data={
        "jurisdiction_id": "tehran.ir", "service_code": "urban_planning",
        "attribute[district]": "17", "address_string": "زمزم، خیابان اصلی",
        "description": "درخواست بازبینی رأی کمیسیون ماده ۱۰۰", "first_name": "رضا",
        "lat": "35.66", "long": "51.35"})
    assert created.status_code == 201, created.text
    request_id = created.json()[0]["service_request_id"]

    def routed():
        r = client.get(f"{base}/requests/{request_id}.json")
        return r.status_code == 200 and r.json()[0]["agency_responsible"] and r.json()[0]

    back = wait_for(routed, timeout=30)
    assert back["status"] == "open" and back["service_code"] == "urban_planning"
    assert back["agency_responsible"] and back["expected_datetime"]
    # The demand's document is written a moment before its history (reporting/projector.py).
    def history():
        found = client.get(f"{base}/requests/{request_id}/events.json").json()
        return len(found) >= 2 and found

    events = wait_for(history)
    assert [e["type"] for e in events][:2] == ["DemandSubmitted", "DemandRouted"]


def test_the_log_is_sealed_and_verifies_against_the_published_digest(stack) -> None:
    auditor = stack.bearer("auditor")

    def sealed():
        r = requests.get(stack.url("reporting", "/audit/seal"), headers=auditor)
        return r.status_code == 200 and r.json()

    seal = wait_for(sealed, timeout=60)
    digest = seal["partitions"]["0"]["chain_digest"]
    result = CliRunner().invoke(sada, ["verify", str(stack.data_dir / "events.sqlite3"),
                                       "--digest", digest])
    assert result.exit_code == 0, result.output
    assert "sealed in this log" in result.output


def test_the_escalation_board_as_of_a_jalali_date(stack) -> None:
    when = jalali(format_time(now()))
    r = requests.get(stack.url("reporting", "/asof/escalations"), params={"at": when},
                     headers=stack.bearer("headquarters"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"]["calendar"] == "jalali" and body["count"] > 0
