"""The replay section's arithmetic: a million events' time from the rate measured, and rates
written short enough for a target line."""

import pytest

from bench.replay import MILLION, rate_text, seconds_for


def test_a_million_events_take_the_measured_time_scaled_linearly():
    assert seconds_for(MILLION, 100_000, 55.0) == pytest.approx(550.0)
    assert seconds_for(MILLION, 2_000_000, 80.0) == pytest.approx(40.0)


def test_nothing_measured_cannot_be_extrapolated():
    with pytest.raises(ValueError):
        seconds_for(MILLION, 0, 1.0)
    with pytest.raises(ValueError):
        seconds_for(MILLION, 10, 0.0)


def test_rates_are_written_in_k_and_m():
    assert rate_text(950) == "950/s"
    assert rate_text(20_812) == "20.8k/s"
    assert rate_text(67_000) == "67k/s"
    assert rate_text(1_234_567) == "1.23M/s"

