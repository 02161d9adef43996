"""Every role x every endpoint x own / sibling / other district, from the apps' url_maps.

`MATRIX` says, for each route of each service, who may use it on which target. The route list
comes from the apps themselves: a new endpoint without a row here fails
`test_every_endpoint_has_a_row`, so nothing is added without deciding who may use it.

Targets (tests/security/conftest.py): `own` is district 21's transport queue, `sibling` the
same district's civil works, `other` district 4's transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.auth_helpers import bearer
from tests.security.conftest import PEOPLE, TARGET_NAMES, Person, Target

SERVICES = ("intake", "routing", "reporting")
DEMAND = {"requester": {"kind": "citizen"}, "channel": "line_137", "neighbourhood": "ویلاشهر",
          "category": "transport", "title": "ترافیک", "description": "صف خودروها"}
ACTION_BODIES: dict[str, dict[str, Any]] = {
    "acknowledge": {}, "notes": {"note": "بازدید شد"}, "resolution": {"summary": "انجام شد"},
    "escalation": {"reason": "beyond_budget"}, "rejection": {"reason": "خارج از وظایف"},
    "withdrawal": {"reason": "لازم نیست"}, "reopen": {"reason": "دوباره خراب شد"},
    "requester-info": {"question": "نشانی دقیق کجاست؟"},
    "requester-response": {"answer": "کوچه سوم"}, "appeal": {"note": "هنوز حل نشده"},
    "send-back": {"to_level": "department", "instructions": "دوباره بررسی شود"},
    "support": {},
    "merge": {"into": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "reason": "همان درخواست"},
    "transfer": {"to_department": "civil_works", "reason": "misrouted"},
    "call-up": {"reason": "macro_challenge", "note": "تصمیم جلسه نظارت ستادی"},
}
LADDER = {"department_staff", "district_mayor", "headquarters", "central_management",
          "administrator"}
REQUESTER_SIDE = {"intake_clerk", "administrator"}
ACTION_ROLES = {**{a: LADDER for a in ACTION_BODIES},
                "withdrawal": REQUESTER_SIDE, "requester-response": REQUESTER_SIDE,
                "appeal": REQUESTER_SIDE, "reopen": LADDER | {"intake_clerk"},
                "send-back": {"headquarters", "central_management", "administrator"},
                "call-up": {"district_mayor", "headquarters", "central_management"},
                "support": REQUESTER_SIDE}
ADMIN = {"administrator"}
FAR = "2099-01-01T00:00:00Z"
SUBMITTERS = {"intake_clerk", "district_mayor", "headquarters", "central_management"}
RECORDERS = SUBMITTERS


def everyone(p: Person, t: Target) -> bool:
    return True


def sees(p: Person, t: Target) -> bool:
    return p.sees(t)


def sees_district(p: Person, t: Target) -> bool:
    return p.sees_district(t)


def role_and(roles: set[str], scope: Callable[[Person, Target], bool]):
    return lambda p, t: p.role in roles and scope(p, t)


@dataclass(frozen=True)
class Row:
    path: Callable[[Target], str]
    allowed: Callable[[Person, Target], bool] = everyone
    ok: int = 200
    json: Callable[[Target], dict[str, Any]] | None = None
    denied: int = 403
    items: bool = False  # a listing: every item must be within the person's scope
    targets: tuple[str, ...] = TARGET_NAMES  # ("own",): the same for every target
    form: dict[str, str] | None = None
    status: Callable[[Person, Target], int] | None = None  # when one ok/denied pair is not enough
    public: bool = False  # read without a token too (public fields only: test_open311_public.py)

    def expected(self, p: Person, t: Target) -> int:
        if self.status is not None:
            return self.status(p, t)
        return self.ok if self.allowed(p, t) else self.denied


@dataclass(frozen=True)
class Public:
    """Answers without a token; `anonymous` is what an anonymous request gets."""

    path: str
    anonymous: set[int] = field(default_factory=lambda: {200})
    form: dict[str, str] | None = None


def _action_row(action: str) -> Row:
    return Row(lambda t, a=action: f"/demands/{t.demand_id}/{a}",
               role_and(ACTION_ROLES[action], sees), ok=202,
               json=lambda t, a=action: ACTION_BODIES[a])


PUBLIC: dict[tuple[str, str], Public] = {
    ("/healthz", "GET"): Public("/healthz"),
    ("/readyz", "GET"): Public("/readyz", {200, 503}),
    ("/metrics", "GET"): Public("/metrics"),
    ("/openapi.json", "GET"): Public("/openapi.json"),
    ("/login", "GET"): Public("/login"),
    # Not from a form this site served (services/login.py): refused before the token is read
    ("/login", "POST"): Public("/login", {403}, form={"token": "not-a-token"}),
    ("/logout", "POST"): Public("/logout", {303}),
    # The citizen's tracking page: public, without personal data (reporting/web/track.py)
    ("/track/<request_id>", "GET"): Public("/track/01ARZ3NDEKTSV4RRFFQ69G5FAV", {404}),
}
# rule -> (a path, what an anonymous request gets)
STATIC = {"/static/web/<path:filename>": ("/static/web/sada.css", 200),
          "/static/<path:filename>": ("/static/nothing.css", 404)}
ONCE = ("own",)


def _closure(t: Target) -> dict[str, Any]:
    return {"district": t.district, "start": "2099-03-01T06:00:00+03:30",
            "end": "2099-03-02T06:00:00+03:30", "kind": "pollution",
            "reason": "آلودگی هوا"}


def _act_on_page(p: Person, t: Target) -> int:
    """A queue page's action form: the page takes any form from its own staff and
    administrators (a higher rung's only to call a demand up, not this acknowledgement); then
    it forwards to routing, which is not running in these tests (502)."""
    return 502 if p.role in {"department_staff", "administrator"} and p.sees(t) else 403

def _act_from_desk(p: Person, t: Target) -> int:
    """The mayor's desk's forms: the guard admits the mayor, staff and administrators; a demand
    out of sight is a 404 page, one at a rung they do not act for a 403 page (the targets wait
    at the department's rung: their own staff act there); then on to routing, not running
    here (502)."""
    if p.role not in {"district_mayor", "department_staff", "administrator"}:
        return 403
    if not p.sees(t):
        return 404
    return 403 if p.role == "district_mayor" else 502


def _act_from_board(p: Person, t: Target) -> int:
    """The escalation board's forms: the guard admits the rungs above the department and
    administrators; then as the desk's (only an administrator acts at the department's rung)."""
    if p.role not in {"district_mayor", "headquarters", "central_management", "administrator"}:
        return 403
    if not p.sees(t):
        return 404
    return 502 if p.role == "administrator" else 403


def _merge_on_page(p: Person, t: Target) -> int:
    """The likely-duplicates page's merge form: the guard admits the ladder and
    administrators; a demand out of sight is a 404 page, one at a rung they do not act for a
    403 page (the targets wait at the department's rung); then on to routing (502)."""
    if p.role not in LADDER:
        return 403
    if not p.sees(t):
        return 404
    return 502 if p.role in {"department_staff", "administrator"} else 403


def _support_from_desk(p: Person, t: Target) -> int:
    """The intake desk's support form: only a clerk of the district gets past the guard, and
    then a form naming no demand is a 400 page."""
    return 400 if p.role == "intake_clerk" and p.sees_district(t) else 403


MATRIX: dict[tuple[str, str, str], Row] = {
    ("intake", "/demands", "POST"): Row(
        lambda t: "/demands", role_and(SUBMITTERS, sees_district), ok=202,
        json=lambda t: {**DEMAND, "district": t.district}),
    ("intake", "/vocabulary", "GET"): Row(lambda t: "/vocabulary"),
    ("intake", "/meetings", "POST"): Row(
        lambda t: "/meetings", role_and(SUBMITTERS, sees_district), ok=202,
        json=lambda t: {"kind": "stakeholder_meeting", "district": t.district,
                        "held_on": "2026-11-18", "title": "شهر خوب، شهر ارتباطی",
                        "attendees": {"prayer_leader": 2}, "minutes": "صورت‌جلسه"}),
    ("intake", "/requesters/<requester_id>/erasure", "POST"): Row(  # no such requester: 404
        lambda t: f"/requesters/{t.demand_id}/erasure", lambda p, t: p.role in ADMIN, ok=404,
        targets=ONCE),
    **{("routing", f"/demands/<demand_id>/{a}", "POST"): _action_row(a) for a in ACTION_BODIES},
    ("routing", "/rules", "GET"): Row(lambda t: "/rules", targets=ONCE),
    ("routing", "/rules", "POST"): Row(
        lambda t: "/rules", lambda p, t: p.role in ADMIN, ok=202, targets=ONCE,
        json=lambda t: {"rule_set": {}, "note": "بدون تغییر"}),
    ("routing", "/rules/history", "GET"): Row(lambda t: "/rules/history", targets=ONCE),
    ("routing", "/calendar", "GET"): Row(lambda t: "/calendar", targets=ONCE),
    ("routing", "/closures", "POST"): Row(
        lambda t: "/closures", lambda p, t: p.role in ADMIN, ok=202, json=_closure),
    ("routing", "/clock/ticks", "POST"): Row(
        lambda t: "/clock/ticks", lambda p, t: p.role in ADMIN, ok=202, targets=ONCE,
        json=lambda t: {"at": FAR}),
    ("reporting", "/demands", "GET"): Row(
        lambda t: f"/demands?district={t.district}", sees_district, items=True),
    ("reporting", "/demands/<demand_id>", "GET"): Row(
        lambda t: f"/demands/{t.demand_id}", sees),
    ("reporting", "/demands/<demand_id>/likely-duplicates", "GET"): Row(
        lambda t: f"/demands/{t.demand_id}/likely-duplicates", sees),
    ("reporting", "/demands/<demand_id>/history", "GET"): Row(
        lambda t: f"/demands/{t.demand_id}/history", sees),
    ("reporting", "/queues/<district>/<department>", "GET"): Row(
        lambda t: f"/queues/{t.district}/{t.department}", sees, items=True),
    ("reporting", "/escalations", "GET"): Row(
        lambda t: f"/escalations?district={t.district}", sees_district, items=True),
    ("reporting", "/status", "GET"): Row(lambda t: "/status", targets=ONCE),
    ("reporting", "/districts/<district>/priorities", "GET"): Row(
        lambda t: f"/districts/{t.district}/priorities", sees_district, items=True),
    ("reporting", "/meetings", "GET"): Row(lambda t: f"/meetings?district={t.district}",
                                           sees_district),
    ("reporting", "/meetings/<meeting_id>/follow-up", "GET"): Row(  # no such meeting: 404
        lambda t: f"/meetings/{t.demand_id}/follow-up", ok=404, targets=ONCE),
    ("reporting", "/demands/<demand_id>/explanation", "GET"): Row(
        lambda t: f"/demands/{t.demand_id}/explanation", sees),
    ("reporting", "/deadline-changes", "GET"): Row(lambda t: "/deadline-changes", targets=ONCE),
    ("reporting", "/deadline-changes/<event_id>", "GET"): Row(  # no such change: 404, not 403
        lambda t: f"/deadline-changes/{t.demand_id}", ok=404, targets=ONCE),
    ("reporting", "/asof/demands/<demand_id>", "GET"): Row(
        lambda t: f"/asof/demands/{t.demand_id}?at={FAR}", sees),
    ("reporting", "/asof/queues/<district>/<department>", "GET"): Row(
        lambda t: f"/asof/queues/{t.district}/{t.department}?at={FAR}", sees, items=True),
    ("reporting", "/asof/escalations", "GET"): Row(
        lambda t: f"/asof/escalations?district={t.district}&at={FAR}", sees_district,
        items=True),
    ("reporting", "/audit/seal", "GET"): Row(lambda t: "/audit/seal", ok=404, targets=ONCE),
    ("reporting", "/audit/seals", "GET"): Row(lambda t: "/audit/seals", targets=ONCE),
    # Open311 GeoReport v2 over the same scope
    ("reporting", "/open311/v2/services.<any(xml, json):fmt>", "GET"): Row(
        lambda t: "/open311/v2/services.json", targets=ONCE, public=True),
    ("reporting", "/open311/v2/services/<code>.<any(xml, json):fmt>", "GET"): Row(
        lambda t: f"/open311/v2/services/{t.department}.xml", targets=ONCE, public=True),
    ("reporting", "/open311/v2/requests.<any(xml, json):fmt>", "GET"): Row(
        lambda t: f"/open311/v2/requests.json?district={t.district}", sees_district,
        public=True),
    ("reporting", "/open311/v2/requests.<any(xml, json):fmt>", "POST"): Row(
        lambda t: "/open311/v2/requests.json", role_and(SUBMITTERS, sees_district), ok=201,
        json=lambda t: {"service_code": "transport", "description": "صف خودروها",
                        "attribute[district]": str(t.district),
                        "attribute[neighbourhood]": "ویلاشهر"}),
    ("reporting", "/open311/v2/requests/<request_id>.<any(xml, json):fmt>", "GET"): Row(
        lambda t: f"/open311/v2/requests/{t.demand_id}.json", sees, public=True),
    ("reporting", "/open311/v2/tokens/<token>.<any(xml, json):fmt>", "GET"): Row(
        lambda t: f"/open311/v2/tokens/{t.demand_id}.json", sees, public=True),
    ("reporting", "/open311/v2/requests/<request_id>/events.json", "GET"): Row(
        lambda t: f"/open311/v2/requests/{t.demand_id}/events.json", sees),
    # pages
    ("reporting", "/", "GET"): Row(lambda t: "/", targets=ONCE),
    ("reporting", "/audit", "GET"): Row(lambda t: "/audit", targets=ONCE),
    ("reporting", "/queue", "GET"): Row(
        lambda t: f"/queue?district={t.district}&department={t.department}", ok=302),
    # A queue page outside the viewer's scope is refused (403), as the API refuses it.
    ("reporting", "/districts/<int:district>/departments/<department>", "GET"): Row(
        lambda t: f"/districts/{t.district}/departments/{t.department}", sees),
    ("reporting", "/districts/<int:district>/departments/<department>/demands/<demand_id>"
                  "/<action>", "POST"): Row(
        lambda t: f"/districts/{t.district}/departments/{t.department}/demands/"
                  f"{t.demand_id}/acknowledge", form={"note": "بررسی شد"}, status=_act_on_page),
    # A district's meetings page: each sees their district's.
    ("reporting", "/districts/<int:district>/meetings", "GET"): Row(
        lambda t: f"/districts/{t.district}/meetings", sees_district),
    # The district mayor's desk: each sees their district's (within it, their own scope's).
    # The rules page reads from and sends to routing, not running in these tests (502).
    ("reporting", "/rules", "GET"): Row(
        lambda t: "/rules", targets=ONCE,
        status=lambda p, t: 502 if p.role in ADMIN else 403),
    ("reporting", "/rules/publish", "POST"): Row(
        lambda t: "/rules/publish", targets=ONCE, form={"changes": "lifecycle: {wait_hours: 35}"},
        status=lambda p, t: 502 if p.role in ADMIN else 403),
    ("reporting", "/rules/closures", "POST"): Row(
        lambda t: "/rules/closures", targets=ONCE, form={"reason": "x"},
        status=lambda p, t: 502 if p.role in ADMIN else 403),
    # The intake desk: its forms go on to intake, which refuses this one's missing fields.
    ("reporting", "/districts/<int:district>/intake", "GET"): Row(
        lambda t: f"/districts/{t.district}/intake", role_and(RECORDERS, sees_district)),
    ("reporting", "/districts/<int:district>/intake/demands", "POST"): Row(
        lambda t: f"/districts/{t.district}/intake/demands", form={"title": "x"},
        status=lambda p, t: 422 if role_and(RECORDERS, sees_district)(p, t) else 403),
    ("reporting", "/districts/<int:district>/intake/meetings", "POST"): Row(
        lambda t: f"/districts/{t.district}/intake/meetings", form={"title": "x"},
        status=lambda p, t: 422 if role_and(RECORDERS, sees_district)(p, t) else 403),
    ("reporting", "/districts/<int:district>/mayor", "GET"): Row(
        lambda t: f"/districts/{t.district}/mayor", sees_district),
    ("reporting", "/districts/<int:district>/mayor/demands/<demand_id>/<action>", "POST"): Row(
        lambda t: f"/districts/{t.district}/mayor/demands/{t.demand_id}/acknowledge",
        form={"note": "بررسی شد"}, status=_act_from_desk),
    ("reporting", "/demands/<demand_id>/merge", "POST"): Row(
        lambda t: f"/demands/{t.demand_id}/merge",
        form={"into": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "reason": "همان"}, status=_merge_on_page),
    ("reporting", "/districts/<int:district>/intake/supports", "POST"): Row(
        lambda t: f"/districts/{t.district}/intake/supports", form={"on_behalf_of": "r-1"},
        status=_support_from_desk),
    # Headquarters' reports: anyone signed in, each within their scope (aggregates only).
    **{("reporting", f"/reports/{name}", "GET"): Row(lambda t, n=name: f"/reports/{n}",
                                                     targets=ONCE)
       for name in ("board", "sla", "fairness", "trends", "mix")},
    ("reporting", "/rules/what-if", "POST"): Row(
        lambda t: "/rules/what-if", targets=ONCE, form={"changes": "lifecycle: {wait_hours: 35}"},
        status=lambda p, t: 502 if p.role in ADMIN else 403),
    ("routing", "/rules/what-if", "POST"): Row(
        lambda t: "/rules/what-if", lambda p, t: p.role in ADMIN, targets=ONCE,
        json=lambda t: {"rule_set": {"lifecycle": {"wait_hours": 35}}}),
    ("reporting", "/board/demands/<demand_id>/<action>", "POST"): Row(
        lambda t: f"/board/demands/{t.demand_id}/acknowledge", form={"note": "بررسی شد"},
        status=_act_from_board),
}


def routes(world) -> set[tuple[str, str, str]]:
    return {(name, rule.rule, method)
            for name, app in world.apps.items() for rule in app.url_map.iter_rules()
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}


def test_every_endpoint_has_a_row(world) -> None:
    public = {(s, path, m) for s in SERVICES for (path, m) in PUBLIC}
    static = {(s, path, "GET") for s in SERVICES for path in STATIC}
    found = routes(world)
    missing = found - set(MATRIX) - public - static
    assert not missing, ("endpoints with no row in the authorization matrix (decide who may "
                         f"use them, then add a row): {sorted(missing)}")
    stale = set(MATRIX) - found
    assert not stale, f"rows for endpoints that no longer exist: {sorted(stale)}"


def _call(client, method: str, path: str, headers: dict[str, str], row: Row | None = None,
          form: dict[str, str] | None = None, target: Target | None = None):
    kwargs: dict[str, Any] = {"headers": headers}
    if row is not None and row.json is not None:
        kwargs["json"] = row.json(target)
    if form is not None or (row is not None and row.form is not None):
        kwargs["data"] = form or row.form
    return client.open(path, method=method, **kwargs)


def _reasons(r, code: int) -> list[str]:
    """The reasons a refusal gives: Sada's `{code, message, errors}`, or Open311's list of
    `{code, description}` in JSON or XML; [] if it gives none."""
    if r.mimetype == "text/xml":
        errors = ElementTree.fromstring(r.get_data())
        return [e.findtext("description") or "" for e in errors
                if e.findtext("code") == str(code) and e.findtext("description")]
    body = r.get_json(silent=True) if r.is_json else None
    if isinstance(body, list):
        return [e["description"] for e in body if e.get("code") == code and e["description"]]
    if not (body and body["code"] == code and body["message"]):
        return []
    headers = body.get("errors", {}).get("headers", {})
    return [body["message"], *(f"{k}: {v}" for k, v in headers.items())]


@pytest.mark.parametrize("key", sorted(MATRIX), ids="{0[0]} {0[2]} {0[1]}".format)
def test_who_may_use_the_endpoint(world, key) -> None:
    service, _, method = key
    row = MATRIX[key]
    client = world.apps[service].test_client()
    wrong = []
    items_seen = 0  # list items checked against each scope: never none
    for person in PEOPLE:
        headers = bearer(person.role, person.district, person.department, subject=person.name)
        for name in row.targets:
            target = world.targets[name]
            path = row.path(target)
            before = world.log.end_offsets()
            r = _call(client, method, path, headers, row, target=target)
            expected = row.expected(person, target)
            if r.status_code != expected:
                wrong.append(f"{person.name} {method} {path} ({name}): {r.status_code}, "
                             f"expected {expected}: {r.get_data(as_text=True)[:160]}")
                continue
            if expected in (401, 403, 404) and expected != row.ok:
                if not _reasons(r, expected) and not (
                        r.mimetype == "text/html" and r.get_data()):
                    wrong.append(f"{person.name} {path}: a refusal without a reason")
                if world.log.end_offsets() != before:
                    wrong.append(f"{person.name} {method} {path}: refused, but recorded")
            if row.items and expected == row.ok:
                items_seen += len(r.get_json()["items"])
                outside = [d["demand_id"] for d in r.get_json()["items"]
                           if not person.sees(Target("item", d["district"],
                                                     d.get("department"), d["demand_id"]))]
                if outside:
                    wrong.append(f"{person.name} {path}: sees {outside} outside its scope")
    assert not wrong, "\n".join(wrong)
    assert items_seen > 0 or not row.items


@pytest.mark.parametrize("key", sorted(MATRIX), ids="{0[0]} {0[2]} {0[1]}".format)
def test_without_a_valid_token_every_endpoint_is_a_401(world, key) -> None:
    service, _, method = key
    row = MATRIX[key]
    client = world.apps[service].test_client()
    target = world.targets["own"]
    before = world.log.end_offsets()
    forged = bearer("headquarters", secret="another-secret-of-at-least-32-characters")
    expired = bearer("headquarters", now=1_000_000_000)
    for headers in ({}, forged, expired, {"Authorization": "Basic aGVhZHF1YXJ0ZXJzOg=="}):
        r = _call(client, method, row.path(target), headers, row, target=target)
        if row.public and not headers:
            assert r.status_code == 200, r.get_data(as_text=True)  # a public read
            continue
        assert r.status_code == 401, (headers, r.get_data(as_text=True))
        assert any("Authorization" in reason for reason in _reasons(r, 401))
    assert world.log.end_offsets() == before


@pytest.mark.parametrize("service", SERVICES)
def test_public_paths_answer_without_a_token(world, service) -> None:
    client = world.apps[service].test_client()
    available = {(rule.rule, m) for rule in world.apps[service].url_map.iter_rules()
                 for m in rule.methods or ()}
    for (path, method), public in PUBLIC.items():
        if (path, method) not in available:
            continue
        r = _call(client, method, public.path, {}, form=public.form)
        assert r.status_code in public.anonymous, (path, method, r.status_code)
    for rule, (path, status) in STATIC.items():
        if (rule, "GET") in available:
            assert client.get(path).status_code == status, path


@pytest.mark.parametrize(("path", "scoped"), [
    ("/demands", True), ("/escalations", True), ("/status", False)])
def test_a_listing_without_a_district_shows_only_the_persons_scope(world, path, scoped) -> None:
    client = world.apps["reporting"].test_client()
    for person in PEOPLE:
        r = client.get(path, headers=bearer(person.role, person.district, person.department))
        assert r.status_code == 200, (person, r.get_json())
        if not scoped:
            continue
        items = r.get_json()["items"]
        districts = {d["district"] for d in items}
        assert all(person.sees(Target("i", d["district"], d.get("department"), d["demand_id"]))
                   for d in items), (person, path)
        if person.district is None:
            assert districts == {4, 21}, (person, path)
        else:
            assert items and districts == {21}, (person, path)
