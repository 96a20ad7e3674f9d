"""A set of seen addresses that stays small in memory however long the input is.

Up to ``memory_limit`` keys are held as 60-bit digests in a Python set (about 65 bytes a key:
a 1,000,000-row upload de-duplicates in memory in ~65 MB); past that, further digests go to a
temporary SQLite file, written in batches (``executemany``) and looked up only when the
in-memory part does not hold the key, so memory stays bounded however long the input is.
(No well-kept library offers a disk-backed set with this little code.)

The digest is Python's string hash (SipHash, keyed per process; a string caches it) cut to 60
bits so that each fits a two-digit int: two different addresses share one with probability
about n²/2⁶¹ (4e-7 for a million addresses), the same order as the 64-bit digest before.
A set lives inside one process, so the per-process key does not matter.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

__all__ = ["SeenSet"]

_MASK = (1 << 60) - 1
_PENDING = 10_000  # spilled digests buffered before one executemany


def _digest(key: str) -> int:
    return hash(key) & _MASK


class SeenSet:
    """Membership test and insert for address keys."""

    def __init__(self, memory_limit: int = 1_000_000) -> None:
        self._memory: set[int] = set()
        self._memory_limit = memory_limit
        self._pending: set[int] = set()
        self._db: sqlite3.Connection | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _holds(self, d: int) -> bool:
        if d in self._memory or d in self._pending:
            return True
        if self._db is not None:
            return self._db.execute("SELECT 1 FROM seen WHERE k = ?", (d,)).fetchone() is not None
        return False

    def __contains__(self, key: str) -> bool:
        return self._count > 0 and self._holds(_digest(key))

    def add(self, key: str) -> bool:
        """Add ``key``; return False if it was already there."""
        d = hash(key) & _MASK  # (_digest, inlined: this runs once per row of an upload)
        memory = self._memory
        if d in memory:
            return False
        if self._db is None and not self._pending and len(memory) < self._memory_limit:  # nothing spilled yet
            memory.add(d)
            self._count += 1
            return True
        if self._count and self._holds(d):
            return False
        if len(self._memory) < self._memory_limit:
            self._memory.add(d)
        else:
            self._pending.add(d)
            if len(self._pending) >= _PENDING:
                self._flush()
        self._count += 1
        return True

    def _flush(self) -> None:
        db = self._spill_db()
        db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", ((d,) for d in self._pending))
        self._pending.clear()

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
        self._pending.clear()
