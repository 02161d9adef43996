"""Settings given in seconds: a number from 0 to 60, or a clear error naming the variable."""

from __future__ import annotations

import pytest

from services import config


def test_the_open311_wait_is_read_from_the_environment() -> None:
    assert config.load({}).open311_visible_seconds == 5.0
    assert config.load({"SADA_OPEN311_VISIBLE_SECONDS": "0.5"}).open311_visible_seconds == 0.5
    assert config.load({"SADA_OPEN311_VISIBLE_SECONDS": ""}).open311_visible_seconds == 5.0


@pytest.mark.parametrize("raw", ["soon", "-1", "61", "nan"])
def test_a_wait_that_is_not_a_number_of_seconds_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="SADA_OPEN311_VISIBLE_SECONDS"):
        config.load({"SADA_OPEN311_VISIBLE_SECONDS": raw})
