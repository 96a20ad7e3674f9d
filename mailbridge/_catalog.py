"""mailbridge's template catalog: the template parts a cloud cannot store.

Tencent SES templates have no subject; Direct Mail templates have one HTML body and no text
part. So that a neutral template keeps its subject, text and HTML on every provider, the
client records what the cloud did not take here, per (provider account, template name),
with a digest of the content the cloud *does* hold. An entry is applied to a template read
back from the cloud only when the template id and that digest still match: a template
changed in the console, or made there, is reported with ``Template.missing`` instead of
being completed with stale or invented parts.

Where it lives (``template_catalog=`` on a provider URL, ``Client(template_catalog=...)`` or
the ``MAILBRIDGE_TEMPLATE_CATALOG`` environment variable, in that order):

* a path: a SQLite file (a directory gets ``templates.sqlite3`` inside it). Default:
  ``templates.sqlite3`` in the user data directory (``platformdirs.user_data_dir("mailbridge")``).
  It runs in WAL mode with a busy timeout, so any number of processes on one machine share it.
  SQLite's locking does not work over network file systems: use Redis across machines.
* ``redis://host:port/db`` (or ``rediss://``, ``unix://``): one Redis hash per provider
  account, for processes on several machines (needs the ``redis`` extra).
* ``off``: no catalog. Creating a template with a part the provider cannot store is then
  refused before any call.
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import field, frozen

from ._exceptions import ConfigurationError
from ._models import TEMPLATE_PARTS

__all__ = [
    "CATALOG_ENV",
    "CatalogEntry",
    "RedisCatalog",
    "SqliteCatalog",
    "TemplateCatalog",
    "catalog_off",
    "content_digest",
    "default_catalog_path",
    "open_catalog",
]

CATALOG_ENV = "MAILBRIDGE_TEMPLATE_CATALOG"
_FILE_NAME = "templates.sqlite3"


def content_digest(parts: Mapping[str, str | None]) -> str:
    """SHA-256 of a template's subject, html and text (``None`` and ``""`` differ)."""
    payload = json.dumps([parts.get(name) for name in TEMPLATE_PARTS], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _parts(value: Mapping[str, str | None]) -> dict[str, str | None]:
    unknown = set(value) - set(TEMPLATE_PARTS)
    if unknown:
        raise ValueError(f"unknown template parts {sorted(unknown)}")
    return {name: value[name] for name in TEMPLATE_PARTS if name in value}


@frozen
class CatalogEntry:
    """What the catalog keeps for one template.

    ``parts``: the neutral parts the cloud does not hold as given (a ``None`` value records
    that the part is absent, which is knowledge too); ``cloud_digest``: the
    :func:`content_digest` of what the cloud holds; ``template_id``: the cloud's id.
    """

    template_id: str
    parts: dict[str, str | None] = field(converter=_parts)
    cloud_digest: str

    def to_json(self) -> str:
        return json.dumps(
            {"template_id": self.template_id, "parts": self.parts, "cloud_digest": self.cloud_digest},
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> CatalogEntry:
        data = json.loads(text)
        return cls(str(data["template_id"]), dict(data["parts"]), str(data["cloud_digest"]))


class TemplateCatalog(abc.ABC):
    """Storage for :class:`CatalogEntry` records keyed by (account, template name)."""

    location: str

    @abc.abstractmethod
    def get(self, account: str, name: str) -> CatalogEntry | None:
        """The entry, or None."""

    @abc.abstractmethod
    def put(self, account: str, name: str, entry: CatalogEntry) -> None:
        """Create or replace the entry."""

    @abc.abstractmethod
    def delete(self, account: str, name: str) -> None:
        """Remove the entry if there is one."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Raise :class:`ConfigurationError` now if the catalog cannot be written."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location}>"


class SqliteCatalog(TemplateCatalog):
    """A SQLite file in WAL mode, shared by every process on the machine.

    Reading a catalog that does not exist yet finds nothing and creates no file; the file
    (and its directory) is made on the first write.
    """

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS template_parts ("
        " account TEXT NOT NULL, name TEXT NOT NULL, entry TEXT NOT NULL,"
        " PRIMARY KEY (account, name))"
    )

    def __init__(self, path: str | os.PathLike[str]) -> None:
        target = Path(path).expanduser()
        if target.is_dir():
            target = target / _FILE_NAME
        self.path = target
        self.location = str(target)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if not create and not self.path.exists():
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=10000")
            db.execute(self._SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(f"template catalog {self.location} cannot be opened: {exc}") from exc
        self._db = db
        return db

    def _run(self, sql: str, args: tuple[Any, ...], *, create: bool) -> list[tuple[Any, ...]]:
        with self._lock:
            db = self._connect(create=create)
            if db is None:
                return []
            try:
                return db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise ConfigurationError(f"template catalog {self.location}: {exc}") from exc

    def check(self) -> None:
        with self._lock:
            self._connect(create=True)

    def get(self, account: str, name: str) -> CatalogEntry | None:
        rows = self._run(
            "SELECT entry FROM template_parts WHERE account = ? AND name = ?", (account, name), create=False
        )
        return CatalogEntry.from_json(rows[0][0]) if rows else None

    def put(self, account: str, name: str, entry: CatalogEntry) -> None:
        self._run(
            "INSERT INTO template_parts (account, name, entry) VALUES (?, ?, ?)"
            " ON CONFLICT (account, name) DO UPDATE SET entry = excluded.entry",
            (account, name, entry.to_json()),
            create=True,
        )

    def delete(self, account: str, name: str) -> None:
        self._run("DELETE FROM template_parts WHERE account = ? AND name = ?", (account, name), create=False)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


class RedisCatalog(TemplateCatalog):
    """One Redis hash per account (``mailbridge:template-catalog:<account>``), field = template name."""

    def __init__(self, url: str, *, prefix: str = "mailbridge:template-catalog:") -> None:
        try:
            import redis
        except ImportError as exc:
            raise ConfigurationError(
                "a redis:// template catalog needs the redis package: pip install 'mailbridge[redis]'"
            ) from exc
        self.location = _redact(url)
        self._prefix = prefix
        self._redis: Any = redis.Redis.from_url(url)
        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)

    def _do(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except self._errors as exc:
            raise ConfigurationError(f"template catalog {self.location}: {exc}") from exc

    def check(self) -> None:
        self._do(self._redis.ping)

    def get(self, account: str, name: str) -> CatalogEntry | None:
        raw = self._do(self._redis.hget, self._prefix + account, name)
        return CatalogEntry.from_json(raw) if raw else None

    def put(self, account: str, name: str, entry: CatalogEntry) -> None:
        self._do(self._redis.hset, self._prefix + account, name, entry.to_json())

    def delete(self, account: str, name: str) -> None:
        self._do(self._redis.hdel, self._prefix + account, name)

    def close(self) -> None:
        self._redis.close()


def _redact(url: str) -> str:
    """A Redis URL without its password."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return scheme + sep + rest


def default_catalog_path() -> Path:
    """``templates.sqlite3`` in the user data directory."""
    import platformdirs

    return Path(platformdirs.user_data_dir("mailbridge", appauthor=False)) / _FILE_NAME


def catalog_off(location: str | os.PathLike[str] | TemplateCatalog | None = None) -> bool:
    """Whether ``location`` (as :func:`open_catalog` takes it) turns the catalog off (no I/O to tell)."""
    if isinstance(location, TemplateCatalog):
        return False
    text = os.fspath(location) if location is not None else os.environ.get(CATALOG_ENV) or ""
    return text.strip().lower() in ("off", "none", "false", "0")


def open_catalog(location: str | os.PathLike[str] | TemplateCatalog | None = None) -> TemplateCatalog | None:
    """The catalog at ``location`` (see the module docs); None for ``off``."""
    if isinstance(location, TemplateCatalog):
        return location
    text = os.fspath(location) if location is not None else os.environ.get(CATALOG_ENV) or ""
    if catalog_off(location):
        return None
    if text.startswith(("redis://", "rediss://", "unix://")):
        return RedisCatalog(text)
    return SqliteCatalog(text or default_catalog_path())
