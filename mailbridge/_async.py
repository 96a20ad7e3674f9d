"""``connect_async()``: the client's methods for asyncio applications (FastAPI, aiohttp, ...).

What runs natively on the event loop is what the backend's :class:`~mailbridge.AsyncBackend`
(:meth:`Backend.async_backend`) offers, found method by method
(:data:`~mailbridge._async_backend.ASYNC_METHODS`). Direct Mail's offers every provider call below, over
an ``httpx.AsyncClient`` on the same guarded seam, as the very request plans of its synchronous backend
(the same requests on the wire):

* ``send`` (also by template and with an idempotency key) and ``send_many``; ``send_to_group``;
* the listings ``groups()``, ``members()`` and ``deliveries()``: async iterators that fetch one page
  per awaited call, bounded by the same :class:`~mailbridge._paging.PageFollower` rules as the sync
  listings (leave early with ``break`` and close them, or use :func:`contextlib.aclosing`);
* ``get_group()``, ``refresh_group()``, ``account()``, ``statistics()``, ``tags()``, ``templates()``,
  ``get_template()``;
* the writes ``create_group()``, ``get_or_create_group()``, ``delete_group()``, ``remove()``, ``create_tag()``,
  ``rename_tag()``, ``delete_tag()``, ``create_template()``, ``update_template()``, ``delete_template()``,
  ``suppress()``, ``unsuppress()`` and the listing ``suppressions()``, with the
  client's safe-repeat rules (:mod:`mailbridge._safe_repeat`, flows both clients drive: a create whose outcome
  is unknown is looked up by name before it is sent again).

Every native call has the synchronous client's validation, feature checks, pacing
(:meth:`RateLimiter.acquire_async`), retry policy (the same stamina policy, awaited), error tagging and
outcome rule, with the decision logic shared, not copied (the template resolver's look-ups and the
backend's requests are sans-IO flows both clients drive, :mod:`mailbridge._flow`). Blocking work that
is not a provider call stays off the loop in a worker thread (:func:`asyncio.to_thread`): an idempotency
key's store calls around the native send (:meth:`IdempotencyGuard.send_async`: SQLite, Redis), and
reading the template catalog (a file or Redis) after a template's native look-up (none with
``template_catalog=off``, and none for a send reusing a cached look-up) or writing it around a native
template create/update/delete. Everything else (``upload()``, ``wait_until_ready()``, the sender domain and
address set-up calls, and every method
of a backend without an async side: the Tencent SDK, the local SQLite store)
runs the synchronous :class:`Client` in worker threads, so the event loop never blocks and the errors
are the same neutral classes; its listings are async iterators that fetch page by page off the loop.
``send_many`` keeps a bounded number of sends in flight as asyncio tasks (:class:`AsyncSendMany`).

One async client belongs to one event loop (its connections do); close it with ``aclose()``
or ``async with``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import itertools
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from typing import Any, TypeVar, cast

from ._abulk import AsyncSendMany, ThreadSends
from ._async_backend import AsyncBackend, async_method
from ._bulk import SendManyProgress, default_in_flight
from ._client import Client, _named, _wanted, account_failed_send
from ._connect import connect
from ._exceptions import ConfigurationError, GroupNotFound, MailbridgeError, TemplateNotFound
from ._flow import Offload, adrive
from ._limits import Feature, Limits, Operation
from ._models import (
    AccountSummary,
    DeliveryEvent,
    Group,
    Member,
    Message,
    Page,
    RemoveReport,
    SenderAddress,
    SenderDomain,
    SendResult,
    StatisticsRow,
    Suppression,
    SuppressionReason,
    Tag,
    Template,
    UploadReport,
)
from ._paging import afollow_pages
from ._safe_repeat import CREATE, GET, Deletion, Pause, get_or_create, safe_create
from ._template_resolver import Lookup
from ._url import ProviderURL, Secret

__all__ = ["AsyncClient", "AsyncSendMany", "connect_async"]

T = TypeVar("T")
log = logging.getLogger("mailbridge")
_UNSET: Any = object()


async def _iterate(make: Callable[[], Iterator[T]], batch: int | None = None) -> AsyncGenerator[T, None]:
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


def _by_cursor(
    method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any
) -> Callable[[str | None], Awaitable[Any]]:
    """A backend's page method as a fetch of one page by cursor (``method(*args, cursor=..., **kwargs)``)."""
    return lambda cursor: method(*args, cursor=cursor, **kwargs)


class AsyncClient:
    """The asyncio face of a :class:`Client`: the same methods, awaited; listings are async iterators.

    Build it with :func:`connect_async`; ``sync`` is the wrapped client (for the methods not mirrored
    here). ``native`` says whether the backend has an :class:`~mailbridge.AsyncBackend`, so that its
    provider calls run on the event loop rather than in worker threads (see the module doc for which).
    Use ``async with`` or ``await client.aclose()``.
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

    def _native_method(self, name: str) -> Callable[..., Awaitable[Any]] | None:
        """The async backend's counterpart of backend method ``name``, or None (then: the sync client, in a thread)."""
        return async_method(self._async_backend(), name)

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
        """:meth:`Client.send`, awaited: the same checks, template resolution, idempotency, pacing, retries
        and errors."""
        return await self._send(message, idempotency_key=idempotency_key)

    async def _send(
        self, message: Message, *, idempotency_key: str | None = None, offload: Offload = asyncio.to_thread
    ) -> SendResult:
        if self._async_backend() is None:
            return cast(SendResult, await offload(self.sync.send, message, idempotency_key=idempotency_key))
        send = functools.partial(self._send_resolved, idempotency_key, offload)
        return await self._by_template(message, send, group_send=False, offload=offload)

    async def _by_template(
        self,
        message: Message,
        send: Callable[[Message], Awaitable[SendResult]],
        *,
        group_send: bool,
        offload: Offload = asyncio.to_thread,
    ) -> SendResult:
        """:func:`~mailbridge._template_resolver.resolves_template_names` around an awaited send (the same
        resolver and the same one fresh look-up after a cached template id the provider no longer knows)."""
        resolver = self.sync._templates
        was_cached = resolver.cached(message)
        resolved = await self._resolve(message, group_send=group_send, offload=offload)
        try:
            return await send(resolved)
        except TemplateNotFound as exc:
            if not resolver.send_again(message, resolved, exc, was_cached=was_cached):
                raise
        return await send(await self._resolve(message, group_send=group_send, offload=offload))

    async def _resolve(self, message: Message, *, group_send: bool, offload: Offload) -> Message:
        """:meth:`TemplateResolver.resolve_message` awaited: the same checks and cache; the look-ups native
        (the resolver's own plan), the catalog (a file or Redis) off the loop."""
        resolver = self.sync._templates
        key = resolver.checked_key(message, group_send=group_send)
        if key is None:
            return message
        now = self.sync._clock()
        template = resolver.sendable(key, now)
        if template is None:
            found = await self._find_template(key, offload)
            template = resolver.keep_sendable(key, await self._complete(found, offload), now)
        return resolver.resolved(message, template, group_send=group_send)

    async def _send_resolved(self, idempotency_key: str | None, offload: Offload, message: Message) -> SendResult:
        """:meth:`Client.send` after template resolution: checked, then sent once per idempotency key."""
        checked, key = self.sync._checked_send(message, idempotency_key)
        if key is None:
            return await self._send_checked(checked)
        return await self.sync.idempotency.send_async(key, checked, self._send_checked, offload)

    async def _send_checked(self, checked: Message) -> SendResult:
        native = self._async_backend()
        assert native is not None  # only called when there is one
        try:
            receipt = await self._call(Operation.SEND, native.send, checked)
        except MailbridgeError as exc:
            account_failed_send(exc, checked)  # as Client._send_checked does
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
        self.sync._require(Feature.BATCH_SEND)  # before the async backend is looked for, as the sync client does
        send_to_group = self._native_method("send_to_group")
        if send_to_group is None:
            return await asyncio.to_thread(self.sync.send_to_group, group, message, schedule=schedule)
        send = functools.partial(self._group_send, send_to_group, group, schedule)
        return await self._by_template(message, send, group_send=True)

    async def _group_send(
        self,
        send_to_group: Callable[..., Awaitable[Any]],
        group: Group | str,
        schedule: dt.datetime | None,
        message: Message,
    ) -> SendResult:
        checked, schedule = self.sync._checked_group_send(message, schedule)
        resolved = await self._group(group)
        call = send_to_group if schedule is None else functools.partial(send_to_group, schedule=schedule)
        return SendResult([await self._call(Operation.SEND_TO_GROUP, call, resolved, checked)])

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

    # ------------------------------------------------------------------ listings and reads

    def _listing(
        self,
        name: str,
        feature: Feature,
        native: Callable[[Callable[..., Awaitable[Any]]], AsyncGenerator[T, None]],
        blocking: Callable[[], Iterator[T]],
        batch: int,
    ) -> AsyncGenerator[T, None]:
        """A listing needing ``feature``: ``native(method)`` over the async backend's ``name``, else the sync
        iterator in threads."""

        async def either() -> AsyncGenerator[T, None]:
            self.sync._require(feature)
            method = self._native_method(name)
            source = _iterate(blocking, batch) if method is None else native(method)
            async with contextlib.aclosing(source):  # closed however the consumer stops, and so each layer below
                async for item in source:
                    yield item

        return either()

    async def _pages(
        self, operation: Operation, fetch: Callable[[str | None], Awaitable[Page[T]]]
    ) -> AsyncGenerator[T, None]:
        """:meth:`Client._pages` awaited: each page one :meth:`_call`, bounded as the sync listings are."""

        async def call(cursor: str | None) -> Page[T]:
            return cast(Page[T], await self._call(operation, fetch, cursor))

        pages = afollow_pages(call, provider=self.provider, operation=str(operation))
        async with contextlib.aclosing(pages):
            async for page in pages:
                for item in page.items:
                    yield item

    async def _read(
        self, name: str, feature: Feature, operation: Operation, blocking: Callable[[], T], *args: Any
    ) -> T:
        """One read needing ``feature``: the async backend's ``name(*args)`` through :meth:`_call`, else
        ``blocking`` in a thread."""
        self.sync._require(feature)
        method = self._native_method(name)
        if method is None:
            return await asyncio.to_thread(blocking)
        return cast(T, await self._call(operation, method, *args))

    # ------------------------------------------------------------------ groups

    async def _create(
        self,
        operation: Operation,
        create: Callable[[], Awaitable[T]],
        find: Callable[[], Awaitable[T | None]],
    ) -> T:
        """:meth:`Client._create` awaited: the same :func:`~mailbridge._safe_repeat.safe_create` flow."""

        async def perform(effect: object) -> Any:
            if isinstance(effect, Pause):
                return await asyncio.sleep(effect.seconds)
            return await self._call(operation, create) if effect == CREATE else await find()

        return cast(T, await adrive(safe_create(operation, self.sync.retry), perform))

    async def _delete(self, operation: Operation, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """:meth:`Client._delete` awaited (the same :class:`~mailbridge._safe_repeat.Deletion` rule)."""
        deletion = Deletion(operation)

        async def once() -> None:
            try:
                await fn(*args)
            except MailbridgeError as exc:
                deletion.failed(exc)

        await self._call(operation, once)

    async def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        """:meth:`Client.create_group`, awaited (the same checks and safe-repeat rule)."""
        name = self.sync._group_name(name)
        create_group = self._native_method("create_group")
        if create_group is None:
            return await asyncio.to_thread(self.sync.create_group, name, description, alias=alias)

        async def find() -> Group | None:
            try:
                return await self.get_group(name)
            except GroupNotFound:
                return None

        return await self._create(
            Operation.CREATE_GROUP, functools.partial(create_group, name, description, alias=alias), find
        )

    async def get_or_create_group(
        self, name: str, description: str | None = None, *, alias: str | None = None
    ) -> Group:
        """:meth:`Client.get_or_create_group`, awaited (the same :func:`~mailbridge._safe_repeat.get_or_create`)."""
        if self._native_method("create_group") is None:
            return await asyncio.to_thread(self.sync.get_or_create_group, name, description, alias=alias)

        async def perform(effect: object) -> Group:
            if effect == GET:
                return await self.get_group(name.strip())
            return await self.create_group(name, description, alias=alias)

        return cast(Group, await adrive(get_or_create(), perform))

    async def get_group(self, name: str) -> Group:
        """The group with exactly this name; :class:`GroupNotFound` if none."""
        self.sync._require(Feature.GROUPS)
        if self._native_method("list_groups") is None:
            return await asyncio.to_thread(self.sync.get_group, name)
        async with contextlib.aclosing(self.groups(keyword=name)) as found:
            async for group in found:
                if group.name == name:
                    return group  # the listing is closed on the way out: no further page is asked for
        raise self.sync._no_group(name)

    async def refresh_group(self, group: Group | str) -> Group:
        """The group as the provider sees it now (count, import status)."""
        self.sync._require(Feature.GROUPS)
        get_group = self._native_method("get_group")
        if get_group is None:
            return await asyncio.to_thread(self.sync.refresh_group, group)
        resolved = await self._group(group)
        return cast(Group, await self._call(Operation.GET_GROUP, get_group, resolved.id))

    async def _group(self, group: Group | str) -> Group:
        return group if isinstance(group, Group) else await self.get_group(group)

    async def delete_group(self, group: Group | str) -> None:
        """:meth:`Client.delete_group`, awaited."""
        self.sync._require(Feature.GROUPS)
        delete_group = self._native_method("delete_group")
        if delete_group is None:
            return await asyncio.to_thread(self.sync.delete_group, group)
        await self._delete(Operation.DELETE_GROUP, delete_group, await self._group(group))

    def groups(self, keyword: str | None = None) -> AsyncGenerator[Group, None]:
        """Every group (whose name contains ``keyword``), page by page."""
        size = self.limits.list_page_size

        async def native(list_groups: Callable[..., Awaitable[Any]]) -> AsyncGenerator[Group, None]:
            pages = self._pages(Operation.LIST_GROUPS, _by_cursor(list_groups, keyword=keyword, page_size=size))
            async with contextlib.aclosing(pages):
                async for group in pages:
                    if _named(group, keyword):
                        yield group

        return self._listing("list_groups", Feature.GROUPS, native, lambda: self.sync.groups(keyword), size)

    def members(self, group: Group | str) -> AsyncGenerator[Member, None]:
        """Every member of a group, page by page."""
        size = self.limits.list_page_size

        async def native(list_members: Callable[..., Awaitable[Any]]) -> AsyncGenerator[Member, None]:
            resolved = await self._group(group)
            pages = self._pages(Operation.LIST_MEMBERS, _by_cursor(list_members, resolved, page_size=size))
            async with contextlib.aclosing(pages):
                async for member in pages:
                    yield member

        return self._listing("list_members", Feature.GROUPS, native, lambda: self.sync.members(group), size)

    async def upload(self, group: Group | str, recipients: Iterable[Any], **options: Any) -> UploadReport:
        """:meth:`Client.upload` (same options), awaited; ``recipients`` is read in the worker thread."""
        return await asyncio.to_thread(self.sync.upload, group, recipients, **options)

    async def remove(self, group: Group | str, emails: Iterable[str]) -> RemoveReport:
        """:meth:`Client.remove`, awaited: the same report (the same :meth:`Client._removal` flow)."""
        self.sync._require(Feature.GROUPS)
        self.sync._require(Feature.REMOVE_RECIPIENTS)
        find_members, remove_members = self._native_method("find_members"), self._native_method("remove_members")
        if find_members is None or remove_members is None:
            return await asyncio.to_thread(self.sync.remove, group, emails)
        resolved = await self._group(group)

        async def perform(effect: tuple[str, Any]) -> Any:
            kind, arg = effect
            if kind == "find":
                return await self._call(Operation.LIST_MEMBERS, find_members, resolved, [arg])
            if kind == "list":
                return {m.recipient.key: m.email async for m in self.members(resolved) if m.recipient.key in arg}
            return await self._call(Operation.REMOVE_MEMBERS, remove_members, resolved, arg)

        return await adrive(self.sync._removal(resolved, emails), perform)

    async def wait_until_ready(self, group: Group | str, **options: Any) -> Group:
        return await asyncio.to_thread(self.sync.wait_until_ready, group, **options)

    # ------------------------------------------------------------------ delivery, account, templates

    def deliveries(
        self, start: dt.datetime, end: dt.datetime | None = None, **filters: Any
    ) -> AsyncGenerator[DeliveryEvent, None]:
        """:meth:`Client.deliveries` (the same keyword filters: ``recipient``, ``sender``, ``message_id``,
        ``status``, ``tag``) as an async iterator, window by window and page by page."""
        size = self.limits.delivery_page_size

        async def native(query_deliveries: Callable[..., Awaitable[Any]]) -> AsyncGenerator[DeliveryEvent, None]:
            first, last, server, local = self.sync._delivery_query(start, end, filters)
            for query in self.sync._delivery_queries(first, last, server):
                pages = self._pages(Operation.DELIVERIES, _by_cursor(query_deliveries, query, page_size=size))
                async with contextlib.aclosing(pages):
                    async for event in pages:
                        if _wanted(event, first, last, local):
                            yield event

        return self._listing(
            "query_deliveries", Feature.DELIVERIES, native, lambda: self.sync.deliveries(start, end, **filters), size
        )

    async def account(self) -> AccountSummary:
        return await self._read("account_summary", Feature.ACCOUNT_SUMMARY, Operation.ACCOUNT, self.sync.account)

    async def statistics(self, start: dt.date, end: dt.date) -> list[StatisticsRow]:
        span = self.sync._statistics_span(start, end)  # the sync client's checks, before any call
        blocking = functools.partial(self.sync.statistics, start, end)
        return await self._read("statistics", Feature.STATISTICS, Operation.STATISTICS, blocking, *span)

    async def tags(self) -> list[Tag]:
        return await self._read("list_tags", Feature.TAG_MANAGEMENT, Operation.TAGS, self.sync.tags)

    async def templates(self) -> list[Template]:
        """Every template as the provider lists it (id, name, status)."""
        return await self._read("list_templates", Feature.TEMPLATES, Operation.TEMPLATES, self.sync.templates)

    async def create_tag(self, name: str, description: str | None = None) -> Tag:
        """:meth:`Client.create_tag`, awaited (safe to repeat: looked up by name after an unknown outcome)."""
        self.sync._require(Feature.TAG_MANAGEMENT)
        create_tag = self._native_method("create_tag")
        if create_tag is None:
            return await asyncio.to_thread(self.sync.create_tag, name, description)

        async def find() -> Tag | None:
            return next((t for t in await self.tags() if t.name == name), None)

        return await self._create(Operation.TAGS, functools.partial(create_tag, name, description), find)

    async def rename_tag(self, tag: Tag, new_name: str) -> Tag:
        """:meth:`Client.rename_tag`, awaited."""
        return cast(Tag, await self._write("rename_tag", Feature.TAG_MANAGEMENT, Operation.TAGS, tag, new_name))

    async def delete_tag(self, tag: Tag) -> None:
        """:meth:`Client.delete_tag`, awaited."""
        self.sync._require(Feature.TAG_MANAGEMENT)
        delete_tag = self._native_method("delete_tag")
        if delete_tag is None:
            return await asyncio.to_thread(self.sync.delete_tag, tag)
        await self._delete(Operation.TAGS, delete_tag, tag)

    async def _write(self, name: str, feature: Feature, operation: Operation, *args: Any, **kwargs: Any) -> Any:
        """The client's method ``name`` that is one backend call of the same name: native, else in a thread."""
        self.sync._require(feature)
        method = self._native_method(name)
        if method is None:
            return await asyncio.to_thread(getattr(self.sync, name), *args, **kwargs)
        return await self._call(operation, functools.partial(method, *args, **kwargs))

    async def _catalog_io(self, fn: Callable[..., T], *args: Any) -> T:
        """A template-catalog step (``fn(*args)``): inline when the catalog is off, else in a worker thread."""
        if self.sync._templates.catalog_is_off():
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    # ------------------------------------------------------------------ suppressions

    def suppressions(self) -> AsyncGenerator[Suppression, None]:
        """:meth:`Client.suppressions` as an async iterator, page by page."""
        size = self.limits.list_page_size

        def native(list_suppressions: Callable[..., Awaitable[Any]]) -> AsyncGenerator[Suppression, None]:
            return self._pages(Operation.SUPPRESSIONS, _by_cursor(list_suppressions, page_size=size))

        return self._listing("list_suppressions", Feature.SUPPRESSIONS, native, self.sync.suppressions, size)

    async def suppress(
        self, addresses: Iterable[str] | str, *, reason: SuppressionReason | str = SuppressionReason.MANUAL
    ) -> list[str]:
        """:meth:`Client.suppress`, awaited (every address checked before any call)."""
        self.sync._require(Feature.SUPPRESSIONS)
        why = SuppressionReason(reason)
        return await self._each_chunk("add_suppressions", self.sync._addresses(addresses), why)

    async def unsuppress(self, addresses: Iterable[str] | str) -> list[str]:
        """:meth:`Client.unsuppress`, awaited."""
        self.sync._require(Feature.SUPPRESSIONS)
        return await self._each_chunk("remove_suppressions", self.sync._addresses(addresses))

    async def _each_chunk(self, name: str, addresses: list[str], *extra: Any) -> list[str]:
        """The backend's ``name`` per chunk of :meth:`Client._chunks`: native, else the sync loop in a thread."""
        method = self._native_method(name)
        if method is None:
            return await asyncio.to_thread(self.sync._each_chunk, getattr(self.sync.backend, name), addresses, *extra)
        for chunk in self.sync._chunks(addresses):
            await self._call(Operation.SUPPRESSIONS, method, chunk, *extra)
        return addresses

    # ------------------------------------------------------------------ templates

    async def create_template(
        self, name: str, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        """:meth:`Client.create_template`, awaited: the same checks, safe-repeat rule and catalog record
        (the catalog, a file or Redis, written off the loop)."""
        self.sync._require(Feature.TEMPLATES)
        create_template = self._native_method("create_template")
        if create_template is None:
            return await asyncio.to_thread(self.sync.create_template, name, subject=subject, html=html, text=text)
        name = await self._catalog_io(self.sync._check_template, name, subject, html, text)

        async def find() -> Template | None:
            listed = next((t for t in await self.templates() if t.name == name), None)
            return None if listed is None else await self._find_template(listed)

        async def perform(effect: tuple[str, Any]) -> Any:
            kind, arg = effect
            if kind == "create":
                create = functools.partial(create_template, name, subject=subject, html=html, text=text)
                return await self._create(Operation.TEMPLATES, create, find)
            if kind == "remember":
                return await self._catalog_io(self.sync._templates.remember, *arg)
            return await self._write("delete_template", Feature.TEMPLATES, Operation.TEMPLATES, arg)

        parts = {"subject": subject, "html": html, "text": text}
        return cast(Template, await adrive(self.sync._template_creation(parts), perform))

    async def update_template(
        self, template: Template | str, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        """:meth:`Client.update_template`, awaited (the look-up by name native, the catalog off the loop)."""
        self.sync._require(Feature.TEMPLATES)
        update_template = self._native_method("update_template")
        if update_template is None:
            return await asyncio.to_thread(self.sync.update_template, template, subject=subject, html=html, text=text)
        resolved = template if isinstance(template, Template) else await self._find_template(template)
        await self._catalog_io(self.sync._check_template, resolved.name, subject, html, text)
        self.sync._templates.forget(resolved)
        update = functools.partial(update_template, resolved, subject=subject, html=html, text=text)
        stored = await self._call(Operation.TEMPLATES, update)
        parts = {"subject": subject, "html": html, "text": text}
        return await self._catalog_io(self.sync._templates.remember, stored, parts)

    async def get_template(self, template: Template | str) -> Template:
        """:meth:`Client.get_template`: the template by name (or id), with every part (the catalog's, off the loop)."""
        self.sync._require(Feature.TEMPLATES)
        if self._async_backend() is None:  # nothing native: the whole read in one worker thread
            return await asyncio.to_thread(self.sync.get_template, template)
        return await self._complete(await self._find_template(template))

    async def _find_template(self, key: str | Template, offload: Offload = asyncio.to_thread) -> Template:
        """:meth:`TemplateResolver.find`: its flow, each look-up native where the async backend has it."""

        async def look_up(request: Lookup) -> Any:
            method, *args = request
            native = self._native_method(method)
            if native is None:
                return await offload(self.sync._templates.look_up, request)
            return await self._call(Operation.TEMPLATES, native, *args)

        return await adrive(self.sync._templates.finding(key), look_up)

    async def _complete(self, template: Template, offload: Offload = asyncio.to_thread) -> Template:
        """:meth:`TemplateResolver.complete`, off the loop unless it reads nothing."""
        resolver = self.sync._templates
        if resolver.completes_offline():
            return resolver.complete(template)
        return cast(Template, await offload(resolver.complete, template))

    async def delete_template(self, template: Template | str) -> None:
        """:meth:`Client.delete_template`, awaited (its catalog entry dropped off the loop)."""
        self.sync._require(Feature.TEMPLATES)
        delete_template = self._native_method("delete_template")
        if delete_template is None:
            return await asyncio.to_thread(self.sync.delete_template, template)
        resolved = template if isinstance(template, Template) else await self._find_template(template)
        self.sync._templates.forget(resolved)
        await self._delete(Operation.TEMPLATES, delete_template, resolved)
        await self._catalog_io(self.sync._templates.drop, resolved)

    # ------------------------------------------------------------------ sender domains and addresses
    # Set-up calls, rare and multi-step (a domain is found by name, then described): run by the
    # synchronous client in a worker thread on every backend, with its checks and errors.

    async def domains(self) -> list[SenderDomain]:
        """:meth:`Client.domains`, awaited (in a worker thread)."""
        return await asyncio.to_thread(self.sync.domains)

    async def domain(self, name: str) -> SenderDomain:
        """:meth:`Client.domain`, awaited (in a worker thread)."""
        return await asyncio.to_thread(self.sync.domain, name)

    async def create_domain(self, name: str) -> SenderDomain:
        """:meth:`Client.create_domain`, awaited (in a worker thread)."""
        return await asyncio.to_thread(self.sync.create_domain, name)

    async def verify_domain(self, name: str) -> SenderDomain:
        """:meth:`Client.verify_domain`, awaited (in a worker thread)."""
        return await asyncio.to_thread(self.sync.verify_domain, name)

    async def delete_domain(self, name: str) -> None:
        """:meth:`Client.delete_domain`, awaited (in a worker thread)."""
        await asyncio.to_thread(self.sync.delete_domain, name)

    async def senders(self) -> list[SenderAddress]:
        """:meth:`Client.senders`, awaited (in a worker thread)."""
        return await asyncio.to_thread(self.sync.senders)

    async def sender(self, address: str) -> SenderAddress:
        """:meth:`Client.sender`, awaited (in a worker thread)."""
        return await asyncio.to_thread(self.sync.sender, address)

    async def create_sender(
        self, address: str, *, kind: str | None = None, reply_to: str | None = None
    ) -> SenderAddress:
        """:meth:`Client.create_sender`, awaited (in a worker thread)."""
        return await asyncio.to_thread(self.sync.create_sender, address, kind=kind, reply_to=reply_to)

    async def delete_sender(self, sender: SenderAddress | str) -> None:
        """:meth:`Client.delete_sender`, awaited (in a worker thread)."""
        await asyncio.to_thread(self.sync.delete_sender, sender)

    async def set_sender_password(self, sender: SenderAddress | str, password: str | Secret) -> None:
        """:meth:`Client.set_sender_password`, awaited (in a worker thread; the password is never logged)."""
        await asyncio.to_thread(self.sync.set_sender_password, sender, password)

    async def verify_reply_to(self, sender: SenderAddress | str) -> None:
        """:meth:`Client.verify_reply_to`, awaited (in a worker thread)."""
        await asyncio.to_thread(self.sync.verify_reply_to, sender)

    # ------------------------------------------------------------------ no provider call

    def delivery_windows(self, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """:meth:`Client.delivery_windows` (worked out from the declared limits: nothing to await)."""
        return self.sync.delivery_windows(start, end)

    async def suppressed_keys(self) -> set[str]:
        """:meth:`Client.suppressed_keys`: the casefolded addresses of :meth:`suppressions`."""
        return {s.key async for s in self.suppressions()}


def connect_async(url: str | ProviderURL | None = None, **options: Any) -> AsyncClient:
    """:func:`connect` for asyncio: an :class:`AsyncClient` (the same URLs and options).

    Building a client makes no provider call, so this is a plain function:
    ``async with mailbridge.connect_async(url) as client: await client.send(message)``.
    """
    return AsyncClient(connect(url, **options))
