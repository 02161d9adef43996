"""The Persian demo history `sada run` loads into an empty log.

Drawn from the two news reports Sada grew out of: district 21's third staff-supervision
session (نظارت ستادی) with the deputy mayor for coordination of districts, elites and prayer
leaders, where macro challenges needing senior management were raised; district 17's weekly
«شهر خوب، شهر ارتباطی» meetings with prayer leaders, neighbourhood trustees, investors, guilds
and charities; and the district mayors' Monday public meetings, where about 97% of topics are
urban planning and building.

Only *requests* and the stream's *facts* are generated: submissions and people's actions; the
default rule set (version 1) and, in week 6, version 2 (more time for urban planning, a rule
for investors); an hourly clock; and a city-wide closure for air pollution. The routing worker
decides them like any others (deadlines pass, demands climb the ladder); the generator runs
the same pure routing (`PartitionState`, `decide`) to keep every action valid. Ids derive from a fixed seed, so
loading twice into the SQLite log adds nothing. Load it with `routing.facts.append_in_order`,
which broadcasts the facts to every partition.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from routing.domain.decide import decide
from routing.domain.partition import PartitionState
from routing.facts import office_closed, rule_set_published, tick
from services.domain.demand import Demand
from services.domain.rules import DEFAULT_RULES, Rule
from services.events import envelope
from services.events.envelope import SYSTEM_ROUTING, Actor, Event
from services.events.ids import derived_id

# Seals a requester's personal data for the log (services/privacy/vault.py, Vault.seal).
Seal = Callable[[dict, str], dict]

NEIGHBOURHOODS = {
    21: ["تهرانسر مرکزی", "تهرانسر شرقی", "ویلاشهر", "شهرک دانشگاه", "شهرک استقلال", "شهرک آزادی"],
    17: ["زمزم", "باغ خزانه", "جلیلی", "امامزاده حسن", "آذری", "مقدم", "وصفنارد", "ابوذر"],
    4: ["تهرانپارس", "حکیمیه"], 12: ["بازار", "سیروس"], 15: ["مسعودیه", "افسریه"],
    18: ["یافت‌آباد", "شادآباد"], 22: ["شهرک دریا", "چیتگر"], 5: ["پونک", "جنت‌آباد"],
}


@dataclass(frozen=True)
class Template:
    category: str
    title: str
    description: str


TEMPLATES = [
    Template("urban_planning", "تعیین تکلیف اراضی حریم منطقه",
             "اراضی حریم منطقه سال‌هاست بلاتکلیف مانده و ساخت‌وسازهای غیرمجاز در آن رو به افزایش است؛ "
             "تصمیم آن از اختیار منطقه خارج است و نیازمند پیگیری در سطح مدیریت ارشد شهرداری است."),
    Template("urban_planning", "صدور پروانه ساختمانی در بافت فرسوده",
             "مالکان بافت فرسوده محله برای نوسازی با طولانی شدن روند صدور پروانه روبه‌رو هستند."),
    Template("urban_planning", "اعتراض به کمیسیون ماده ۱۰۰",
             "درخواست بازبینی رأی کمیسیون ماده ۱۰۰ برای یک واحد مسکونی قدیمی."),
    Template("urban_planning", "تغییر کاربری زمین برای مدرسه",
             "خیرین آماده ساخت مدرسه هستند و برای تغییر کاربری زمین به آموزشی درخواست دارند."),
    Template("urban_planning", "استعلام طرح تفصیلی برای سرمایه‌گذاری",
             "سرمایه‌گذار محلی برای احداث مجموعه تجاری به استعلام ضوابط طرح تفصیلی نیاز دارد."),
    Template("transport", "ترافیک سنگین ورودی تهرانسر در ساعات اوج",
             "صف خودروها در ورودی محله هر صبح تا بزرگراه کشیده می‌شود؛ تقاطع غیرهمسطح لازم است."),
    Template("transport", "کمبود ناوگان اتوبوس به مترو",
             "فاصله حرکت اتوبوس‌های خط محله تا ایستگاه مترو طولانی است."),
    Template("transport", "ایمن‌سازی گذرگاه عابر پیاده جلوی مدرسه",
             "دانش‌آموزان هنگام عبور از خیابان اصلی در خطرند؛ نصب چراغ عابر و سرعت‌کاه درخواست می‌شود."),
    Template("urban_services", "جمع‌آوری نخاله‌های ساختمانی رهاشده",
             "نخاله‌های ساختمانی در کنار زمین بایر محله انباشته شده و بوی نامطبوع دارد."),
    Template("urban_services", "روشنایی معابر فرعی",
             "چند کوچه فرعی شب‌ها تاریک است و ساکنان احساس ناامنی می‌کنند."),
    Template("urban_services", "ساماندهی دست‌فروشان اطراف بازارچه",
             "اصناف محله از سد معبر و ساماندهی نشدن دست‌فروشان گلایه دارند."),
    Template("green_space", "کمبود سرانه فضای سبز و بوستان محله‌ای",
             "محله بوستان ندارد؛ زمین خالی کنار مسجد برای بوستان محله‌ای پیشنهاد می‌شود."),
    Template("green_space", "آبیاری و نگهداری درختان بلوار",
             "درختان بلوار اصلی در حال خشک شدن هستند."),
    Template("social", "فضای فرهنگی برای نوجوانان محله",
             "نوجوانان محله مکانی برای ورزش و فعالیت فرهنگی ندارند؛ ائمه جماعات آماده همکاری هستند."),
    Template("social", "برنامه مشترک با مسجد محله برای کاهش آسیب‌های اجتماعی",
             "امام جماعت مسجد پیشنهاد برگزاری برنامه‌های هفتگی برای جوانان را دارد."),
    Template("social", "ساماندهی کارتن‌خوابی در حاشیه پارک",
             "چند نفر در حاشیه پارک شب‌ها می‌خوابند و نیاز به پیگیری اجتماعی دارند."),
    Template("civil_works", "آسفالت و ترمیم خیابان اصلی محله",
             "خیابان اصلی پر از چاله است و پس از حفاری‌ها ترمیم نشده است."),
    Template("civil_works", "تکمیل پروژه نیمه‌تمام سرای محله",
             "ساختمان سرای محله چند سال است نیمه‌تمام مانده و بودجه آن فراتر از توان منطقه است."),
    Template("civil_works", "دفع آب‌های سطحی در بارندگی",
             "با هر بارندگی کوچه‌ها آب‌گرفتگی دارد و کانال دفع آب‌های سطحی لازم است."),
    Template("other", "پیشنهاد برگزاری بازارچه خیریه",
             "خیرین محله پیشنهاد برگزاری بازارچه خیریه در ایام نوروز را دارند."),
]

# Who raises demands on which channel.
KINDS_BY_CHANNEL = {
    "staff_supervision": ["scholar", "prayer_leader", "neighbourhood_trustee", "council_member"],
    "stakeholder_meeting": ["prayer_leader", "neighbourhood_trustee", "investor", "guild", "charity"],
    "monday_public_meeting": ["citizen"],
    "line_137": ["citizen"],
    "web": ["citizen"],
}

# The shape of each demand's life: the actions taken after it is routed.
SCENARIOS = [
    ("resolve",), ("ack", "resolve"), ("ack", "note", "resolve"), ("ack",), (), ("ack", "note"),
    ("escalate:beyond_authority",), ("ack", "escalate:beyond_budget", "ack"),
    ("escalate:macro_challenge", "escalate:macro_challenge"),
    ("ack", "escalate:cross_district", "escalate:cross_district", "ack"),
    ("reject",), ("withdraw",), ("ack", "resolve", "reopen"),
    ("escalate:beyond_budget", "escalate:beyond_budget", "escalate:beyond_budget"),
    ("ack", "info", "respond", "resolve"), ("info", "respond", "ack", "note"),
    ("escalate:beyond_authority", "escalate:macro_challenge", "sendback", "ack", "resolve"),
    ("ack", "resolve", "appeal", "ack"),
]


def _actor_for(state: Demand) -> Actor:
    level_role = {"department": "department_staff", "district_mayor": "district_mayor",
                  "headquarters": "headquarters", "central_management": "central_management"}
    role = level_role[state.level]
    district = state.district if role in ("department_staff", "district_mayor") else None
    department = state.department if role == "department_staff" else None
    return Actor(role, f"{role}-{district or 'hq'}", district, department)


_ACTIONS = {
    "ack": ("AcknowledgementRequested", lambda r: {"note": "بررسی آغاز شد."}),
    "note": ("ProgressNoteSubmitted", lambda r: {"note": "بازدید میدانی انجام شد؛ گزارش در حال تهیه است."}),
    "resolve": ("ResolutionReported", lambda r: {"summary": "اقدام لازم انجام و به درخواست‌کننده اطلاع داده شد."}),
    "reject": ("RejectionRequested", lambda r: {"reason": "خارج از حوزه وظایف شهرداری است."}),
    "withdraw": ("WithdrawalRequested", lambda r: {"reason": "درخواست‌کننده از پیگیری منصرف شد."}),
    "reopen": ("ReopenRequested", lambda r: {"reason": "درخواست‌کننده از نتیجه راضی نیست."}),
    "info": ("RequesterInfoRequested", lambda r: {"question": "لطفاً نشانی دقیق و عکس محل را بفرستید."}),
    "respond": ("RequesterResponded", lambda r: {"answer": "نشانی و عکس محل از طریق دفتر محله ارسال شد."}),
    "appeal": ("EscalationRequested", lambda r: {"reason": "requester_appeal", "note": "اقدام انجام‌شده مشکل را حل نکرده است."}),
    "sendback": ("SendBackRequested", lambda r: {"to_level": "department", "instructions": "با هماهنگی معاونت هماهنگی و امور مناطق، طرح اجرایی در منطقه تهیه و اجرا شود."}),
}
# The requester's side speaks for these; the rung's own role for the rest.
_REQUESTER_STEPS = ("withdraw", "reopen", "respond", "appeal")

TEHRAN = ZoneInfo("Asia/Tehran")
ADMIN = Actor("administrator", "admin-hq")
# Version 2 of the rules: urban planning gets 12 working days to resolve (was 10), and an
# investor's planning request is treated as at least high priority.
RULES_V2 = replace(
    DEFAULT_RULES, version=2,
    rules=(*DEFAULT_RULES.rules, Rule("planning-investors", "urban_planning", "urban_planning",
                                      "planning", requester_kind="investor", priority="high")),
    policies={**DEFAULT_RULES.policies, "planning": replace(
        DEFAULT_RULES.policies["planning"], resolve_hours=12 * 7)})


def _kind_only(requester: dict, demand_id: str) -> dict:
    return {"kind": requester["kind"]}


def generate(now: datetime, demands: int = 80, weeks: int = 10, seed: int = 1404,
             seal: Seal | None = None) -> list[Event]:
    """The demo history: requests and facts, in time order, ending before `now`. Requesters'
    phones are sealed with `seal` (intake's own sealing); without it they are left out."""
    rng = random.Random(seed)
    start = now - timedelta(weeks=weeks)
    span = (now - start).total_seconds()
    out: list[Event] = []
    meetings = _meetings(start)
    facts = _facts(start, now)
    for n in range(demands):
        submitted_at = start + timedelta(seconds=span * (n + rng.random()) / demands * 0.9)
        district, channel, meeting_id = _where(rng, submitted_at, meetings)
        kind = rng.choice(KINDS_BY_CHANNEL[channel])
        template = _template(rng, channel)
        requester = {"kind": kind, "name": None, "phone": None}
        if kind == "citizen" and rng.random() < 0.5:
            requester["phone"] = f"0912{rng.randrange(10**7):07d}"
        clerk = Actor("intake_clerk", f"clerk-{district}", district)
        demand_id = derived_id(submitted_at, "demo", str(seed), str(n))
        submitted = envelope.make(
            "DemandSubmitted", demand_id, {
                "requester": (seal or _kind_only)(requester, demand_id),
                "channel": channel, "district": district,
                "neighbourhood": rng.choice(NEIGHBOURHOODS[district]), "category": template.category,
                "title": template.title, "description": template.description,
                "priority": rng.choice(["normal", "normal", "normal", "high", "low", "urgent"]),
                "meeting_id": meeting_id},
            actor=clerk, event_id=derived_id(submitted_at, demand_id, "submitted"),
            recorded_at=submitted_at)
        out.extend(_life(rng, submitted, now, facts))
    out.extend(facts)
    out.sort(key=_order)
    return out


def _order(event: Event) -> tuple:
    return (event.recorded_at, event.event_id)


def _facts(start: datetime, now: datetime) -> list[Event]:
    """The rule sets, an hourly clock and a pollution closure, in time order."""
    first = start.replace(minute=0, second=0, microsecond=0)
    facts = [rule_set_published(DEFAULT_RULES, first - timedelta(hours=1), actor=SYSTEM_ROUTING,
                                note="the default rule set")]
    hours = int((now - first).total_seconds() // 3600)
    facts += [tick(first + timedelta(hours=h), source="demo") for h in range(1, hours + 1)]
    facts.append(rule_set_published(RULES_V2, start + timedelta(weeks=5, hours=3), actor=ADMIN,
                                    note="شهرسازی: ۱۲ روز کاری برای حل؛ درخواست سرمایه‌گذاران دست‌کم اولویت زیاد"))
    # Tehran's offices close for air pollution on a Sunday in week 7, announced the evening before.
    day = (start + timedelta(weeks=6)).astimezone(TEHRAN).date()
    while day.weekday() != 6:  # Sunday
        day += timedelta(days=1)
    opens = datetime.combine(day, DEFAULT_RULES.calendar.opens, tzinfo=TEHRAN)
    closes = datetime.combine(day, DEFAULT_RULES.calendar.closes, tzinfo=TEHRAN)
    if closes < now:
        facts.append(office_closed(
            f"pollution-{day.isoformat()}", opens, closes, opens - timedelta(hours=11, minutes=30),
            actor=ADMIN, kind="pollution",
            reason="تعطیلی ادارات استان تهران به دلیل آلودگی هوا (مصوبه کارگروه اضطرار آلودگی هوا)"))
    return sorted(facts, key=_order)


def _meetings(start: datetime) -> list[tuple[datetime, int, str, str]]:
    """(time, district, channel, meeting id): district 21's staff supervision, district 17's
    Tuesday stakeholder meetings, Monday public meetings in both."""
    out = [(start + timedelta(days=3, hours=9), 21, "staff_supervision", "d21-supervision-3")]
    for week in range(10):
        monday = start + timedelta(days=7 * week + 2, hours=10)
        out.append((monday, 17, "monday_public_meeting", f"d17-monday-w{week + 1}"))
        out.append((monday, 21, "monday_public_meeting", f"d21-monday-w{week + 1}"))
        out.append((monday + timedelta(days=1), 17, "stakeholder_meeting", f"d17-good-city-w{week + 1}"))
    return out


def _where(rng: random.Random, at: datetime, meetings) -> tuple[int, str, str | None]:
    roll = rng.random()
    if roll < 0.55:
        held = [m for m in meetings if m[0] <= at] or meetings[:1]
        when, district, channel, meeting_id = rng.choice(held[-6:])
        return district, channel, meeting_id
    district = rng.choice([21, 21, 17, 17, 4, 12, 15, 18, 22, 5])
    return district, rng.choice(["line_137", "line_137", "web"]), None


def _template(rng: random.Random, channel: str) -> Template:
    if channel == "monday_public_meeting" and rng.random() < 0.97:
        return rng.choice([t for t in TEMPLATES if t.category == "urban_planning"])
    if channel == "staff_supervision":
        return rng.choice([TEMPLATES[0], TEMPLATES[5], TEMPLATES[11], TEMPLATES[17], TEMPLATES[13]])
    return rng.choice(TEMPLATES)


def _life(rng: random.Random, submitted: Event, now: datetime, facts: list[Event]) -> list[Event]:
    """The submission and the actions that follow it, each valid against routing's decisions,
    deadlines passing on the clock included."""
    events = [submitted]
    part = PartitionState()
    seen = 0

    def until(key: tuple) -> None:
        """Let the facts before `key` happen (the clock only matters once the demand exists)."""
        nonlocal seen
        while seen < len(facts) and _order(facts[seen]) < key:
            fact = facts[seen]
            if submitted.demand_id in part.demands:
                part.handle(fact)
            else:
                part.context.absorb(fact)
            seen += 1

    until(_order(submitted))
    part.handle(submitted)

    def act(i: int, at: datetime, step: str) -> None:
        """Record the step at `at` if routing would accept it."""
        event_id = derived_id(at, submitted.event_id, str(i))
        until((at, event_id))
        state = part.demands[submitted.demand_id]
        name, _, reason = step.partition(":")
        if name == "escalate":
            type_, payload = "EscalationRequested", {"reason": reason, "note": None}
        else:
            type_, make_payload = _ACTIONS[name]
            payload = make_payload(rng)
        actor = _actor_for(state)
        if name in _REQUESTER_STEPS:
            actor = Actor("intake_clerk", f"clerk-{state.district}", state.district)
        request = envelope.make(
            type_, submitted.demand_id, payload, actor=actor, event_id=event_id, recorded_at=at,
            correlation_id=submitted.correlation_id)
        decisions = decide(state, request, part.context)
        if any(d.type == "ActionRejected" for d in decisions):
            return
        events.append(request)
        part.fold(request)
        for d in decisions:
            part.fold(d)

    at = submitted.recorded_at
    scenario = rng.choice(SCENARIOS)
    if submitted.payload["channel"] == "staff_supervision" and rng.random() < 0.7:
        scenario = ("escalate:macro_challenge", "escalate:macro_challenge")
    for i, step in enumerate(scenario):
        at = at + timedelta(hours=rng.uniform(3, 48))
        if at >= now:
            return events
        act(i, at, step)
    # Afterwards whoever holds the demand works on it, some offices more than others; a
    # demand nobody acts on climbs the ladder as its deadlines pass.
    diligence = rng.choice([0.0, 0.4, 0.7, 0.9])
    for i in range(len(scenario), len(scenario) + 6):
        at = at + timedelta(hours=rng.uniform(6, 72))
        state = part.demands[submitted.demand_id]
        if at >= now or not state.is_open:
            break
        if rng.random() < diligence:
            act(i, at, "ack" if state.status == "routed" else rng.choice(["note", "resolve"]))
    return events
