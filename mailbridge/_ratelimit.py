"""Client-side rate limiting from a backend's declared rates (the ``limits`` library).

The default storage is in process memory; pass a ``redis://`` storage URI so that every
worker of an application shares one budget per provider account. A Redis that does not
answer never breaks a call: the budget is kept in process memory until Redis answers again
(one warning per outage; see ``_sharedstate``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from limits import RateLimitItemPerSecond
from limits.errors import ConfigurationError as LimitsConfigurationError
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ._exceptions import ConfigurationError
from ._limits import Rate
from ._sharedstate import DEFAULT_REDIS_TIMEOUT, RedisFallback, import_redis, redis_errors, redis_options

__all__ = ["RateLimiter"]

T = TypeVar("T")


class RateLimiter:
    """Blocks until a call fits the declared :class:`Rate` for its key.

    **Parameters:** ``storage_uri`` *(optional)*: a ``limits`` storage URI, ``memory://``
    (default) or ``redis://host:port/db`` for a budget shared across processes;
    ``margin`` *(optional)*: extra seconds to wait once the budget is used up, so that
    network jitter cannot make the provider see one call too many in its own window;
    ``timeout`` *(optional)*: seconds per Redis call.
    """

    def __init__(
        self,
        storage_uri: str = "memory://",
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        margin: float = 0.1,
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> None:
        self.storage_uri = storage_uri
        self.margin = margin
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self.fallback: RedisFallback | None = None
        if storage_uri.startswith(("redis://", "rediss://", "redis+")):
            import_redis("a Redis rate limit")
            options = redis_options(timeout)
            try:
                storage = storage_from_string(storage_uri, wrap_exceptions=True, **options)
            except (LimitsConfigurationError, ValueError) as exc:
                raise ConfigurationError(f"rate-limit storage: {exc}") from exc
            self._limiter = MovingWindowRateLimiter(storage)
            self.fallback = RedisFallback("the rate-limit budget", errors=(StorageError, *redis_errors()))
        elif storage_uri.startswith("memory://"):
            self._limiter = self._memory
        else:
            try:
                self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
            except LimitsConfigurationError as exc:
                raise ConfigurationError(f"rate-limit storage: {exc}") from exc
        self._sleep = sleep
        self._clock = clock
        self.waited = 0.0  # total seconds spent waiting, for reports and tests
        self.enabled = True

    @classmethod
    def disabled(cls) -> RateLimiter:
        """A limiter that never waits: for emulators and tests that do not enforce the cloud's rates."""
        limiter = cls()
        limiter.enabled = False
        return limiter

    def acquire(self, key: str, rate: Rate | None) -> None:
        """Wait (if needed) until one more call under ``key`` stays within ``rate``."""
        if rate is None or not self.enabled:
            return
        item = RateLimitItemPerSecond(rate.calls, rate.per)
        while not self._shared(lambda limiter: limiter.hit(item, "mailbridge", key)):
            reset_at, _remaining = self._shared(lambda limiter: limiter.get_window_stats(item, "mailbridge", key))
            delay = min(max(reset_at - self._clock(), 0.0) + self.margin, float(rate.per))
            self.waited += delay
            self._sleep(delay)

    def _shared(self, call: Callable[[MovingWindowRateLimiter], T]) -> T:
        """``call`` on the configured storage, or on process memory while Redis does not answer."""
        if self.fallback is None:
            return call(self._limiter)
        return self.fallback.run(lambda: call(self._limiter), lambda: call(self._memory))

    def __repr__(self) -> str:
        scheme = self.storage_uri.split("://", 1)[0]
        return f"RateLimiter({scheme}://...)"
