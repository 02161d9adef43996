"""Which log a database's read models were built from.

The projector stamps the log's identity (`EventLog.identity`) into the database before it
writes anything, and refuses a database stamped by another log; `sada replay` checks the same
before it drops a thing. So read models are never rebuilt from, or mixed with, another stack's
log, whatever port or path a command was pointed at.
"""

from __future__ import annotations

from pymongo.database import Database

from services.eventlog.port import EventLog

PROVENANCE = "provenance"
_ID = "log"


class ForeignLog(RuntimeError):
    """The database's read models were built from another log."""


def built_from(db: Database) -> str | None:
    doc = db[PROVENANCE].find_one({"_id": _ID})
    return doc["identity"] if doc else None


def check(db: Database, log: EventLog) -> None:
    """Raise ForeignLog if the database was built from a log other than `log`."""
    stamped, mine = built_from(db), log.identity()
    if stamped is not None and stamped != mine:
        raise ForeignLog(f"database {db.name!r} holds read models built from log {stamped}, "
                         f"not from this log ({mine})")


def stamp(db: Database, log: EventLog) -> None:
    """Record `log` as the database's source, unless another log already is (ForeignLog)."""
    check(db, log)
    db[PROVENANCE].update_one({"_id": _ID}, {"$setOnInsert": {"identity": log.identity()}},
                              upsert=True)
    check(db, log)  # a concurrent stamp by another log's projector loses here
