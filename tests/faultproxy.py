"""A loopback HTTP/1.1 fault proxy: an independent judge of what a client does when the network fails.

It sits between mailbridge's client and an emulator (``client -> FaultProxy -> emulator``) and, per
request, applies one :class:`Fault` drawn from a seeded random schedule (or queued by a test)::

    with FaultProxy(emulator.endpoint, flavor="aliyun", timeout=0.3, seed=7) as proxy:
        client = mailbridge.connect(proxy.proxied(emulator.url_with(timeout="0.3")))
        proxy.queue(Fault.DROP, action="SingleSendMail")  # the next send: accepted, answer lost
        ...
        proxy.wait_idle()  # then count what the emulator kept
        proxy.counts()  # Counter of faults injected per kind

Fault kinds (what the provider saw / what the client gets):

* ``pass``: forwarded, the real answer returned;
* ``reset``: the request is read but never forwarded, the client connection is aborted with an RST
  (``SO_LINGER`` 0): the provider never saw it, and the client cannot tell;
* ``drop``: forwarded, the provider answered (accepted), then the client connection is closed
  without a byte of the answer, with a FIN or (``rst``) an RST like ``reset``;
* ``gateway``: forwarded and answered, then replaced by a load balancer's 500/502/503/504 with an
  HTML page or an empty body;
* ``throttle``: not forwarded; the provider's own throttle error (Direct Mail ``Throttling.User`` at
  HTTP 400, Tencent SES ``RequestLimitExceeded`` in a 200 ``Response.Error``);
* ``delay``: forwarded and answered; the real answer is held past the client's timeout;
* ``drip``: forwarded and answered; the real answer is dribbled a few bytes at a time, each gap
  shorter than the timeout, the whole longer than it (only an overall deadline catches it);
* ``truncate``: forwarded and answered; half the real body arrives, either ``cut`` (the headers
  announce the whole length, then the connection closes) or ``garbled`` (a complete 200 answer whose
  body is half the provider's JSON).

Why hand-written: toxiproxy works at TCP level (it cannot replace an answer after the upstream
accepted it, nor send a provider's throttle body) and needs an external binary; mitmproxy is a large
dependency with its own event loop and addon model. The HTTP parsing here is done by ``h11`` (the
well-kept sans-IO HTTP/1.1 library httpx is built on): Content-Length and chunked framing,
keep-alive and ``Connection: close`` all follow its state machine. What is written here is only the
socket plumbing (asyncio, in one background thread) and the fault schedule.

The schedule is drawn per request in arrival order from ``random.Random(seed)``: with one client
thread a run is reproducible request by request; with several, the sequence of faults is the same
but which message meets which fault depends on thread timing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import http
import json
import random
import socket
import struct
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, urlsplit

import h11

__all__ = ["DEFAULT_WEIGHTS", "Fault", "FaultProxy", "FaultSpec", "Injection", "proxied_url"]

Flavor = Literal["aliyun", "tencent"]
GATEWAY_STATUSES = (500, 502, 503, 504)
UPSTREAM_TIMEOUT = 15.0  # an emulator that does not answer within this is a bug in the test, not a fault


class Fault(enum.StrEnum):
    PASS = "pass"
    RESET = "reset"
    DROP = "drop"
    GATEWAY = "gateway"
    THROTTLE = "throttle"
    DELAY = "delay"
    DRIP = "drip"
    TRUNCATE = "truncate"


NOT_FORWARDED = frozenset({Fault.RESET, Fault.THROTTLE})  # the provider never sees these requests

DEFAULT_WEIGHTS: Mapping[Fault, float] = {
    Fault.PASS: 0.41,
    Fault.RESET: 0.09,
    Fault.DROP: 0.09,
    Fault.GATEWAY: 0.13,
    Fault.THROTTLE: 0.10,
    Fault.DELAY: 0.07,
    Fault.DRIP: 0.07,
    Fault.TRUNCATE: 0.04,
}


@dataclass(frozen=True)
class FaultSpec:
    """One fault with its details: ``status`` (gateway; default 502), ``empty`` (gateway: no body),
    ``close`` (send ``Connection: close`` with a made-up answer), ``rst`` (drop: abort with an RST
    instead of a FIN, so a client cannot tell it from a reset before forwarding), ``garbled``
    (truncate: a well-framed half body instead of a cut connection)."""

    kind: Fault
    status: int | None = None
    empty: bool = False
    close: bool = False
    rst: bool = False
    garbled: bool = False

    def label(self) -> str:
        if self.kind is Fault.GATEWAY:
            return f"gateway {self.status or 502} {'empty' if self.empty else 'html'}"
        if self.kind is Fault.DROP:
            return f"drop {'rst' if self.rst else 'fin'}"
        if self.kind is Fault.TRUNCATE:
            return f"truncate {'garbled' if self.garbled else 'cut'}"
        return str(self.kind)


@dataclass
class Injection:
    """What the proxy did with one request. ``forwarded``: the emulator got it; ``accepted``: the
    emulator's answer was a success (None when not forwarded); ``connection``: the client
    connection's number (the same number twice: a kept-alive connection was reused); ``client_gone``: writing the (late)
    answer failed because the client had given up."""

    index: int
    action: str
    spec: FaultSpec
    connection: int  # which client connection carried it (numbered as accepted)
    forwarded: bool = False
    accepted: bool | None = None
    upstream_status: int | None = None
    client_gone: bool = False
    writes: int = 0  # separate socket writes of the answer (a drip: one per few bytes)


@dataclass
class _Schedule:
    rng: random.Random
    weights: Mapping[Fault, float]
    queued: collections.deque[FaultSpec] = field(default_factory=collections.deque)
    for_action: dict[str, collections.deque[FaultSpec]] = field(default_factory=dict)

    def draw(self, action: str) -> FaultSpec:
        if self.for_action.get(action):
            return self.for_action[action].popleft()
        if self.queued:
            return self.queued.popleft()
        kinds = list(self.weights)
        kind = self.rng.choices(kinds, weights=[self.weights[k] for k in kinds])[0]
        if kind is Fault.GATEWAY:
            return FaultSpec(
                kind,
                status=self.rng.choice(GATEWAY_STATUSES),
                empty=self.rng.random() < 0.5,
                close=self.rng.random() < 0.5,
            )
        if kind is Fault.THROTTLE:
            return FaultSpec(kind, close=self.rng.random() < 0.3)
        if kind is Fault.DROP:
            return FaultSpec(kind, rst=self.rng.random() < 0.5)
        if kind is Fault.TRUNCATE:
            return FaultSpec(kind, garbled=self.rng.random() < 0.5)
        return FaultSpec(kind)


def proxied_url(url: str, endpoint: str) -> str:
    """A mailbridge URL with its ``endpoint=`` parameter replaced by (or set to) ``endpoint``."""
    base, _, query = url.partition("?")
    params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "endpoint"]
    params.insert(0, ("endpoint", endpoint))
    return base + "?" + "&".join(f"{k}={quote(v, safe=':/')}" for k, v in params)


def _gateway_page(status: int, flavor: Flavor) -> bytes:
    reasons = {
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Temporarily Unavailable",
        504: "Gateway Time-out",
    }
    server = "Tengine" if flavor == "aliyun" else "stgw"
    title = f"{status} {reasons[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n"
        f"<hr><center>{server}</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def _throttle_answer(flavor: Flavor, host: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    request_id = str(uuid.uuid4())
    if flavor == "aliyun":  # reference A.5: Throttling.User, HTTP 400, the common error body
        body = json.dumps(
            {
                "RequestId": request_id.upper(),
                "HostId": host or "dm.aliyuncs.com",
                "Code": "Throttling.User",
                "Message": "Request was denied due to user flow control.",
                "Recommend": "https://api.aliyun.com/troubleshoot?q=Throttling.User&product=Dm",
            }
        ).encode()
        headers = [
            (b"Content-Type", b"application/json;charset=utf-8"),
            (b"x-acs-request-id", request_id.upper().encode()),
        ]
        return 400, headers, body
    body = json.dumps(  # Tencent Cloud API 3.0: errors are HTTP 200 with Response.Error
        {
            "Response": {
                "Error": {
                    "Code": "RequestLimitExceeded",
                    "Message": "Your current request times exceeds the limit, please try again later.",
                },
                "RequestId": request_id,
            }
        }
    ).encode()
    return 200, [(b"Content-Type", b"application/json")], body


def _accepted(flavor: Flavor, status: int, body: bytes) -> bool:
    """Whether the emulator's answer reports success (a sent message, for sends)."""
    if status != 200:
        return False
    try:
        decoded = json.loads(body)
    except ValueError:
        return False
    if flavor == "tencent":
        return isinstance(decoded, dict) and "Error" not in (decoded.get("Response") or {"Error": None})
    return isinstance(decoded, dict) and "Code" not in decoded


def _action(request: h11.Request) -> str:
    headers = {k.lower(): v for k, v in request.headers}
    for name in (b"x-acs-action", b"x-tc-action"):
        if name in headers:
            return headers[name].decode("latin-1")
    query = dict(parse_qsl(urlsplit(request.target.decode("latin-1")).query))
    return query.get("Action", "")


class _Closed(Exception):
    """The client went away (EOF or a protocol error) before a whole request arrived."""


class FaultProxy:
    """A running proxy to ``upstream`` (``http://host:port``).

    **Parameters:** ``flavor``: which provider's throttle body and gateway pages to fake;
    ``timeout``: the client's timeout, from which ``delay`` (default 2x) and the drip pace (each
    gap at most a quarter of it, the whole answer about 2.5x) follow; ``drip_chunk``: bytes per drip;
    ``seed`` and ``weights``: the random schedule (default :data:`DEFAULT_WEIGHTS`; ``{Fault.PASS: 1}``
    for a clean proxy); ``idle_close`` *(optional)*: close a kept-alive client connection idle this long.

    Client connections are the proxy's own, as at a load balancer: they stay alive (HTTP/1.1) whatever
    the emulator does (``Connection`` is hop-by-hop; each request goes upstream on a fresh connection).
    """

    def __init__(
        self,
        upstream: str,
        *,
        flavor: Flavor,
        timeout: float,
        seed: int = 0,
        weights: Mapping[Fault, float] | None = None,
        delay: float | None = None,
        drip_chunk: int = 8,
        idle_close: float | None = None,
    ) -> None:
        parts = urlsplit(upstream if "://" in upstream else "http://" + upstream)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1") or parts.port is None:
            raise ValueError(f"the fault proxy forwards to a loopback host:port only, not {upstream!r}")
        self.upstream = (parts.hostname, parts.port)
        self.flavor: Flavor = flavor
        self.timeout = timeout
        self.delay = delay if delay is not None else 2 * timeout
        self.drip_chunk = drip_chunk
        self.idle_close = idle_close
        self._schedule = _Schedule(random.Random(seed), dict(weights or DEFAULT_WEIGHTS))
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._log: list[Injection] = []
        self._connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FaultProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # pragma: no cover - reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="fault-proxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def proxied(self, url: str) -> str:
        """``url`` (an emulator's mailbridge URL) pointing at this proxy instead."""
        return proxied_url(url, self.endpoint)

    # ------------------------------------------------------------------ schedule & records

    def queue(self, *faults: Fault | FaultSpec, action: str | None = None) -> None:
        """The next requests (of ``action`` only, if given) get these faults, in order; then the
        random schedule resumes."""
        with self._lock:
            target = (
                self._schedule.queued
                if action is None
                else self._schedule.for_action.setdefault(action, collections.deque())
            )
            target.extend(f if isinstance(f, FaultSpec) else FaultSpec(f) for f in faults)

    def clear(self) -> None:
        """Forget queued faults (the random schedule and the log stay)."""
        with self._lock:
            self._schedule.queued.clear()
            self._schedule.for_action.clear()

    @property
    def log(self) -> list[Injection]:
        with self._lock:
            return list(self._log)

    def counts(self) -> collections.Counter[str]:
        """Requests per fault kind (``pass`` included)."""
        return collections.Counter(str(i.spec.kind) for i in self.log)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait until every request that arrived has been dealt with (forwarded, answered or dropped).

        Count deliveries after this: a client may give up before a slow emulator has finished. The
        bound is generous: on a loaded 2-core machine slow-drip faults keep requests for many seconds.
        """
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout):
                raise AssertionError(f"{self._in_flight} requests still in the fault proxy after {timeout}s")

    def _draw(self, action: str, connection: int) -> Injection:
        with self._lock:
            injection = Injection(len(self._log), action, self._schedule.draw(action), connection)
            self._log.append(injection)
            self._in_flight += 1
            return injection

    def _done(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    # ------------------------------------------------------------------ serving

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = h11.Connection(h11.SERVER)
        with self._lock:
            self._connections += 1
            number = self._connections
        try:
            while True:
                try:
                    request, body = await self._read_request(conn, reader)
                except _Closed:
                    return
                keep = await self._answer(conn, writer, request, body, number)
                if not keep or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, OSError, h11.ProtocolError, asyncio.CancelledError):
            return  # CancelledError: stop() is closing every connection
        finally:
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(self, conn: h11.Connection, reader: asyncio.StreamReader) -> tuple[h11.Request, bytes]:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Closed from exc
            if event is h11.NEED_DATA:
                idle = request is None and not conn.trailing_data[0] and self.idle_close is not None
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.idle_close if idle else None)
                except TimeoutError:  # a load balancer's keep-alive timeout: close the idle connection (FIN)
                    raise _Closed from None
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                return request, bytes(body)
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                raise _Closed

    async def _answer(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: h11.Request, body: bytes, number: int
    ) -> bool:
        """Apply this request's fault; whether the client connection may take another request."""
        injection = self._draw(_action(request), number)
        try:
            return await self._apply(conn, writer, request, body, injection)
        finally:
            self._done()

    async def _apply(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        body: bytes,
        injection: Injection,
    ) -> bool:
        spec = injection.spec
        if spec.kind is Fault.RESET:
            self._rst(writer)
            return False
        if spec.kind is Fault.THROTTLE:
            host = dict(request.headers).get(b"host", b"").decode("latin-1")
            status, headers, data = _throttle_answer(self.flavor, host)
            return await self._write(conn, writer, injection, status, headers, data, close=spec.close)
        status, headers, data = await self._forward(request, body)
        injection.forwarded = True
        injection.upstream_status = status
        injection.accepted = _accepted(self.flavor, status, data)
        if spec.kind is Fault.DROP:
            if spec.rst:
                self._rst(writer)
            else:
                writer.close()  # FIN, no answer
            return False
        if spec.kind is Fault.GATEWAY:
            code = spec.status or 502
            page = b"" if spec.empty else _gateway_page(code, self.flavor)
            gateway_headers = [(b"Content-Type", b"text/html")] if page else []
            return await self._write(conn, writer, injection, code, gateway_headers, page, close=spec.close)
        if spec.kind is Fault.TRUNCATE:
            half = data[: len(data) // 2]
            if spec.garbled:
                return await self._write(conn, writer, injection, status, headers, half, close=False)
            await self._write(conn, writer, injection, status, headers, data, close=False, cut=len(data) - len(half))
            return False
        if spec.kind is Fault.DELAY:
            await asyncio.sleep(self.delay)
        drip = spec.kind is Fault.DRIP
        return await self._write(conn, writer, injection, status, headers, data, close=False, drip=drip)

    @staticmethod
    def _rst(writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async def _write(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        injection: Injection,
        status: int,
        headers: list[tuple[bytes, bytes]],
        data: bytes,
        *,
        close: bool,
        drip: bool = False,
        cut: int = 0,
    ) -> bool:
        """Send one answer (``drip``: slowly; ``cut``: without its last bytes, then close)."""
        names = {k.lower() for k, _ in headers}
        out = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        out.append((b"Content-Length", str(len(data)).encode()))
        if close and b"connection" not in names:
            out.append((b"Connection", b"close"))
        try:
            reason = http.HTTPStatus(status).phrase.encode() if status in http.HTTPStatus._value2member_map_ else b""
            wire = conn.send(h11.Response(status_code=status, headers=out, reason=reason))
            assert wire is not None
            if data:
                wire += conn.send(h11.Data(data=data)) or b""
            wire += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            return False
        if cut:
            wire = wire[:-cut]
        try:
            if not drip:
                injection.writes += 1
                writer.write(wire)
                await writer.drain()
            else:  # each gap at most a quarter of the timeout, the whole answer about 2.5 timeouts
                chunks = [wire[i : i + self.drip_chunk] for i in range(0, len(wire), self.drip_chunk)]
                gap = min(self.timeout / 4, 2.5 * self.timeout / max(1, len(chunks) - 1))
                for n, chunk in enumerate(chunks):
                    if n:
                        await asyncio.sleep(gap)
                        if writer.is_closing():
                            raise ConnectionResetError
                    injection.writes += 1
                    writer.write(chunk)
                    await writer.drain()
        except (ConnectionError, OSError):
            injection.client_gone = True
            return False
        if cut:
            writer.close()
            return False
        return conn.our_state is h11.DONE

    async def _forward(self, request: h11.Request, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Send the request to the emulator on a fresh connection; its whole answer."""
        host, port = self.upstream
        up_reader, up_writer = await asyncio.open_connection(host, port)
        try:
            up = h11.Connection(h11.CLIENT)
            # raw_items: the original header casing (Tencent's emulator looks headers up case-sensitively).
            headers = [
                (k, v) for k, v in request.headers.raw_items() if k.lower() not in (b"connection", b"keep-alive")
            ]
            headers.append((b"Connection", b"close"))
            wire = up.send(h11.Request(method=request.method, target=request.target, headers=headers)) or b""
            if body:
                wire += up.send(h11.Data(data=body)) or b""
            wire += up.send(h11.EndOfMessage()) or b""
            up_writer.write(wire)
            await up_writer.drain()
            return await asyncio.wait_for(self._read_response(up, up_reader), UPSTREAM_TIMEOUT)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()

    @staticmethod
    async def _read_response(
        up: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response: h11.Response | None = None
        body = bytearray()
        while True:
            event = up.next_event()
            if event is h11.NEED_DATA:
                up.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and response is not None:
                raw = response.headers.raw_items()
                headers = [(k, v) for k, v in raw if k.lower() not in (b"connection", b"keep-alive")]
                return response.status_code, headers, bytes(body)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the emulator closed the connection before answering")
