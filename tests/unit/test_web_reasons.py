"""The escalation form offers only the reasons a person may choose."""

from reporting.web.render import CHOOSABLE_REASONS
from services.domain.vocabulary import ESCALATION_REASONS


def test_neither_the_clocks_nor_the_requesters_reason_is_offered_to_people() -> None:
    assert "deadline_passed" not in CHOOSABLE_REASONS  # only the clock passes a deadline
    assert "requester_appeal" not in CHOOSABLE_REASONS  # only the requester's side appeals
    assert set(CHOOSABLE_REASONS) == set(ESCALATION_REASONS) - {"deadline_passed",
                                                                "requester_appeal"}
