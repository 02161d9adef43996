"""Open311 GeoReport v2 <-> Sada, both ways. Pure.

- A *service* is a category; its attributes are what a demand needs beyond the standard
  fields: `district` (required, 1-22), `neighbourhood` (or the standard `address_string`),
  and optionally `requester_kind`, `priority` and `title`.
- A *service request* posted (form-encoded, or JSON) becomes intake's submission body, so it
  is validated and recorded by intake's one code path; a demand read back becomes a service
  request: `open` while Sada has it open, `closed` once resolved, rejected or withdrawn.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, fields

from services.domain.vocabulary import (
    CATEGORIES,
    DEPARTMENTS,
    LEVELS,
    PRIORITIES,
    REQUESTER_KINDS,
    STATUSES,
)

TITLE_CHARS = 80
# Where each Open311 field lands in intake's body, to name the right field in an error.
FIELD_NAMES = {
    "category": "service_code", "district": "attribute[district]",
    "neighbourhood": "attribute[neighbourhood]", "title": "attribute[title]",
    "description": "description", "priority": "attribute[priority]",
    "requester.kind": "attribute[requester_kind]", "requester.name": "first_name",
    "requester.phone": "phone", "location.lat": "lat", "location.long": "long",
    "location.address": "address_string",
}


class RequestForm(Schema):
    """POST requests.json: the standard fields (unknown ones, e.g. api_key, are ignored)."""

    class Meta:
        unknown = EXCLUDE

    jurisdiction_id = fields.String(metadata={"description": "ignored: Sada is one city"})
    service_code = fields.String(required=True, metadata={"description": "a category code"})
    lat = fields.String()
    long = fields.String()
    address_string = fields.String(metadata={
        "description": "where; stands in for attribute[neighbourhood] if that is not given"})
    address_id = fields.String(metadata={"description": "accepted and ignored"})
    email = fields.String()
    device_id = fields.String()
    account_id = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    phone = fields.String()
    description = fields.String(required=True)
    media_url = fields.String(metadata={"description": "accepted and ignored"})
    district = fields.String(data_key="attribute[district]", required=True,
                             metadata={"description": "Tehran's district, 1-22"})
    neighbourhood = fields.String(data_key="attribute[neighbourhood]")
    requester_kind = fields.String(data_key="attribute[requester_kind]")
    priority = fields.String(data_key="attribute[priority]")
    title = fields.String(data_key="attribute[title]")


PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
LANGUAGES = ("fa", "en")
# The public fields of a service request: what anyone may read without a token.
PUBLIC_FIELDS = ("service_request_id", "status", "status_notes", "service_name",
                 "service_code", "description", "agency_responsible", "service_notice",
                 "requested_datetime", "updated_datetime", "expected_datetime", "address",
                 "address_id", "zipcode", "media_url")


def district_name(district: int) -> str:
    """A district's Persian name: منطقه ۲۱."""
    return f"منطقه {str(district).translate(PERSIAN_DIGITS)}"


def _values(labels: dict[str, tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": code, "name": f"{fa} — {en}"} for code, (fa, en) in labels.items()]


def services() -> list[dict[str, Any]]:
    return [{"service_code": code, "service_name": fa, "description": en, "metadata": True,
             "type": "realtime", "keywords": code, "group": "صدا"}
            for code, (fa, en) in CATEGORIES.items()]


def definition(code: str) -> dict[str, Any]:
    districts = [{"key": str(d), "name": district_name(d)} for d in range(1, 23)]
    return {"service_code": code, "attributes": [
        {"variable": True, "code": "district", "datatype": "singlevaluelist", "required": True,
         "datatype_description": "Tehran's district, 1 to 22", "order": 1,
         "description": "منطقه — District", "values": districts},
        {"variable": True, "code": "neighbourhood", "datatype": "string", "required": False,
         "datatype_description": "required unless address_string is given", "order": 2,
         "description": "محله — Neighbourhood"},
        {"variable": True, "code": "requester_kind", "datatype": "singlevaluelist",
         "required": False, "datatype_description": "citizen unless given", "order": 3,
         "description": "درخواست‌کننده — Requester", "values": _values(REQUESTER_KINDS)},
        {"variable": True, "code": "priority", "datatype": "singlevaluelist",
         "required": False, "datatype_description": "normal unless given", "order": 4,
         "description": "اولویت — Priority", "values": _values(PRIORITIES)},
        {"variable": True, "code": "title", "datatype": "string", "required": False,
         "datatype_description": f"the description's first {TITLE_CHARS} characters unless "
                                 "given", "order": 5, "description": "عنوان — Title"},
    ]}


def _title(description: str) -> str:
    first = description.strip().splitlines()[0].strip() if description.strip() else ""
    return first if len(first) <= TITLE_CHARS else first[:TITLE_CHARS - 1].rstrip() + "…"


def _number(text: str | None) -> Any:
    if text is None or text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text  # intake's schema names it as not a number


def submission(form: dict[str, Any]) -> dict[str, Any]:
    """Intake's submission body for a posted service request (validated by intake)."""
    name = " ".join(x for x in (form.get("first_name"), form.get("last_name")) if x) or None
    body: dict[str, Any] = {
        "requester": {"kind": form.get("requester_kind") or "citizen", "name": name,
                      "phone": form.get("phone") or None},
        "channel": "web",
        "district": int(form["district"]) if str(form["district"]).strip().isdigit()
        else form["district"],
        "neighbourhood": form.get("neighbourhood") or form.get("address_string"),
        "category": form["service_code"],
        "title": form.get("title") or _title(form["description"]),
        "description": form["description"],
        "priority": form.get("priority") or "normal",
    }
    if body["neighbourhood"] is None:
        del body["neighbourhood"]
    where = {"lat": _number(form.get("lat")), "long": _number(form.get("long")),
             "address": form.get("address_string") or None}
    if any(v is not None for v in where.values()):
        body["location"] = where
    return body


def field_errors(messages: dict[str, Any], prefix: str = "", *,
                 submission: bool = True) -> list[str]:
    """Validation messages as 'field: reason' lines; a submission's fields are named as the
    Open311 client sent them."""
    out = []
    for key, value in messages.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.extend(field_errors(value, f"{path}.", submission=submission))
            continue
        name = FIELD_NAMES.get(path, path) if submission else path
        if submission and path == "neighbourhood":
            name = "attribute[neighbourhood] or address_string"
        reasons = value if isinstance(value, list) else [value]
        out.extend(f"{name}: {reason}" for reason in reasons)
    return out


def _label(table: dict[str, tuple[str, str]], code: str | None, lang: str = "fa") -> str | None:
    return table[code][LANGUAGES.index(lang)] if code in table else None


def _agency(doc: dict[str, Any], lang: str = "fa") -> str | None:
    if doc.get("level_index", 0) > 0:
        return _label(LEVELS, doc.get("level"), lang)
    return _label(DEPARTMENTS, doc.get("department"), lang)


def status_notes(doc: dict[str, Any], lang: str = "fa") -> str | None:
    """The latest decision on a demand in public words (`lang` fa or en): its status and,
    while open and routed, who has it. Never the staff's own text (summaries, reasons)."""
    status = _label(STATUSES, doc.get("status"), lang)
    agency = _agency(doc, lang)
    if status is None or not doc.get("open") or doc.get("status") == "submitted" or not agency:
        return status
    return f"{status} — {agency}"


def public_request(doc: dict[str, Any], lang: str = "fa") -> dict[str, Any]:
    """A stored demand as an anonymous reader sees it: only `PUBLIC_FIELDS`, the notes and
    names in `lang`; never the requester, the coordinates or Sada's internal fields."""
    full = service_request(doc)
    public = {k: full[k] for k in PUBLIC_FIELDS}
    public["status_notes"] = status_notes(doc, lang)
    public["service_name"] = _label(CATEGORIES, doc.get("category"), lang)
    public["agency_responsible"] = _agency(doc, lang)
    return public


def service_request(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored demand as an Open311 service request."""
    location = doc.get("location") or {}
    is_open = bool(doc.get("open"))
    agency = _agency(doc)
    notes = doc.get("resolution") or doc.get("closing_reason") or \
        _label(STATUSES, doc.get("status"))
    address = location.get("address") or f"منطقه {doc['district']}، {doc['neighbourhood']}"
    return {
        "service_request_id": doc["_id"], "status": "open" if is_open else "closed",
        "status_notes": notes, "service_name": _label(CATEGORIES, doc.get("category")),
        "service_code": doc.get("category"), "description": doc.get("description"),
        "agency_responsible": agency, "service_notice": None,
        "requested_datetime": doc.get("submitted_at"),
        "updated_datetime": doc.get("last_event_at"),
        "expected_datetime": doc.get("deadline") if is_open else None,
        "address": address, "address_id": None, "zipcode": None,
        "lat": location.get("lat"), "long": location.get("long"), "media_url": None,
        # Beyond the standard: Sada's own words for where the demand stands.
        "district": doc.get("district"), "title": doc.get("title"),
        "sada_status": doc.get("status"), "level": doc.get("level"),
    }
