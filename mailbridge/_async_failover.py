"""``connect_failover_async()``: failover for asyncio applications, with the sync client's rules.

:class:`AsyncFailoverClient` drives the very flows :class:`FailoverClient` drives (:mod:`mailbridge._flow`):
member order, health, carrier checks, ``skipped`` reasons, the ledger of receipts and maybe-sent
addresses, failover only when a provider certainly did not accept, idempotency keys. It only calls
the members differently: it awaits each member's :class:`AsyncClient`, so a Direct Mail member sends
natively on the event loop (``httpx.AsyncClient``) and the Tencent SDK and the local store run in
worker threads, as with :func:`connect_async`. Health and idempotency stores that may block (Redis,
SQLite, custom ones) are called in worker threads; the memory stores are called on the loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ._abulk import AsyncSendMany, ThreadSends
from ._async import AsyncClient
from ._bulk import SendManyProgress, default_in_flight
from ._connect import connect_failover
from ._exceptions import MailbridgeError
from ._failover import FailoverClient, MemberCall
from ._flow import Offload, adrive
from ._models import Group, Message, Recipient, SendResult, UploadReport
from ._url import ProviderURL

__all__ = ["AsyncFailoverClient", "connect_failover_async"]

Progress = Callable[[SendManyProgress], None]


class AsyncFailoverClient:
    """The asyncio face of a :class:`FailoverClient`: the same rules and errors, sends awaited, ``send_many``
    an async iterator.

    Build it with :func:`connect_failover_async`, or from a failover client: ``sync`` is that client
    (its health, idempotency store and members), ``members`` their :class:`AsyncClient` faces. One
    client belongs to one event loop; close it with ``aclose()`` or ``async with``.
    """

    def __init__(self, client: FailoverClient) -> None:
        self.sync = client
        self.members = [AsyncClient(member) for member in client.clients]

    def __repr__(self) -> str:
        return f"<mailbridge.AsyncFailoverClient {self.sync.provider}>"

    @property
    def provider(self) -> str:
        return self.sync.provider

    def healthy(self) -> dict[str, bool]:
        """Which members are taking traffic (a look at the health store, no provider call). Plain, as on
        :class:`FailoverClient`: with a Redis store it waits for Redis, so on a busy loop prefer
        ``await asyncio.to_thread(client.healthy)``."""
        return self.sync.healthy()

    async def __aenter__(self) -> AsyncFailoverClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every member (its async connections on the loop, the rest off it)."""
        for member in self.members:
            await member.aclose()

    async def send(self, message: Message, *, idempotency_key: str | None = None) -> SendResult:
        """:meth:`FailoverClient.send`, awaited: the same order, health, never-double-send rules and errors."""
        return await self._send_with(asyncio.to_thread, message, idempotency_key)

    async def _send_with(self, offload: Offload, message: Message, idempotency_key: str | None = None) -> SendResult:
        """:meth:`send`; blocking work (stores, members without native sends) through ``offload``."""

        def perform(call: MemberCall) -> Awaitable[SendResult]:
            return self.members[call.index]._send(call.message, offload=offload)

        return await adrive(self.sync._send_flow(message, idempotency_key), perform, offload)

    async def send_to_group(self, group: str, message: Message, *, schedule: dt.datetime | None = None) -> SendResult:
        """:meth:`FailoverClient.send_to_group`, awaited (each member's own group send: native on Direct Mail)."""

        def perform(call: MemberCall) -> Awaitable[SendResult]:
            return self.members[call.index].send_to_group(group, call.message, schedule=schedule)

        return await adrive(self.sync._group_flow(message), perform)

    def send_many(
        self, messages: Iterable[Message], *, max_in_flight: int | None = None, progress: Progress | None = None
    ) -> AsyncSendMany:
        """:meth:`FailoverClient.send_many` as an async iterator of outcomes, in input order.

        Each message goes through :meth:`send`; at most ``max_in_flight`` (default from the first
        member's declared send rate) run at once as asyncio tasks. Members without native sends and
        blocking stores use the run's own ``max_in_flight`` worker threads. See :class:`AsyncSendMany`.
        """
        in_flight = max_in_flight or default_in_flight(self.sync.clients[0].limits)
        threads = ThreadSends(in_flight)
        send = functools.partial(self._send_with, threads.run)
        return AsyncSendMany(send, messages, max_in_flight=in_flight, progress=progress, on_close=threads.close)

    # ------------------------------------------------------------------ groups on every provider

    async def create_group(self, name: str, description: str | None = None) -> dict[str, Group | MailbridgeError]:
        """:meth:`FailoverClient.create_group` (every provider, in a worker thread), awaited."""
        return await asyncio.to_thread(self.sync.create_group, name, description)

    async def get_or_create_group(
        self, name: str, description: str | None = None
    ) -> dict[str, Group | MailbridgeError]:
        """:meth:`FailoverClient.get_or_create_group`, awaited."""
        return await asyncio.to_thread(self.sync.get_or_create_group, name, description)

    async def upload(
        self, group: str, recipients: Iterable[Recipient | str | Any], **options: Any
    ) -> dict[str, UploadReport | MailbridgeError]:
        """:meth:`FailoverClient.upload` (the same recipients on every provider, in a worker thread), awaited."""
        return await asyncio.to_thread(self.sync.upload, group, recipients, **options)


def connect_failover_async(url: str | ProviderURL) -> AsyncFailoverClient:
    """:func:`connect_failover` for asyncio: an :class:`AsyncFailoverClient` for a ``failover://`` URL."""
    return AsyncFailoverClient(connect_failover(url))
