"""``connect_async()``: the client's methods for asyncio applications (FastAPI, aiohttp, ...).

Sends go native when the backend offers an :class:`~mailbridge.AsyncBackend`
(:meth:`Backend.async_backend`; Direct Mail's is an ``httpx.AsyncClient`` over the same guarded
seam): validation, pacing (:meth:`RateLimiter.acquire_async`), retries (the same stamina
policy, awaited) and the outcome rule are the synchronous client's, and ``send_many`` keeps a
bounded number of sends in flight as asyncio tasks (:class:`AsyncSendMany`). A send by template
or with an idempotency key, every other method, and every backend without an async side (the
Tencent SDK, the local SQLite store) run the synchronous :class:`Client` in worker threads
(:func:`asyncio.to_thread`), so the event loop never blocks and the errors are the same neutral
classes. Paged listings are async iterators that fetch page by page off the loop.

One async client belongs to one event loop (its connections do); close it with ``aclose()``
or ``async with``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any, TypeVar, cast

from ._abulk import AsyncSendMany, ThreadSends
from ._async_backend import AsyncBackend
from ._bulk import SendManyProgress, default_in_flight
from ._client import Client
from ._connect import connect
from ._exceptions import ConfigurationError, MailbridgeError
from ._limits import Limits, Operation
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
from ._template_resolver import TemplateResolver
from ._url import ProviderURL
from ._validation import check_message

__all__ = ["AsyncClient", "AsyncSendMany", "connect_async"]

T = TypeVar("T")
log = logging.getLogger("mailbridge")
_UNSET: Any = object()


async def _iterate(make: Callable[[], Iterator[T]], batch: int | None = None) -> AsyncIterator[T]:
    """Drive a synchronous iterator from worker threads, ``batch`` items per hop (one provider page: the
    iterator fetches the next page only when asked for its first item); closed when the consumer stops."""
    size = max(1, batch or 1)
    iterator = await asyncio.to_thread(make)
    try:
        while True:
            items = await asyncio.to_thread(lambda: list(itertools.islice(iterator, size)))
            for item in items:
                yield item
            if len(items) < size:
                return
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


class AsyncClient:
    """The asyncio face of a :class:`Client`: the same methods, awaited; listings are async iterators.

    Build it with :func:`connect_async`; ``sync`` is the wrapped client (for the methods not mirrored
    here). ``native`` says whether sends run on the event loop (the backend has an
    :class:`~mailbridge.AsyncBackend`) rather than in worker threads. Use ``async with`` or
    ``await client.aclose()``.
    """

    def __init__(self, client: Client) -> None:
        self.sync = client
        self._native: AsyncBackend | None = _UNSET
        self._loop: asyncio.AbstractEventLoop | None = None

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

    @property
    def native(self) -> bool:
        """Whether sends run natively on the event loop."""
        return self._async_backend(bind=False) is not None

    def _async_backend(self, *, bind: bool = True) -> AsyncBackend | None:
        """The backend's async side (built once); its connections belong to the first loop that sends."""
        if self._native is _UNSET:
            self._native = self.sync.backend.async_backend()
        if self._native is not None and bind:
            loop = asyncio.get_running_loop()
            if self._loop is None:
                self._loop = loop
            elif self._loop is not loop:  # its pooled connections live on that loop: refuse before any call
                raise ConfigurationError(
                    "this async client's connections belong to another event loop; use one loop per client "
                    "(call connect_async() inside it) and close it there with aclose()"
                )
        return self._native

    async def aclose(self) -> None:
        """Close the client: its async connections on the loop, the rest (connections, stores) off it."""
        native, self._native = self._native, None
        try:
            if native is not None and native is not _UNSET:
                if self._loop in (None, asyncio.get_running_loop()):
                    await native.aclose()
                else:
                    log.warning("async client closed on another loop than it sent on; its connections are dropped")
        finally:
            await asyncio.to_thread(self.sync.close)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ sending

    async def send(self, message: Message, *, idempotency_key: str | None = None) -> SendResult:
        """:meth:`Client.send`, awaited: the same checks, pacing, retries and errors."""
        return await self._send(message, idempotency_key=idempotency_key)

    async def _send(
        self, message: Message, *, idempotency_key: str | None = None, offload: Any = asyncio.to_thread
    ) -> SendResult:
        native = self._async_backend()
        key = idempotency_key or message.idempotency_key
        if native is None or key is not None or TemplateResolver._key(message) is not None:
            return cast(SendResult, await offload(self.sync.send, message, idempotency_key=idempotency_key))
        client = self.sync
        checked = check_message(
            message, client.limits, client.provider, ignore_unsupported=client.ignore_unsupported_features
        )
        client._one_shared_email(checked)
        try:
            receipt = await self._call(Operation.SEND, native.send, checked)
        except MailbridgeError as exc:  # the bookkeeping of Client._send_checked, for its one call
            exc.partial_result = ()
            this = (*checked.to, *checked.cc, *checked.bcc)
            exc.not_sent = () if exc.maybe_sent else this
            exc.maybe_sent_to = this if exc.maybe_sent else ()
            raise
        return SendResult([receipt])

    async def _call(self, operation: Operation, fn: Callable[..., Any], *args: Any) -> Any:
        """:meth:`Client._call` awaited: the same first attempt outside stamina, rate-limit slot per
        attempt, retry policy and error tagging (:mod:`mailbridge._retrying`)."""
        client = self.sync
        plan = client._attempts(operation)
        try:
            try:
                await client.rate_limiter.acquire_async(plan.key, plan.rate)
                return await fn(*args)
            except Exception as exc:
                retries = plan.retries(exc)
                if retries is None:
                    raise
            async for attempt in retries:
                with attempt:
                    retries.replay()
                    await client.rate_limiter.acquire_async(plan.key, plan.rate)
                    return await fn(*args)
        except MailbridgeError as exc:
            client._tagged(exc, operation)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_to_group(
        self, group: Group | str, message: Message, *, schedule: dt.datetime | None = None
    ) -> SendResult:
        """:meth:`Client.send_to_group`, awaited (``schedule`` where the backend declares scheduled sends)."""
        return await asyncio.to_thread(self.sync.send_to_group, group, message, schedule=schedule)

    def send_many(
        self,
        messages: Iterable[Message],
        *,
        max_in_flight: int | None = None,
        progress: Callable[[SendManyProgress], None] | None = None,
    ) -> AsyncSendMany:
        """:meth:`Client.send_many` as an async iterator of outcomes, in input order.

        At most ``max_in_flight`` sends (default from the declared send rate) run at once as asyncio
        tasks, natively or each in one of the run's own ``max_in_flight`` worker threads, paced by the
        declared rate. Leaving early or cancelling starts nothing more and waits for the sends in
        flight; see :class:`AsyncSendMany`.
        """
        in_flight = max_in_flight or default_in_flight(self.limits)
        threads = ThreadSends(in_flight)

        async def send(message: Message) -> SendResult:
            return await self._send(message, offload=threads.run)

        return AsyncSendMany(send, messages, max_in_flight=in_flight, progress=progress, on_close=threads.close)

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
        return _iterate(lambda: self.sync.groups(keyword), self.limits.list_page_size)

    def members(self, group: Group | str) -> AsyncIterator[Member]:
        """Every member of a group (page by page, off the loop)."""
        return _iterate(lambda: self.sync.members(group), self.limits.list_page_size)

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
        return _iterate(lambda: self.sync.deliveries(start, end, **filters), self.limits.delivery_page_size)

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
