"""Where key-encryption keys (KEKs) live: one file each, in a directory outside MongoDB.

A KEK must be destroyable. Anything written to MongoDB is also written to its oplog (every
replica set keeps one, SecantusDB included) and to its backups, where deleting the document
does not reach; so KEKs are kept apart, in `SADA_KEK_DIR` (by default the data dir's
`keks/`), a directory every process that opens the key store can read. Each file,
`<kek id>.kek`, holds the KEK wrapped under the master key (readable by its owner only), so
the directory alone opens nothing.

Writing is durable before it is relied on (temporary file, fsync, rename, fsync of the
directory). Destroying overwrites the file with random bytes, syncs, and unlinks it. On a
journaling, copy-on-write or flash file system old blocks may outlive that: keep the
directory out of long-lived backups and snapshots (docs/privacy.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from services.privacy.crypto import KEY_BYTES, MasterKey

SUFFIX = ".kek"
_ID = re.compile(r"^[0-9A-Za-z]{10,40}$")


class KekDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _file(self, kek_id: str) -> Path:
        if not _ID.match(kek_id):
            raise ValueError(f"not a KEK id: {kek_id!r}")
        return self.path / f"{kek_id}{SUFFIX}"

    def ids(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(p.name[:-len(SUFFIX)] for p in self.path.glob(f"*{SUFFIX}"))

    def exists(self, kek_id: str) -> bool:
        return self._file(kek_id).exists()

    def load(self, kek_id: str, master: MasterKey) -> bytes | None:
        """The KEK, or None if it was destroyed (or never reached this directory)."""
        try:
            wrapped = self._file(kek_id).read_text().strip()
        except FileNotFoundError:
            return None
        return master.unwrap_kek(wrapped, kek_id)

    def write(self, kek_id: str, kek: bytes, master: MasterKey) -> None:
        """Store a new KEK durably; an existing file of that id is an error."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self._file(kek_id)
        tmp = final.with_name(f".{final.name}.tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(master.wrap_kek(kek, kek_id) + "\n")
            out.flush()
            os.fsync(out.fileno())
        if final.exists():
            tmp.unlink()
            raise FileExistsError(final)
        os.rename(tmp, final)
        self._sync_dir()

    def destroy(self, kek_id: str) -> bool:
        """Overwrite the KEK's file with random bytes, sync, unlink. False if it was gone."""
        path = self._file(kek_id)
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return False
        try:
            size = max(os.fstat(fd).st_size, 4 * KEY_BYTES)
            os.write(fd, os.urandom(size))
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()
        self._sync_dir()
        return True

    def _sync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
