"""``connect_async()``: the client's main methods for asyncio applications (FastAPI, aiohttp, ...).

Today every call runs the synchronous :class:`Client` in a worker thread (:func:`asyncio.to_thread`), so the
event loop never blocks on a provider, the SQLite store or the rate limiter's waits, and the errors are the same
neutral classes. Paged listings are async iterators that fetch page by page off the loop. A native
``httpx.AsyncClient`` transport for Direct Mail (whose backend already speaks httpx) is the next step; the
Tencent SDK and the local store will stay in threads (they have no asynchronous interface).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, TypeVar

from ._bulk import SendOutcome
from ._client import Client
from ._connect import connect, connect_failover
from ._failover import FailoverClient
from ._limits import Limits
from ._models import (
    AccountSummary,
    DeliveryEvent,
    Group,
    Member,
    Message,
    RemoveReport,
    SendResult,
    StatisticsRow,
    Tag,
    Template,
    UploadReport,
)
from ._url import ProviderURL

__all__ = ["AsyncClient", "AsyncFailoverClient", "connect_async", "connect_failover_async"]

T = TypeVar("T")
_DONE: Any = object()


async def _iterate(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Drive a synchronous iterator from worker threads, one item per hop; closed when the consumer stops."""
    iterator = await asyncio.to_thread(make)
    try:
        while True:
            item = await asyncio.to_thread(next, iterator, _DONE)
            if item is _DONE:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:  # a generator: let it finish its calls in flight (send_many does)
            await asyncio.to_thread(close)


class AsyncClient:
    """The asyncio face of a :class:`Client`: the same methods, awaited; listings are async iterators.

    Build it with :func:`connect_async`; ``sync`` is the wrapped client (for the methods not mirrored here).
    Use ``async with`` or ``await client.aclose()``.
    """

    def __init__(self, client: Client) -> None:
        self.sync = client

    def __repr__(self) -> str:
        return f"<mailbridge.AsyncClient {self.sync.backend.describe()}>"

    @property
    def provider(self) -> str:
        return self.sync.provider

    @property
    def limits(self) -> Limits:
        return self.sync.limits

    @property
    def backend(self) -> Any:
        return self.sync.backend

    async def aclose(self) -> None:
        """Close the client (connections, stores) off the loop."""
        await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ sending

    async def send(self, message: Message, *, idempotency_key: str | None = None) -> SendResult:
        """:meth:`Client.send`, awaited."""
        return await asyncio.to_thread(self.sync.send, message, idempotency_key=idempotency_key)

    async def send_to_group(self, group: Group | str, message: Message) -> SendResult:
        """:meth:`Client.send_to_group`, awaited."""
        return await asyncio.to_thread(self.sync.send_to_group, group, message)

    def send_many(self, messages: Iterable[Message], *, max_in_flight: int | None = None) -> AsyncIterator[SendOutcome]:
        """:meth:`Client.send_many` as an async iterator of outcomes, in input order.

        The sends run concurrently in the client's own worker threads, paced by the declared rate; leaving the
        ``async for`` early stops reading ``messages`` and waits for the sends in flight.
        """
        return _iterate(lambda: self.sync.send_many(messages, max_in_flight=max_in_flight))

    # ------------------------------------------------------------------ groups

    async def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        return await asyncio.to_thread(self.sync.create_group, name, description, alias=alias)

    async def get_or_create_group(
        self, name: str, description: str | None = None, *, alias: str | None = None
    ) -> Group:
        """:meth:`Client.get_or_create_group`, awaited."""
        return await asyncio.to_thread(self.sync.get_or_create_group, name, description, alias=alias)

    async def get_group(self, name: str) -> Group:
        return await asyncio.to_thread(self.sync.get_group, name)

    async def refresh_group(self, group: Group | str) -> Group:
        return await asyncio.to_thread(self.sync.refresh_group, group)

    async def delete_group(self, group: Group | str) -> None:
        await asyncio.to_thread(self.sync.delete_group, group)

    def groups(self, keyword: str | None = None) -> AsyncIterator[Group]:
        """Every group (page by page, off the loop)."""
        return _iterate(lambda: self.sync.groups(keyword))

    def members(self, group: Group | str) -> AsyncIterator[Member]:
        """Every member of a group (page by page, off the loop)."""
        return _iterate(lambda: self.sync.members(group))

    async def upload(self, group: Group | str, recipients: Iterable[Any], **options: Any) -> UploadReport:
        """:meth:`Client.upload` (same options), awaited; ``recipients`` is read in the worker thread."""
        return await asyncio.to_thread(self.sync.upload, group, recipients, **options)

    async def remove(self, group: Group | str, emails: Iterable[str]) -> RemoveReport:
        return await asyncio.to_thread(self.sync.remove, group, emails)

    async def wait_until_ready(self, group: Group | str, **options: Any) -> Group:
        return await asyncio.to_thread(self.sync.wait_until_ready, group, **options)

    # ------------------------------------------------------------------ delivery, account, templates

    def deliveries(
        self, start: dt.datetime, end: dt.datetime | None = None, **filters: Any
    ) -> AsyncIterator[DeliveryEvent]:
        """:meth:`Client.deliveries` (same filters) as an async iterator."""
        return _iterate(lambda: self.sync.deliveries(start, end, **filters))

    async def account(self) -> AccountSummary:
        return await asyncio.to_thread(self.sync.account)

    async def statistics(self, start: dt.date, end: dt.date) -> list[StatisticsRow]:
        return await asyncio.to_thread(self.sync.statistics, start, end)

    async def tags(self) -> list[Tag]:
        return await asyncio.to_thread(self.sync.tags)

    async def templates(self) -> list[Template]:
        return await asyncio.to_thread(self.sync.templates)

    async def create_template(
        self, name: str, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        return await asyncio.to_thread(self.sync.create_template, name, subject=subject, html=html, text=text)

    async def get_template(self, template: Template | str) -> Template:
        return await asyncio.to_thread(self.sync.get_template, template)

    async def delete_template(self, template: Template | str) -> None:
        await asyncio.to_thread(self.sync.delete_template, template)


def connect_async(url: str | ProviderURL | None = None, **options: Any) -> AsyncClient:
    """:func:`connect` for asyncio: an :class:`AsyncClient` (the same URLs and options).

    Building a client makes no provider call, so this is a plain function:
    ``async with mailbridge.connect_async(url) as client: await client.send(message)``.
    """
    return AsyncClient(connect(url, **options))


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

    def send_many(self, messages: Iterable[Message], *, max_in_flight: int | None = None) -> AsyncIterator[SendOutcome]:
        """:meth:`FailoverClient.send_many` as an async iterator of outcomes, in input order."""
        return _iterate(lambda: self.sync.send_many(messages, max_in_flight=max_in_flight))


def connect_failover_async(url: str | ProviderURL) -> AsyncFailoverClient:
    """:func:`connect_failover` for asyncio: an :class:`AsyncFailoverClient` for a ``failover://`` URL."""
    return AsyncFailoverClient(connect_failover(url))
