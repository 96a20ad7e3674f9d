"""Concurrent sending: many messages, a bounded number of calls in flight, results in input order.

``send_many`` is written once here and used by :class:`Client` and :class:`FailoverClient`
alike: it only calls their ``send``, so validation, rate limiting (every call waits for
the shared limiter), retries, failover and idempotency keys behave exactly as for one
``send``. A thread pool is the right tool: a send is one blocking HTTP call, the declared
rates are at most a few hundred calls a second, and httpx's client (Direct Mail), the
Tencent SDK's requests session and the local SQLite store are all thread-safe.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from attrs import field, frozen

from ._exceptions import MailbridgeError, OutcomeUnknown
from ._limits import Limits, Operation
from ._models import Message, SendResult

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["SendManyInterrupted", "SendManyProgress", "SendOutcome", "default_in_flight", "send_many"]

log = logging.getLogger("mailbridge")


@frozen
class SendOutcome:
    """What became of one message of :func:`send_many`: its result or its neutral error.

    ``index`` is the message's position in the input (0-based).
    """

    index: int
    message: Message = field(repr=False)
    result: SendResult | None = None
    error: MailbridgeError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def maybe_sent(self) -> bool:
        """True when the provider may have accepted the message although an error was raised."""
        return self.error is not None and self.error.maybe_sent


@frozen
class SendManyProgress:
    """Passed to ``progress`` after each message finishes (in completion order)."""

    outcome: SendOutcome
    done: int
    sent: int
    failed: int
    in_flight: int


class SendManyInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`send_many` (also a ``KeyboardInterrupt`` raised by the input iterable):
    nothing new was started and every call in flight finished.

    ``outcomes`` holds, in input order, the messages that finished but had not been yielded
    yet; ``next_index`` is the position of the first message never started (resume there).
    """

    def __init__(self, outcomes: tuple[SendOutcome, ...], next_index: int) -> None:
        super().__init__(f"interrupted: {len(outcomes)} finished messages not yet reported; resume at {next_index}")
        self.outcomes = outcomes
        self.next_index = next_index


def default_in_flight(limits: Limits) -> int:
    """Calls kept in flight by default: enough to reach the declared send rate at ~0.5 s per call."""
    rate = limits.rate_for(Operation.SEND)
    if rate is None:
        return 4
    return max(4, min(32, math.ceil(rate.calls / rate.per / 2)))


def _run_one(send: Callable[[Message], SendResult], index: int, message: Message) -> SendOutcome:
    try:
        return SendOutcome(index, message, result=send(message))
    except Exception as exc:
        return failed_outcome(index, message, exc)


def failed_outcome(index: int, message: Message, exc: Exception) -> SendOutcome:
    """The outcome of a send that raised: its neutral error, or, for a bug below us (the request may have
    left), ``OutcomeUnknown``: never "not sent". Shared by the thread and asyncio runs."""
    if isinstance(exc, MailbridgeError):
        return SendOutcome(index, message, error=exc)
    log.exception("send_many: unexpected error for message %d", index, exc_info=exc)
    error = OutcomeUnknown(f"unexpected {type(exc).__name__} while sending; the message may have been sent")
    error.__cause__ = exc
    return SendOutcome(index, message, error=error)


class _Stream:
    """The bookkeeping of one ``send_many`` run: a window of futures and the progress counters."""

    def __init__(
        self,
        send: Callable[[Message], SendResult],
        max_in_flight: int,
        progress: Callable[[SendManyProgress], None] | None,
    ) -> None:
        self.send = send
        self.progress = progress
        from concurrent.futures import ThreadPoolExecutor  # imported on first use: it costs ~20 ms at startup

        self.window = 4 * max_in_flight
        self.executor = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="mailbridge-send")
        self.pending: deque[Future[SendOutcome]] = deque()
        self.next_index = 0
        self.lock = threading.Lock()
        self.started = self.done = self.sent = self.failed = 0

    def fill(self, source: Iterator[Message]) -> bool:
        """Start messages until the window is full; False once the input is exhausted."""
        while len(self.pending) < self.window:
            try:
                message = next(source)
            except StopIteration:
                return False
            with self.lock:
                self.started += 1
            future = self.executor.submit(_run_one, self.send, self.next_index, message)
            self.next_index += 1
            future.add_done_callback(self.report)
            self.pending.append(future)
        return True

    def report(self, future: Future[SendOutcome]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        outcome = future.result()
        with self.lock:
            self.done += 1
            if outcome.ok:
                self.sent += 1
            else:
                self.failed += 1
            if self.progress is None:
                return
            snapshot = SendManyProgress(outcome, self.done, self.sent, self.failed, self.started - self.done)
            try:
                self.progress(snapshot)  # under the lock: callbacks never run concurrently
            except Exception:  # a broken callback must not lose a result
                log.exception("send_many: progress callback failed")

    def interrupted(self) -> SendManyInterrupted:
        """Ctrl-C: start nothing more, let the started calls finish, hand over their outcomes."""
        from concurrent.futures import wait

        for future in self.pending:
            future.cancel()  # only those no worker has started: always a suffix of the queue
        wait(self.pending)
        finished = tuple(f.result() for f in self.pending if not f.cancelled())
        resume = self.next_index - sum(1 for f in self.pending if f.cancelled())
        self.pending.clear()
        return SendManyInterrupted(finished, resume)

    def close(self) -> None:
        """The caller stopped reading (or an error): never start another call, finish the started ones."""
        for future in self.pending:
            future.cancel()
        self.executor.shutdown(wait=True, cancel_futures=True)
        for future in self.pending:
            if future.cancelled() or future.exception() is not None:
                continue
            outcome = future.result()
            if outcome.ok or outcome.maybe_sent:
                log.warning(
                    "send_many stopped early: message %d finished (%s) after the caller stopped reading",
                    outcome.index,
                    "sent" if outcome.ok else "maybe sent",
                )


def send_many(
    send: Callable[[Message], SendResult],
    messages: Iterable[Message],
    *,
    max_in_flight: int,
    progress: Callable[[SendManyProgress], None] | None = None,
) -> Iterator[SendOutcome]:
    """Send every message with at most ``max_in_flight`` calls at once; yield outcomes in input order.

    The input is read lazily (a generator of a million messages runs in bounded memory:
    at most ``4 * max_in_flight`` messages are held). One message's error never stops the
    stream: it is that message's outcome. On Ctrl-C no new message is started, the calls in
    flight finish, and :class:`SendManyInterrupted` carries their outcomes.
    """
    if max_in_flight < 1:
        raise ValueError("max_in_flight must be at least 1")
    stream = _Stream(send, max_in_flight, progress)
    source = iter(messages)
    more = True
    try:
        while True:
            try:  # Ctrl-C while reading the input (it may be slow, or raise it) counts like one while waiting
                if more:
                    more = stream.fill(source)
                if not stream.pending:
                    return
                outcome = stream.pending[0].result()
            except KeyboardInterrupt:
                raise stream.interrupted() from None
            stream.pending.popleft()
            yield outcome
    finally:
        stream.close()
