"""The restart benchmark writes its city in two parts around a snapshot: the log it builds so
is the same log, byte for byte, as the one built in one go."""

from bench.history import write_log
from bench.restart import LogWriter
from services.eventlog.sqlite import SqliteEventLog


def test_a_city_written_in_two_parts_is_the_city_written_at_once(tmp_path):
    whole = write_log(tmp_path / "whole.sqlite3", 6_000)
    writer = LogWriter(tmp_path / "parts.sqlite3", 6_000)
    assert writer.write_to(2_500) == 2_500
    assert writer.write_to() == whole
    with SqliteEventLog(tmp_path / "whole.sqlite3") as a, \
            SqliteEventLog(tmp_path / "parts.sqlite3") as b:
        assert [r.raw for r in a.scan()] == [r.raw for r in b.scan()]
