"""What `sada replay` says after each batch: how far it is, its rate and the time left."""

from reporting.replay import ProgressReport, progress_line


def test_a_replay_says_how_far_it_is_its_rate_and_the_time_left():
    assert progress_line(40_000, 100_000, 5.0) == (
        "replayed 40,000 of 100,000 events (40%), 8,000 events/s, ETA 8 s")
    assert progress_line(0, 0, 0.0) == "replayed 0 of 0 events, 0 events/s, ETA unknown"
    said: list[str] = []
    ticks = iter([0.0, 2.0, 4.0])
    report = ProgressReport(1000, said.append, clock=lambda: next(ticks))
    report(500)
    report(500)
    assert said == ["replayed 500 of 1,000 events (50%), 250 events/s, ETA 2 s",
                    "replayed 1,000 of 1,000 events (100%), 250 events/s, ETA 0 s"]


def test_batches_read_ahead_come_in_order_each_prepared_once():
    from reporting.replay import ahead

    prepared: list[list[int]] = []

    def prepare(batch: list[int]) -> list[int]:
        prepared.append(batch)
        return [x * 10 for x in batch]

    assert list(ahead(iter([[1, 2], [3], [4, 5]]), prepare)) == [[10, 20], [30], [40, 50]]
    assert prepared == [[1, 2], [3], [4, 5]]
    assert list(ahead(iter([]), prepare)) == []
