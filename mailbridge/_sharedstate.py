"""Redis for shared state (health, rate limits, idempotency keys): short timeouts and a memory fallback.

Shared state must never break a send. Every Redis call here has a short socket timeout and no
client-side retry, and runs through a :class:`RedisFallback`: while Redis does not answer
(down, frozen, dropping connections) the call runs on process memory instead, with one
warning per outage, and Redis is tried again every ``retry_interval`` seconds until it answers.
Hand-written on purpose: redis-py's own ``Retry`` blocks the caller and re-raises at the end,
and a circuit breaker library would add a dependency for twenty lines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ._exceptions import ConfigurationError

__all__ = ["DEFAULT_REDIS_TIMEOUT", "RedisFallback", "import_redis", "redis_client", "redis_options"]

log = logging.getLogger("mailbridge.state")
T = TypeVar("T")
DEFAULT_REDIS_TIMEOUT = 0.5  # seconds; loopback and LAN Redis answer in well under a millisecond


def import_redis(what: str) -> Any:
    """The ``redis`` module, or a :class:`ConfigurationError` naming the extra to install."""
    try:
        import redis
    except ImportError as exc:
        raise ConfigurationError(f"{what} needs the redis package: pip install 'mailbridge[redis]'") from exc
    return redis


def redis_options(timeout: float = DEFAULT_REDIS_TIMEOUT) -> dict[str, Any]:
    """Connection options for a Redis that may freeze: short timeouts, no blocking client-side retries."""
    import_redis("shared state")
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
        "health_check_interval": 0,
    }


def redis_client(url: str, what: str, timeout: float = DEFAULT_REDIS_TIMEOUT) -> Any:
    """A ``redis.Redis`` for ``url`` with :func:`redis_options`."""
    redis = import_redis(what)
    try:
        return redis.Redis.from_url(url, **redis_options(timeout))
    except ValueError as exc:
        raise ConfigurationError(f"{what}: not a usable Redis URL ({exc})") from exc


def redis_errors() -> tuple[type[BaseException], ...]:
    """Everything a Redis call can raise when Redis misbehaves (redis-py wraps socket errors)."""
    redis = import_redis("shared state")
    return (redis.exceptions.RedisError, OSError)


class RedisFallback:
    """Runs calls on Redis, or on a fallback while Redis does not answer.

    **Parameters:** ``what``: names the state in log lines (``"failover health"``);
    ``retry_interval`` *(optional)*: seconds between attempts to reach Redis again during an
    outage; ``clock`` *(optional)*: monotonic seconds, injectable for tests.
    ``outages`` counts the outages seen, ``up`` tells whether Redis answered last time.
    """

    def __init__(
        self,
        what: str,
        *,
        retry_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        errors: tuple[type[BaseException], ...] | None = None,
    ) -> None:
        self.what = what
        self.retry_interval = retry_interval
        self._clock = clock
        self._errors = errors if errors is not None else redis_errors()
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self.up = True
        self.outages = 0

    def run(self, on_redis: Callable[[], T], on_memory: Callable[[], T]) -> T:
        """``on_redis()``, or ``on_memory()`` if Redis is known down or fails now."""
        if not self.up and self._clock() < self._retry_at:
            return on_memory()
        try:
            result = on_redis()
        except self._errors as exc:
            self._down(exc)
            return on_memory()
        if not self.up:
            with self._lock:
                if not self.up:
                    self.up = True
                    log.warning("Redis answers again: %s is shared through Redis again", self.what)
        return result

    def _down(self, exc: BaseException) -> None:
        with self._lock:
            self._retry_at = self._clock() + self.retry_interval
            if self.up:
                self.up = False
                self.outages += 1
                log.warning(
                    "Redis does not answer (%s); %s is kept in this process's memory until it does",
                    type(exc).__name__,
                    self.what,
                )
