"""The asyncio counterpart of :mod:`mailbridge._http`: the same guard over an :class:`httpx.AsyncClient`.

One deadline per request (every socket operation gets only what is left of it) and the same
record of how far the request got (httpcore's ``trace`` extension, awaited here), so a failure
ends in the same :class:`~mailbridge._outcome.Stage` as on the synchronous seam: the probe, the
keep-alive habits, the settle rule and the verdict (:func:`mailbridge._http._judge`) are the
synchronous module's own; only the waiting is awaited (``asyncio.sleep``, never ``time.sleep``).
As there, a request goes through the transport ``client.send`` would choose, without the client's
cookie jar, auth, redirects and event hooks.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from ._http import (
    _CLOSED_UNWRITTEN,
    _PROBE,
    _clamp,
    _Habits,
    _judge,
    _Probe,
    _reuse_pause,
    answered,
    request_extensions,
)

__all__ = ["AsyncGuardedHTTP", "async_guarded_transport"]


class _AsyncProbe(_Probe):
    """:class:`_Probe` for httpcore's async interface, whose trace callback must be a coroutine."""

    async def __call__(self, name: str, info: dict[str, Any]) -> None:  # type: ignore[override]
        self.events.append(name)


class _AsyncGuardedStream(httpcore.AsyncNetworkStream):
    """An async network stream whose every operation respects the current request's deadline."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, habits: _Habits) -> None:
        self._inner = inner
        self._habits = habits
        self._last_read = 0.0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = await self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))
        self._last_read = time.monotonic()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        probe = _PROBE.get()
        pause = _reuse_pause(probe, self._habits, self._last_read)
        if probe is not None and pause is not None:  # see _GuardedStream.write
            if pause > 0:
                await asyncio.sleep(pause)
            if self.get_extra_info("is_readable"):
                await self._inner.aclose()
                raise httpcore.WriteError(_CLOSED_UNWRITTEN)
            probe.reused = self._habits
        await self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))
        if probe is not None:
            probe.bytes_written += len(buffer)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        inner = await self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        return _AsyncGuardedStream(inner, self._habits)

    def get_extra_info(self, info: str) -> Any:
        value = self._inner.get_extra_info(info)
        if info == "is_readable" and value and time.monotonic() - self._last_read < _Habits.CLOSES_SOON:
            self._habits.closed()
        return value


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner
        self.habits = _Habits()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._inner.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _AsyncGuardedStream(stream, self.habits)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:  # pragma: no cover - the clouds are reached over TCP
        stream = await self._inner.connect_unix_socket(path, _clamp(timeout, httpcore.ConnectTimeout), socket_options)
        return _AsyncGuardedStream(stream, self.habits)

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore's connect retries only
        await self._inner.sleep(seconds)


def async_guarded_transport(**options: Any) -> httpx.AsyncHTTPTransport:
    """An :class:`httpx.AsyncHTTPTransport` whose sockets honour each request's deadline."""
    transport = httpx.AsyncHTTPTransport(**options)
    pool = transport._pool
    pool._network_backend = _AsyncGuardedBackend(pool._network_backend)
    return transport


class AsyncGuardedHTTP:
    """:class:`mailbridge._http.GuardedHTTP` over an :class:`httpx.AsyncClient` (built with
    :func:`async_guarded_transport`); ``timeout``: seconds per request, connect to last body byte."""

    def __init__(self, client: httpx.AsyncClient, *, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    async def send(self, request: httpx.Request, *, idempotent: bool = False) -> httpx.Response:
        """The complete response (any status), or :class:`~mailbridge._http.CallFailed`."""
        deadline = time.monotonic() + self.timeout
        extensions = request_extensions(self.client, request)
        transport = _transport_for(self.client, request.url)
        for attempt in (1, 2):
            probe = _AsyncProbe(deadline, idempotent=idempotent)
            request.extensions = {**extensions, "trace": probe}
            token = _PROBE.set(probe)
            try:
                response = await _exchange(transport, request)
            except httpx.HTTPError as exc:
                failure = _judge(probe, exc, attempt)
                if failure is None:
                    continue  # a stale pooled connection, nothing written: once more on a fresh one
                raise failure from exc
            finally:
                _PROBE.reset(token)
            if probe.reused is not None:
                probe.reused.answered_on_reuse()
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _transport_for(client: httpx.AsyncClient, url: httpx.URL) -> httpx.AsyncBaseTransport:
    """:func:`mailbridge._http._transport_for` for an async client (a mount from the environment, or its own)."""
    choose = getattr(client, "_transport_for_url", None)
    return choose(url) if choose is not None else _WholeClient(client)


async def _exchange(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    """:func:`mailbridge._http._exchange`, awaited: one request, the answer read whole, without the client's
    cookie jar, auth, redirects and event hooks (none of which the clouds' APIs use)."""
    try:
        response = await transport.handle_async_request(request)
        try:
            await response.aread()
        except BaseException:
            await response.aclose()
            raise
    except httpx.RequestError as exc:
        exc.request = request  # as httpx's request_context() does
        raise
    return answered(request, response)


class _WholeClient(httpx.AsyncBaseTransport):
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:  # pragma: no cover
        return await self.client.send(request)  # another httpx, without the private transport choice
