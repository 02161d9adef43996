"""The citizen's tracking page: public, where the demand is and what happened, and nothing
personal — not the requester's name, phone or code, not a note written inside."""

from __future__ import annotations

from tests.integration.test_reporting_stream import Desk
from tests.integration.test_web_pages import served as serve


def test_a_demand_is_tracked_without_a_token_and_without_personal_data(tmp_path, mongo_db):
    desk = Desk()
    demand = desk.submit(district=17, category="transport", title="چراغ راهنمایی خاموش")
    desk.note(demand, text="یادداشت داخلی: پیمانکار دیر کرد")
    desk.escalate(demand, reason="beyond_budget")
    with serve(desk, tmp_path, mongo_db) as app:
        anonymous = app.test_client()
        page = anonymous.get(f"/track/{demand.lower()}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200, text
        assert 'dir="rtl"' in text and "چراغ راهنمایی خاموش" in text
        assert 'data-level="district_mayor"' in text
        assert 'data-type="DemandRouted"' in text and 'data-type="DemandEscalated"' in text
        assert "پیمانکار دیر کرد" not in text  # an internal note is not public
        english = anonymous.get(f"/track/{demand}?lang=en").get_data(as_text=True)
        assert 'dir="ltr"' in english and "District mayor" in english
        assert anonymous.get("/track/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
        assert anonymous.get("/track/not-an-id").status_code == 404
