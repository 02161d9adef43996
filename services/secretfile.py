"""A secret kept in the data dir: made once, readable by its owner only, and the same for
every process that asks (two `sada run`s racing to make it both end up with the first)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def read_or_make(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it a moment ago
        else:
            with os.fdopen(fd, "w") as out:
                out.write(make() + "\n")
    return path.read_text().strip()
