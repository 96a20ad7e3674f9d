"""``send_many`` for asyncio: a bounded number of sends in flight as asyncio tasks, outcomes in input order.

The counterpart of :mod:`mailbridge._bulk` (same :class:`SendOutcome`, same per-message error rule,
same :class:`SendManyInterrupted` accounting). ``send`` is an awaitable send: native on the event
loop for a backend with an :class:`~mailbridge.AsyncBackend`, a worker-thread hop otherwise.

Sends are started strictly in input order, only while the consumer is reading, so what was never
started is always a suffix of the input. Leaving early (``break``, an error, ``aclose()``) or
cancelling the reading task starts nothing more and waits for the sends in flight (a request is
never cut off mid-way, which would make its outcome unknown); afterwards :attr:`AsyncSendMany.interrupted`
holds the finished outcomes that were not yet yielded and the index of the first message never started.
An input that raises ends the stream with its error, after the outcomes of the messages read before it.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ._bulk import SendManyInterrupted, SendManyProgress, SendOutcome, failed_outcome
from ._models import Message, SendResult

__all__ = ["AsyncSendMany", "ThreadSends"]

T = TypeVar("T")

log = logging.getLogger("mailbridge")

AsyncSend = Callable[[Message], Awaitable[SendResult]]


async def _run_one(send: AsyncSend, index: int, message: Message) -> SendOutcome:
    try:
        return SendOutcome(index, message, result=await send(message))
    except Exception as exc:
        return failed_outcome(index, message, exc)


class ThreadSends:
    """A thread pool of ``workers`` for one ``send_many`` run's blocking sends: asyncio's default executor may
    have fewer workers than ``max_in_flight`` (``min(32, cpus + 4)``). Started on first use; ``close`` stops it."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``asyncio.to_thread`` on this pool (the caller's context variables go along)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mailbridge-send")
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)  # every send has finished: AsyncSendMany.aclose waited for them


class _Slot:
    __slots__ = ("index", "message", "outcome", "started")

    def __init__(self, index: int, message: Message, outcome: asyncio.Future[SendOutcome]) -> None:
        self.index = index
        self.message = message
        self.outcome = outcome
        self.started = False


class AsyncSendMany:
    """The async iterator ``AsyncClient.send_many`` returns; also an async context manager.

    ``async with client.send_many(messages) as outcomes: async for outcome in outcomes: ...``
    closes it on every exit; a bare ``async for`` closes it when the input is exhausted.
    ``interrupted`` is set when it was closed early: see the module docstring.
    """

    def __init__(
        self,
        send: AsyncSend,
        messages: Iterable[Message],
        *,
        max_in_flight: int,
        progress: Callable[[SendManyProgress], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._send = send
        self._source = iter(messages)
        self._max = max_in_flight
        self._window = 4 * max_in_flight
        self._progress = progress
        self._on_close = on_close
        self._pending: deque[_Slot] = deque()  # read, not yet yielded, in input order
        self._waiting: deque[_Slot] = deque()  # read, not yet started
        self._running: set[asyncio.Task[None]] = set()
        self._read = 0
        self._more = True
        self._input_error: Exception | None = None
        self._reading = False  # a consumer is awaiting: finished sends may start the next ones
        self._closed = False
        self.done = self.sent = self.failed = 0
        self.interrupted: SendManyInterrupted | None = None

    def __aiter__(self) -> AsyncSendMany:
        return self

    async def __aenter__(self) -> AsyncSendMany:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def _fill(self) -> None:
        loop = asyncio.get_running_loop()
        while self._more and len(self._pending) < self._window:
            try:
                message = next(self._source)
            except StopIteration:
                self._more = False
                break
            except Exception as exc:  # the input broke: its error ends the stream, after what was read
                self._input_error = exc
                self._more = False
                break
            slot = _Slot(self._read, message, loop.create_future())
            self._read += 1
            self._pending.append(slot)
            self._waiting.append(slot)
        self._launch()

    def _launch(self) -> None:
        while self._waiting and len(self._running) < self._max and not self._closed:
            slot = self._waiting.popleft()
            slot.started = True
            task = asyncio.get_running_loop().create_task(self._run(slot), name=f"mailbridge-send-{slot.index}")
            self._running.add(task)
            task.add_done_callback(self._finished)

    async def _run(self, slot: _Slot) -> None:
        outcome = await _run_one(self._send, slot.index, slot.message)
        slot.outcome.set_result(outcome)
        self.done += 1
        if outcome.ok:
            self.sent += 1
        else:
            self.failed += 1
        if self._progress is not None:
            snapshot = SendManyProgress(outcome, self.done, self.sent, self.failed, len(self._running) - 1)
            try:
                self._progress(snapshot)
            except Exception:  # a broken callback must not lose a result
                log.exception("send_many: progress callback failed")

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if self._reading:
            self._launch()

    async def __anext__(self) -> SendOutcome:
        if self._closed:
            raise StopAsyncIteration
        self._fill()
        if not self._pending:
            await self.aclose()
            if self._input_error is not None:  # after the outcome of every message read before it
                raise self._input_error
            raise StopAsyncIteration
        head = self._pending[0]
        self._reading = True
        try:
            outcome = await asyncio.shield(head.outcome)
        except BaseException:  # cancelled (or interrupted) while waiting: account for everything
            await self.aclose()
            raise
        finally:
            self._reading = False
        self._pending.popleft()
        return outcome

    async def aclose(self) -> None:
        """Start nothing more, wait for the sends in flight, record what was left (``interrupted``)."""
        if self._closed:
            return
        self._closed = True
        never = self._waiting[0].index if self._waiting else self._read
        for slot in self._waiting:
            slot.outcome.cancel()
        self._waiting.clear()
        if self._running:
            await asyncio.shield(asyncio.gather(*self._running, return_exceptions=True))
        if self._on_close is not None:
            self._on_close()
        finished = tuple(s.outcome.result() for s in self._pending if s.started and s.outcome.done())
        self._pending.clear()
        if finished or never < self._read or self._more:
            self.interrupted = SendManyInterrupted(finished, never)
            for outcome in finished:
                if outcome.ok or outcome.maybe_sent:
                    log.warning(
                        "send_many stopped early: message %d finished (%s) after the caller stopped reading",
                        outcome.index,
                        "sent" if outcome.ok else "maybe sent",
                    )

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._running)} in flight"
        return f"<mailbridge.AsyncSendMany {self.done} done, {state}>"
