"""Provider health for failover: a circuit breaker whose state can outlive a process.

A provider that fails with a ``failover_eligible`` error is *open* (skipped) for a cooldown.
When the cooldown has passed it is *half-open*: exactly one caller, across every worker
sharing the store, claims the probe and sends through it; success closes the circuit,
failure opens it again. The memory store serves one process; the Redis store serves every
process and machine of an application.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["HealthStore", "MemoryHealthStore", "RedisHealthStore"]


class HealthStore(Protocol):
    """Where provider health lives. Times are seconds on the store's clock."""

    def is_open(self, provider: str) -> bool:
        """True while the provider is cooling down after a failure."""

    def was_failed(self, provider: str) -> bool:
        """True if the provider failed and has not succeeded since (cooling down or waiting for a probe)."""

    def claim_probe(self, provider: str, ttl: float) -> bool:
        """Claim the single half-open probe; False if another caller holds it."""

    def mark_failed(self, provider: str, cooldown: float) -> None: ...

    def mark_healthy(self, provider: str) -> None: ...

    def next_index(self, key: str, modulo: int) -> int:
        """A shared round-robin counter."""


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

    def mark_failed(self, provider: str, cooldown: float) -> None:
        with self._lock:
            self._open_until[provider] = self._clock() + cooldown
            self._probe_until.pop(provider, None)

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

    **Parameters:** ``url``: ``redis://host:port/db``; ``prefix`` *(optional)*: key prefix.
    """

    def __init__(self, url: str, *, prefix: str = "mailbridge:health") -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the environment
            from ._exceptions import ConfigurationError

            raise ConfigurationError(
                "a Redis health store needs the redis package: pip install 'mailbridge[redis]'"
            ) from exc
        self._redis: Any = redis.Redis.from_url(url)
        self._prefix = prefix
        self.url = url

    def _key(self, *parts: str) -> str:
        return ":".join((self._prefix, *parts))

    def is_open(self, provider: str) -> bool:
        return bool(self._redis.exists(self._key("open", provider)))

    def was_failed(self, provider: str) -> bool:
        return bool(self._redis.exists(self._key("failed", provider)))

    def claim_probe(self, provider: str, ttl: float) -> bool:
        return bool(self._redis.set(self._key("probe", provider), "1", nx=True, px=max(1, int(ttl * 1000))))

    def mark_failed(self, provider: str, cooldown: float) -> None:
        pipe = self._redis.pipeline()
        pipe.set(self._key("open", provider), "1", px=max(1, int(cooldown * 1000)))
        pipe.set(self._key("failed", provider), "1")
        pipe.delete(self._key("probe", provider))
        pipe.execute()

    def mark_healthy(self, provider: str) -> None:
        self._redis.delete(self._key("open", provider), self._key("failed", provider), self._key("probe", provider))

    def next_index(self, key: str, modulo: int) -> int:
        return int(self._redis.incr(self._key("rr", key)) - 1) % modulo

    def __repr__(self) -> str:
        return "RedisHealthStore(redis://...)"
