"""Reporting's pages in real headless Chromium, on `sada run` with the demo history."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import jdatetime
import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import Page, expect

from tests.auth_helpers import stack_token
from tests.browser.conftest import ARTIFACTS, assert_not_blank, screenshot, signed_in

PERSIAN_YEAR = re.compile(r"۱۴[۰-۹]{2}")
GREGORIAN = re.compile(r"20\d\d-\d\d-\d\d \d\d:\d\d")


def jalali_days_ago(days: int) -> str:
    then = jdatetime.date.today() - timedelta(days=days)
    return then.strftime("%Y/%m/%d").translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def direction_of(page: Page, selector: str = "body") -> str:
    return page.eval_on_selector(selector, "e => getComputedStyle(e).direction")


def assert_jalali_with_gregorian_title(page: Page) -> None:
    stamp = page.locator("main time").first
    assert PERSIAN_YEAR.search(stamp.inner_text()), stamp.inner_text()
    assert GREGORIAN.search(stamp.get_attribute("title") or ""), stamp.get_attribute("title")
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp.get_attribute("datetime"))


def test_headquarters_board_in_persian_right_to_left(browser, stack) -> None:
    context = signed_in(browser, stack, "headquarters")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/")
    html = page.locator("html")
    assert (html.get_attribute("dir"), html.get_attribute("lang")) == ("rtl", "fa")
    assert direction_of(page) == "rtl" and direction_of(page, "table.board") == "rtl"
    expect(page.locator("h1")).to_have_text("ستاد: تابلوی ارجاع‌ها")
    assert_jalali_with_gregorian_title(page)
    # Overdue escalations come first on the board.
    rows = page.locator("table.board tbody tr")
    assert rows.count() > 0
    overdue = [("overdue" in (rows.nth(i).get_attribute("class") or ""))
               for i in range(rows.count())]
    assert overdue == sorted(overdue, reverse=True), overdue
    # The weekly chart is inline SVG with bars; trend, SLA, topics and outcomes are shown.
    assert page.locator("svg.chart rect").count() >= 8
    assert page.locator("#sla tbody tr").count() >= 2
    monday = page.locator('#mix tr[data-channel="monday_public_meeting"]')
    expect(monday).to_contain_text("شهرسازی و ساختمان")
    expect(page.locator('#outcomes tr[data-kind="citizen"]')).to_contain_text("شهروند")
    expect(page.locator('#outcomes tr[data-kind="prayer_leader"]')).to_be_visible()
    screenshot(page, "headquarters")
    context.close()


def test_english_switch_is_left_to_right_and_remembered(browser, stack) -> None:
    context = signed_in(browser, stack, "headquarters", locale="en-GB")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/")
    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile(r"lang=en"))
    assert (page.locator("html").get_attribute("dir"), direction_of(page)) == ("ltr", "ltr")
    expect(page.locator("h1")).to_have_text("Headquarters: the escalation board")
    stamp = page.locator("main time").first
    assert re.search(r"\b14\d\d\b", stamp.inner_text())  # Jalali, Latin digits
    screenshot(page, "headquarters-en")
    page.goto(stack.urls["reporting"] + "/audit")  # the cookie keeps English
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="فارسی").click()
    assert page.locator("html").get_attribute("dir") == "rtl"
    context.close()


CHART_BOXES = """svg => {
  const frame = svg.getBoundingClientRect();
  const box = e => { const r = e.getBoundingClientRect();
    return {text: e.textContent, month: e.classList.contains('month'),
            left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  return {frame: {left: frame.left, right: frame.right, top: frame.top, bottom: frame.bottom},
          labels: [...svg.querySelectorAll('text.label tspan')].map(box),
          ticks: [...svg.querySelectorAll('text.tick')].map(box)};
}"""


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_chart_labels_are_whole_and_apart(browser, stack, lang) -> None:
    context = signed_in(browser, stack, "headquarters")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + f"/?lang={lang}")
    drawn = page.locator("svg.chart").evaluate(CHART_BOXES)
    labels, frame = drawn["labels"], drawn["frame"]
    months = jdatetime.date.j_months_en if lang == "en" else jdatetime.date.j_months_fa
    named = [b["text"] for b in labels if b["month"]]
    assert named and set(named) <= set(months), named  # whole names, never "Aba", "Aza"
    for b in labels + drawn["ticks"]:  # nothing cut at the chart's edges
        assert frame["left"] <= b["left"] and b["right"] <= frame["right"], b
        assert b["bottom"] <= frame["bottom"], b
    for i, a in enumerate(labels):  # and no two labels overlap
        for b in labels[i + 1:]:
            apart = (a["right"] <= b["left"] or b["right"] <= a["left"]
                     or a["bottom"] <= b["top"] or b["bottom"] <= a["top"])
            assert apart, (a, b, labels)
    page.locator("svg.chart").screenshot(path=str(ARTIFACTS / f"chart-{lang}.png"))
    context.close()


def _submit_demand(stack, category: str = "transport", queue: str = "21/transport") -> str:
    """A new demand in district 21 (transport unless said), through intake, once routed."""
    clerk = stack_token(stack.data_dir, "intake_clerk", 21)
    r = requests.post(stack.url("intake", "/demands"), headers=clerk, timeout=10, json={
        "requester": {"kind": "council_member"}, "channel": "staff_supervision",
        "district": 21, "neighbourhood": "ویلاشهر", "category": category,
        "title": "چراغ عابر پیاده جلوی دبستان", "description": "عبور دانش‌آموزان خطرناک است."})
    assert r.status_code == 202, r.text
    sent = r.json()
    routed = requests.get(stack.url("reporting", f"/demands/{sent['demand_id']}"),
                          params={"decided": sent["event_id"], "wait": 20}, headers=clerk,
                          timeout=30)
    assert routed.json()["queue"] == queue, routed.text
    return sent["demand_id"]


def test_a_department_acts_through_its_forms(browser, stack) -> None:
    demand_id = _submit_demand(stack)
    context = signed_in(browser, stack, "department_staff", 21, "transport")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/districts/21/departments/transport")
    assert direction_of(page) == "rtl"
    row = page.locator(f'tr[data-demand="{demand_id}"]')
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "routed")
    deadlines = page.locator("table.queue tbody tr td:nth-child(5) time").evaluate_all(
        "els => els.map(e => e.getAttribute('datetime'))")
    assert deadlines == sorted(deadlines)  # oldest deadline first

    row.locator("summary").click()
    row.locator("form.f-acknowledge textarea").fill("کارشناس ترافیک بازدید می‌کند.")
    row.locator("form.f-acknowledge button").click()
    expect(page.locator("#result")).to_have_attribute("data-decision", "DemandAcknowledged")
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "acknowledged")
    screenshot(page, "department")

    row.locator("summary").click()
    row.locator("form.f-ask textarea").fill("کدام ساعت‌ها شلوغ‌تر است؟")
    row.locator("form.f-ask button").click()
    expect(page.locator("#result")).to_have_attribute("data-decision", "WaitingOnRequester")
    expect(row).to_have_attribute("data-waiting", "true")  # marked, its deadlines paused
    expect(row).to_contain_text("کدام ساعت‌ها شلوغ‌تر است؟")
    assert row.locator("form.f-ask").count() == 0  # one question at a time

    row.locator("summary").click()
    row.locator("form.f-escalate select").select_option("beyond_budget")
    row.locator("form.f-escalate textarea").fill("نیاز به اعتبار ستادی دارد.")
    row.locator("form.f-escalate button").click()
    expect(page.locator("#result")).to_have_attribute("data-decision", "DemandEscalated")
    expect(row).to_have_count(0)  # escalated: it has left the department's queue

    page.locator("#result a").click()  # to the demand's timeline
    escalated = page.locator("li.ev-DemandEscalated")
    expect(escalated).to_contain_text("فراتر از بودجه منطقه")
    expect(escalated).to_contain_text("نیاز به اعتبار ستادی دارد.")
    ack = page.locator("li.ev-AcknowledgementRequested")
    expect(ack).to_contain_text("department_staff-21-transport")
    context.close()


def _escalated_to_the_mayor(stack) -> str:
    """A new demand of district 21, escalated by its department to the district mayor."""
    demand_id = _submit_demand(stack)
    staff = stack_token(stack.data_dir, "department_staff", 21, "transport")
    r = requests.post(stack.url("routing", f"/demands/{demand_id}/escalation"), headers=staff,
                      json={"reason": "beyond_authority"}, timeout=10)
    assert r.status_code == 202, r.text
    shown = requests.get(stack.url("reporting", f"/demands/{demand_id}"), headers=staff,
                         params={"decided": r.json()["request_id"], "wait": 20}, timeout=30)
    assert shown.json()["level"] == "district_mayor", shown.text
    return demand_id


def test_the_mayor_escalates_and_headquarters_sends_back_from_their_pages(browser,
                                                                          stack) -> None:
    demand_id = _escalated_to_the_mayor(stack)
    mayor = signed_in(browser, stack, "district_mayor", 21)
    page = mayor.new_page()
    page.goto(stack.urls["reporting"] + "/")
    page.get_by_role("link", name="میز شهردار").click()
    row = page.locator(f'#rung tr[data-demand="{demand_id}"]')
    assert row.locator("form.f-send_back").count() == 0  # the mayor sends nothing back
    row.locator("summary").click()
    screenshot(page, "mayor-desk", full_page=False)
    row.locator("form.f-escalate select").select_option("cross_district")
    row.locator("form.f-escalate textarea").fill("به دو منطقه مربوط است.")
    row.locator("form.f-escalate button").click()
    expect(page.locator("#result")).to_have_attribute("data-decision", "DemandEscalated")
    expect(row).to_have_count(0)  # with headquarters now
    mayor.close()

    hq = signed_in(browser, stack, "headquarters")
    page = hq.new_page()
    page.goto(stack.urls["reporting"] + "/")
    row = page.locator(f'table.board tr[data-demand="{demand_id}"]')
    expect(row).to_have_attribute("data-level", "headquarters")
    row.locator("summary").click()
    send_back = row.locator("form.f-send_back")
    send_back.locator("select").select_option("department")
    send_back.locator("textarea").fill("با پلیس راهور هماهنگ و ظرف دو روز گزارش شود.")
    send_back.locator("input[name=resolve_hours]").fill("16")
    screenshot(page, "board-send-back", full_page=False)
    send_back.locator("button").click()
    expect(page.locator("#result")).to_have_attribute("data-decision", "DemandSentBack")
    expect(row).to_have_count(0)  # back in the department's queue
    page.locator("#result a").click()
    sent = page.locator("li.ev-DemandSentBack")
    expect(sent).to_contain_text("با پلیس راهور هماهنگ و ظرف دو روز گزارش شود.")
    expect(sent).to_contain_text("معاونت منطقه")
    expect(page.locator("[data-status]").first).to_have_attribute("data-status", "routed")
    hq.close()


def test_central_management_calls_a_demand_up_from_the_board(browser, stack) -> None:
    demand_id = _escalated_to_the_mayor(stack)
    context = signed_in(browser, stack, "central_management")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/")
    row = page.locator(f'table.board tr[data-demand="{demand_id}"]')
    expect(row).to_have_attribute("data-level", "district_mayor")
    row.locator("summary").click()
    assert row.locator("form").count() == 1  # not its rung: it may only call it up
    call_up = row.locator("form.f-call_up")
    call_up.locator("select").select_option("macro_challenge")
    call_up.locator("textarea").fill("در جلسه نظارت ستادی مطرح شد.")
    call_up.locator("button").click()
    expect(page.locator("#result")).to_have_attribute("data-decision", "DemandEscalated")
    expect(row).to_have_attribute("data-level", "central_management")
    context.close()


def test_the_mayor_sends_a_demand_on_from_the_triage_desk(browser, stack) -> None:
    demand_id = _submit_demand(stack, "other", "21/mayor_triage")  # no rule: the triage desk
    context = signed_in(browser, stack, "district_mayor", 21, locale="en-GB")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/districts/21/mayor?lang=en")
    row = page.locator(f'#triage tr[data-demand="{demand_id}"]')
    row.locator("summary").click()
    transfer = row.locator("form.f-transfer")
    transfer.locator("select[name=to_department]").select_option("urban_services")
    transfer.locator("textarea").fill("Street lighting: urban services.")
    transfer.locator("button").click()
    expect(page.locator("#result")).to_have_attribute("data-decision", "DemandTransferred")
    expect(row).to_have_count(0)  # off the triage desk
    page.locator("#result a").click()
    moved = page.locator("li.ev-DemandTransferred")
    expect(moved).to_contain_text("Sent on from the triage desk")
    expect(moved).to_contain_text("Street lighting: urban services.")
    expect(page.locator("dl.facts").first).to_contain_text("Urban services and environment")
    context.close()


def test_a_demands_timeline_explains_every_decision(browser, stack) -> None:
    context = signed_in(browser, stack, "headquarters")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/")
    page.locator("table.board tbody tr a").first.click()
    page.wait_for_selector("ol.timeline")
    types = page.locator("ol.timeline > li").evaluate_all(
        "els => els.map(e => e.dataset.type)")
    assert types[:2] == ["DemandSubmitted", "DemandRouted"] and "DemandEscalated" in types
    routed = page.locator("li.ev-DemandRouted").first
    assert re.fullmatch(r"[a-z0-9_.-]+", routed.locator("code").first.inner_text())  # rule id
    assert routed.locator("time").count() >= 2  # when, and the deadline it set
    routed.locator("details.why summary").click()  # why this deadline: rule, SLA, calendar
    expect(routed.locator("details.why")).to_contain_text("سیاست مهلت")
    expect(page.locator("li.ev-DemandEscalated").first).to_contain_text("علت")
    assert direction_of(page, "ol.timeline") == "rtl"
    assert_jalali_with_gregorian_title(page)
    screenshot(page, "demand")
    context.close()


def test_a_district_mayor_sees_only_their_district(browser, stack) -> None:
    context = signed_in(browser, stack, "district_mayor", 21)
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/")
    districts = page.locator("#sla tbody tr").evaluate_all(
        "els => els.map(e => e.dataset.district)")
    assert districts == ["21"]
    context.close()


def test_audit_search_and_history(browser, stack) -> None:
    context = signed_in(browser, stack, "auditor")
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/audit")
    page.locator('form[role=search] select[name="district"]').select_option("17")
    page.locator('form[role=search] select[name="category"]').select_option("urban_planning")
    page.get_by_role("button", name="جست‌وجو").click()
    page.wait_for_url(re.compile(r"district=17"))
    rows = page.locator("table.results tbody tr")
    assert rows.count() > 0
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {"۱۷"}
    screenshot(page, "audit")
    with page.expect_navigation():
        rows.first.get_by_role("link", name="تاریخچه").click()
    assert '"events"' in page.content()
    page.go_back()
    # The board as it stood a week ago (time travel), asked in Jalali with Persian digits.
    tools = page.locator("#tools form")
    tools.locator("input[name=at]").fill(jalali_days_ago(7))
    with page.expect_navigation():
        tools.locator("button").click()
    assert "/asof/escalations" in page.url and '"as_of"' in page.content()
    context.close()


def test_signing_in_through_the_login_page(browser, stack) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/audit")
    assert "/login" in page.url
    token = stack_token(stack.data_dir, "auditor")["Authorization"].split()[1]
    page.locator("textarea[name=token]").fill(token)
    page.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_have_text("حسابرسی")
    context.close()


ATTACK = """<!doctype html><html><body>
<form id="f" method="post" action="{url}/login">
<input name="token" value="{token}"><input name="next" value="/">
<input name="csrf" value="guessed"></form>
<script>document.getElementById("f").submit()</script></body></html>"""


def test_another_sites_page_cannot_sign_a_browser_in(browser, stack) -> None:
    """Login CSRF in a real browser: a page on another site auto-submits the attacker's
    token to /login; the signed-in headquarters user stays signed in as themselves."""
    context = signed_in(browser, stack, "headquarters")
    mine = context.cookies(stack.urls["reporting"])
    attacker = stack_token(stack.data_dir, "intake_clerk", 4)["Authorization"].split()[1]
    context.route("http://evil.example/**", lambda route: route.fulfill(
        status=200, content_type="text/html",
        body=ATTACK.format(url=stack.urls["reporting"], token=attacker)))
    page = context.new_page()
    page.goto("http://evil.example/")
    page.wait_for_url(re.compile(re.escape(stack.urls["reporting"]) + r"/login"))
    page.wait_for_load_state()
    assert context.cookies(stack.urls["reporting"]) == mine  # not replaced by the attacker's
    expect(page.locator(".error")).to_contain_text("did not come from this site")
    page.goto(stack.urls["reporting"] + "/")
    expect(page.locator("h1")).to_have_text("ستاد: تابلوی ارجاع‌ها")
    context.close()


def test_a_blank_screenshot_is_caught() -> None:
    blank = io.BytesIO()
    Image.new("RGB", (1280, 900), "white").save(blank, "PNG")
    with pytest.raises(AssertionError, match="blank"):
        assert_not_blank(blank.getvalue(), "blank")


A11Y_PAGES = [  # (role, district, department, path): each role's own pages, in both languages
    ("headquarters", None, None, "/"), ("central_management", None, None, "/?lang=en"),
    ("department_staff", 21, "transport", "/districts/21/departments/transport"),
    ("department_staff", 21, "transport", "/districts/21/departments/transport?lang=en"),
    ("district_mayor", 21, None, "/districts/21/mayor"),
    ("district_mayor", 21, None, "/districts/21/mayor?lang=en"),
    ("district_mayor", 21, None, "/districts/21/meetings"),
    ("district_mayor", 21, None, "/districts/21/priorities?lang=en"),
    ("auditor", None, None, "/audit"), ("auditor", None, None, "/audit?lang=en"),
]


READ_ONLY_PAGES = {"/districts/21/meetings", "/districts/21/priorities?lang=en", "/audit",
                   "/audit?lang=en"}


@pytest.fixture(scope="module")
def something_to_do(stack) -> None:
    """A demand in 21/transport's queue, one at the mayor's rung and one on the triage desk,
    so that every page checked shows its action forms."""
    _submit_demand(stack)
    _escalated_to_the_mayor(stack)
    _submit_demand(stack, "other", "21/mayor_triage")


@pytest.mark.parametrize(("role", "district", "department", "path"), A11Y_PAGES,
                         ids=[p[3] for p in A11Y_PAGES])
def test_axe_finds_no_serious_or_critical_violation(browser, stack, something_to_do, role,
                                                     district, department, path) -> None:
    # axe-core is a script; the pages' policy forbids every script, so this context lifts it.
    context = signed_in(browser, stack, role, district, department, bypass_csp=True)
    page = context.new_page()
    page.goto(stack.urls["reporting"] + path)
    checked = [page.url]
    if path == "/":  # and a demand's timeline, from the board
        page.locator("table.board tbody tr a").first.click()
        page.wait_for_selector("ol.timeline")
        checked.append(page.url)
    found, forms = [], 0
    for url in checked:
        page.goto(url)
        page.eval_on_selector_all("details", "els => els.forEach(e => e.open = true)")  # forms
        forms += page.locator("main form[method=post]").count()
        violations = Axe().run(page).response["violations"]
        found += [(url, v["id"], v["impact"], v["nodes"][0]["html"][:120]) for v in violations
                  if v["impact"] in ("serious", "critical")]
    assert not found, found
    assert forms or path in READ_ONLY_PAGES  # the desks' and queues' forms were checked
    context.close()


def test_a_clerk_records_a_demand_and_the_citizen_tracks_it_without_signing_in(browser,
                                                                              stack) -> None:
    context = signed_in(browser, stack, "intake_clerk", 17)
    page = context.new_page()
    page.goto(stack.urls["reporting"] + "/districts/17/intake")
    form = page.locator("#demand form")
    form.locator("select[name=kind]").select_option("neighbourhood_trustee")
    form.locator("input[name=name]").fill("معتمد محله شهرک ولیعصر")
    form.locator("input[name=phone]").fill("09121112233")
    form.locator("select[name=channel]").select_option("monday_public_meeting")
    form.locator("input[name=neighbourhood]").fill("شهرک ولیعصر")
    form.locator("select[name=category]").select_option("urban_services")
    form.locator("input[name=title]").fill("جمع‌آوری نخاله از پیاده‌رو")
    form.locator("textarea[name=description]").fill("نخاله ساختمانی پیاده‌رو را بسته است.")
    form.locator("button").click()
    page.wait_for_url(re.compile(r"/demands/[0-9A-Z]{26}$"))
    demand_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("h1")).to_contain_text("جمع‌آوری نخاله از پیاده‌رو")
    context.close()

    citizen = browser.new_context(viewport={"width": 390, "height": 844}, locale="fa-IR")
    phone = citizen.new_page()
    phone.goto(stack.urls["reporting"] + f"/track/{demand_id}")
    assert phone.locator("html").get_attribute("dir") == "rtl"
    expect(phone.locator("h2").first).to_have_text("جمع‌آوری نخاله از پیاده‌رو")
    expect(phone.locator("li[data-type=DemandRouted]")).to_have_count(1)
    body = phone.locator("body").inner_text()
    assert "09121112233" not in body and "معتمد محله شهرک ولیعصر" not in body
    screenshot(phone, "track-phone")
    citizen.close()
