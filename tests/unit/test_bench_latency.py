"""The latency bench's arithmetic: percentiles, and which submission a queue count reveals."""

from bench.latency import percentile, visible_after
from services.eventlog.port import Position


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([3.0, 1.0, 2.0], 50) == 2
    assert percentile([7.0], 99) == 7


def test_a_count_reveals_submissions_in_log_order_not_in_sending_order():
    # Sent at 0, 1, 2; the log holds them as 2nd, 3rd, 1st (offsets 11, 12, 10).
    due = [0.0, 1.0, 2.0]
    positions = [Position(0, 11), Position(0, 12), Position(0, 10)]
    seen_at = [2.5, 3.0, 4.0]  # the count reached 1, 2, 3 at these times
    assert visible_after(due, positions, seen_at) == [3.0, 3.0, 0.5]
