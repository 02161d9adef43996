"""Tamper evidence on real logs: the sealer seals each partition as it grows, and
`sada verify` names the first record altered, removed, reordered or inserted, in an
exported archive and in the SQLite log file itself (edited with sqlite3)."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from sada.cli import main as sada
from services.audit import archive
from services.audit.chain import seal_payload
from services.audit.sealer import Sealer
from services.audit.verify import from_log, verify
from services.eventlog.kafka import KafkaEventLog
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import encode
from services.events.families.audit import SEAL
from tests.audit_streams import demand_events, grow_sealed

N = 130
EVERY = 20
SEALS = N // EVERY  # the sealer follows batches of 10 events


@pytest.fixture
def sealed(tmp_path) -> Path:
    """A SQLite log of N events sealed every EVERY as it grew; its path."""
    path = tmp_path / "events.sqlite3"
    with SqliteEventLog(path, synchronous="OFF") as log:
        sealer = grow_sealed(log, demand_events(N), every=EVERY)
        assert sealer.seals_appended == SEALS
    return path


def rows(path: Path) -> list[tuple[int, str, bytes]]:
    with sqlite3.connect(path) as conn:
        return conn.execute('SELECT "offset", type, data FROM events ORDER BY "offset"').fetchall()


def run_verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(sada, ["verify", *args])
    return result.exit_code, result.output


def first_note(path: Path, after: int = 30) -> int:
    """The offset of a note that a seal covers (an ordinary event in the middle)."""
    return next(o for o, t, _ in rows(path) if o > after and t == "ProgressNoteSubmitted")


# -- the untouched log ---------------------------------------------------------------------
def test_an_untouched_log_verifies(sealed) -> None:
    with SqliteEventLog(sealed) as log:
        report = verify(from_log(log))
    assert report.ok and report.findings == []
    chain = report.chains[0]
    assert chain.seals == SEALS and chain.count == N + SEALS
    seals = [json.loads(d)["payload"] for _, t, d in rows(sealed) if t == SEAL]
    assert [s["count"] for s in seals] == sorted(s["count"] for s in seals)
    assert all(s["partition"] == 0 for s in seals)
    assert chain.sealed_digest.hex() == seals[-1]["chain_digest"]
    code, out = run_verify(str(sealed))
    assert code == 0, out
    assert "intact" in out and "verified: the log matches its seals" in out


def test_an_exported_archive_holds_the_stored_bytes_and_verifies(sealed, tmp_path) -> None:
    with SqliteEventLog(sealed) as log:
        assert archive.write(log, tmp_path / "log.jsonl") == len(rows(sealed))
    assert [raw for _, _, raw in archive.read(tmp_path / "log.jsonl")] == \
        [bytes(d) for _, _, d in rows(sealed)]
    code, out = run_verify(str(tmp_path / "log.jsonl"))
    assert code == 0, out
    code, out = run_verify(str(tmp_path), "--json")
    assert code == 0 and json.loads(out)["ok"] is True


# -- tampering with an archive ---------------------------------------------------------------
def _tamper_lines(lines: list[bytes], how: str, k: int) -> list[bytes]:
    if how == "byte_changed":
        line = lines[k]
        at = line.index(b'"recorded_at":"') + len(b'"recorded_at":"2025-03-0')
        lines[k] = line[:at] + (b"2" if line[at:at + 1] != b"2" else b"3") + line[at + 1:]
    elif how == "deleted":
        del lines[k]
    elif how == "swapped":
        lines[k], lines[k + 1] = lines[k + 1], lines[k]
    elif how == "inserted":
        forged = encode(demand_events(1, seed="forged")[0])
        lines.insert(k, archive.line(0, k, forged))
    return lines


EXPECTED = {"byte_changed": "altered", "deleted": "removed", "swapped": "reordered",
            "inserted": "inserted"}


@pytest.mark.parametrize("how", list(EXPECTED))
def test_verify_names_the_first_tampered_record_in_an_archive(sealed, tmp_path, how) -> None:
    with SqliteEventLog(sealed) as log:
        archive.write(log, tmp_path / "log.jsonl")
    k = first_note(sealed)
    lines = (tmp_path / "log.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "log.jsonl").write_bytes(b"".join(_tamper_lines(lines, how, k)))
    code, out = run_verify(str(tmp_path / "log.jsonl"), "--json")
    assert code == 1, out
    (finding,) = [p["first_difference"] for p in json.loads(out)["partitions"].values()]
    assert finding["kind"] == EXPECTED[how] and finding["index"] == k
    # A line keeps its offset wherever it is moved: the first out of place is k + 1's.
    expected_offset = k + 1 if how in ("deleted", "swapped") else k
    assert finding["offset"] == expected_offset
    code, text = run_verify(str(tmp_path / "log.jsonl"))
    assert code == 1 and f"first difference at offset {expected_offset}" in text
    assert "verification FAILED" in text


def test_a_line_that_is_no_record_is_reported(sealed, tmp_path) -> None:
    with SqliteEventLog(sealed) as log:
        archive.write(log, tmp_path / "log.jsonl")
    with open(tmp_path / "log.jsonl", "ab") as f:
        f.write(b"not a record\n")
    code, out = run_verify(str(tmp_path))
    assert code == 1 and f"line {len(rows(sealed)) + 1}" in out


# -- tampering with the SQLite log file itself -----------------------------------------------
def _tamper_sqlite(path: Path, how: str, k: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    (data,) = conn.execute('SELECT data FROM events WHERE "offset" = ?', (k,)).fetchone()
    if how == "byte_changed":
        at = data.index(b'"recorded_at":"') + len(b'"recorded_at":"2025-03-0')
        changed = data[:at] + (b"2" if data[at:at + 1] != b"2" else b"3") + data[at + 1:]
        conn.execute('UPDATE events SET data = ? WHERE "offset" = ?', (changed, k))
    elif how == "deleted":
        conn.execute('DELETE FROM events WHERE "offset" = ?', (k,))
    elif how == "swapped":
        (other,) = conn.execute('SELECT data FROM events WHERE "offset" = ?',
                                (k + 1,)).fetchone()
        conn.execute("BEGIN")
        conn.execute('UPDATE events SET data = ?, event_id = event_id || \'x\' '
                     'WHERE "offset" = ?', (other, k))
        conn.execute('UPDATE events SET data = ? WHERE "offset" = ?', (data, k + 1))
        conn.execute("COMMIT")
    elif how == "inserted":
        forged = demand_events(1, seed="forged")[0]
        conn.execute("BEGIN")
        conn.execute('UPDATE events SET "offset" = -"offset" - 1 WHERE "offset" >= ?', (k,))
        conn.execute('UPDATE events SET "offset" = -"offset" WHERE "offset" < 0')
        conn.execute('INSERT INTO events ("offset", event_id, demand_id, type, data) '
                     "VALUES (?,?,?,?,?)", (k, forged.event_id, forged.demand_id, forged.type,
                                            encode(forged)))
        conn.execute("COMMIT")
    conn.close()


@pytest.mark.parametrize("how", list(EXPECTED))
def test_verify_names_the_first_tampered_record_in_the_sqlite_file(sealed, how) -> None:
    k = first_note(sealed)
    _tamper_sqlite(sealed, how, k)
    code, out = run_verify(str(sealed), "--json")
    assert code == 1, out
    finding = json.loads(out)["partitions"]["0"]["first_difference"]
    assert finding["kind"] == EXPECTED[how] and finding["index"] == k
    assert finding["offset"] == (k + 1 if how == "deleted" else k)
    if how == "deleted":
        assert f"offsets {k}-{k} are absent" in finding["detail"]


def test_verify_reads_the_configured_log_too(sealed) -> None:
    runner = CliRunner(env={"SADA_SQLITE_PATH": str(sealed), "SADA_EVENT_LOG": "sqlite"})
    assert runner.invoke(sada, ["verify"]).exit_code == 0
    _tamper_sqlite(sealed, "deleted", first_note(sealed))
    result = runner.invoke(sada, ["verify"])
    assert result.exit_code == 1 and "TAMPERED" in result.output


def test_a_log_cut_short_is_caught_by_the_published_digest(sealed) -> None:
    last_seal = [o for o, t, _ in rows(sealed) if t == SEAL][-1]
    published = json.loads(rows(sealed)[last_seal][2])["payload"]["chain_digest"]
    assert run_verify(str(sealed), "--digest", published)[0] == 0
    with sqlite3.connect(sealed) as conn:
        conn.execute('DELETE FROM events WHERE "offset" >= ?', (last_seal,))
    assert run_verify(str(sealed))[0] == 0  # what is left is consistent...
    code, out = run_verify(str(sealed), "--digest", published)
    assert code == 1 and "NOT FOUND" in out  # ...but it is not the log that was published


def test_an_altered_seal_is_named_by_the_next_one(sealed) -> None:
    seals = [o for o, t, _ in rows(sealed) if t == SEAL]
    conn = sqlite3.connect(sealed)
    (data,) = conn.execute('SELECT data FROM events WHERE "offset" = ?', (seals[1],)).fetchone()
    payload = json.loads(data)["payload"]
    forged = data.replace(payload["chain_digest"].encode(), b"0" * 64)
    conn.execute('UPDATE events SET data = ? WHERE "offset" = ?', (forged, seals[1]))
    conn.commit()
    conn.close()
    code, out = run_verify(str(sealed), "--json")
    finding = json.loads(out)["partitions"]["0"]["first_difference"]
    assert code == 1 and finding["offset"] == seals[1] and finding["kind"] == "altered"


# -- the sealer ------------------------------------------------------------------------------
def test_the_sealer_seals_after_a_while_and_never_for_seals_alone(tmp_path) -> None:
    now = [1000.0]
    with SqliteEventLog(tmp_path / "events.sqlite3", synchronous="OFF") as log:
        sealer = Sealer(log, every=1000, seconds=30.0, clock=lambda: now[0])
        sealer.start()
        log.append(demand_events(3))
        sealer.drain()
        assert sealer.seals_appended == 0
        now[0] += 31
        sealer.drain()
        assert sealer.seals_appended == 1
        now[0] += 1000
        sealer.drain()  # only the seal came since: nothing to seal
        assert sealer.seals_appended == 1
        assert verify(from_log(log)).chains[0].seals == 1


def test_a_restarted_sealer_checks_the_log_and_will_not_seal_a_tampered_one(sealed) -> None:
    with SqliteEventLog(sealed) as log:
        again = Sealer(log, every=5, seconds=3600.0)
        again.start()
        assert again.chains[0].finding is None and again.chains[0].seals == SEALS
    _tamper_sqlite(sealed, "byte_changed", first_note(sealed))
    with SqliteEventLog(sealed) as log:
        wary = Sealer(log, every=5, seconds=3600.0)
        wary.start()
        assert wary.chains[0].finding is not None
        log.append(demand_events(12, seed="later"))
        wary.drain()
        assert wary.seals_appended == 0


def _settle(sealer: Sealer, seals: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while sealer.seals_appended < seals or sealer.waiting:
        assert time.monotonic() < deadline, f"{sealer.seals_appended} of {seals} seals"
        sealer.step(timeout=0.2)


def test_each_seal_goes_to_the_partition_it_seals(noida_bootstrap, unique_name) -> None:
    log = KafkaEventLog(noida_bootstrap, unique_name, partitions=3, timeout=10)
    sealer = None
    try:
        events = demand_events(90)
        assert len({log.partition_for(e.demand_id) for e in events}) == 3
        sealer = Sealer(log, every=5, seconds=3600.0, group=unique_name)
        sealer.start()
        log.append(events[:45])
        _settle(sealer, 3)
        log.append(events[45:])
        _settle(sealer, 6)
        records = list(log.scan())
        seals = [(r.partition, seal_payload(r.raw)) for r in records if r.event.type == SEAL]
        assert len(seals) == sealer.seals_appended == 6
        assert all(payload is not None and payload["partition"] == p for p, payload in seals)
        report = verify((r.partition, r.offset, r.raw) for r in records)
        assert report.ok and sorted(c.seals for c in report.chains.values()) == [2, 2, 2]
    finally:
        if sealer is not None:
            sealer.close()
        log.close()
