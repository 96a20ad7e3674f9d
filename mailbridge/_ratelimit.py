"""Client-side rate limiting by even pacing: each key gets evenly spaced slots below its declared rate.

A provider counts calls by their *arrival* in its own window. A limiter that lets a whole
window's budget through at once (a moving or fixed window) leaves no room for jitter: one
call of the previous burst that arrives a little late, and the provider sees one too many.
So each key gets "next free slot" pacing (GCRA with no burst): slots ``interval`` seconds
apart, where ``interval = (per + margin) / calls``. Any ``calls + 1`` consecutive slots
span ``per + margin`` seconds, so arrivals may jitter by up to ``margin`` seconds (default
40 ms, i.e. 96% of a per-second rate) without the provider ever seeing ``calls + 1`` in its
window. A caller reserves its slot atomically and sleeps until it.

Slots live in process memory (a dict and a lock) or in Redis (one Lua script that reads
Redis ``TIME``, so that every machine sharing the budget uses one clock, and ``SET``s the
next free slot with a ``PX`` expiry). A Redis that does not answer never breaks a call: slots
are kept in process memory until Redis answers again (one warning per outage; see
``_sharedstate``).

Hand-written on purpose: the ``limits`` library (used before) offers fixed and moving windows
only, no even pacing, and cost 35 ms of import time (asyncio, deprecated, wrapt).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from ._exceptions import ConfigurationError
from ._limits import Rate
from ._sharedstate import DEFAULT_REDIS_TIMEOUT, RedisFallback, redis_client, redis_errors

__all__ = ["DEFAULT_MARGIN", "MARGIN_ENV", "RateLimiter", "Slot"]

DEFAULT_MARGIN = 0.04  # seconds of arrival jitter absorbed per provider window (96% of a per-second rate)
MARGIN_ENV = "MAILBRIDGE_RATE_MARGIN"  # overrides DEFAULT_MARGIN for every limiter of a process
_KEY_PREFIX = "mailbridge:pace:"

# KEYS[1]: the key's next free slot (microseconds of Redis TIME); ARGV[1]: the interval in microseconds.
# Returns {slot, wait}: the reserved slot (microseconds of Redis TIME) and the microseconds until it.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local free = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local slot = math.max(now, free)
local nxt = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.floor((nxt - now) / 1000) + 1000)
return {slot, slot - now}
"""


def _margin_from_env() -> float:
    text = os.environ.get(MARGIN_ENV)
    if not text:
        return DEFAULT_MARGIN
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"{MARGIN_ENV} must be a number of seconds, not {text!r}") from None


class Slot(NamedTuple):
    """A reserved slot: ``at`` on the storage's clock (``clock`` or Redis ``TIME``), ``wait`` seconds from now."""

    at: float
    wait: float


class RateLimiter:
    """Blocks each call until its evenly paced slot under the declared :class:`Rate` for its key.

    **Parameters:** ``storage_uri`` *(optional)*: ``memory://`` (default) or
    ``redis://host:port/db`` (also ``rediss://``, ``unix://``) for slots shared by every
    process and machine of an application; ``margin`` *(optional)*: seconds of network and
    scheduling jitter the pacing absorbs per provider window (default ``MAILBRIDGE_RATE_MARGIN``,
    else 0.04: slots ``(per + 0.04) / calls`` apart, 96% of a per-second rate; raise it on busy
    hosts); ``timeout`` *(optional)*:
    seconds per Redis call; ``sleep`` and ``clock`` *(optional)*: injectable for tests
    (``clock`` paces the memory slots; Redis slots use Redis ``TIME``).
    ``waited`` is the total number of seconds slept.
    """

    def __init__(
        self,
        storage_uri: str = "memory://",
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        margin: float | None = None,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        if margin is None:
            margin = _margin_from_env()
        if not margin >= 0:
            raise ConfigurationError(f"rate-limit margin must be zero or more seconds, not {margin!r}")
        self.storage_uri = storage_uri
        self.margin = margin
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._free: dict[str, float] = {}  # key -> next free slot (clock seconds), in process memory
        self._redis: Any = None
        self._script: Any = None
        self.fallback: RedisFallback | None = None
        if storage_uri.startswith(("redis://", "rediss://", "unix://")):
            self._redis = redis_client(storage_uri, "a Redis rate limit", timeout)
            self._script = self._redis.register_script(_RESERVE)
            self.fallback = RedisFallback("the rate-limit budget", errors=redis_errors())
        elif not storage_uri.startswith("memory://"):
            scheme = storage_uri.partition("://")[0]
            raise ConfigurationError(f"rate-limit storage: use memory:// or redis://host:port/db, not {scheme}://")
        self.waited = 0.0  # total seconds spent waiting, for reports and tests
        self.enabled = True

    @classmethod
    def disabled(cls) -> RateLimiter:
        """A limiter that never waits: for emulators and tests that do not enforce the cloud's rates."""
        limiter = cls()
        limiter.enabled = False
        return limiter

    def interval(self, rate: Rate) -> float:
        """Seconds between two slots of one key under ``rate``."""
        return (rate.per + self.margin) / rate.calls

    def acquire(self, key: str, rate: Rate | None) -> None:
        """Reserve the next free slot under ``key`` and sleep until it."""
        if rate is None or not self.enabled:
            return
        delay = self.reserve(key, rate).wait
        if delay > 0:
            self.waited += delay
            self._sleep(delay)

    async def acquire_async(self, key: str, rate: Rate | None) -> None:
        """:meth:`acquire` for asyncio: the same slot, awaited (a Redis reservation runs off the loop)."""
        if rate is None or not self.enabled:
            return
        import asyncio  # imported on first use: asyncio costs import time the CLI never needs

        if self.fallback is None:
            slot = self.reserve(key, rate)
        else:
            slot = await asyncio.to_thread(self.reserve, key, rate)
        if slot.wait > 0:
            self.waited += slot.wait
            await asyncio.sleep(slot.wait)

    def reserve(self, key: str, rate: Rate) -> Slot:
        """Reserve the next free slot under ``key`` (without sleeping)."""
        interval = self.interval(rate)
        if self.fallback is None:
            return self._reserve_memory(key, interval)
        return self.fallback.run(
            lambda: self._reserve_redis(key, interval), lambda: self._reserve_memory(key, interval)
        )

    def _reserve_memory(self, key: str, interval: float) -> Slot:
        with self._lock:
            now = self._clock()
            slot = max(now, self._free.get(key, now))
            self._free[key] = slot + interval
        return Slot(slot, slot - now)

    def _reserve_redis(self, key: str, interval: float) -> Slot:
        slot_us, wait_us = self._script(keys=[_KEY_PREFIX + key], args=[max(1, round(interval * 1_000_000))])
        return Slot(int(slot_us) / 1_000_000, int(wait_us) / 1_000_000)

    def __repr__(self) -> str:
        scheme = self.storage_uri.split("://", 1)[0]
        return f"RateLimiter({scheme}://...)"
