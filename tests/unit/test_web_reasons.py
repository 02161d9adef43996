"""The escalation form offers only the reasons a person may choose."""

from reporting.web.render import CHOOSABLE_REASONS
from services.domain.vocabulary import ESCALATION_REASONS


def test_deadline_passed_is_not_offered_to_people() -> None:
    assert "deadline_passed" not in CHOOSABLE_REASONS
    assert set(CHOOSABLE_REASONS) == set(ESCALATION_REASONS) - {"deadline_passed"}
