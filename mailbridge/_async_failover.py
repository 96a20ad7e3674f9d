"""``connect_failover_async()``: a :class:`FailoverClient` for asyncio applications."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from ._abulk import AsyncSendMany, ThreadSends
from ._bulk import SendManyProgress, default_in_flight
from ._connect import connect_failover
from ._failover import FailoverClient
from ._models import Message, SendResult
from ._url import ProviderURL

__all__ = ["AsyncFailoverClient", "connect_failover_async"]


class AsyncFailoverClient:
    """The asyncio face of a :class:`FailoverClient`: sends awaited, ``send_many`` an async iterator.

    Build it with :func:`connect_failover_async`; ``sync`` is the wrapped failover client.
    """

    def __init__(self, client: FailoverClient) -> None:
        self.sync = client

    def __repr__(self) -> str:
        return f"<mailbridge.AsyncFailoverClient {self.sync.provider}>"

    @property
    def provider(self) -> str:
        return self.sync.provider

    def healthy(self) -> dict[str, bool]:
        """Which members are taking traffic (a look at the health store, no provider call)."""
        return self.sync.healthy()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncFailoverClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def send(self, message: Message, *, idempotency_key: str | None = None) -> SendResult:
        """:meth:`FailoverClient.send`, awaited (the same never-double-send rules)."""
        return await asyncio.to_thread(self.sync.send, message, idempotency_key=idempotency_key)

    async def send_to_group(self, group: str, message: Message) -> SendResult:
        return await asyncio.to_thread(self.sync.send_to_group, group, message)

    def send_many(
        self,
        messages: Iterable[Message],
        *,
        max_in_flight: int | None = None,
        progress: Callable[[SendManyProgress], None] | None = None,
    ) -> AsyncSendMany:
        """:meth:`FailoverClient.send_many` as an async iterator of outcomes, in input order (each send
        in a worker thread, at most ``max_in_flight`` at once; see :class:`AsyncSendMany`)."""
        in_flight = max_in_flight or default_in_flight(self.sync.clients[0].limits)
        threads = ThreadSends(in_flight)

        async def send(message: Message) -> SendResult:
            return await threads.run(self.sync.send, message)

        return AsyncSendMany(send, messages, max_in_flight=in_flight, progress=progress, on_close=threads.close)


def connect_failover_async(url: str | ProviderURL) -> AsyncFailoverClient:
    """:func:`connect_failover` for asyncio: an :class:`AsyncFailoverClient` for a ``failover://`` URL."""
    return AsyncFailoverClient(connect_failover(url))
