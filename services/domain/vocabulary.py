"""The words Sada uses, each with its Persian and English label.

Drawn from how Tehran's districts actually hear demands: staff-supervision sessions
(نظارت ستادی), weekly stakeholder meetings («شهر خوب، شهر ارتباطی»), the district mayor's
Monday public meetings, the 137 line and the web.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

Labels = dict[str, tuple[str, str]]  # code -> (Persian, English)

REQUESTER_KINDS: Labels = {
    "citizen": ("شهروند", "Citizen"),
    "neighbourhood_trustee": ("معتمد محله", "Neighbourhood trustee"),
    "prayer_leader": ("امام جماعت", "Prayer leader"),
    "scholar": ("نخبه و فرهیخته", "Scholar / elite"),
    "investor": ("سرمایه‌گذار", "Investor"),
    "guild": ("صنف", "Guild"),
    "charity": ("خیّر و خیریه", "Charity"),
    "council_member": ("عضو شورایاری", "Council member"),
}

CHANNELS: Labels = {
    "staff_supervision": ("نظارت ستادی", "Staff-supervision session"),
    "stakeholder_meeting": ("نشست شهر خوب، شهر ارتباطی", "Stakeholder meeting"),
    "monday_public_meeting": ("دیدار عمومی دوشنبه", "Monday public meeting"),
    "line_137": ("سامانه ۱۳۷", "137 line"),
    "web": ("وب", "Web"),
}

CATEGORIES: Labels = {
    "urban_planning": ("شهرسازی و ساختمان", "Urban planning and building"),
    "transport": ("حمل‌ونقل و ترافیک", "Transport and traffic"),
    "urban_services": ("خدمات شهری", "Urban services"),
    "green_space": ("فضای سبز و محیط زیست", "Green space and environment"),
    "social": ("امور اجتماعی و فرهنگی", "Social and cultural affairs"),
    "civil_works": ("فنی و عمرانی", "Civil works"),
    "other": ("سایر", "Other"),
}

DEPARTMENTS: Labels = {
    "urban_planning": ("معاونت شهرسازی و معماری", "Urban planning and building"),
    "transport": ("معاونت حمل‌ونقل و ترافیک", "Transport and traffic"),
    "urban_services": ("معاونت خدمات شهری و محیط زیست", "Urban services and environment"),
    "social": ("معاونت اجتماعی و فرهنگی", "Social and cultural affairs"),
    "civil_works": ("معاونت فنی و عمرانی", "Civil works"),
    "mayor_triage": ("دفتر شهردار منطقه (میز بررسی)", "District mayor's triage desk"),
}

PRIORITIES: Labels = {
    "low": ("کم", "Low"),
    "normal": ("عادی", "Normal"),
    "high": ("زیاد", "High"),
    "urgent": ("فوری", "Urgent"),
}


class Level(IntEnum):
    """The escalation ladder, bottom to top."""

    DEPARTMENT = 0
    DISTRICT_MAYOR = 1
    HEADQUARTERS = 2
    CENTRAL_MANAGEMENT = 3


LEVELS: Labels = {
    "department": ("معاونت منطقه", "District department"),
    "district_mayor": ("شهردار منطقه", "District mayor"),
    "headquarters": ("معاونت هماهنگی و امور مناطق", "Headquarters (coordination of districts)"),
    "central_management": ("مدیریت ارشد شهرداری", "Central management"),
}
LEVEL_CODES = ["department", "district_mayor", "headquarters", "central_management"]

class Role(StrEnum):
    """Who a person is to Sada: the role a token names. A member equals its code string."""

    CITIZEN = "citizen"
    INTAKE_CLERK = "intake_clerk"
    DEPARTMENT_STAFF = "department_staff"
    DISTRICT_MAYOR = "district_mayor"
    HEADQUARTERS = "headquarters"
    CENTRAL_MANAGEMENT = "central_management"
    AUDITOR = "auditor"
    ADMINISTRATOR = "administrator"
    SYSTEM = "system"
    # A city app posting Open311 requests with an API key an administrator issued.
    APPLICATION = "application"


# Which role acts for a demand at each level of the ladder.
ROLE_FOR_LEVEL = {
    Level.DEPARTMENT: Role.DEPARTMENT_STAFF,
    Level.DISTRICT_MAYOR: Role.DISTRICT_MAYOR,
    Level.HEADQUARTERS: Role.HEADQUARTERS,
    Level.CENTRAL_MANAGEMENT: Role.CENTRAL_MANAGEMENT,
}

ESCALATION_REASONS: Labels = {
    "deadline_passed": ("گذشت مهلت", "Deadline passed"),
    "beyond_authority": ("فراتر از اختیار منطقه", "Beyond the district's authority"),
    "beyond_budget": ("فراتر از بودجه منطقه", "Beyond the district's budget"),
    "cross_district": ("فرامنطقه‌ای", "Cross-district"),
    "macro_challenge": ("چالش کلان (نظارت ستادی)", "Macro challenge from a staff-supervision session"),
    "requester_appeal": ("اعتراض درخواست‌کننده", "Requester appeal"),
}

REJECTION_CODES: Labels = {
    "not_municipal": ("خارج از وظایف شهرداری", "Not the municipality's matter"),
    "duplicate": ("تکراری", "A duplicate"),
    "insufficient_information": ("اطلاعات ناکافی", "Not enough information"),
    "not_feasible": ("امکان‌ناپذیر", "Not feasible"),
    "against_regulations": ("مغایر قانون و ضوابط", "Against the law or regulations"),
    "other": ("سایر", "Other"),
}

TRANSFER_REASONS: Labels = {
    "misrouted": ("ارجاع نادرست", "Misrouted"),
    "triage": ("تعیین تکلیف از میز بررسی", "Sent on from the triage desk"),
    "cross_district": ("فرامنطقه‌ای", "Another district's matter"),
}

STATUSES: Labels = {
    "routed": ("در صف", "Queued"),
    "acknowledged": ("در دست اقدام", "In progress"),
    "resolved": ("حل‌شده", "Resolved"),
    "rejected": ("ردشده", "Rejected"),
    "withdrawn": ("انصراف", "Withdrawn"),
    "submitted": ("ثبت‌شده", "Submitted"),
    "merged": ("ادغام‌شده", "Merged into another demand"),
}


class Status(StrEnum):
    """Where a demand stands. A member equals its code string (the fold stores the code)."""

    SUBMITTED = "submitted"
    ROUTED = "routed"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"


OPEN_STATUSES = (Status.SUBMITTED, Status.ROUTED, Status.ACKNOWLEDGED)
CLOSED_STATUSES = (Status.RESOLVED, Status.REJECTED, Status.WITHDRAWN, Status.MERGED)

ROLES = tuple(str(r) for r in Role)
