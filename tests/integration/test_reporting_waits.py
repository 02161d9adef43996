"""Read-your-write waits are bounded: `wait` is capped (test_reporting_api.py), and one token
subject holds at most a few waits at once; more are refused at once with 429 and Retry-After,
while other subjects and reads already fresh are not affected."""

from __future__ import annotations

import threading

from reporting.waits import PER_SUBJECT
from tests.auth_helpers import bearer
from tests.integration.test_reporting_api import city, client, error  # noqa: F401

EXTRA = 3


def test_waits_per_subject_are_bounded(client, city) -> None:  # noqa: F811
    beyond = len(city.desk.events) + 5
    path = f"/demands?after=0:{beyond}&wait=2"
    answers: list[int] = []
    retry_after: list[str | None] = []
    lock = threading.Lock()

    def read(headers: dict[str, str]) -> None:
        response = client.application.test_client().get(path, headers=headers)
        with lock:
            answers.append(response.status_code)
            retry_after.append(response.headers.get("Retry-After"))

    same = bearer("headquarters", subject="one-person")
    threads = [threading.Thread(target=read, args=(same,)) for _ in range(PER_SUBJECT + EXTRA)]
    for thread in threads:
        thread.start()
    # While this subject's slots are all taken, another subject still waits its turn (504),
    # and a read that needs no wait answers at once.
    other = client.get(path, headers=bearer("headquarters", subject="someone-else"))
    fresh = client.get("/demands?after=0:0&wait=2", headers=same)
    for thread in threads:
        thread.join()
    assert sorted(answers) == [429] * EXTRA + [504] * PER_SUBJECT
    assert sorted(r for r in retry_after if r) == ["1"] * EXTRA
    assert other.status_code == 504
    assert fresh.status_code == 200


def test_a_refused_wait_says_why(client, city) -> None:  # noqa: F811
    slots = client.application.extensions["sada.reporting"].waits
    for _ in range(PER_SUBJECT):
        assert slots.take("headquarters")
    beyond = len(city.desk.events) + 5
    body = error(client.get(f"/demands?after=0:{beyond}&wait=1"), 429)
    assert "retry" in body["message"]
    for _ in range(PER_SUBJECT):
        slots.give_back("headquarters")
    assert error(client.get(f"/demands?after=0:{beyond}&wait=0.1"), 504)



def test_time_travel_waits_take_the_same_slots(client, city) -> None:  # noqa: F811
    slots = client.application.extensions["sada.reporting"].waits
    start = len(city.desk.events)
    city.desk.submit(district=3, category="transport")
    city.append(start)  # in the log, not yet projected
    path = f"/asof/demands/{city.ids['soon']}?at=0:{len(city.desk.events) - 1}&wait=0.2"
    for _ in range(PER_SUBJECT):
        assert slots.take("headquarters")
    error(client.get(path), 429)
    for _ in range(PER_SUBJECT):
        slots.give_back("headquarters")
    error(client.get(path), 504)
