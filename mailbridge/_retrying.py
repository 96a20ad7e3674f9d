"""One client call's attempts: the first outside stamina, any retries inside its retry context.

Most calls succeed at once, and building stamina's retry context (a tenacity ``Retrying``, its
call state and attempt managers) for every call was ~3% of a send's CPU. So the first attempt runs
bare; only when it fails with an error the retry rule accepts does the call enter
``stamina.retry_context``, whose first attempt *replays* that failure (it raises the same
exception without calling the backend again) and whose later attempts call the backend. stamina
therefore decides and schedules every retry exactly as if it had run the first attempt itself:
the same ``on`` verdict (computed once, for the first failure), backoff for retry 1, 2, ...,
``attempts`` counted from the first attempt, the on-retry hooks with the same ``retry_num``,
``stamina.set_testing()`` and ``stamina.set_active()`` honoured. Its ``timeout`` is what is left of
the policy's after the first attempt (stamina measures it from its own first attempt).

Used by :meth:`mailbridge.Client._call` (iterated) and :meth:`mailbridge.AsyncClient._call`
(async-iterated); each acquires one rate-limit slot per attempt that reaches the backend. Each
scheduled retry is one concise record on the ``mailbridge`` logger (:mod:`mailbridge._retry_notes`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._exceptions import MailbridgeError, RateLimited

if TYPE_CHECKING:
    from ._client import RetryPolicy
    from ._limits import Rate

__all__ = ["CallAttempts", "Retries", "retry_verdict"]


def retry_verdict(exc: BaseException) -> bool | float:
    """Whether a failed call may be repeated: False, True, or the seconds the provider asked to wait."""
    if not isinstance(exc, MailbridgeError) or not exc.retryable or exc.maybe_sent:
        return False
    if isinstance(exc, RateLimited) and exc.retry_after:
        return float(exc.retry_after)
    return True


class CallAttempts:
    """One call's rate-limit ``key`` and ``rate``, its deadline, and the way into its retries."""

    __slots__ = ("_clock", "_policy", "_started", "deadline", "key", "provider", "rate")

    def __init__(
        self, key: str, rate: Rate | None, policy: RetryPolicy, clock: Callable[[], float], provider: str | None = None
    ) -> None:
        self.key = key
        self.rate = rate
        self.provider = provider
        self._policy = policy
        self._clock = clock
        self.deadline = clock() + policy.timeout
        self._started = time.monotonic()  # stamina's timeout runs on time.monotonic

    @property
    def attempts(self) -> int | None:
        """The policy's attempts (the first one included)."""
        return self._policy.attempts

    def verdict(self, exc: BaseException) -> bool | float:
        """The retry rule, and a provider's ``retry_after`` longer than the call has left is not waited for."""
        verdict = retry_verdict(exc)
        if not isinstance(verdict, bool) and verdict > self.deadline - self._clock():
            return False  # the provider asks for longer than this call may take
        return verdict

    def retries(self, first: Exception) -> Retries | None:
        """After the first attempt failed with ``first``: the retries, or None when it is not retried."""
        verdict = self.verdict(first)
        if verdict is False:
            return None
        return Retries(self, first, verdict)


class Retries:
    """stamina's retry context for the attempts after the first: iterate it (sync or async) as
    ``stamina.retry_context``, calling :meth:`replay` first thing inside each attempt's block."""

    __slots__ = ("_attempts", "_call", "_iterator", "_pending", "_retrying")

    def __init__(self, call: CallAttempts, first: Exception, verdict: bool | float) -> None:
        import stamina  # deferred to the first retry: it brings tenacity (~25 ms of a cold start)

        from ._retry_notes import RETRYING, ensure_hooks  # with the first retry too

        ensure_hooks()
        self._retrying = RETRYING
        self._call = call
        self._pending: tuple[Exception, bool | float] | None = (first, verdict)
        policy = call._policy
        left = policy.timeout - (time.monotonic() - call._started)
        self._attempts = stamina.retry_context(
            on=self._on,
            attempts=policy.attempts,
            # stamina warns on exactly 0 (it means "no retries"); a deadline already passed stops the same way
            timeout=left if left != 0 else -1.0,
            wait_initial=policy.wait_initial,
            wait_max=policy.wait_max,
            wait_jitter=policy.wait_jitter,
        )

    def _on(self, exc: Exception) -> bool | float:
        pending = self._pending
        if pending is not None and exc is pending[0]:
            self._pending = None
            return pending[1]  # the first failure's verdict, decided once
        return self._call.verdict(exc)

    def replay(self) -> None:
        """Raise the first attempt's failure on stamina's first attempt; later attempts run the call."""
        pending = self._pending
        if pending is not None:
            raise pending[0]

    # Each step of stamina's iterator (where it runs its on-retry hooks) runs with RETRYING set to this call,
    # so that the hooks know the retry is mailbridge's (mailbridge._retry_notes). Set and reset per step, in
    # the caller's own context: no generator whose clean-up could run elsewhere.

    def __iter__(self) -> Retries:
        self._iterator: Any = iter(self._attempts)
        return self

    def __next__(self) -> Any:
        token = self._retrying.set(self._call)
        try:
            return next(self._iterator)
        finally:
            self._retrying.reset(token)

    def __aiter__(self) -> Retries:
        self._iterator = self._attempts.__aiter__()
        return self

    async def __anext__(self) -> Any:
        token = self._retrying.set(self._call)
        try:
            return await self._iterator.__anext__()
        finally:
            self._retrying.reset(token)
