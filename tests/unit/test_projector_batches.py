"""How the reporting projector gathers a batch: the first poll, then what arrives within the
linger, up to the batch size. Pure: a scripted consumer on a simulated clock."""

from __future__ import annotations

from reporting.projector import gather
from services.eventlog.port import Record


class Scripted:
    """A consumer whose polls bring, at given moments, given records; waiting moves the clock."""

    def __init__(self, arrivals: list[tuple[float, int]]) -> None:
        self.now = 0.0
        self.arrivals = sorted(arrivals)  # (when, how many)
        self.offset = 0
        self.polls = 0

    def clock(self) -> float:
        return self.now

    def poll(self, timeout: float = 1.0, max_records: int = 500) -> list[Record]:
        self.polls += 1
        due = [a for a in self.arrivals if a[0] <= self.now]
        if not due:
            upcoming = [a for a in self.arrivals if a[0] <= self.now + timeout]
            if not upcoming:
                self.now += timeout
                return []
            self.now = upcoming[0][0]
            due = [upcoming[0]]
        when, n = due[0]
        take = min(n, max_records)
        self.arrivals.remove((when, n))
        if take < n:
            self.arrivals.insert(0, (when, n - take))
        out = [Record(0, self.offset + i, b"") for i in range(take)]
        self.offset += take
        return out


def test_what_arrives_within_the_linger_joins_the_batch() -> None:
    consumer = Scripted([(0.0, 1), (0.02, 1), (0.04, 2), (0.2, 5)])
    batch = gather(consumer, 500, 0.5, 0.05, consumer.clock)
    assert [r.offset for r in batch] == [0, 1, 2, 3]  # the last arrival is past the linger
    assert gather(consumer, 500, 0.5, 0.05, consumer.clock)[0].offset == 4


def test_without_a_linger_the_first_poll_is_the_batch() -> None:
    consumer = Scripted([(0.0, 1), (0.01, 3)])
    assert len(gather(consumer, 500, 0.5, 0.0, consumer.clock)) == 1
    assert consumer.polls == 1


def test_a_full_batch_or_a_quiet_log_does_not_wait() -> None:
    consumer = Scripted([(0.0, 600)])
    assert len(gather(consumer, 500, 0.5, 0.05, consumer.clock)) == 500
    assert consumer.now == 0.0 and consumer.polls == 1
    quiet = Scripted([])
    assert gather(quiet, 500, 0.5, 0.05, quiet.clock) == []
    assert quiet.polls == 1


def test_a_batch_never_exceeds_its_size() -> None:
    consumer = Scripted([(0.0, 400), (0.01, 400)])
    assert len(gather(consumer, 500, 0.5, 0.05, consumer.clock)) == 500
    assert len(gather(consumer, 500, 0.5, 0.05, consumer.clock)) == 300
