"""Reporting's pages served by the app on a real SecantusDB, over a projected stream.

The browser tests (tests/browser) drive the same pages in Chromium on `sada run`; these check
what a page says and who may see it, request by request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from reporting.app import create_app
from reporting.projector import Projector
from routing.facts import tick
from sada.processes import free_port
from services import config
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Actor, Event, make, parse_time
from services.events.ids import derived_id
from tests.auth_helpers import ENV, authorize, bearer
from tests.integration.test_reporting_stream import Desk, append_all, mayor
from tests.unit.streams import Router, Stream

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@dataclass
class Town:
    ids: dict[str, str]
    app: object


@contextmanager
def served(desk: Desk | list[Event], tmp_path, mongo_db) -> Iterator[object]:
    """Reporting's app over the desk's stream (or these events), projected into the read
    models."""
    if isinstance(desk, Desk):
        desk.flush()
    events = desk.events if isinstance(desk, Desk) else desk
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as log:
        append_all(log, events)
        projector = Projector(log, mongo_db)
        projector.models.ensure_indexes()
        projector.apply_batch(log.read(projector.start_offsets([0]), limit=10_000))
        # Nothing listens on the routing port: forms forwarded there fail visibly.
        settings = config.load({**ENV, "SADA_ROUTING_PORT": str(free_port())})
        app = create_app(settings, log=log, db=mongo_db)
        app.testing = True
        yield app


@pytest.fixture
def town(tmp_path, mongo_db) -> Iterator[Town]:
    desk = Desk()
    ids = {
        "queued": desk.submit(district=3, category="transport", priority="low",
                              title="ترافیک سنگین در تقاطع"),
        "urgent": desk.submit(district=3, category="transport", priority="urgent",
                              title="چراغ راهنمایی خاموش است"),
        "hq": desk.submit(district=3, category="social", title="نیاز به سرای محله"),
        "other": desk.submit(district=5, category="civil_works", title="آبگرفتگی معبر"),
    }
    desk.escalate(ids["hq"], reason="beyond_authority")
    desk.escalate(ids["hq"], reason="macro_challenge")
    desk.acknowledge(ids["urgent"])
    with served(desk, tmp_path, mongo_db) as app:
        yield Town(ids, app)


def client(town: Town, role: str, district: int | None = None, department: str | None = None):
    return authorize(town.app.test_client(), role, district, department)


def html(response, status: int = 200) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_headquarters_is_persian_right_to_left_with_jalali_dates(town) -> None:
    page = html(client(town, "headquarters").get("/"))
    assert '<html lang="fa" dir="rtl">' in page
    assert "ستاد: تابلوی ارجاع‌ها" in page
    # The escalated demand is on the board, linked to its page, dated in Jalali (1403).
    assert f'href="/demands/{town.ids["hq"]}" dir="auto">نیاز به سرای محله</a>' in page
    stamp = re.search(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', page)
    assert re.search(r"۱۴۰۳", stamp[3]) and stamp[2].startswith("میلادی: 2025-")
    assert '<svg class="chart"' in page and "شهروند" in page
    assert 'data-district="3"' in page and 'data-district="5"' in page


def test_the_english_switch_is_remembered_in_a_cookie(town) -> None:
    c = client(town, "headquarters")
    response = c.get("/?lang=en")
    page = html(response)
    assert '<html lang="en" dir="ltr">' in page and "Headquarters" in page
    assert "sada_lang=en" in response.headers["Set-Cookie"]
    assert '<html lang="en" dir="ltr">' in html(c.get("/audit"))
    assert '<html lang="fa" dir="rtl">' in html(c.get("/audit?lang=fa"))


def test_a_demand_is_a_page_for_browsers_and_json_for_everyone_else(town) -> None:
    c = client(town, "headquarters")
    url = f"/demands/{town.ids['hq']}"
    page = html(c.get(url, headers=HTML))
    types = re.findall(r'data-type="(\w+)"', page)
    assert types == ["DemandSubmitted", "DemandRouted", "EscalationRequested",
                     "DemandEscalated", "EscalationRequested", "DemandEscalated"]
    assert "<code>social</code>" in page  # the routing rule
    assert "چالش کلان (نظارت ستادی)" in page  # the second escalation's reason
    assert "از شهردار منطقه به معاونت هماهنگی و امور مناطق" in page
    for accept in ({"Accept": "application/json"}, {"Accept": "*/*"}, {}):
        response = c.get(url, headers=accept)
        assert response.is_json and response.get_json()["demand_id"] == town.ids["hq"]


def test_pages_keep_to_the_viewers_scope(town) -> None:
    mayor = client(town, "district_mayor", 5)
    assert "نیاز به سرای محله" not in html(mayor.get("/"))
    html(mayor.get(f"/demands/{town.ids['hq']}", headers=HTML), 404)
    results = html(mayor.get("/audit"))
    assert "آبگرفتگی معبر" in results and "ترافیک سنگین" not in results
    assert "آبگرفتگی معبر" not in html(mayor.get("/audit?district=3"))  # not theirs to see
    staff_search = html(client(town, "department_staff", 3, "social").get("/audit"))
    assert "نیاز به سرای محله" in staff_search and "ترافیک سنگین" not in staff_search
    staff = client(town, "department_staff", 3, "transport")
    html(staff.get("/districts/3/departments/social"), 403)  # as the API answers
    assert "ترافیک سنگین در تقاطع" in html(staff.get("/districts/3/departments/transport"))


def test_a_department_queue_oldest_deadline_first_with_forms_for_its_staff(town) -> None:
    page = html(client(town, "department_staff", 3, "transport").get(
        "/districts/3/departments/transport"))
    rows = re.findall(r'<tr class="[^"]*" data-demand="(\w+)"', page)
    assert rows == [town.ids["urgent"], town.ids["queued"]]  # urgent: the earlier deadline
    assert page.count('class="f-acknowledge"') == 1  # only the one not yet acknowledged
    assert page.count('class="f-escalate"') == 2
    assert 'name="key"' in page
    read_only = html(client(town, "auditor").get("/districts/3/departments/transport"))
    assert 'class="f-' not in read_only and "فقط برای دیدن" in read_only
    # Headquarters does not work a department's queue; it may call a demand up from it.
    above = html(client(town, "headquarters").get("/districts/3/departments/transport"))
    assert "f-escalate" not in above and above.count('class="f-call_up"') == 2


def test_a_form_that_cannot_reach_routing_says_so(town) -> None:
    c = client(town, "department_staff", 3, "transport")
    response = c.post(f"/districts/3/departments/transport/demands/{town.ids['queued']}/note",
                      data={"note": "بازدید شد", "key": "k-1"})
    page = html(response, 502)
    assert "ثبت نشد" in page and "routing is not reachable" in page


def test_a_queues_forms_are_its_staffs_and_a_higher_rung_only_calls_up(town) -> None:
    url = f"/districts/3/departments/transport/demands/{town.ids['queued']}/acknowledge"
    for role in ("intake_clerk", "auditor"):
        response = client(town, role, 3 if role == "intake_clerk" else None).post(url, data={})
        assert response.status_code == 403 and response.is_json
    # A higher rung is let in only to call a demand up: anything else is a 403 page.
    hq = client(town, "headquarters")
    assert "فقط برای دیدن" in html(hq.post(url, data={}), 403)
    call_up = url.replace("/acknowledge", "/call_up")
    assert "routing is not reachable" in html(hq.post(call_up, data={"reason": "cross_district"}),
                                              502)
    html(client(town, "district_mayor", 5).post(call_up, data={"reason": "cross_district"}), 403)
    other = client(town, "department_staff", 5, "civil_works")
    html(other.post(url, data={}), 403)


def test_bad_places_are_html_404s(town) -> None:
    c = client(town, "headquarters")
    assert "معاونتی به نام «nowhere» نیست" in html(
        c.get("/districts/3/departments/nowhere"), 404)
    html(c.get("/districts/23/departments/transport"), 404)
    html(c.get("/demands/01JNOTADEMANDATALL00000000", headers=HTML), 404)
    html(c.get("/queue?district=0&department=transport"), 404)
    assert c.get("/queue?district=3&department=social").headers["Location"].endswith(
        "/districts/3/departments/social")


def test_pages_need_a_token_but_the_stylesheet_does_not(town) -> None:
    anonymous = town.app.test_client()
    assert anonymous.get("/", headers=HTML).status_code == 303  # to /login
    assert anonymous.get("/audit").status_code == 401
    css = anonymous.get("/static/web/sada.css")
    assert css.status_code == 200 and b"--font-fa" in css.data
    assert anonymous.get("/", headers=bearer("auditor")).status_code == 200


def test_the_auditors_links_to_the_past_and_the_seals_answer(town) -> None:
    c = client(town, "auditor")
    page = html(c.get("/audit"))
    assert 'id="tools"' in page
    board_asof = re.search(r'<form class="search" method="get" action="([^"]+)">\s*<label>در لحظه',
                           page)[1]
    assert re.findall(r'name="(\w+)"', page.split(board_asof)[1].split("</form>")[0]) == ["at"]
    r = c.get(board_asof, query_string={"at": "۱۴۰۳/۱۲/۲۰ ۱۰:۰۰"})
    assert r.status_code == 200 and r.is_json, r.get_data(as_text=True)
    links = re.findall(r'<li><a href="(/[^"]+)">', page.split('id="tools"')[1])
    assert links == ["/audit/seal", "/audit/seals", "/deadline-changes"]
    for link in links:
        r = c.get(link)
        if link == "/audit/seal":  # nothing is sealed in this town yet
            assert r.status_code == 404 and "sealed" in r.get_json()["message"]
        else:
            assert r.is_json and r.status_code == 200
    demand = html(c.get(f"/demands/{town.ids['hq']}", headers=HTML))
    asof = re.search(r'<form class="search asof" method="get" action="([^"]+)">', demand)[1]
    r = c.get(asof, query_string={"at": "2025-03-01T07:00:00Z"})
    assert r.status_code == 200 and r.get_json()["demand_id"] == town.ids["hq"], r.get_data()


def test_the_audit_list_shows_each_demands_level(town) -> None:
    page = html(client(town, "auditor").get("/audit?district=3"))
    row = re.search(rf'<tr data-demand="{town.ids["hq"]}">(.*?)</tr>', page, re.S)[1]
    # Held two rungs up, it is «در صف» there: the level column says where.
    assert "در صف" in row
    assert '<td data-level="headquarters">' in row and "معاونت هماهنگی و امور مناطق" in row
    english = html(client(town, "auditor").get("/audit?district=3&lang=en"))
    assert "<th>Level</th>" in english and "Headquarters (coordination of districts)" in english


@pytest.fixture
def crowded(tmp_path, mongo_db) -> Iterator[Town]:
    """250 demands in district 4, one in district 6: more than two pages."""
    desk = Desk()
    ids = [desk.submit(district=4, title=f"مطالبه {i}", minutes=1) for i in range(250)]
    desk.submit(district=6, title="جای دیگر")
    with served(desk, tmp_path, mongo_db) as app:
        yield Town({str(i): d for i, d in enumerate(ids)}, app)


def _rows_and_links(page: str) -> tuple[list[str], dict[str, str]]:
    rows = re.findall(r'<tr data-demand="(\w+)">', page)
    links = {rel: href.replace("&amp;", "&") for href, rel in
             re.findall(r'<a href="([^"]+)" rel="(\w+)">', page)}
    return rows, links


def test_the_audit_list_pages_through_every_match_both_ways(crowded) -> None:
    c = client(crowded, "auditor")
    newest_first = list(reversed(crowded.ids.values()))
    seen, pages, url = [], [], "/audit?district=4"
    while url:
        rows, links = _rows_and_links(html(c.get(url)))
        pages.append((rows, links))
        seen += rows
        url = links.get("next")
    assert [len(rows) for rows, _ in pages] == [100, 100, 50]
    assert seen == newest_first  # every match once, in order, and only district 4's
    assert "prev" not in pages[0][1] and "first" not in pages[0][1]
    assert all("district=4" in link for _, links in pages for link in links.values())
    # Back from the last page: the previous page is the second again, then the first.
    rows, links = _rows_and_links(html(c.get(pages[2][1]["prev"])))
    assert rows == pages[1][0]
    rows, _ = _rows_and_links(html(c.get(links["prev"])))
    assert rows == pages[0][0]
    assert "صفحه بعد (قدیمی‌تر)" in html(c.get("/audit?district=4"))
    english = html(c.get(pages[1][1]["next"] + "&lang=en"))
    assert "‹ Previous page (newer)" in english and "« Newest" in english
    assert "Next page (older)" not in english


def test_a_page_of_the_audit_list_that_names_no_demand_is_a_400(crowded) -> None:
    c = client(crowded, "auditor")
    assert "01JNOTADEMANDATALL00000000" in html(
        c.get("/audit?after=01JNOTADEMANDATALL00000000"), 400)
    html(c.get(f"/audit?after={crowded.ids['1']}&before={crowded.ids['2']}"), 400)
    mayor = client(crowded, "district_mayor", 6)  # not theirs: not even to page from
    html(mayor.get(f"/audit?after={crowded.ids['1']}"), 400)


@pytest.fixture
def queue7(tmp_path, mongo_db) -> Iterator[Town]:
    """District 7's transport queue: one routed, one acknowledged, one waiting on its
    requester."""
    desk = Desk()
    ids = {name: desk.submit(district=7, category="transport", title=title)
           for name, title in (("fresh", "پل عابر پیاده"), ("started", "خط ویژه اتوبوس"),
                               ("waiting", "ایستگاه تاکسی"))}
    desk.acknowledge(ids["started"])
    desk.request(ids["waiting"], "RequesterInfoRequested",
                 {"question": "نشانی دقیق ایستگاه کجاست؟"}, desk.actor_for(ids["waiting"]))
    with served(desk, tmp_path, mongo_db) as app:
        yield Town(ids | {"ack": desk.states[ids["fresh"]].ack_deadline,
                          "until": desk.states[ids["waiting"]].waiting["until"]}, app)


def _stamp(at: str) -> str:
    return parse_time(at).strftime('datetime="%Y-%m-%dT%H:%M:%SZ"')


def _row(page: str, demand_id: str) -> str:
    return re.search(rf'<tr class="[^"]*" data-demand="{demand_id}"[^>]*>(.*?)</tr>', page,
                     re.S)[0]


def test_a_queue_shows_the_acknowledge_deadline_and_who_waits_on_the_requester(queue7) -> None:
    c = client(queue7, "department_staff", 7, "transport")
    page = html(c.get("/districts/7/departments/transport"))
    assert "مهلت آغاز رسیدگی" in page and "مهلت حل" in page
    fresh = _row(page, queue7.ids["fresh"])
    assert 'data-ack="due"' in fresh and _stamp(queue7.ids["ack"]) in fresh
    assert "آغاز رسیدگی دیر شده" in fresh  # acknowledged by then? it was not
    started = _row(page, queue7.ids["started"])
    assert 'data-ack="done"' in started and "آغاز شد" in started
    waiting = _row(page, queue7.ids["waiting"])
    assert 'data-waiting="true"' in waiting and "در انتظار پاسخ درخواست‌کننده" in waiting
    assert "نشانی دقیق ایستگاه کجاست؟" in waiting and "مهلت‌ها ایستاده" in waiting
    assert 'data-waiting="true"' not in fresh + started
    until = queue7.ids["until"]
    assert f'data-until="{until}"' in waiting and _stamp(until) in waiting  # the wait's end
    assert "مهلت پاسخ" in waiting
    # One question at a time: the waiting demand is not offered a second.
    assert "f-ask" in fresh and "f-ask" not in waiting
    english = html(c.get("/districts/7/departments/transport?lang=en"))
    assert "Acknowledge by" in english and "Resolve by" in english
    assert "Waiting on the requester" in _row(english, queue7.ids["waiting"])
    assert "Acknowledgement late" in _row(english, queue7.ids["fresh"])


@pytest.fixture
def ladder(tmp_path, mongo_db) -> Iterator[Town]:
    """District 8: a demand at the mayor's rung, one at headquarters', one at central
    management's (acknowledged there), and one on the triage desk."""
    desk = Desk()
    ids = {name: desk.submit(district=8, category=category, title=title)
           for name, category, title in (
               ("mayor", "transport", "تعریض خیابان"), ("hq", "social", "سرای سالمندان"),
               ("central", "civil_works", "بازسازی پل"), ("triage", "other", "درخواست نامعلوم"))}
    for name, rungs in (("mayor", 1), ("hq", 2), ("central", 3)):
        for _ in range(rungs):
            desk.escalate(ids[name], reason="beyond_authority")
    desk.acknowledge(ids["central"])
    with served(desk, tmp_path, mongo_db) as app:
        yield Town(ids, app)


def _forms(page: str, demand_id: str) -> dict[str, str]:
    """The action forms of a demand's row: form class -> where it posts."""
    row = _row(page, demand_id) if "class=" in page else page
    return {cls: action for action, cls in
            re.findall(r'<form method="post" action="([^"]+)" class="f-(\w+)">', row)}


def test_the_board_offers_each_rung_its_own_actions(ladder) -> None:
    hq = html(client(ladder, "headquarters").get("/"))
    forms = _forms(hq, ladder.ids["hq"])
    assert set(forms) == {
        "acknowledge", "note", "ask", "transfer", "resolve", "reject", "escalate", "send_back"}
    assert forms["send_back"] == f"/board/demands/{ladder.ids['hq']}/send_back"
    send_back = _row(hq, ladder.ids["hq"]).split('class="f-send_back"')[1].split("</form>")[0]
    assert re.findall(r'<option value="(\w+)">', send_back) == ["district_mayor", "department"]
    assert 'name="instructions"' in send_back and 'name="resolve_hours"' in send_back
    assert 'name="key"' in send_back
    # Only the clock passes a deadline, only the requester appeals.
    assert "deadline_passed" not in _row(hq, ladder.ids["hq"])
    assert "requester_appeal" not in hq
    # Headquarters does not act for central management's rung, nor for the mayor's: it may
    # only call the mayor's demand up to itself.
    assert _forms(hq, ladder.ids["central"]) == {}
    assert _forms(hq, ladder.ids["mayor"]) == {
        "call_up": f"/board/demands/{ladder.ids['mayor']}/call_up"}
    central = html(client(ladder, "central_management").get("/"))
    # At the top: no escalation; acknowledged already: no acknowledging; sent back to any rung.
    assert set(_forms(central, ladder.ids["central"])) == {
        "note", "ask", "transfer", "resolve", "reject", "send_back"}
    assert set(_forms(central, ladder.ids["hq"])) == set(_forms(central, ladder.ids["mayor"])) \
        == {"call_up"}
    options = _row(central, ladder.ids["central"]).split('class="f-send_back"')[1]
    assert re.findall(r'<option value="(\w+)">', options.split("</form>")[0]) == [
        "headquarters", "district_mayor", "department"]
    mayor = html(client(ladder, "district_mayor", 8).get("/"))
    assert set(_forms(mayor, ladder.ids["mayor"])) == {  # no send back at the mayor's rung
        "acknowledge", "note", "ask", "transfer", "resolve", "reject", "escalate"}
    assert _forms(mayor, ladder.ids["hq"]) == {}
    auditor = html(client(ladder, "auditor").get("/"))
    assert 'class="f-' not in auditor
    english = html(client(ladder, "headquarters").get("/?lang=en"))
    assert "Send back down" in english and "New deadline, in working hours" in english


def test_a_board_form_goes_to_routing_and_only_from_the_rung_that_acts(ladder) -> None:
    url = f"/board/demands/{ladder.ids['hq']}/send_back"
    form = {"to_level": "department", "instructions": "با معاونت اجتماعی هماهنگ شود",
            "resolve_hours": "۲۴", "key": "k-2"}
    # Nothing listens where routing should be: the board says so, with routing's address.
    page = html(client(ladder, "headquarters").post(url, data=form), 502)
    assert "ثبت نشد" in page and "routing is not reachable" in page and 'class="board"' in page
    html(client(ladder, "central_management").post(url, data=form), 403)  # not its rung
    call_up = f"/board/demands/{ladder.ids['hq']}/call_up"  # but it may call it up
    page = html(client(ladder, "central_management").post(
        call_up, data={"reason": "macro_challenge", "key": "k-4"}), 502)
    assert "routing is not reachable" in page
    html(client(ladder, "headquarters").post(  # not above central management's rung
        f"/board/demands/{ladder.ids['central']}/call_up", data={"reason": "cross_district"}),
        403)
    html(client(ladder, "district_mayor", 9).post(url, data=form), 404)  # not even in sight
    assert client(ladder, "auditor").post(url, data=form).status_code == 403
    html(client(ladder, "headquarters").post(
        f"/board/demands/{ladder.ids['hq']}/launch", data=form), 404)


def test_the_mayors_desk_has_the_mayors_rung_and_the_triage_desk(ladder) -> None:
    c = client(ladder, "district_mayor", 8)
    page = html(c.get("/districts/8/mayor"))
    assert 'href="/districts/8/mayor" aria-current="page"' in page  # in the mayor's menu
    rung = page.split('id="rung"')[1].split("</section>")[0]
    assert ladder.ids["mayor"] in rung and ladder.ids["hq"] not in rung
    forms = _forms(page, ladder.ids["mayor"])
    assert set(forms) == {"acknowledge", "note", "ask", "transfer", "resolve", "reject", "escalate"}
    assert forms["escalate"] == f"/districts/8/mayor/demands/{ladder.ids['mayor']}/escalate"
    triage = page.split('id="triage"')[1].split("</section>")[0]
    assert ladder.ids["triage"] in triage
    # The mayor works the triage desk: above all, sends each demand on to its department.
    triage_forms = _forms(page, ladder.ids["triage"])
    assert {"transfer", "resolve", "reject"} <= set(triage_forms)
    assert triage_forms["transfer"] == (
        f"/districts/8/mayor/demands/{ladder.ids['triage']}/transfer")
    transfer = _row(page, ladder.ids["triage"]).split('class="f-transfer"')[1].split("</form>")[0]
    assert '<option value="triage" selected>' in transfer and 'name="to_district"' in transfer
    assert '<option value="8">' not in transfer  # its own district is the default, ""
    desk_staff = html(client(ladder, "department_staff", 8, "mayor_triage").get(
        "/districts/8/mayor"))
    assert "escalate" in _forms(desk_staff, ladder.ids["triage"])
    html(client(ladder, "district_mayor", 9).get("/districts/8/mayor"), 403)
    page = html(c.post(forms["escalate"], data={"reason": "beyond_budget", "key": "k-3"}), 502)
    assert "routing is not reachable" in page and 'id="triage"' in page
    html(c.post(f"/districts/8/mayor/demands/{ladder.ids['hq']}/resolve",
                data={"summary": "x"}), 403)  # at headquarters' rung
    english = html(c.get("/districts/8/mayor?lang=en"))
    assert "The district mayor&#39;s desk" in english and "Triage desk" in english


@pytest.fixture
def meeting_town(tmp_path, mongo_db) -> Iterator[Town]:
    """A stakeholder meeting in district 21 where two demands were raised, one since escalated;
    and a demand naming a meeting the read model does not have."""
    desk = Desk()
    meeting_id = derived_id(desk.clock, "meeting")
    desk.events.append(make("MeetingRecorded", meeting_id, {
        "kind": "stakeholder_meeting", "district": 21, "held_on": "2025-03-01",
        "title": "نشست هفتگی شهر خوب، شهر ارتباطی", "attendees": {"prayer_leader": 2,
                                                               "council_member": 4},
        "minutes": "ترافیک ورودی تهرانسر مطرح شد."}, actor=mayor(21), recorded_at=desk.clock,
        event_id=meeting_id))
    raised = [desk.submit(district=21, channel="stakeholder_meeting", meeting_id=meeting_id,
                          title=title, category="transport")
              for title in ("ترافیک ورودی تهرانسر", "پیاده‌رو بوستان")]
    desk.escalate(raised[1])
    clerk = Actor("intake_clerk", "clerk-21", 21)
    for citizen in ("c-1", "c-2", None):  # the second is the more supported
        desk.request(raised[1], "SupportRequested", {
            "supporter_id": citizen and derived_id(desk.clock, "person", citizen)}, clerk)
    lost = desk.submit(district=21, channel="stakeholder_meeting",
                       meeting_id="01JNOMEETINGATALL000000000", title="بی‌نشست")
    with served(desk, tmp_path, mongo_db) as app:
        yield Town({"meeting": meeting_id, "first": raised[0], "second": raised[1],
                    "lost": lost}, app)


def test_a_demand_names_its_meeting_and_links_to_it(meeting_town) -> None:
    ids = meeting_town.ids
    c = client(meeting_town, "district_mayor", 21)
    page = html(c.get(f"/demands/{ids['first']}", headers=HTML))
    link = (f'<a href="/meetings/{ids["meeting"]}/follow-up" dir="auto">'
            "نشست هفتگی شهر خوب، شهر ارتباطی</a>")
    facts = page.split('class="facts"')[1].split("</dl>")[0]
    assert link in facts and "۱۱ اسفند ۱۴۰۳" in facts  # held on 1 March 2025
    assert f"<code>{ids['meeting']}</code>" not in page
    assert link in page.split('class="timeline"')[1]  # the submission names it too
    english = html(c.get(f"/demands/{ids['first']}?lang=en", headers=HTML))
    assert "Stakeholder" in english.split('class="facts"')[1] and "11 Esfand 1403" in english
    # A meeting the read model does not have: its id, as before.
    assert "<code>01JNOMEETINGATALL000000000</code>" in html(
        c.get(f"/demands/{ids['lost']}", headers=HTML))


def test_a_meetings_page_follows_up_its_demands(meeting_town) -> None:
    ids = meeting_town.ids
    c = client(meeting_town, "district_mayor", 21)
    page = html(c.get(f"/meetings/{ids['meeting']}/follow-up", headers=HTML))
    assert "<h1 dir=\"auto\">نشست هفتگی شهر خوب، شهر ارتباطی</h1>" in page
    assert re.findall(r'<tr data-demand="(\w+)"', page) == [ids["first"], ids["second"]]
    assert '<span class="value" data-k="raised">۲</span>' in page
    assert '<span class="value" data-k="escalated">۱</span>' in page
    assert "ترافیک ورودی تهرانسر مطرح شد." in page and "امام جماعت" in page
    assert c.get(f"/meetings/{ids['meeting']}/follow-up").is_json  # the API, as before
    html(client(meeting_town, "district_mayor", 5).get(
        f"/meetings/{ids['meeting']}/follow-up", headers=HTML), 404)


def test_the_clocks_escalation_reads_in_the_pages_language(tmp_path, mongo_db) -> None:
    router = Router()
    stream = Stream(start=datetime(2025, 6, 3, 6, 20, tzinfo=UTC))
    router.one(stream.submit())
    [escalated] = router.send(tick(datetime(2025, 6, 9, 6, 30, tzinfo=UTC), source="manual"))
    assert escalated.payload["trigger"] == "deadline"
    assert escalated.payload["explanation"]["deadline_passed"]["kind"] == "acknowledge"
    with served(router.log, tmp_path, mongo_db) as app:
        c = authorize(app.test_client(), "headquarters")
        page = html(c.get(f"/demands/{stream.demand_id}", headers=HTML))
        item = page.split('data-type="DemandEscalated"')[1].split("</li>\n    </li>")[0]
        assert "مهلت آغاز رسیدگی در سطح «معاونت منطقه» به سر رسید:" in item
        assert "ran out" not in page and "department" not in item.replace("ev-", "")
        assert "ساعت کاری شمرده شد" in item
        english = html(c.get(f"/demands/{stream.demand_id}?lang=en", headers=HTML))
        assert "The time to acknowledge at the level of District department ran out:" in english


def test_a_refusal_reads_in_the_pages_language_from_its_code(tmp_path, mongo_db) -> None:
    desk = Desk()
    demand_id = desk.submit(district=3, category="transport")
    wrong = desk.request(demand_id, "ResolutionReported", {"summary": "انجام شد"},
                         Actor("headquarters", "hq-1"))  # not headquarters' rung
    with served(desk, tmp_path, mongo_db) as app:
        c = authorize(app.test_client(), "department_staff", 3, "transport")
        page = html(c.get(f"/demands/{demand_id}", headers=HTML))
        refused = re.search(r'<span title="([^"]*)" data-code="not_your_level">([^<]*)</span>',
                            page)
        assert refused[2] == "نپذیرفت: این مطالبه در سطحی است که شما برای آن اقدام نمی‌کنید"
        assert "only department_staff may act" in refused[1]  # routing's words, on hover
        queue = html(c.get("/districts/3/departments/transport",
                           query_string={"done": wrong.event_id, "demand": demand_id}))
        banner = queue.split('id="result"')[1].split("</div>")[0]
        assert "مسیریابی نپذیرفت: این مطالبه در سطحی است" in banner
        english = html(c.get(f"/demands/{demand_id}?lang=en", headers=HTML))
        assert "refused: the demand is at a level you do not act for" in english


def test_why_a_demand_went_to_the_triage_desk_reads_in_the_pages_language(tmp_path,
                                                                            mongo_db) -> None:
    desk = Desk()
    demand_id = desk.submit(district=3, category="other")  # no rule for it
    with served(desk, tmp_path, mongo_db) as app:
        c = authorize(app.test_client(), "district_mayor", 3)
        routed = html(c.get(f"/demands/{demand_id}", headers=HTML)).split(
            'data-type="DemandRouted"')[1]
        why = re.search(r'<span class="triage">([^<]*)</span>', routed)
        assert why[1].startswith("هیچ قاعده‌ای از نسخه ۱ قواعد")
        assert "no_rule_matched" not in routed  # routing's code, put in words
        english = html(c.get(f"/demands/{demand_id}?lang=en", headers=HTML))
        assert "no rule of rule set version 1 matches this demand" in english


def test_a_districts_meetings_and_priorities(meeting_town) -> None:
    ids = meeting_town.ids
    c = client(meeting_town, "district_mayor", 21)
    page = html(c.get("/districts/21/meetings"))
    assert 'href="/districts/21/meetings" aria-current="page"' in page  # in the menu
    row = re.search(rf'<tr data-meeting="{ids["meeting"]}">(.*?)</tr>', page, re.S)[1]
    assert f'<a href="/meetings/{ids["meeting"]}/follow-up" dir="auto">' in row
    assert '<td class="num" data-k="raised">۲</td>' in row
    assert '<td class="num" data-k="escalated">۱</td>' in row
    html(client(meeting_town, "district_mayor", 5).get("/districts/21/meetings"), 403)
    priorities = html(c.get("/districts/21/priorities", headers=HTML))
    ranked = re.findall(r'<tr data-demand="(\w+)">', priorities)
    assert ranked[:2] == [ids["second"], ids["first"]]  # most supported first
    assert '<td class="num" data-k="supporters">۲</td>' in priorities  # two people ...
    assert '<td class="num" data-k="anonymous">۱</td>' in priorities  # ... one anonymous
    assert c.get("/districts/21/priorities").is_json  # the API, as before
    html(client(meeting_town, "district_mayor", 5).get("/districts/21/priorities",
                                                         headers=HTML), 403)
    english = html(c.get("/districts/21/priorities?lang=en", headers=HTML))
    assert "The district&#39;s priorities" in english and "Supporters" in english


def test_likely_duplicates_are_a_page_with_a_merge_form_only_at_the_demands_rung(town) -> None:
    queued, urgent = town.ids["queued"], town.ids["urgent"]
    url = f"/demands/{queued}/likely-duplicates"
    staff = client(town, "department_staff", 3, "transport")
    page = html(staff.get(url, headers=HTML))
    assert f'data-candidate="{urgent}"' in page and 'class="f-merge"' in page
    assert f'name="into" value="{urgent}"' in page
    assert "ترافیک سنگین در تقاطع" in page and "چراغ راهنمایی خاموش است" in page
    assert staff.get(url).get_json()["items"][0]["demand_id"] == urgent  # JSON as before
    # Headquarters and the auditor see the pair; the demand's rung is not theirs.
    for reader in (client(town, "headquarters"), client(town, "auditor")):
        shown = html(reader.get(url, headers=HTML))
        assert f'data-candidate="{urgent}"' in shown and 'class="f-merge"' not in shown
    assert client(town, "auditor").post(f"/demands/{queued}/merge", data={
        "into": urgent, "reason": "تکراری"}).status_code == 403
    html(client(town, "headquarters").post(f"/demands/{queued}/merge", data={
        "into": urgent, "reason": "تکراری"}), 403)  # not its rung: nothing sent on
    html(client(town, "department_staff", 3, "social").get(url, headers=HTML), 404)
    # The demand's own staff: sent on to routing (not listening here), failing visibly.
    failed = html(staff.post(f"/demands/{queued}/merge", data={"into": urgent,
                                                                "reason": "تکراری"}), 502)
    assert "not reachable" in failed and f'data-candidate="{urgent}"' in failed


def test_a_support_form_names_a_demand_of_the_clerks_district_or_is_refused(town) -> None:
    clerk = client(town, "intake_clerk", 3)
    desk = html(clerk.get("/districts/3/intake"))
    assert 'id="support"' in desk and f'value="{town.ids["queued"]}"' in desk
    assert f'value="{town.ids["other"]}"' not in desk  # district 5's
    other = html(clerk.post("/districts/3/intake/supports", data={
        "demand_id": town.ids["other"], "on_behalf_of": "receipt-1"}), 404)
    assert town.ids["other"] in other and "receipt-1" in other  # the form as typed
    html(clerk.post("/districts/3/intake/supports", data={"on_behalf_of": "receipt-1"}), 400)
    html(clerk.post("/districts/5/intake/supports", data={
        "demand_id": town.ids["other"], "on_behalf_of": "receipt-1"}), 403)
    assert client(town, "district_mayor", 3).post("/districts/3/intake/supports", data={
        "demand_id": town.ids["queued"], "on_behalf_of": "receipt-1"}).status_code == 403
    assert 'id="support"' not in html(client(town, "district_mayor", 3).get(
        "/districts/3/intake"))
    # From a row of the district's priorities, the form opens with that demand chosen.
    ranked = html(clerk.get("/districts/3/priorities", headers=HTML))
    link = f'/districts/3/intake?support={town.ids["queued"]}#support'
    assert f'class="support-link" href="{link}"' in ranked
    chosen = html(clerk.get(link.split("#")[0]))
    assert f'<option value="{town.ids["queued"]}" selected>' in chosen


def test_the_board_shows_fifty_escalations_a_page_most_urgent_first(tmp_path, mongo_db) -> None:
    desk = Desk()
    ids = [desk.submit(district=3 + i % 4, category="transport") for i in range(55)]
    for demand_id in ids:
        desk.escalate(demand_id)
    with served(desk, tmp_path, mongo_db) as app:
        c = authorize(app.test_client(), "headquarters")
        first = html(c.get("/", headers=HTML))
        rows = re.findall(r'<tr class="[^"]*" data-demand="([^"]+)"', first)
        assert len(rows) == 50 and len(set(rows)) == 50
        assert 'rel="next"' in first and 'rel="prev"' not in first
        second = html(c.get("/?from=50", headers=HTML))
        rest = re.findall(r'<tr class="[^"]*" data-demand="([^"]+)"', second)
        assert len(rest) == 5 and set(rows) | set(rest) == set(ids)
        assert 'rel="prev"' in second and 'rel="next"' not in second
