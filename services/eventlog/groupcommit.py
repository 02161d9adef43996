"""Group commit: appends that arrive together share one durable transaction.

A caller hands its item to `GroupCommit.submit` and waits. If no commit is under way it
becomes the leader at once and commits what is waiting (at least its own item), so a lone
append is committed without any wait. While a commit runs (an fsync: milliseconds) the items
that arrive queue up, and when it ends one of them leads the next commit with all of them.
No timer: the group is whatever arrived during the previous commit, so the batch grows with
the load and the latency of a lone request does not.

Every caller is answered only after the transaction holding its item is committed; if the
commit fails, every caller of that group gets the error (none is answered as if its item
were stored).

Under gevent's monkey patching (the web services' workers) every greenlet shares one thread,
so a commit that blocked in C would stop the others from reaching `submit` at all: the
commit then runs in gevent's pool of native threads (`run_blocking`), and the greenlets
queue meanwhile.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def gevent_patched() -> bool:
    """Whether gevent has replaced `threading` (so 'threads' are greenlets on one thread)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def run_blocking(fn: Callable[..., Result], *args: Any) -> Result:
    """`fn(*args)`, in a native thread if gevent is patched in (other greenlets run
    meanwhile); otherwise in the calling thread (sqlite3 releases the GIL while it waits)."""
    if gevent_patched():
        import gevent

        return gevent.get_hub().threadpool.apply(fn, args)
    return fn(*args)


@dataclass
class _Waiter(Generic[Item, Result]):
    item: Item
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None

    def outcome(self) -> Result:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommit(Generic[Item, Result]):
    """Serialises calls of `commit(items) -> results` (one result per item, in order) and
    gives each call every item that arrived while the previous one ran."""

    def __init__(self, commit: Callable[[list[Item]], Sequence[Result]]) -> None:
        self._commit = commit
        self._changed = threading.Condition()
        self._pending: list[_Waiter[Item, Result]] = []
        self._leading = False

    @property
    def busy(self) -> bool:
        """Whether a commit is under way or waited for."""
        with self._changed:
            return self._leading or bool(self._pending)

    def submit(self, item: Item) -> Result:
        """`item`'s result once the transaction holding it is committed; the commit's error
        if it failed."""
        me: _Waiter[Item, Result] = _Waiter(item)
        with self._changed:
            self._pending.append(me)
            while not me.done:
                if not self._leading:
                    self._leading = True
                    group, self._pending = self._pending, []
                    break
                self._changed.wait()
            else:
                return me.outcome()
        self._lead(group, me)
        return me.outcome()

    def _lead(self, group: list[_Waiter[Item, Result]], leader: _Waiter[Item, Result]) -> None:
        results: Sequence[Result] = ()
        error: BaseException | None = None
        try:
            results = run_blocking(self._commit, [w.item for w in group])
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} items")
        except BaseException as exc:  # noqa: BLE001 - every waiter must be answered, then re-raised
            error = exc
        # An interruption of the leader (KeyboardInterrupt, a killed greenlet) is its own;
        # the others learn only that their commit did not complete.
        shared = error if error is None or isinstance(error, Exception) else \
            RuntimeError(f"the commit was interrupted ({type(error).__name__})")
        with self._changed:
            for i, waiter in enumerate(group):
                if error is not None:
                    waiter.error = error if waiter is leader else shared
                else:
                    waiter.result = results[i]
                waiter.done = True
            self._leading = False
            self._changed.notify_all()
