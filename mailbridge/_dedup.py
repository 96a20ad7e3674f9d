"""A set of seen addresses that stays small in memory however long the input is.

Up to ``memory_limit`` keys are held as 8-byte digests in a Python set; past that the
set spills into a temporary SQLite file, so a 1,000,000-row upload de-duplicates in
bounded memory. (No well-kept library offers a disk-backed set with this little code.)
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from pathlib import Path

__all__ = ["SeenSet"]


def _digest(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


class SeenSet:
    """Membership test and insert for address keys."""

    def __init__(self, memory_limit: int = 200_000) -> None:
        self._memory: set[int] = set()
        self._memory_limit = memory_limit
        self._db: sqlite3.Connection | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: str) -> bool:
        d = _digest(key)
        if d in self._memory:
            return True
        if self._db is not None:
            return self._db.execute("SELECT 1 FROM seen WHERE k = ?", (d,)).fetchone() is not None
        return False

    def add(self, key: str) -> bool:
        """Add ``key``; return False if it was already there."""
        if key in self:
            return False
        d = _digest(key)
        if len(self._memory) < self._memory_limit:
            self._memory.add(d)
        else:
            self._spill_db().execute("INSERT OR IGNORE INTO seen VALUES (?)", (d,))
        self._count += 1
        return True

    def _spill_db(self) -> sqlite3.Connection:
        if self._db is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="mailbridge-dedup-")
            self._db = sqlite3.connect(Path(self._tmpdir.name) / "seen.sqlite3")
            self._db.execute("PRAGMA journal_mode=OFF")
            self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute("CREATE TABLE seen (k INTEGER PRIMARY KEY) WITHOUT ROWID")
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
        self._memory.clear()
