"""SQLite storage for the local backend: groups, members, messages, deliveries, templates, tags.

Several processes may share one store (a CLI per shell, a script, a test suite). The file is in
WAL mode, so readers never wait for a writer; writers take the write lock up front
(``BEGIN IMMEDIATE``) and wait for another writer for up to ``busy_timeout`` seconds (default
:data:`DEFAULT_BUSY_TIMEOUT`, the URL parameter ``busy_timeout``) before giving up.

No ``sqlite3`` exception leaves this module (``raise ... from``):

* a UNIQUE constraint (two processes creating the same name at once) is :class:`AlreadyExists`;
* a foreign-key failure (a member whose group another process just deleted) is :class:`NotFound`;
* the lock still held after ``busy_timeout`` is :class:`ResourceBusy` with ``retryable=False``:
  the wait has happened already, so retrying in the same command would only multiply it;
* a store that cannot be opened is :class:`ConfigurationError`; any other database failure
  (disk full, I/O error, a damaged file) is :class:`ProviderUnavailable`, not retryable.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from mailbridge import (
    AlreadyExists,
    ConfigurationError,
    MailbridgeError,
    NotFound,
    ProviderUnavailable,
    ResourceBusy,
)

__all__ = ["DEFAULT_BUSY_TIMEOUT", "Store"]

T = TypeVar("T")
PROVIDER = "local"
#: Seconds a writer waits for another process's write lock before ResourceBusy.
DEFAULT_BUSY_TIMEOUT = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    email TEXT NOT NULL,
    profile TEXT NOT NULL DEFAULT '{}',
    data TEXT NOT NULL DEFAULT '{}',
    added_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (group_id, key)
);
CREATE INDEX IF NOT EXISTS members_order ON members (group_id, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sender TEXT,
    subject TEXT,
    tag TEXT,
    status TEXT NOT NULL,
    detail TEXT,
    time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_time ON deliveries (time, id);
CREATE TABLE IF NOT EXISTS templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    subject TEXT,
    html TEXT,
    text TEXT
);
CREATE TABLE IF NOT EXISTS domains (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    verified INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS senders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL UNIQUE COLLATE NOCASE,
    kind TEXT,
    reply_to TEXT,
    reply_to_verified INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT
);
CREATE TABLE IF NOT EXISTS tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT
);
CREATE TABLE IF NOT EXISTS suppressions (
    key TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    reason TEXT NOT NULL,
    since TEXT NOT NULL
);
"""


#: Every table and index SCHEMA creates: a store that has them all is opened without the write lock.
_OBJECTS = frozenset(re.findall(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", SCHEMA))


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)  # pragma: no cover - Python < 3.11


class Store:
    """A thin, thread-safe wrapper around one SQLite database file, shared safely between processes.

    **Parameters:** ``path`` (the database file; its directory is created), ``busy_timeout``
    *(optional)*: seconds to wait for another process's write lock.
    """

    def __init__(self, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=busy_timeout, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(f"cannot open the local store {path}: {exc}", provider=PROVIDER) from exc
        self._db.row_factory = sqlite3.Row
        try:
            self._open()
        except ProviderUnavailable as exc:  # not a database, unreadable, read-only ...
            self._db.close()
            raise ConfigurationError(f"cannot use the local store {path}: {exc.message}", provider=PROVIDER) from exc
        except MailbridgeError:
            self._db.close()
            raise

    def _open(self) -> None:
        """WAL mode and the schema. Changing the journal mode does not wait on SQLite's busy handler
        (several processes opening a new store at once), so it is retried until ``busy_timeout``."""
        self._guard(lambda: self._db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}"), None)
        self._guard(lambda: self._db.execute("PRAGMA foreign_keys = ON"), None)
        # WAL's recommended setting: a commit is atomic and survives a crash of the process; only a
        # power cut may lose the last commits (never corrupts the file). FULL would fsync every commit.
        self._guard(lambda: self._db.execute("PRAGMA synchronous = NORMAL"), None)
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.Error as exc:
                if not _is_busy(exc) or time.monotonic() + delay > deadline:
                    raise self._translate(exc, None) from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        present = {r[0] for r in self.query("SELECT name FROM sqlite_master")}
        if not present >= _OBJECTS:  # a new store: create it under the write lock (an open store takes none)
            try:
                self._guard(lambda: self._db.executescript(f"BEGIN IMMEDIATE;{SCHEMA}COMMIT;"), None)
            finally:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.execute("ROLLBACK")

    def _translate(self, exc: sqlite3.Error, conflict: str | None) -> MailbridgeError:
        where = f"the local store {self.path}"
        if isinstance(exc, sqlite3.IntegrityError):
            text = str(exc)
            if "UNIQUE" in text or "PRIMARY KEY" in text:
                return AlreadyExists(conflict or f"{where}: that name already exists ({text})", provider=PROVIDER)
            if "FOREIGN KEY" in text:
                return NotFound(f"{where}: the record it refers to no longer exists ({text})", provider=PROVIDER)
        if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
            return ResourceBusy(
                f"{where} is locked by another process (still busy after {self.busy_timeout:g}s); try again",
                provider=PROVIDER,
                retryable=False,
            )
        return ProviderUnavailable(
            f"{where} failed: {type(exc).__name__}: {exc}", provider=PROVIDER, retryable=False, failover_eligible=False
        )

    def _guard(self, fn: Callable[[], T], conflict: str | None) -> T:
        try:
            return fn()
        except sqlite3.Error as exc:
            raise self._translate(exc, conflict) from exc

    @contextmanager
    def transaction(self, *, conflict: str | None = None) -> Iterator[sqlite3.Connection]:
        """One write transaction (the write lock taken up front); ``conflict`` is the AlreadyExists text."""
        with self._lock:
            self._guard(lambda: self._db.execute("BEGIN IMMEDIATE"), conflict)
            try:
                yield self._db
                self._guard(lambda: self._db.execute("COMMIT"), conflict)
            except BaseException as exc:
                if self._db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # keep the first error, not the rollback's
                        self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._translate(exc, conflict) from exc
                raise

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._guard(lambda: self._db.execute(sql, params).fetchall(), None)

    def close(self) -> None:
        with self._lock:
            self._db.close()
