"""Client-side rate limiting from a backend's declared rates (the ``limits`` library).

The default storage is in process memory; pass a ``redis://`` storage URI so that every
worker of an application shares one budget per provider account.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from limits import RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from ._limits import Rate

__all__ = ["RateLimiter"]


class RateLimiter:
    """Blocks until a call fits the declared :class:`Rate` for its key.

    **Parameters:** ``storage_uri`` *(optional)*: a ``limits`` storage URI, ``memory://``
    (default) or ``redis://host:port/db`` for a budget shared across processes;
    ``margin`` *(optional)*: extra seconds to wait once the budget is used up, so that
    network jitter cannot make the provider see one call too many in its own window.
    """

    def __init__(
        self,
        storage_uri: str = "memory://",
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        margin: float = 0.1,
    ) -> None:
        self.storage_uri = storage_uri
        self.margin = margin
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
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
        while not self._limiter.hit(item, "mailbridge", key):
            reset_at, _remaining = self._limiter.get_window_stats(item, "mailbridge", key)
            delay = min(max(reset_at - self._clock(), 0.0) + self.margin, float(rate.per))
            self.waited += delay
            self._sleep(delay)

    def __repr__(self) -> str:
        scheme = self.storage_uri.split("://", 1)[0]
        return f"RateLimiter({scheme}://...)"
