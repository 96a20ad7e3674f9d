"""Decision code written once, driven twice: blocking (:func:`drive`) or on an asyncio loop (:func:`adrive`).

A *flow* is a generator that makes no I/O itself. It yields *effects* and gets each one's result back
at the ``yield`` (or has its :class:`MailbridgeError` thrown in there), and finally returns its value.
Two kinds of effect:

* :class:`Bookkeeping`: a call into a state store (provider health, idempotency keys). The drivers run
  it inline; :func:`adrive` runs a ``blocking`` one (Redis, SQLite, a custom store) off the event loop.
* anything else: an effect the flow's caller defines (a provider call), carried out by the driver's
  ``perform``: a blocking call for :func:`drive`, an awaitable for :func:`adrive`.

The failover rules (:mod:`mailbridge._failover`) and the idempotency guard (:mod:`mailbridge._idempotency`)
are flows, so ``FailoverClient`` and ``AsyncFailoverClient`` differ only in how they call a member.
Hand-written: the pattern is a few lines (the "sans-IO" style of h11 and hyper-h2), not a library's job.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

from attrs import frozen

from ._exceptions import MailbridgeError

__all__ = ["Bookkeeping", "Flow", "adrive", "drive"]

T = TypeVar("T")
Flow = Generator[Any, Any, T]
Offload = Callable[..., Awaitable[Any]]


@frozen
class Bookkeeping:
    """An effect: one call into a state store; ``blocking`` when it may wait on I/O."""

    call: Callable[[], Any]
    blocking: bool


class _Cursor:
    """Where a flow stands: the effect it waits on (None once it returned) and its value."""

    def __init__(self, flow: Flow[Any]) -> None:
        self._flow = flow
        self.value: Any = None
        self.effect: Any = self._step(flow.send, None)

    def _step(self, resume: Callable[[Any], Any], arg: Any) -> Any:
        try:
            return resume(arg)
        except StopIteration as stop:
            self.value = stop.value
            return None

    def send(self, value: Any) -> None:
        self.effect = self._step(self._flow.send, value)

    def throw(self, exc: MailbridgeError) -> None:
        self.effect = self._step(self._flow.throw, exc)

    def run(self, call: Callable[[], Any]) -> None:
        """Resume the flow with what ``call()`` returns, or with its neutral error."""
        try:
            value = call()
        except MailbridgeError as exc:
            self.throw(exc)
        else:
            self.send(value)


def drive(flow: Flow[T], perform: Callable[[Any], Any]) -> T:
    """Run ``flow`` in this thread; ``perform(effect)`` carries out the effects that are not bookkeeping."""
    cursor = _Cursor(flow)
    while (effect := cursor.effect) is not None:
        cursor.run(effect.call if isinstance(effect, Bookkeeping) else functools.partial(perform, effect))
    value: T = cursor.value
    return value


async def adrive(flow: Flow[T], perform: Callable[[Any], Awaitable[Any]], offload: Offload | None = None) -> T:
    """Run ``flow`` on the event loop: ``await perform(effect)``; blocking bookkeeping via ``offload``
    (default :func:`asyncio.to_thread`)."""
    if offload is None:
        import asyncio  # here, not at the top: the blocking clients import this module, asyncio is ~15 ms

        offload = asyncio.to_thread
    cursor = _Cursor(flow)
    try:
        while (effect := cursor.effect) is not None:
            if isinstance(effect, Bookkeeping) and not effect.blocking:
                cursor.run(effect.call)
                continue
            pending = offload(effect.call) if isinstance(effect, Bookkeeping) else perform(effect)
            try:
                value = await pending
            except MailbridgeError as exc:
                cursor.throw(exc)
            else:
                cursor.send(value)
    finally:
        flow.close()  # cancelled mid-way: the flow's own cleanup runs now, not at garbage collection
    result: T = cursor.value
    return result
