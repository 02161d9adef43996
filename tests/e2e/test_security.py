"""Tokens on the running system: `sada run`'s demo tokens, `sada token`, the browser login."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import requests

from tests.auth_helpers import login_form_value
from tests.e2e.test_demand_journey import DEMAND


def demo_tokens(stack) -> dict[str, str]:
    """label -> token, as `sada run` printed them."""
    found = {}
    for line in stack.output:
        m = re.match(r"^    (\S.*?)\s{2,}(eyJ[\w-]+\.[\w-]+\.[\w-]+)$", line.rstrip("\n"))
        if m:
            found[m.group(1)] = m.group(2)
    return found


def test_sada_run_prints_a_working_demo_token_per_role(stack, http):
    tokens = demo_tokens(stack)
    assert set(tokens) == {
        "intake clerk, district 21", "transport staff, district 21",
        "district mayor, district 21", "headquarters", "central management", "auditor",
        "administrator"}

    def get(label, path):
        return http.get(stack.url("reporting", path),
                        headers={"Authorization": f"Bearer {tokens[label]}"})

    board = get("district mayor, district 21", "/escalations")
    assert board.status_code == 200
    assert {d["district"] for d in board.json()["items"]} == {21}
    assert get("transport staff, district 21", "/queues/21/transport").status_code == 200
    assert get("transport staff, district 21", "/queues/21/civil_works").status_code == 403
    assert get("auditor", "/demands?district=3").status_code == 200
    sent = http.post(stack.url("intake", "/demands"), json=DEMAND,
                     headers={"Authorization": f"Bearer {tokens['auditor']}"})
    assert sent.status_code == 403


def test_without_a_token_only_health_and_the_openapi_document_answer(stack, http):
    for service, path in (("intake", "/vocabulary"), ("routing", "/rules"),
                          ("reporting", "/demands"), ("reporting", "/status")):
        r = requests.get(stack.url(service, path), timeout=10)
        assert r.status_code == 401, (service, path)
        assert r.json()["code"] == 401
    r = requests.post(stack.url("intake", "/demands"), json=DEMAND, timeout=10)
    assert r.status_code == 401
    for service in ("intake", "routing", "reporting"):
        assert requests.get(stack.url(service, "/healthz"), timeout=10).status_code == 200
        assert requests.get(stack.url(service, "/openapi.json"), timeout=10).status_code == 200


def test_sada_token_signs_with_the_secret_sada_run_keeps(stack):
    env = {**os.environ, "SADA_DATA_DIR": str(stack.data_dir)}
    env.pop("SADA_AUTH_SECRET", None)
    out = subprocess.run([sys.executable, "-m", "sada.cli", "token", "--role",
                          "department_staff", "--district", "21", "--department", "transport",
                          "--ttl", "5m"], env=env, capture_output=True, text=True, check=True)
    token = out.stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(stack.url("reporting", "/queues/21/transport"), headers=headers,
                        timeout=10).status_code == 200
    bad = subprocess.run([sys.executable, "-m", "sada.cli", "token", "--role",
                          "department_staff", "--district", "21"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "department" in bad.stderr


def test_a_browser_signs_in_with_a_pasted_token(stack):
    browser = requests.Session()
    page = browser.get(stack.url("reporting", "/demands"), headers={"Accept": "text/html"},
                       allow_redirects=False, timeout=10)
    assert page.status_code == 303 and page.headers["Location"].startswith("/login?next=")
    token = stack.bearer("district_mayor", 21)["Authorization"].split()[1]
    form = browser.get(stack.url("reporting", "/login"), timeout=10).text
    signed_in = browser.post(stack.url("reporting", "/login"), allow_redirects=False,
                             data={"token": token, "next": "/demands?district=21",
                                   "csrf": login_form_value(form)}, timeout=10)
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/demands?district=21"
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    mine = browser.get(stack.url("reporting", "/demands?district=21"), timeout=10)
    assert mine.status_code == 200
    assert browser.get(stack.url("reporting", "/demands?district=3"),
                       timeout=10).status_code == 403
    form = browser.get(stack.url("reporting", "/login"), timeout=10).text
    refused = browser.post(stack.url("reporting", "/login"), allow_redirects=False, timeout=10,
                           data={"token": token + "x", "csrf": login_form_value(form)})
    assert refused.status_code == 401 and "text/html" in refused.headers["Content-Type"]


def test_sada_submit_records_as_a_clerk_of_the_district(stack, http):
    env = {**os.environ, "SADA_DATA_DIR": str(stack.data_dir)}
    for name in ("SADA_AUTH_SECRET", "SADA_TOKEN"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-m", "sada.cli", "submit", "--district", "17",
                          "--category", "urban_planning", "--neighbourhood", "زمزم",
                          "--title", "ساخت‌وساز غیرمجاز", "--description", "شرح",
                          "--url", stack.urls["intake"]],
                         env=env, capture_output=True, text=True, check=True)
    sent = json.loads(out.stdout)
    history = http.get(stack.url("reporting", f"/demands/{sent['demand_id']}/history"),
                       params={"after": sent["position"], "wait": 20},
                       headers=stack.bearer("auditor"))
    assert history.status_code == 200, history.text
    actor = history.json()["events"][0]["actor"]
    assert (actor["role"], actor["district"]) == ("intake_clerk", 17)
    assert actor["id"].startswith("cli-")
