"""The clerk's, department's and administrator's jobs done from the pages, in Chromium, in
Persian and in English, each page checked with axe-core, and each role's main page kept as a
screenshot in docs/screenshots/ (shown in docs/pages.md)."""

from __future__ import annotations

import re
import time

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.auth_helpers import stack_token
from tests.browser.conftest import doc_screenshot, signed_in
from tests.browser.test_pages import _submit_demand

LANGS = ["fa", "en"]


def assert_accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation, with every <details> open."""
    page.eval_on_selector_all("details", "els => els.forEach(e => e.open = true)")
    violations = Axe().run(page).response["violations"]
    found = [(v["id"], v["impact"], v["nodes"][0]["html"][:160]) for v in violations
             if v["impact"] in ("serious", "critical")]
    assert not found, (page.url, found)


def _as(browser, stack, role: str, lang: str, district: int | None = None,
        department: str | None = None):
    # axe-core is a script; the pages' policy forbids every script, so the context lifts it.
    return signed_in(browser, stack, role, district, department, bypass_csp=True,
                     locale="fa-IR" if lang == "fa" else "en-GB")


def _people(stack, demand_id: str) -> int:
    headers = stack_token(stack.data_dir, "headquarters")
    return requests.get(stack.url("reporting", f"/demands/{demand_id}"), headers=headers,
                        timeout=10).json()["supporters_count"]


def _supports(stack, demand_id: str) -> int:
    """Every support the demand has: of people, and (where routing counts them apart)
    anonymous ones."""
    headers = stack_token(stack.data_dir, "headquarters")
    doc = requests.get(stack.url("reporting", f"/demands/{demand_id}"), headers=headers,
                       timeout=10).json()
    return doc["supporters_count"] + doc.get("anonymous_supporters", 0)


def _resolve(stack, demand_id: str) -> None:
    staff = stack_token(stack.data_dir, "department_staff", 21, "transport")
    r = requests.post(stack.url("routing", f"/demands/{demand_id}/resolution"), headers=staff,
                      json={"summary": "چراغ نصب شد."}, timeout=10)
    assert r.status_code == 202, r.text
    shown = requests.get(stack.url("reporting", f"/demands/{demand_id}"), headers=staff,
                         params={"decided": r.json()["request_id"], "wait": 20}, timeout=30)
    assert shown.json()["status"] == "resolved", shown.text


@pytest.mark.parametrize("lang", LANGS)
def test_a_clerk_records_a_citizens_support(browser, stack, lang) -> None:
    demand_id = _submit_demand(stack)
    context = _as(browser, stack, "intake_clerk", lang, 21)
    page = context.new_page()
    page.goto(stack.urls["reporting"] + f"/districts/21/intake?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    assert_accessible(page)
    if lang == "fa":
        doc_screenshot(page, "clerk-intake")
    form = page.locator("#support form")
    form.locator("select[name=demand_id]").select_option(demand_id)
    form.locator("input[name=national_id]").fill("۰۴۹۹۳۷۰۸۹۹" if lang == "fa" else "0499370899")
    form.locator("input[name=on_behalf_of]").fill(f"receipt-{lang}-{demand_id[-6:]}")
    form.locator("button").click()
    page.wait_for_url(re.compile(r"/districts/21/priorities\?"))
    expect(page.locator("#result")).to_have_attribute("data-decision", "SupportRecorded")
    assert _supports(stack, demand_id) == 1
    assert _people(stack, demand_id) == 1
    assert_accessible(page)

    # The same person again, the code written with dashes: one person, refused.
    page.goto(stack.urls["reporting"] + f"/districts/21/intake?lang={lang}")
    form.locator("select[name=demand_id]").select_option(demand_id)
    form.locator("input[name=national_id]").fill("049-937089-9")
    form.locator("button").click()
    expect(page.locator("#result [data-code]")).to_have_attribute("data-code",
                                                                  "already_supported")
    assert _people(stack, demand_id) == 1

    # Resolved while the form was open: routing refuses it, and the page says why in its
    # language.
    page.goto(stack.urls["reporting"] + f"/districts/21/intake?lang={lang}")
    form.locator("select[name=demand_id]").select_option(demand_id)
    form.locator("input[name=on_behalf_of]").fill(f"receipt-{lang}-2")
    _resolve(stack, demand_id)
    form.locator("button").click()
    refused = page.locator("#result [data-code]")
    expect(refused).to_have_attribute("data-code", "not_allowed_in_state")
    assert re.search(r"[آ-ی]" if lang == "fa" else r"^[^آ-ی]*$", refused.inner_text())
    assert _supports(stack, demand_id) == 1
    context.close()


def test_only_a_clerk_is_offered_the_support_form(browser, stack) -> None:
    context = signed_in(browser, stack, "district_mayor", 21)
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/districts/21/intake")
    expect(page.locator("#demand form")).to_be_visible()
    assert page.locator("#support").count() == 0  # routing takes supports from the clerk
    context.close()


def _status(stack, demand_id: str) -> dict:
    headers = stack_token(stack.data_dir, "headquarters")
    return requests.get(stack.url("reporting", f"/demands/{demand_id}"), headers=headers,
                        timeout=10).json()


def _eventually(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.mark.parametrize("lang", LANGS)
def test_a_department_merges_a_likely_duplicate_shown_side_by_side(browser, stack,
                                                                    lang) -> None:
    first = _submit_demand(stack)
    second = _submit_demand(stack)  # the same request again, a little later
    context = _as(browser, stack, "department_staff", lang, 21, "transport")
    page = context.new_page()
    if lang == "fa":  # from the demand's page
        page.goto(stack.urls["reporting"] + f"/demands/{second}?lang={lang}")
        page.locator("a.duplicates").click()
    else:  # from the department's queue
        page.goto(stack.urls["reporting"] + f"/districts/21/departments/transport?lang={lang}")
        row = page.locator(f'tr[data-demand="{second}"]')
        row.locator("summary").click()
        row.locator(".f-merge-link a").click()
    page.wait_for_url(re.compile(rf"/demands/{second}/likely-duplicates"))
    pair = page.locator(f'section.pair[data-candidate="{first}"]')
    sides = pair.locator(".sbs .side")
    expect(sides).to_have_count(2)  # this demand beside its candidate
    expect(sides.nth(0)).to_contain_text(second)
    expect(sides.nth(1)).to_contain_text(first)
    boxes = [sides.nth(i).bounding_box() for i in range(2)]
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 2  # side by side, not one under the other
    assert_accessible(page)
    if lang == "fa":
        doc_screenshot(page, "department-duplicates")
    pair.locator("textarea[name=reason]").fill(
        "همان درخواست دوباره ثبت شده است." if lang == "fa" else "The same request, twice.")
    pair.locator("button").click()
    expect(page.locator("#result")).to_have_attribute(
        "data-decision", re.compile(r"MergeProposed|DemandMerged"))
    merged = _eventually(lambda: _status(stack, second)["status"] == "merged")
    assert merged, _status(stack, second)
    target = _status(stack, first)
    assert target["status"] in ("routed", "acknowledged"), target  # it took the duplicate in
    page.goto(stack.urls["reporting"] + f"/demands/{second}?lang={lang}")
    expect(page.locator("[data-status]").first).to_have_attribute("data-status", "merged")
    assert page.locator("a.duplicates").count() == 0  # closed: nothing left to merge
    context.close()


def test_the_merge_form_is_offered_only_at_the_demands_rung(browser, stack) -> None:
    first, second = _submit_demand(stack), _submit_demand(stack)
    context = signed_in(browser, stack, "auditor")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + f"/demands/{second}/likely-duplicates")
    expect(page.locator(f'section.pair[data-candidate="{first}"]')).to_be_visible()
    assert page.locator("form.f-merge").count() == 0  # the auditor only reads
    context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_an_administrator_tries_publishes_and_closes_offices(browser, stack, lang) -> None:
    context = _as(browser, stack, "administrator", lang)
    page = context.new_page()
    page.goto(stack.urls["reporting"] + f"/rules?lang={lang}")
    version = int(page.locator("#rule-table").get_attribute("data-version"))
    assert_accessible(page)
    if lang == "fa":
        doc_screenshot(page, "administrator-rules")

    # Tried first: routing replays the history under it and the page tables the difference.
    page.locator("#what-if textarea[name=changes]").fill(
        'calendar: {opens: "07:30", closes: "09:30"}')
    page.locator("#what-if button").click()
    report = page.locator("#what-if-report")
    expect(report).to_be_visible()
    assert int(report.get_attribute("data-demands")) > 0
    deadlines = report.locator('table[data-table="deadlines"]')
    expect(deadlines.locator("th[scope=row]").first).to_be_visible()
    words = deadlines.locator("tbody th").all_inner_texts()
    assert words and not (lang == "fa" and any(re.search("[A-Za-z]", w) for w in words)), words
    expect(report.locator('table[data-table="levels"]')).to_be_visible()
    assert_accessible(page)
    if lang == "en":
        report.evaluate("e => e.scrollIntoView()")
        doc_screenshot(page, "administrator-what-if")
    assert int(page.locator("#rule-table").get_attribute("data-version")) == version  # tried

    # The publish form holds the change as tried: a note, and publish.
    publish = page.locator("#publish form")
    expect(publish.locator("textarea[name=changes]")).to_have_value(
        'calendar: {opens: "07:30", closes: "09:30"}')
    publish.locator("textarea[name=changes]").fill("lifecycle: {wait_hours: 35}")
    publish.locator("input[name=note]").fill(
        "پاسخ شهروند در پنج روز کاری" if lang == "fa" else "Five working days to answer")
    publish.locator("button").click()
    expect(page.locator("#result")).to_have_attribute("data-done", "published")
    assert int(page.locator("#rule-table").get_attribute("data-version")) > version

    # An office closure, through routing's POST /closures.
    reason = f"آلودگی هوا {lang}" if lang == "fa" else f"Air pollution {lang}"
    close = page.locator("#close form")
    close.locator("select[name=district]").select_option("22")
    day = "2027-01-1" + ("1" if lang == "fa" else "2")
    close.locator("input[name=start]").fill(f"{day}T07:30")
    close.locator("input[name=end]").fill(f"{day}T14:30")
    close.locator("select[name=kind]").select_option("pollution")
    close.locator("input[name=reason]").fill(reason)
    close.locator("button").click()
    expect(page.locator("#result")).to_have_attribute("data-done", "closed")
    expect(page.locator("#calendar li[data-closure]", has_text=reason)).to_have_count(1)
    assert_accessible(page)
    context.close()


MAIN_PAGES = [  # (screenshot, role, district, department, path): each role's own main page
    ("headquarters", "headquarters", None, None, "/"),
    ("central-management", "central_management", None, None, "/?lang=en"),
    ("department", "department_staff", 21, "transport", "/districts/21/departments/transport"),
    ("mayor-desk", "district_mayor", 21, None, "/districts/21/mayor"),
    ("priorities", "district_mayor", 21, None, "/districts/21/priorities"),
    ("auditor", "auditor", None, None, "/audit?lang=en"),
]


@pytest.mark.parametrize(("name", "role", "district", "department", "path"), MAIN_PAGES,
                         ids=[p[0] for p in MAIN_PAGES])
def test_each_roles_main_page_is_kept_for_the_docs(browser, stack, name, role, district,
                                                   department, path) -> None:
    """docs/pages.md shows these; the clerk's, the department's duplicates and the
    administrator's pages are taken in their flows above."""
    context = signed_in(browser, stack, role, district, department)
    page = context.new_page()
    page.goto(stack.urls["reporting"] + path)
    expect(page.locator("h1")).to_be_visible()
    doc_screenshot(page, name)
    context.close()
