"""Idempotency keys: a send with a key happens at most once, across retries, workers and restarts.

Before sending, the key is claimed atomically in an :class:`IdempotencyStore` (Redis ``SET NX``,
an SQLite ``INSERT``); the outcome is recorded after. A second send with the same key then:

* returns the first send's receipts if it succeeded (nothing is sent again);
* raises :class:`OutcomeUnknown` if the first is still in flight elsewhere, its worker died
  mid-send, or it ended with an unknown outcome: it may have been sent, so it is not repeated;
* sends only the addresses certainly not sent if the first ended part-delivered;
* sends normally if the first certainly sent nothing (the key was given back);
* raises :class:`InvalidRequest` if the key was first used for a different message.

A store that does not answer before the send fails the send with :class:`ProviderUnavailable`
(nothing sent: at-most-once cannot be promised without it); one that fails after the provider
accepted is logged and the receipt returned. Stores hold opaque strings, so a store is four
atomic operations and any key-value service with compare-and-set can be one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import attrs
from attrs import frozen

from ._exceptions import ConfigurationError, InvalidRequest, MailbridgeError, OutcomeUnknown, ProviderUnavailable
from ._flow import Bookkeeping, Flow, Offload, adrive, drive
from ._models import Message, SendReceipt, SendResult
from ._sharedstate import DEFAULT_REDIS_TIMEOUT, redis_client

__all__ = [
    "DEFAULT_IDEMPOTENCY_TTL",
    "IdempotencyGuard",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
    "SQLiteIdempotencyStore",
    "idempotency_store",
]

log = logging.getLogger("mailbridge.idempotency")
DEFAULT_IDEMPOTENCY_TTL = 7 * 86400.0  # a week: longer than any task queue keeps redelivering

PENDING, UNKNOWN, PARTIAL, DONE = "pending", "unknown", "partial", "done"


class IdempotencyStore(Protocol):
    """Where idempotency keys live: atomic operations on opaque string values with a lifetime.

    Every operation may raise; the caller treats any exception as "the store did not answer".
    """

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        """Store ``value`` under ``key`` unless the key exists; None if stored, else the existing value."""

    def replace(self, key: str, old: str, new: str, ttl: float) -> bool:
        """Set ``key`` to ``new`` only if it still holds ``old`` (compare-and-set); True if replaced."""

    def put(self, key: str, value: str, ttl: float) -> None:
        """Set ``key`` to ``value``."""

    def release(self, key: str) -> None:
        """Forget ``key`` (its send certainly did not happen)."""


class MemoryIdempotencyStore:
    """Keys in this process's memory (thread-safe): protects against repeats within one process only."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, str]] = {}

    def _get(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None or entry[0] <= self._clock():
            self._values.pop(key, None)
            return None
        return entry[1]

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        with self._lock:
            existing = self._get(key)
            if existing is None:
                self._values[key] = (self._clock() + ttl, value)
            return existing

    def replace(self, key: str, old: str, new: str, ttl: float) -> bool:
        with self._lock:
            if self._get(key) != old:
                return False
            self._values[key] = (self._clock() + ttl, new)
            return True

    def put(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._values[key] = (self._clock() + ttl, value)

    def release(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def __repr__(self) -> str:
        return "MemoryIdempotencyStore()"


class SQLiteIdempotencyStore:
    """Keys in an SQLite file, shared by every process on one machine (``idempotency=sqlite:///path``)."""

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL)"
            )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(f"cannot open the idempotency database {self.path}: {exc}") from exc

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM idempotency WHERE key = ? AND expires <= ?", (key, now))
                inserted = self._db.execute(
                    "INSERT OR IGNORE INTO idempotency (key, value, expires) VALUES (?, ?, ?)", (key, value, now + ttl)
                ).rowcount
                row = None if inserted else self._db.execute("SELECT value FROM idempotency WHERE key = ?", (key,))
                existing = None if row is None else str(row.fetchone()[0])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return existing

    def replace(self, key: str, old: str, new: str, ttl: float) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE idempotency SET value = ?, expires = ? WHERE key = ? AND value = ? AND expires > ?",
                (new, self._clock() + ttl, key, old, self._clock()),
            )
        return cursor.rowcount == 1

    def put(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO idempotency (key, value, expires) VALUES (?, ?, ?)",
                (key, value, self._clock() + ttl),
            )

    def release(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM idempotency WHERE key = ?", (key,))

    def close(self) -> None:
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteIdempotencyStore({str(self.path)!r})"


_REPLACE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


class RedisIdempotencyStore:
    """Keys in Redis, shared by every worker of an application (``pip install mailbridge[redis]``).

    **Parameters:** ``url``: ``redis://host:port/db``; ``prefix`` *(optional)*;
    ``timeout`` *(optional)*: seconds per Redis call.
    """

    def __init__(self, url: str, *, prefix: str = "mailbridge:idempotency", timeout: float = DEFAULT_REDIS_TIMEOUT):
        self._redis: Any = redis_client(url, "a Redis idempotency store", timeout)
        self._replace = self._redis.register_script(_REPLACE_LUA)
        self._prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        for _ in range(3):  # the key may expire between SET NX and GET
            if self._redis.set(self._key(key), value, nx=True, px=_ms(ttl)):
                return None
            existing = self._redis.get(self._key(key))
            if existing is not None:
                return bytes(existing).decode()
        raise ProviderUnavailable("the idempotency key kept expiring while it was claimed", operation="send")

    def replace(self, key: str, old: str, new: str, ttl: float) -> bool:
        return bool(self._replace(keys=[self._key(key)], args=[old, new, _ms(ttl)]))

    def put(self, key: str, value: str, ttl: float) -> None:
        self._redis.set(self._key(key), value, px=_ms(ttl))

    def release(self, key: str) -> None:
        self._redis.delete(self._key(key))

    def __repr__(self) -> str:
        return "RedisIdempotencyStore(redis://...)"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def idempotency_store(url: str) -> IdempotencyStore:
    """A store from a URL: ``memory://``, ``sqlite:///path/to/file.db`` or ``redis://host:port/db``."""
    if url.startswith("memory:"):
        return MemoryIdempotencyStore()
    if url.startswith("sqlite:///"):
        return SQLiteIdempotencyStore(url.removeprefix("sqlite://"))
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisIdempotencyStore(url)
    raise ConfigurationError(
        f"unknown idempotency store {url.split(':', 1)[0]!r}; use memory://, sqlite:///path or redis://host:port/db"
    )


# ---------------------------------------------------------------------- records


@frozen
class _Record:
    state: str
    fingerprint: str
    receipts: tuple[SendReceipt, ...] = ()
    not_sent: tuple[str, ...] = ()
    maybe_sent_to: tuple[str, ...] = ()

    def encode(self) -> str:
        return json.dumps(
            {
                "state": self.state,
                "fingerprint": self.fingerprint,
                "receipts": [_receipt_dict(r) for r in self.receipts],
                "not_sent": list(self.not_sent),
                "maybe_sent_to": list(self.maybe_sent_to),
            },
            default=str,
        )

    @classmethod
    def decode(cls, text: str) -> _Record:
        data = json.loads(text)
        return cls(
            state=data["state"],
            fingerprint=data["fingerprint"],
            receipts=tuple(_receipt(r) for r in data.get("receipts", ())),
            not_sent=tuple(data.get("not_sent", ())),
            maybe_sent_to=tuple(data.get("maybe_sent_to", ())),
        )


def _receipt_dict(receipt: SendReceipt) -> dict[str, Any]:
    return {
        "provider": receipt.provider,
        "message_ids": list(receipt.message_ids),
        "accepted": list(receipt.accepted),
        "request_id": receipt.request_id,
        "sent_at": receipt.sent_at.isoformat(),
        "batch_id": receipt.batch_id,
        "extra": receipt.extra,
    }


def _receipt(data: dict[str, Any]) -> SendReceipt:
    return SendReceipt(
        provider=data["provider"],
        message_ids=data.get("message_ids", ()),
        accepted=data.get("accepted", ()),
        request_id=data.get("request_id"),
        sent_at=dt.datetime.fromisoformat(data["sent_at"]),
        batch_id=data.get("batch_id"),
        extra=data.get("extra") or {},
    )


def fingerprint(message: Message) -> str:
    """A digest of everything a message says (its key aside): a reused key with other content is refused."""
    fields = attrs.asdict(attrs.evolve(message, idempotency_key=None), recurse=True)
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=repr).encode()).hexdigest()


def addresses(message: Message) -> tuple[str, ...]:
    return (*message.to, *message.cc, *message.bcc)


# ---------------------------------------------------------------------- the guard


class IdempotencyGuard:
    """Runs a send at most once per key, through a store (used by ``Client`` and ``FailoverClient``).

    **Parameters:** ``store``; ``ttl`` *(optional)*: seconds a key is remembered.
    """

    def __init__(self, store: IdempotencyStore, *, ttl: float = DEFAULT_IDEMPOTENCY_TTL) -> None:
        self.store = store
        self.ttl = ttl

    def send(self, key: str, message: Message, send: Callable[[Message], SendResult]) -> SendResult:
        """``send(message)`` unless ``key`` was seen: then its receipts, or :class:`OutcomeUnknown`."""
        return drive(self.flow(key, message, _call), lambda call: send(call.message))

    async def send_async(
        self,
        key: str,
        message: Message,
        send: Callable[[Message], Awaitable[SendResult]],
        offload: Offload | None = None,
    ) -> SendResult:
        """:meth:`send` with an awaited ``send`` (the async client's native one): the same flow, its blocking
        store calls (SQLite, Redis, a custom store) through ``offload`` (default :func:`asyncio.to_thread`), a
        memory store's on the loop."""
        return await adrive(self.flow(key, message, _call), lambda call: send(call.message), offload)

    def flow(self, key: str, message: Message, send: Callable[[Message], Flow[SendResult]]) -> Flow[SendResult]:
        """:meth:`send` as a flow (:mod:`mailbridge._flow`): the store calls are :class:`Bookkeeping`
        effects, and ``send(message)`` is the flow of the send itself."""
        digest = fingerprint(message)
        pending = _Record(PENDING, digest).encode()
        existing = yield self._effect(self._store, "claim", functools.partial(self.store.claim, key, pending, self.ttl))
        earlier: tuple[SendReceipt, ...] = ()
        if existing is not None:
            record = _Record.decode(existing)
            if record.fingerprint != digest:
                raise InvalidRequest(f"idempotency key {key!r} was first used for a different message")
            if record.state == DONE:
                log.info("idempotency key %r: already sent, returning the first receipts", key)
                return SendResult(record.receipts)
            if record.state != PARTIAL:
                raise _unresolved(key, record, message)
            # Part-delivered and the rest certainly not sent: send the rest, once.
            pending = _Record(PENDING, digest, record.receipts, (), record.not_sent).encode()
            replace = functools.partial(self.store.replace, key, existing, pending, self.ttl)
            if not (yield self._effect(self._store, "claim", replace)):
                raise _unresolved(key, _Record(PENDING, digest, record.receipts), message)
            earlier = record.receipts
            message = message.evolve(to=record.not_sent, cc=(), bcc=())
        try:
            result = yield from send(message)
        except MailbridgeError as exc:
            if earlier:
                exc.partial_result = (*earlier, *(exc.partial_result or ()))
            yield self._effect(self._record_error, key, digest, message, exc)
            raise
        result = SendResult((*earlier, *result.receipts), result.attempts)
        done = _Record(DONE, digest, result.receipts).encode()
        yield self._effect(self._after_send, key, functools.partial(self.store.put, key, done, self.ttl))
        return result

    def _effect(self, fn: Callable[..., Any], *args: Any) -> Bookkeeping:
        """A call into the store as a flow's effect (made off the event loop unless the store is memory)."""
        return Bookkeeping(functools.partial(fn, *args), blocking=not isinstance(self.store, MemoryIdempotencyStore))

    def _store(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except MailbridgeError:
            raise
        except Exception as exc:  # any store failure: at-most-once cannot be promised, send nothing
            raise ProviderUnavailable(
                f"the idempotency store did not answer ({type(exc).__name__}); nothing was sent", operation="send"
            ) from exc

    def _record_error(self, key: str, digest: str, message: Message, exc: MailbridgeError) -> None:
        receipts = tuple(r for r in (exc.partial_result or ()) if isinstance(r, SendReceipt))
        maybe = tuple(getattr(exc, "maybe_sent_to", ()) or ())
        if exc.maybe_sent or maybe:
            record = _Record(UNKNOWN, digest, receipts, tuple(exc.not_sent), maybe or addresses(message))
            self._after_send(key, lambda: self.store.put(key, record.encode(), self.ttl))
        elif receipts:
            record = _Record(PARTIAL, digest, receipts, tuple(exc.not_sent))
            self._after_send(key, lambda: self.store.put(key, record.encode(), self.ttl))
        else:
            self._after_send(key, lambda: self.store.release(key))

    @staticmethod
    def _after_send(key: str, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as exc:  # bookkeeping after the provider answered never hides its answer
            log.warning(
                "idempotency key %r: could not record the outcome (%s: %s); a repeat with this key stays blocked",
                key,
                type(exc).__name__,
                exc,
            )


@frozen
class _Call:
    """The effect of :meth:`IdempotencyGuard.send`'s flow: call the send function with ``message``."""

    message: Message


def _call(message: Message) -> Flow[SendResult]:
    result: SendResult = yield _Call(message)
    return result


def _unresolved(key: str, record: _Record, message: Message) -> OutcomeUnknown:
    what = "ended with an unknown outcome" if record.state == UNKNOWN else "is in flight (or its worker stopped)"
    error = OutcomeUnknown(
        f"the first send with idempotency key {key!r} {what}; it may have been sent, so it is not sent again",
        operation="send",
        partial_result=record.receipts,
    )
    error.not_sent = record.not_sent
    error.maybe_sent_to = record.maybe_sent_to or addresses(message)
    return error
