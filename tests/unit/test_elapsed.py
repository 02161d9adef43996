"""Routing measures how long the city took in working hours, its requester's waits apart."""

from __future__ import annotations

from datetime import UTC, datetime

from reporting import tallies
from tests.integration.test_reporting_stream import CLERK, Desk

# Wednesday 2025-03-12 17:00 in Tehran (13:30 UTC): the offices closed at 14:30.
WEDNESDAY_EVENING = datetime(2025, 3, 12, 13, 25, tzinfo=UTC)  # the desk adds 5 minutes


def minutes(until: datetime, desk: Desk) -> float:
    return (until - desk.clock).total_seconds() / 60


def test_a_wednesday_evening_web_demand_answered_saturday_morning_took_working_hours_not_days():
    desk = Desk(start=WEDNESDAY_EVENING)
    demand = desk.submit(channel="web")
    # Saturday 08:00 Tehran (04:30 UTC) a question; answered at 08:30; resolved at 09:00.
    desk.request(demand, "RequesterInfoRequested", {"question": "کدام تقاطع؟"},
                 desk.actor_for(demand),
                 minutes=minutes(datetime(2025, 3, 15, 4, 30, tzinfo=UTC), desk))
    desk.request(demand, "RequesterResponded", {"answer": "تقاطع اول"}, CLERK,
                 minutes=minutes(datetime(2025, 3, 15, 5, 0, tzinfo=UTC), desk))
    desk.resolve(demand, minutes=minutes(datetime(2025, 3, 15, 5, 30, tzinfo=UTC), desk))
    desk.flush()
    (resolved,) = [e for e in desk.events if e.type == "DemandResolved"]
    # 07:30-09:00 Saturday is 1.5 working hours, half an hour of it waiting on the requester;
    # on the wall clock it was 64 hours.
    took = resolved.payload["elapsed"]
    assert (took["working_hours"], took["waited_working_hours"]) == (1.0, 0.5)
    assert (took["level"], took["kept"]) == ("department", True)  # resolved in 1 of 35 hours
    state = desk.states[demand]
    assert state.waited and state.resolution_time["working_hours"] == 1.0
    bag = tallies.contribution(state)
    assert bag["1|*|fair|citizen|to_resolution|60"] == 1  # the band up to an hour
    assert bag["1|*|fair|citizen|waited"] == 1


def test_each_rung_answer_says_whether_it_kept_the_rungs_deadline():
    desk = Desk(start=WEDNESDAY_EVENING)
    demand = desk.submit(channel="web")
    desk.acknowledge(demand, minutes=60 * 24 * 12)  # twelve days on: past the 14 h to answer
    desk.escalate(demand)
    desk.resolve(demand, minutes=30)  # the mayor, at once
    desk.flush()
    state = desk.states[demand]
    assert [(a["level"], a["kind"], a["kept"]) for a in state.answers] == [
        ("department", "acknowledge", False), ("district_mayor", "resolve", True)]
    bag = tallies.contribution(state)
    assert bag["1|transport|answered|department|acknowledge|late"] == 1
    assert bag["1|transport|answered|district_mayor|resolve|kept"] == 1
    (row_department, row_mayor) = tallies.by_rung(tallies.Scoped(bag))
    assert (row_department["level"], row_department["acknowledged_late"]) == ("department", 1)
    assert (row_mayor["level"], row_mayor["resolved_in_time"]) == ("district_mayor", 1)
