"""The optional asyncio side of a backend: what a plugin implements to send without threads.

A backend whose provider speaks an HTTP API it already drives with httpx can return an
:class:`AsyncBackend` from :meth:`Backend.async_backend`; :func:`mailbridge.connect_async`
then sends through it on the event loop, with the same validation, pacing, retries and
outcome rule as the synchronous client. Everything else (and every backend returning None)
runs the synchronous methods in worker threads.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._models import Message, SendReceipt

__all__ = ["AsyncBackend"]


@runtime_checkable
class AsyncBackend(Protocol):
    """A backend's native asyncio sends (see :meth:`Backend.async_backend`).

    ``send`` has the contract of :meth:`Backend.send`: one provider call, every failure a
    neutral error, :class:`OutcomeUnknown` when the request may have reached the provider.
    """

    async def send(self, message: Message) -> SendReceipt:
        """Send one checked message (at most ``limits.recipients_per_send`` in ``to``)."""
        ...

    async def aclose(self) -> None:
        """Release the connections (called by the async client's ``aclose``)."""
        ...
