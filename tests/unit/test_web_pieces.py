"""The pure parts of the pages: language, digits, Jalali dates, the SVG chart, scope, forms."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from reporting.web import actions, charts, i18n, scope
from services.auth import Principal


def test_the_language_comes_from_the_query_then_the_cookie_else_persian() -> None:
    assert i18n.choose("en", "fa") == "en"
    assert i18n.choose(None, "en") == "en"
    assert i18n.choose("de", None) == "fa" and i18n.choose(None, None) == "fa"
    assert (i18n.direction("fa"), i18n.direction("en")) == ("rtl", "ltr")


def test_persian_digits_and_separators() -> None:
    assert i18n.digits("12,345.6%", "fa") == "۱۲٬۳۴۵٫۶٪"
    assert i18n.digits("12,345.6%", "en") == "12,345.6%"
    assert i18n.number(1234567, "fa") == "۱٬۲۳۴٬۵۶۷"
    assert i18n.percent(0.971, "fa") == "۹۷٪" and i18n.percent(None, "fa") == "—"
    assert i18n.duration(30, "fa") == "۳۰ ساعت" and i18n.duration(72, "en") == "3 days"


def test_jalali_in_tehran_time_with_the_gregorian_in_the_title() -> None:
    # Nowruz 1405 begins at midnight in Tehran, 20:30 UTC the evening before.
    nowruz = i18n.jalali("2026-03-20T20:30:00.000Z", "fa")
    assert nowruz.text == "۱ فروردین ۱۴۰۵، ۰۰:۰۰"
    assert "2026-03-21 00:00" in nowruz.title and "20:30 UTC" in nowruz.title
    assert nowruz.iso == "2026-03-20T20:30:00Z"
    eve = i18n.jalali("2026-03-20T20:29:00.000Z", "en")
    assert eve.text == "29 Esfand 1404, 23:59"
    assert eve.title.startswith("Gregorian: 2026-03-20 23:59")
    assert i18n.jalali(None, "fa") is None
    assert i18n.jalali("2026-03-20T20:30:00.000Z", "fa", with_time=False).text == "۱ فروردین ۱۴۰۵"
    assert i18n.short_jalali(datetime(2026, 3, 20, 20, 30, tzinfo=UTC), "fa") == "۱ فروردین"


def test_nice_ceilings() -> None:
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 12, 21, 99, 101)] == [
        1, 1, 5, 10, 20, 50, 100, 200]


def _bars(rtl: bool) -> str:
    rows = [{"a": 4, "b": 1}, {"a": 0, "b": 10}]
    series = [charts.Series("a", "escalations <x>", "bar-esc"),
              charts.Series("b", "resolutions", "bar-res")]
    return str(charts.weekly_bars(rows, series, ["week 1", "week 2"], "trend & more", rtl=rtl))


def test_the_chart_is_accessible_svg_with_bars_to_scale() -> None:
    svg = _bars(rtl=False)
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "<title id=\"chart-title\">trend &amp; more</title>" in svg
    assert "escalations &lt;x&gt;: 4" in svg  # each bar says what it is
    heights = {title: float(h) for h, title in re.findall(
        r'height="([\d.]+)" rx="2"><title>([^<]*)</title>', svg)}
    assert len(heights) == 4
    assert heights["week 2 — resolutions: 10"] == 10 * heights["week 1 — resolutions: 1"]
    assert heights["week 2 — escalations &lt;x&gt;: 0"] == 0


def test_in_persian_time_runs_right_to_left() -> None:
    def label_x(svg: str, label: str) -> float:
        return float(re.search(rf'<text class="label" x="([\d.]+)"[^>]*>{label}<', svg)[1])

    ltr, rtl = _bars(rtl=False), _bars(rtl=True)
    assert label_x(ltr, "week 1") < label_x(ltr, "week 2")
    assert label_x(rtl, "week 1") > label_x(rtl, "week 2")


def test_scope_follows_the_token() -> None:
    staff = Principal("department_staff", "s", 21, "transport")
    mayor = Principal("district_mayor", "m", 21)
    hq = Principal("headquarters", "h")
    assert scope.demand_filter(None) == {} and scope.demand_filter(hq) == {}
    assert scope.demand_filter(staff) == {"district": 21, "department": "transport"}
    assert scope.demand_filter(mayor) == {"district": 21}
    doc = {"district": 21, "department": "civil_works"}
    assert scope.may_see(mayor, doc) and not scope.may_see(staff, doc)
    assert scope.may_act_for(staff, 21, "transport")
    assert not scope.may_act_for(staff, 21, "civil_works")
    assert not scope.may_act_for(mayor, 21, "transport") and not scope.may_act_for(hq, 21, "x")
    assert scope.may_act_for(Principal("administrator", "a"), 3, "social")


def test_the_token_to_act_with_comes_from_the_header_or_the_cookie() -> None:
    assert scope.token_of({"Authorization": "Bearer abc"}, {"sada_token": "zzz"}) == "abc"
    assert scope.token_of({}, {"sada_token": "zzz"}) == "zzz"
    assert scope.token_of({"Authorization": "Basic x"}, {}) is None


def test_form_bodies_leave_out_blank_optional_fields() -> None:
    assert actions.body_of("acknowledge", {"note": "  ", "key": "k"}) == {}
    assert actions.body_of("note", {"note": " بازدید شد "}) == {"note": "بازدید شد"}
    assert actions.body_of("escalate", {"reason": "beyond_budget", "note": ""}) == {
        "reason": "beyond_budget"}
    assert actions.headers_for("t", "k1") == {"Authorization": "Bearer t",
                                              "Idempotency-Key": "k1"}
    assert actions.headers_for(None, None) == {}


def test_support_and_merge_forms_become_routings_bodies() -> None:
    # Only the fields routing's SupportV2 and MergeV1 take: it refuses any other.
    form = {"demand_id": "X", "on_behalf_of": " receipt-17 ", "key": "k", "national_code": "1"}
    assert actions.body_of("support", form) == {"on_behalf_of": "receipt-17"}
    person = {"demand_id": "X", "national_id": " ۰۰۱۲۳۴۵۶۷۸ ", "phone": "", "key": "k"}
    assert actions.body_of("support", person) == {"supporter": {"national_id": "۰۰۱۲۳۴۵۶۷۸"}}
    both = {"national_id": "0012345678", "phone": "09121234567"}
    assert actions.body_of("support", both) == {"supporter": both}
    assert actions.body_of("merge", {"into": "01ABC", "reason": "همان تقاضا", "key": "k"}) == {
        "into": "01ABC", "reason": "همان تقاضا"}


def test_chart_dates_name_their_month_whole_in_both_languages() -> None:
    aban_2 = datetime(2025, 10, 23, 21, 0, tzinfo=UTC)  # 2 Aban 1404, Tehran
    assert i18n.short_jalali(aban_2, "en") == "2 Aban"
    assert i18n.short_jalali(aban_2, "fa") == "۲ آبان"
    weeks = [datetime(2025, 10, 11, 21, 0, tzinfo=UTC) + timedelta(days=7 * i) for i in range(8)]
    assert i18n.axis_jalali(weeks, "en") == [
        ("20", "Mehr"), ("27", None), ("4", "Aban"), ("11", None), ("18", None),
        ("25", None), ("2", "Azar"), ("9", None)]
    # The month changes at the second week: the first one's name would touch it.
    assert [m for _, m in i18n.axis_jalali(weeks[2:], "en")] == [
        "Aban", None, None, None, "Azar", None]
    assert [m for _, m in i18n.axis_jalali(weeks[1:], "en")][:2] == [None, "Aban"]
    assert i18n.axis_jalali(weeks[:1], "fa") == [("۲۰", "مهر")]


def test_a_chart_axis_draws_the_day_over_the_month() -> None:
    rows = [{"a": 1}, {"a": 2}]
    svg = str(charts.weekly_bars(rows, [charts.Series("a", "x", "bar-esc")], ["30 Mehr", "7 Aban"],
                                 "t", rtl=False, axis=[("30", None), ("7", "Aban")]))
    assert '<tspan x="' in svg and '<tspan class="month"' in svg and ">Aban</tspan>" in svg
    assert "<title>7 Aban — x: 2</title>" in svg  # each bar still says its whole date
    assert "Aba<" not in svg and svg.count('class="month"') == 1


def test_forms_offer_only_what_the_rung_and_state_allow() -> None:
    from reporting.web import choices

    def doc(level: str, status: str = "routed", department: str = "transport") -> dict:
        return {"level": level, "status": status, "district": 21, "department": department}

    hq, central = Principal("headquarters", "h"), Principal("central_management", "c")
    mayor, other_mayor = Principal("district_mayor", "m", 21), Principal("district_mayor", "m", 5)
    staff = Principal("department_staff", "s", 21, "transport")
    assert choices.offered(hq, doc("headquarters")) == (
        "acknowledge", "note", "ask", "transfer", "resolve", "reject", "escalate", "send_back",
        "merge")
    assert choices.offered(central, doc("central_management", "acknowledged")) == (
        "note", "ask", "transfer", "resolve", "reject", "send_back", "merge")  # the top
    # The mayor sends nothing back.
    assert choices.offered(mayor, doc("district_mayor")) == (
        "acknowledge", "note", "ask", "transfer", "resolve", "reject", "escalate", "merge")
    assert choices.offered(other_mayor, doc("district_mayor")) == ()
    assert choices.offered(hq, doc("district_mayor")) == ("call_up",)  # to headquarters
    assert choices.offered(mayor, doc("department", "acknowledged")) == ("call_up",)
    assert choices.offered(other_mayor, doc("department")) == ()  # not their district
    assert choices.offered(central, doc("headquarters", "resolved")) == ()  # closed
    assert "call_up" not in choices.offered(hq, doc("headquarters"))  # not below it
    assert choices.offered(staff, doc("department")) == (
        "acknowledge", "note", "ask", "transfer", "resolve", "reject", "escalate", "merge")
    assert choices.offered(staff, doc("department", department="social")) == ()
    assert choices.offered(hq, doc("headquarters", "resolved")) == ()
    assert choices.offered(Principal("auditor", "a"), doc("headquarters")) == ()
    assert choices.offered(Principal("administrator", "x"), doc("headquarters")) != ()
    assert choices.lower_levels(doc("headquarters")) == ["department", "district_mayor"]
    triage = doc("department", department="mayor_triage")
    assert "transfer" in choices.offered(mayor, triage)  # the mayor works the triage desk
    assert choices.offered(other_mayor, triage) == () and choices.offered(staff, triage) == ()
    assert choices.offered(mayor, doc("department")) == ("call_up",)  # a department's: call up
    waiting = {**doc("department"), "waiting": {"question": "کجا؟", "since": "2025-03-01"}}
    assert "ask" not in choices.offered(staff, waiting)  # asked already: wait for the answer


def test_a_send_back_form_becomes_routings_body() -> None:
    form = {"to_level": "department", "instructions": " هماهنگ شود ", "resolve_hours": "۲۴٫۵",
            "key": "k", "other": "x"}
    assert actions.body_of("send_back", form) == {
        "to_level": "department", "instructions": "هماهنگ شود", "resolve_hours": 24.5}
    assert actions.body_of("send_back", {**form, "resolve_hours": ""})["to_level"] == "department"
    assert "resolve_hours" not in actions.body_of("send_back", {**form, "resolve_hours": " "})
    assert actions.body_of("send_back", {**form, "resolve_hours": "nan"})["resolve_hours"] == "nan"
    assert actions.body_of("reject", {"reason": "تکراری"}) == {"reason": "تکراری"}
    transfer = {"to_department": "transport", "to_district": "۵", "reason": "triage", "note": ""}
    assert actions.body_of("transfer", transfer) == {
        "to_department": "transport", "to_district": 5, "reason": "triage"}
    assert "to_district" not in actions.body_of("transfer", {**transfer, "to_district": ""})
    assert actions.body_of("transfer", {**transfer, "to_district": "x"})["to_district"] == "x"
