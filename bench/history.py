"""Generated histories for the benchmarks: a city in steady state, written straight into a
SQLite log.

The tests' `Desk` plays the people and routing (the real envelope, the shared fold and the
real `decide`). Demands arrive and are worked on until they close, so the number open stays
about `active` however long the history grows, as in a city that keeps up; now and then a
resolved demand is reopened. Events are written in chunks with one `executemany`, at the
offsets the SQLite adapter would give them.
"""

from __future__ import annotations

import random
import sqlite3
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from services.domain.vocabulary import CATEGORIES, CHANNELS, LEVEL_CODES, PRIORITIES
from services.eventlog.sqlite import SqliteEventLog
from services.events.envelope import Event, encode
from tests.integration.test_reporting_stream import TITLES, Desk

CHUNK = 5000


def steady_city(total: int, *, seed: int = 1, active: int = 2000) -> Iterator[list[Event]]:
    """About `total` events (a few more, to finish the last decisions), in chunks."""
    desk = Desk(seed)
    rng = random.Random(seed)
    open_ids: list[str] = []
    closed: deque[str] = deque()
    produced = 0
    while produced + len(desk.events) < total:
        if len(open_ids) < active or rng.random() < 0.18:
            open_ids.append(desk.submit(
                district=rng.randint(1, 22), category=rng.choice(list(CATEGORIES)),
                priority=rng.choice(list(PRIORITIES)), channel=rng.choice(list(CHANNELS)),
                title=rng.choice(TITLES), minutes=rng.uniform(0.1, 2), lag=rng.randint(0, 2)))
        elif closed and rng.random() < 0.01:
            demand_id = closed[rng.randrange(len(closed))]
            if desk.states[demand_id].status == "resolved":
                desk.reopen(demand_id, minutes=rng.uniform(0.1, 2))
                if desk.states[demand_id].is_open:
                    closed.remove(demand_id)
                    open_ids.append(demand_id)
        else:
            i = rng.randrange(len(open_ids))
            _act(desk, rng, open_ids[i])
            if not desk.states[open_ids[i]].is_open:
                closed.append(open_ids[i])
                open_ids[i] = open_ids[-1]
                open_ids.pop()
                while len(closed) > 500:  # forget long-closed demands: memory stays flat
                    del desk.states[closed.popleft()]
        if len(desk.events) >= CHUNK:
            produced += len(desk.events)
            yield list(desk.events)
            desk.events.clear()
    desk.flush()
    yield list(desk.events)


def _act(desk: Desk, rng: random.Random, demand_id: str) -> None:
    s = desk.states[demand_id]
    kw = {"minutes": rng.uniform(0.1, 2), "lag": rng.randint(0, 2)}
    roll = rng.random()
    if roll < 0.22:
        desk.acknowledge(demand_id, **kw)
    elif roll < 0.45:
        desk.note(demand_id, **kw)
    elif roll < 0.58 and s.level_index < len(LEVEL_CODES) - 1:
        desk.escalate(demand_id, reason=rng.choice(["beyond_budget", "deadline_passed"]), **kw)
    elif roll < 0.86:
        desk.resolve(demand_id, **kw)
    elif roll < 0.94:
        desk.withdraw(demand_id, **kw)
    else:
        desk.reject(demand_id, **kw)


def write_log(path: Path, total: int, *, seed: int = 1, active: int = 2000) -> int:
    """A fresh SQLite log at `path` holding a generated history; returns its length."""
    SqliteEventLog(path, synchronous="OFF").close()  # the adapter's own schema
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    offset = 0
    for chunk in steady_city(total, seed=seed, active=active):
        rows = [(offset + i, e.event_id, e.demand_id, e.type, encode(e))
                for i, e in enumerate(chunk)]
        conn.execute("BEGIN")
        conn.executemany('INSERT INTO events ("offset", event_id, demand_id, type, data) '
                         "VALUES (?,?,?,?,?)", rows)
        conn.execute("COMMIT")
        offset += len(rows)
    conn.close()
    return offset
