"""Writing files into a folder someone else may also write to, without being tricked.

`sada export` writes into a folder an operator names; another local user may have planted a
symlink there (`demands.csv -> ~/.bashrc`) or a hard link, hoping the export overwrites the
file it points to. Here a file is never opened by its final name: it is written to a new
temporary file in the same folder (created exclusively, `O_EXCL|O_NOFOLLOW`) and then renamed
over the name, which replaces the directory entry itself and writes through no link. A name
that is a symlink is refused outright, and an existing file only replaced when asked to.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


class Refused(Exception):
    """The folder or a file in it may not be written as asked; the message says why."""


def check_folder(directory: Path, names: list[str], *, force: bool) -> None:
    """Refuse a symlink among `names`, anything that is not a folder at `directory`, and,
    unless `force`, a folder that is not empty."""
    if directory.is_symlink() or (directory.exists() and not directory.is_dir()):
        raise Refused(f"{directory} is not a folder (a symlink or a file); name a folder")
    if not directory.exists():
        return
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            mode = os.lstat(directory / name).st_mode
            if stat.S_ISLNK(mode):
                raise Refused(f"{directory / name} is a symlink; refusing to write through "
                              "it (remove it, or choose an empty folder)")
            if not stat.S_ISREG(mode):
                raise Refused(f"{directory / name} is not a regular file; refusing to "
                              "replace it")
    if not force and any(directory.iterdir()):
        raise Refused(f"{directory} is not empty; choose an empty folder, or pass --force to "
                      "replace the files it holds")


@contextlib.contextmanager
def replacing(path: Path, mode: str = "w") -> Iterator[IO]:
    """A new file that takes `path`'s name once written whole (never written through a link
    at `path`). `mode` is "w" (text, UTF-8) or "wb"."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        kwargs = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if os.path.islink(path):  # planted while we wrote: still never follow it
            raise Refused(f"{path} became a symlink while it was written; refusing")
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
