"""The HTTP seam the cloud backends share: one deadline per request, and how far it got.

:class:`GuardedHTTP` sends one request over an :class:`httpx.Client`'s transport (the one
``client.send`` would choose: its own, or a proxy mount from the environment; without the
client's cookie jar, auth and redirect machinery, which no cloud API here uses) and either
returns the whole response or raises :class:`CallFailed` with the
:class:`~mailbridge._outcome.Stage` the core's outcome rule needs. Two things httpx does not
do on its own:

* **One deadline per request.** httpx's timeouts are per operation: an answer dripping
  one byte every half second never trips a read timeout. Every socket operation here
  (connect, TLS, each write and each read, headers included) is given only what is left
  of the request's deadline, through a wrapper around httpcore's network backend, and
  fails once it has passed.
* **Whether the request was written.** httpcore reports each step of a request to a
  ``trace`` extension (``connect_tcp``, ``send_request_headers``, ``send_request_body``,
  ``receive_response_headers``, each ``.started`` / ``.complete`` / ``.failed``). A
  failure before the headers started, or while the request was being written, means the
  provider cannot have a complete request: ``NOT_SENT``. A failure after the body was
  written is ``UNKNOWN``, whatever its kind.

Stale keep-alive connections. httpcore drops an idle pooled connection that has become
readable (the server closed it) when the pool hands it out, but the server can close it a
moment later, before the request is written. The request then usually fails while being
written (``NOT_SENT``), or its bytes reach a closed socket and the read fails with a reset
or an empty answer after a complete write. The second case is not provably "not sent": a
proxy that forwarded the request and then reset the connection looks the same. So the
guard (1) checks again, right before the first byte of a request goes on a reused
connection, that the server has not closed it, and if it has, fails the write without
writing (``NOT_SENT``), and (2) retries a ``NOT_SENT`` failure on a reused connection once,
on a fresh one, within the same deadline.

A server (or proxy) that closes right after answering, without ``Connection: close``, makes
that race common: the next request is written a few microseconds after the answer, before the
server's close, and is reset unread (measured on loopback: 319 of 2,000 back-to-back requests).
A request that must not be repeated therefore waits until :data:`SETTLE` seconds have passed
since the connection's last answer before the check (at most 50 ms, only when sending faster
than that on one connection), for as long as the server has not shown that it keeps
connections open (three reused connections answered, and no connection found closed within
a second of its answer since). What is left, a server closing at the very moment of the write
(an idle timeout expiring then), ends as ``UNKNOWN``: an honest "maybe sent", never a double
send.
"""

from __future__ import annotations

import contextvars
import logging
import socket
import ssl
import time
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from ._outcome import Stage

__all__ = ["CallFailed", "GuardedHTTP", "guarded_transport", "network_reason"]

# Exceptions that, raised before any request byte was written, prove nothing left.
_BEFORE_SENDING = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class CallFailed(Exception):
    """A request got no usable response; ``stage`` says whether it can have been applied."""

    def __init__(self, stage: Stage, message: str, *, reused: bool = False) -> None:
        super().__init__(message)
        self.stage = stage
        self.message = message
        self.reused = reused


#: Seconds a non-idempotent request waits after the previous answer on the same connection
#: before reusing it, so that a server closing right after answering is seen closed.
SETTLE = 0.05


class _Habits:
    """What one pool has seen of its server's keep-alive: does it close right after answering?

    Until a few reused connections have been answered, and again whenever a connection is
    found closed within a second of its last answer, non-idempotent requests settle first.
    """

    TRUST_AFTER = 3
    CLOSES_SOON = 1.0

    def __init__(self) -> None:
        self.kept_alive = 0

    @property
    def settle(self) -> bool:
        return self.kept_alive < self.TRUST_AFTER

    def closed(self) -> None:
        self.kept_alive = 0

    def answered_on_reuse(self) -> None:
        self.kept_alive += 1


class _Probe:
    """What one request did on the wire (fed by httpcore's trace) and its deadline."""

    def __init__(self, deadline: float, *, idempotent: bool = False) -> None:
        self.deadline = deadline
        self.idempotent = idempotent
        self.events: list[str] = []
        self.bytes_written = 0
        self.reused: _Habits | None = None  # set when written on a reused connection
        self.body_follows = False  # the request has a body: its head waits to go out in the same write

    def __call__(self, name: str, info: dict[str, Any]) -> None:
        self.events.append(name)

    def saw(self, suffix: str) -> bool:
        return any(event.endswith(suffix) for event in self.events)

    @property
    def new_connection(self) -> bool:
        return self.saw("connect_tcp.started") or self.saw("connect_unix_socket.started")

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def stage(self, exc: BaseException) -> Stage:
        if not self.saw("send_request_headers.started"):
            # Nothing was written; with a transport that reports no trace (a test's
            # MockTransport) only a connect-type error proves it.
            return Stage.NOT_SENT if (self.events or isinstance(exc, _BEFORE_SENDING)) else Stage.UNKNOWN
        if self.saw("send_request_body.complete"):
            return Stage.UNKNOWN
        if self.saw("send_request_headers.failed") or self.saw("send_request_body.failed"):
            return Stage.NOT_SENT  # the provider holds at most an incomplete request
        return Stage.UNKNOWN


_PROBE: contextvars.ContextVar[_Probe | None] = contextvars.ContextVar("mailbridge_http_probe", default=None)


def _clamp(timeout: float | None, kind: type[Exception]) -> float | None:
    """The operation's timeout cut to what is left of the request's deadline."""
    probe = _PROBE.get()
    if probe is None:
        return timeout
    left = probe.remaining()
    if left <= 0:
        raise kind("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


_CLOSED_UNWRITTEN = "the pooled connection was closed by the server; nothing was written"


def _reuse_pause(probe: _Probe | None, habits: _Habits, last_read: float) -> float | None:
    """Before the first byte of a request: None on a fresh connection (or no probe), else the
    seconds to settle before checking that the reused connection is still open (0: check now)."""
    if probe is None or probe.bytes_written > 0 or probe.new_connection:
        return None
    if probe.idempotent or not habits.settle:
        return 0.0
    return max(0.0, min(last_read + SETTLE - time.monotonic(), probe.remaining()))


def _judge(probe: _Probe, exc: httpx.HTTPError, attempt: int) -> CallFailed | None:
    """A failed attempt as :class:`CallFailed`, or None: a stale pooled connection on which
    nothing was written, to be tried once more on a fresh one within the deadline."""
    if probe.reused is not None and not probe.saw("receive_response_headers.complete"):
        probe.reused.closed()  # a reused connection that never answered
    stage = probe.stage(exc)
    reused = bool(probe.events) and not probe.new_connection
    if stage is Stage.NOT_SENT and reused and attempt == 1 and probe.remaining() > 0:
        return None
    what = "the request's deadline passed" if probe.remaining() <= 0 else network_reason(exc)
    return CallFailed(stage, what, reused=reused)


class _GuardedStream(httpcore.NetworkStream):
    """A network stream whose every operation respects the current request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, habits: _Habits) -> None:
        self._inner = inner
        self._habits = habits
        self._last_read = 0.0
        self._head = b""  # a request's head, held back to go out with the first bytes of its body

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._head:  # (never with httpcore: a body with a length is written before the answer is read)
            self.write(b"", timeout)
        data = self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))
        self._last_read = time.monotonic()
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Write ``buffer``; a request's head is held back and sent with its body in one write.

        One ``send`` per request instead of two (httpcore writes the head and the body
        separately): what urllib3 and the official SDKs do, and a third less system time.
        """
        probe = _PROBE.get()
        if probe is not None and probe.body_follows and probe.bytes_written == 0 and not self._head and buffer:
            self._head = buffer  # the head: nothing is on the wire yet
            return
        if self._head:
            buffer, self._head = self._head + buffer, b""
        if not buffer:
            return
        # A reused connection about to carry its next request: if the server has closed
        # it (it is readable while idle), fail before writing anything. A request that must
        # not be repeated first gives a server that closes right after answering the time
        # to do so (the FIN follows the answer closely).
        pause = _reuse_pause(probe, self._habits, self._last_read)
        if probe is not None and pause is not None:
            if pause > 0:
                time.sleep(pause)
            if self.get_extra_info("is_readable"):
                self._inner.close()  # httpcore reads after a write error: let that fail at once too
                raise httpcore.WriteError(_CLOSED_UNWRITTEN)
            probe.reused = self._habits
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))
        if probe is not None:
            probe.bytes_written += len(buffer)

    def close(self) -> None:
        self._head = b""
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout))
        return _GuardedStream(inner, self._habits)

    def get_extra_info(self, info: str) -> Any:
        value = self._inner.get_extra_info(info)
        if info == "is_readable" and value and time.monotonic() - self._last_read < _Habits.CLOSES_SOON:
            self._habits.closed()  # idle and readable: the server closed it soon after answering
        return value


class _GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner
        self.habits = _Habits()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clamp(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return _GuardedStream(stream, self.habits)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - the clouds are reached over TCP
        stream = self._inner.connect_unix_socket(path, _clamp(timeout, httpcore.ConnectTimeout), socket_options)
        return _GuardedStream(stream, self.habits)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - used by httpcore's connect retries only
        self._inner.sleep(seconds)


def guarded_transport(**options: Any) -> httpx.HTTPTransport:
    """An :class:`httpx.HTTPTransport` whose sockets honour each request's deadline.

    httpx does not take a network backend, so the one of the pool it built is wrapped.
    """
    transport = httpx.HTTPTransport(**options)
    pool = transport._pool
    pool._network_backend = _GuardedBackend(pool._network_backend)
    return transport


class GuardedHTTP:
    """Sends requests over ``client`` with one deadline each; see the module docstring.

    **Parameters:** ``client``: an :class:`httpx.Client` (built with
    :func:`guarded_transport` for the deadline to hold inside a slow answer);
    ``timeout``: seconds per request, connect to last body byte.
    """

    def __init__(self, client: httpx.Client, *, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    def send(self, request: httpx.Request, *, idempotent: bool = False) -> httpx.Response:
        """The complete response (any status), or :class:`CallFailed`.

        ``idempotent``: the request may be repeated; a request that may not (the default)
        waits up to :data:`SETTLE` before reusing a connection that has just answered.
        """
        deadline = time.monotonic() + self.timeout
        client = self.client
        extensions = request_extensions(client, request)
        transport = _transport_for(client, request.url)
        body_follows = request.headers.get("content-length", "0") != "0"
        for attempt in (1, 2):
            probe = _Probe(deadline, idempotent=idempotent)
            probe.body_follows = body_follows
            request.extensions = {**extensions, "trace": probe}
            token = _PROBE.set(probe)
            try:
                response = _exchange(transport, request)
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


_HTTPX_LOG = logging.getLogger("httpx")


def _transport_for(client: httpx.Client, url: httpx.URL) -> httpx.BaseTransport:
    """The transport ``client.send`` would use for ``url``: a mount (a proxy from the environment) or its own.

    ``Client._transport_for_url`` is httpx's (private) choice; were it gone, ``client.send`` is used whole."""
    choose = getattr(client, "_transport_for_url", None)
    return choose(url) if choose is not None else _WholeClient(client)


def _exchange(transport: httpx.BaseTransport, request: httpx.Request) -> httpx.Response:
    """One request through ``transport``, the answer read whole: what ``httpx.Client.send`` does for a request
    without auth, redirects, event hooks or cookies (none of which the clouds' APIs use), without the cost of
    them (its cookie jar alone took ~30 µs of every call: ``http.cookiejar`` parses each answer's headers)."""
    try:
        response = transport.handle_request(request)
        try:
            response.read()
        except BaseException:
            response.close()
            raise
    except httpx.RequestError as exc:
        exc.request = request  # as httpx's request_context() does
        raise
    return answered(request, response)


def answered(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    """What ``client.send`` does with a complete answer: tie it to its request and log httpx's own line."""
    response.request = request
    if _HTTPX_LOG.isEnabledFor(logging.INFO):  # httpx's own line, for applications that log it
        _HTTPX_LOG.info(
            'HTTP Request: %s %s "%s %d %s"',
            request.method,
            request.url,
            response.http_version,
            response.status_code,
            response.reason_phrase,
        )
    return response


def request_extensions(client: httpx.Client | httpx.AsyncClient, request: httpx.Request) -> dict[str, Any]:
    """The request's extensions with the client's timeouts, as ``client.send`` would add them."""
    if client.is_closed:
        raise RuntimeError("Cannot send a request, as the client has been closed.")  # httpx's own words
    extensions = request.extensions
    if "timeout" not in extensions:
        extensions = {**extensions, "timeout": client.timeout.as_dict()}
    return dict(extensions)


class _WholeClient(httpx.BaseTransport):
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:  # pragma: no cover - another httpx
        return self.client.send(request)


def network_reason(exc: BaseException) -> str:
    """What went wrong on the network, in a few neutral words (never the transport library's own text).

    httpx, httpcore and the operating system word the same failure differently ("[Errno 111]
    Connection refused", "All connection attempts failed", urllib3's pool messages); users get
    one vocabulary whichever backend or library made the call.
    """
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            return "the server's TLS certificate could not be verified"
        if isinstance(item, ssl.SSLError):
            return "the TLS handshake failed"
        if isinstance(item, ConnectionRefusedError):
            return "the connection was refused"
        if isinstance(item, ConnectionResetError):
            return "the connection was reset"
        if isinstance(item, socket.gaierror):
            return "the host name could not be resolved"
    text = " ".join(str(item) for item in chain).lower()
    if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "the host name could not be resolved"
    if "refused" in text:
        return "the connection was refused"
    for kinds, reason in _NETWORK_REASONS:
        if isinstance(exc, kinds):
            return reason
    return "a network error"


_NETWORK_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (httpx.ConnectTimeout, "connecting timed out"),
    (httpx.PoolTimeout, "no connection was free in time"),
    ((httpx.ReadTimeout, httpx.WriteTimeout), "the connection timed out"),
    (httpx.ConnectError, "the connection could not be made"),
    (httpx.RemoteProtocolError, "the connection closed before a complete answer"),
    ((httpx.ReadError, httpx.WriteError), "the connection broke"),
    (httpx.ProxyError, "the proxy refused the connection"),
    (httpx.UnsupportedProtocol, "the endpoint's scheme is not http or https"),
    (httpx.TimeoutException, "the connection timed out"),
)
