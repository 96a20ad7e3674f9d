"""Provider health for failover: a circuit breaker whose state can outlive a process.

A provider that fails with a ``failover_eligible`` error is *open* (skipped) for a cooldown.
When the cooldown has passed it is *half-open*: exactly one caller, across every worker
sharing the store, claims the probe and sends through it; success closes the circuit,
failure opens it again (and holds the probe claim until that cooldown ends, so a worker that
saw the circuit closed a moment before cannot probe twice); an answer about the message only
(a per-message refusal) gives the claim back at once. The memory store serves one process; the Redis store serves every
process and machine of an application, and falls back to memory while Redis is unreachable.

Stores are blocking objects. :class:`~mailbridge.AsyncFailoverClient` calls every store but the memory
one in a worker thread (:func:`blocks`), so a Redis round trip never stalls the event loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from ._sharedstate import DEFAULT_REDIS_TIMEOUT, RedisFallback, redis_client

__all__ = ["HealthStore", "MemoryHealthStore", "RedisHealthStore", "blocks"]


class HealthStore(Protocol):
    """Where provider health lives. Times are seconds on the store's clock."""

    def is_open(self, provider: str) -> bool:
        """True while the provider is cooling down after a failure."""

    def was_failed(self, provider: str) -> bool:
        """True if the provider failed and has not succeeded since (cooling down or waiting for a probe)."""

    def claim_probe(self, provider: str, ttl: float) -> bool:
        """Claim the single half-open probe; False if another caller holds it."""

    def release_probe(self, provider: str) -> None:
        """Give the probe claim back (the probe ended without telling whether the provider is healthy)."""

    def mark_failed(self, provider: str, cooldown: float) -> None:
        """Open the circuit for ``cooldown`` seconds; no probe can be claimed before it ends."""

    def mark_healthy(self, provider: str) -> None:
        """Close the circuit: the provider takes traffic again."""

    def next_index(self, key: str, modulo: int) -> int:
        """A shared round-robin counter."""


def blocks(store: HealthStore) -> bool:
    """Whether calls into ``store`` may wait on I/O (Redis, a custom store): asyncio callers make them
    off the event loop. Only the memory store answers at once."""
    return not isinstance(store, MemoryHealthStore)


class MemoryHealthStore:
    """Health kept in this process (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until: dict[str, float] = {}
        self._probe_until: dict[str, float] = {}
        self._counters: dict[str, int] = {}

    def is_open(self, provider: str) -> bool:
        with self._lock:
            return self._open_until.get(provider, 0.0) > self._clock()

    def was_failed(self, provider: str) -> bool:
        with self._lock:
            return provider in self._open_until

    def claim_probe(self, provider: str, ttl: float) -> bool:
        with self._lock:
            now = self._clock()
            if self._probe_until.get(provider, 0.0) > now:
                return False
            self._probe_until[provider] = now + ttl
            return True

    def release_probe(self, provider: str) -> None:
        with self._lock:
            self._probe_until.pop(provider, None)

    def mark_failed(self, provider: str, cooldown: float) -> None:
        with self._lock:
            self._open_until[provider] = self._clock() + cooldown
            self._probe_until[provider] = self._clock() + cooldown  # a caller that saw it closed cannot probe

    def mark_healthy(self, provider: str) -> None:
        with self._lock:
            self._open_until.pop(provider, None)
            self._probe_until.pop(provider, None)

    def next_index(self, key: str, modulo: int) -> int:
        with self._lock:
            value = self._counters.get(key, -1) + 1
            self._counters[key] = value
            return value % modulo


class RedisHealthStore:
    """Health shared by every worker through Redis (``pip install mailbridge[redis]``).

    Never breaks a send: every call has a short ``timeout``, and while Redis does not answer
    the health lives in this process's memory (one warning per outage) until Redis answers
    again (tried every ``retry_interval`` seconds).

    **Parameters:** ``url``: ``redis://host:port/db``; ``prefix`` *(optional)*: key prefix;
    ``timeout`` *(optional)*: seconds per Redis call; ``retry_interval`` *(optional)*;
    ``clock`` *(optional)*: monotonic seconds for the fallback (tests).
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "mailbridge:health",
        timeout: float = DEFAULT_REDIS_TIMEOUT,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis: Any = redis_client(url, "a Redis health store", timeout)
        self._prefix = prefix
        self.url = url
        self.memory = MemoryHealthStore(clock)
        self.fallback = RedisFallback("failover health", retry_interval=retry_interval, clock=clock)

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    def is_open(self, provider: str) -> bool:
        return self.fallback.run(
            lambda: bool(self._redis.exists(self._key("open", provider))), lambda: self.memory.is_open(provider)
        )

    def was_failed(self, provider: str) -> bool:
        return self.fallback.run(
            lambda: bool(self._redis.exists(self._key("failed", provider))),
            lambda: self.memory.was_failed(provider),
        )

    def claim_probe(self, provider: str, ttl: float) -> bool:
        return self.fallback.run(
            lambda: bool(self._redis.set(self._key("probe", provider), "1", nx=True, px=_ms(ttl))),
            lambda: self.memory.claim_probe(provider, ttl),
        )

    def release_probe(self, provider: str) -> None:
        self.fallback.run(
            lambda: self._redis.delete(self._key("probe", provider)), lambda: self.memory.release_probe(provider)
        )

    def mark_failed(self, provider: str, cooldown: float) -> None:
        def on_redis() -> None:
            pipe = self._redis.pipeline()
            pipe.set(self._key("open", provider), "1", px=_ms(cooldown))
            pipe.set(self._key("failed", provider), "1")
            # The probe claim runs out with the cooldown: a worker that read "not open" just before
            # this cannot claim a second probe right after a failed one.
            pipe.set(self._key("probe", provider), "1", px=_ms(cooldown))
            pipe.execute()

        self.memory.mark_failed(provider, cooldown)  # also here, so that an outage starts from what we saw
        self.fallback.run(on_redis, lambda: None)

    def mark_healthy(self, provider: str) -> None:
        self.memory.mark_healthy(provider)
        self.fallback.run(
            lambda: self._redis.delete(
                self._key("open", provider), self._key("failed", provider), self._key("probe", provider)
            ),
            lambda: None,
        )

    def next_index(self, key: str, modulo: int) -> int:
        return self.fallback.run(
            lambda: int(self._redis.incr(self._key("rr", key)) - 1) % modulo,
            lambda: self.memory.next_index(key, modulo),
        )

    def __repr__(self) -> str:
        return "RedisHealthStore(redis://...)"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
