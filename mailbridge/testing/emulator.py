"""The emulator harness: everything a provider emulator needs that is not its cloud's wire.

A provider emulator is two parts: a :class:`Wire` (authenticate and decode a request into a
:class:`Call`, encode an answer or an :class:`EmulatorError` into a :class:`Reply`) and a handler
(``Call -> dict``, the account's state). :class:`EmulatorServer` runs both on a loopback port
(HTTP/1.1 with keep-alive, as the clouds' gateways) and adds what every emulator shares:

* one fault API with one set of kinds (:class:`Fault`, :data:`FAULT_KINDS`): the wire's error
  answer, the wire's throttling answer, a bare HTTP status page, a body that is not the wire's,
  a normal answer under another Content-Type, a delay, a TCP reset before the request is read,
  after it is read, or after it was processed (``drop``), and an answer cut off mid-body;
* a sliding-window throttle per action (``rate`` calls per second, plus optional per-action
  quotas ``{action: (calls, seconds)}``);
* the request log (every authenticated call: ``{"action", "params", ...wire extras}``);
* control routes under ``/_emulator``: ``GET|POST|DELETE /faults``, ``GET /requests``,
  ``POST /rate`` (``{"rate": n}``), ``GET /state`` and any the emulator adds;
* start/stop/context manager, ``endpoint``, and :func:`serve` for the ``mailbridge emulator``
  command line.

Faults are checked after authentication and throttling, so an injected fault hits a request the
cloud would have taken. ``apply=True`` (implied by ``drop`` and ``truncated``) processes the
request first: the effect happens, the answer is lost.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Protocol, Self
from urllib.parse import urlsplit

from .._exceptions import ConfigurationError
from .._url import is_loopback

__all__ = [
    "CONTROL_PREFIX",
    "FAULT_KINDS",
    "Call",
    "EmulatorError",
    "EmulatorFacade",
    "EmulatorOptionError",
    "EmulatorServer",
    "Fault",
    "Rendered",
    "Reply",
    "Request",
    "Throttle",
    "Wire",
    "check_loopback",
    "flag",
    "parse_options",
    "serve",
]

CONTROL_PREFIX = "/_emulator"

#: Every fault kind, the same for every emulator.
FAULT_KINDS = frozenset(
    {
        "error",  # the wire's error answer (code, message; status: the wire's default)
        "throttle",  # the wire's throttling answer, as past the rate
        "status",  # a bare HTTP status with an HTML page (a gateway or proxy answering)
        "malformed",  # a body in no wire format (``body``; status 200 unless given)
        "content_type",  # the normal answer under ``content_type``
        "delay",  # sleep ``delay`` seconds, then answer normally
        "reset",  # read the request, then drop the connection with a TCP RST (nothing processed)
        "reset_unread",  # drop the connection with an RST before the body is read
        "drop",  # process the request, then RST: the effect happens, the answer is lost
        "truncated",  # process the request, then send half the answer and close
    }
)
_APPLIES = frozenset({"drop", "truncated"})


class EmulatorError(Exception):
    """An error answer of the emulated cloud: ``code``, ``message`` and, where the wire has
    one, the HTTP ``status`` (None: the wire's default)."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Fault:
    """One injected fault (see :data:`FAULT_KINDS`). ``action`` None matches every action;
    ``times`` None never runs out; ``status``/``code``/``message`` None take the wire's defaults;
    ``content_type`` overrides the answer's Content-Type; ``apply`` processes the request before
    the fault hits."""

    kind: str = "error"
    action: str | None = None
    times: int | None = 1
    status: int | None = None
    code: str | None = None
    message: str | None = None
    delay: float = 0.0
    apply: bool = False
    content_type: str | None = None
    body: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        if self.kind == "content_type" and self.content_type is None:
            self.content_type = "application/json; charset=utf-8"
        if self.kind in _APPLIES:
            self.apply = True


class Rendered(NamedTuple):
    """A stored template rendered the cloud's way (parts the template lacks are None)."""

    subject: str | None
    html: str | None
    text: str | None


@dataclass
class Request:
    """One HTTP request as the wire sees it (``body`` is empty until read)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def route(self) -> str:
        return urlsplit(self.path).path


@dataclass
class Call:
    """An authenticated call: the action, its business parameters (what the state handles),
    what else the request log keeps (``log``: e.g. the signature version, headers) and what else
    the handler needs (``context``: never logged)."""

    action: str
    params: dict[str, Any]
    log: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reply:
    """An HTTP answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    end: str | None = None  # "reset": an RST instead of the answer; "cut": half the body, then an RST


class Wire(Protocol):
    """One cloud's wire format (the only part an emulator writes besides its state)."""

    name: str  # the Server header: ``mailbridge-<provider>-emulator``
    malformed_body: str  # what a ``malformed`` fault answers by default

    def peek_action(self, request: Request) -> str | None:
        """The action as far as headers and query tell it, before the body is read."""

    def authenticate(self, request: Request) -> Call:
        """Check credentials and decode the request; raise :class:`EmulatorError` to refuse."""

    def encode(self, call: Call, result: dict[str, Any]) -> Reply:
        """A success answer."""

    def encode_error(self, error: EmulatorError, request: Request) -> Reply:
        """An error answer."""

    def throttle_error(self, action: str, rate: float | None) -> EmulatorError:
        """What the cloud answers past its rate."""

    def fault_error(self) -> EmulatorError:
        """The error an ``error`` fault answers when it names no code."""


def check_loopback(host: str, what: str = "the emulator") -> None:
    """Refuse anything but a loopback address: an emulator takes test credentials only."""
    if not is_loopback(host):
        raise ValueError(f"{what} listens on loopback only, not {host!r}")


class Throttle:
    """A sliding window per action: ``rate`` calls per second (None or 0: unlimited), plus
    ``quotas`` ``{action: (calls, seconds)}`` (a cloud's per-action quota table)."""

    def __init__(self, rate: float | None = None, quotas: Mapping[str, tuple[int, float]] | None = None) -> None:
        self.rate = rate
        self.quotas = dict(quotas or {})
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def over(self, action: str) -> bool:
        """Whether one more call of ``action`` is over a limit (if not, it is counted)."""
        limits: list[tuple[str, float, float]] = []
        if self.rate:
            limits.append((action, self.rate, 1.0))
        if action in self.quotas:
            calls, per = self.quotas[action]
            limits.append((f"quota:{action}", calls, per))
        if not limits:
            return False
        now = time.monotonic()
        with self._lock:
            for bucket, allowed, window in limits:
                hits = self._hits[bucket]
                while hits and hits[0] <= now - window:
                    hits.popleft()
                if len(hits) >= allowed:
                    return True
            for bucket, _allowed, _window in limits:
                self._hits[bucket].append(now)
            return False


ControlRoute = Callable[[bytes], tuple[int, Any]]


class EmulatorServer:
    """A wire and a handler on a loopback port, with faults, throttle, request log and control
    routes. ``snapshot`` gives ``GET /_emulator/state``; ``routes`` adds control routes
    (``{("POST", "/dns"): fn(body) -> (status, json)}``); ``on_stop`` runs before shutdown."""

    def __init__(
        self,
        wire: Wire,
        handler: Callable[[Call], dict[str, Any] | Reply],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate: float | None = None,
        quotas: Mapping[str, tuple[int, float]] | None = None,
        snapshot: Callable[[], Any] | None = None,
        routes: Mapping[tuple[str, str], ControlRoute] | None = None,
        on_stop: Callable[[], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        check_loopback(host)
        self.wire = wire
        self.handler = handler
        self.throttle = Throttle(rate, quotas)
        self.snapshot = snapshot
        self.routes = dict(routes or {})
        self.on_stop = on_stop
        self.faults: list[Fault] = []
        self.faults_served = 0  # how many requests a fault answered
        self.throttled = 0  # how many requests got the throttling answer
        self.requests: list[dict[str, Any]] = []  # every authenticated call
        self._lock = threading.Lock()
        self._http = _HTTPServer((host, port), self)
        if ssl_context is not None:  # e.g. an emulated storage bucket reached over https
            self._http.socket = ssl_context.wrap_socket(self._http.socket, server_side=True)
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, name=self.wire.name, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self.on_stop is not None:
            self.on_stop()
        if self._thread is not None:
            self._http.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._http.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        host = self._http.server_address[0]
        return host if isinstance(host, str) else host.decode()

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ faults, rate, log

    def inject(self, kind: str = "error", action: str | None = None, *, times: int | None = 1, **options: Any) -> Fault:
        """Add a :class:`Fault`; it answers the next ``times`` matching calls."""
        fault = Fault(kind=kind, action=action, times=times, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def set_rate(self, rate: float | None) -> None:
        """Calls per second per action before the throttling answer (None or 0: unlimited)."""
        self.throttle.rate = rate

    def calls(self, action: str) -> list[dict[str, Any]]:
        """The business parameters of every call of one action."""
        return [r["params"] for r in self.requests if r["action"] == action]

    def take_fault(self, action: str | None, *, unread: bool = False) -> Fault | None:
        """The next fault matching ``action`` (``unread``: only ``reset_unread`` ones), used up once."""
        with self._lock:
            for fault in self.faults:
                if (fault.kind == "reset_unread") != unread or fault.action not in (None, action):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                self.faults_served += 1
                return fault
        return None

    # ------------------------------------------------------------------ answering

    def answer(self, request: Request) -> Reply:
        """The answer to one request (``Reply.end`` says when the connection is cut instead)."""
        wire = self.wire
        try:
            call = wire.authenticate(request)
        except EmulatorError as err:
            return wire.encode_error(err, request)
        self.requests.append({"action": call.action, "params": call.params, **call.log})
        if self.throttle.over(call.action):
            self.throttled += 1
            return wire.encode_error(wire.throttle_error(call.action, self.throttle.rate), request)
        fault = self.take_fault(call.action)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
        late = fault is not None and (fault.apply or fault.kind in ("delay", "content_type"))
        if fault is not None and not late:
            return self._faulted(fault, call, request)
        try:
            result = self.handler(call)  # a dict for the wire to encode, or a Reply of its own
            reply = result if isinstance(result, Reply) else wire.encode(call, result)
        except EmulatorError as err:
            reply = wire.encode_error(err, request)
        if fault is None:
            return reply
        if fault.kind in ("delay", "content_type", "truncated"):
            reply.content_type = fault.content_type or reply.content_type
            reply.end = "cut" if fault.kind == "truncated" else None
            return reply
        return self._faulted(fault, call, request)

    def _faulted(self, fault: Fault, call: Call, request: Request) -> Reply:
        if fault.kind in ("reset", "drop"):
            return Reply(0, b"", end="reset")
        if fault.kind == "status":
            status = fault.status or 503
            reply = Reply(status, f"<html>{status} injected</html>".encode(), "text/html")
        elif fault.kind == "malformed":
            body = fault.body if fault.body is not None else self.wire.malformed_body
            kind = "text/html" if body.startswith("<") else "application/json"
            reply = Reply(fault.status or 200, body.encode(), kind)
        else:
            if fault.kind == "throttle":
                error = self.wire.throttle_error(call.action, self.throttle.rate)
            else:
                default = self.wire.fault_error()
                error = EmulatorError(fault.code or default.code, fault.message or default.message, default.status)
            if fault.status is not None:
                error.status = fault.status
            reply = self.wire.encode_error(error, request)
        reply.content_type = fault.content_type or reply.content_type
        return reply

    # ------------------------------------------------------------------ control routes

    def control(self, method: str, route: str, body: bytes) -> tuple[int, Any]:
        """``/_emulator`` routes: faults, requests, rate, state and the emulator's own."""
        if (method, route) in self.routes:
            return self.routes[(method, route)](body)
        if route == "/faults" and method == "POST":
            try:
                spec = json.loads(body or b"{}")
                fault = self.inject(**spec) if isinstance(spec, dict) else Fault(kind=str(spec))
            except (TypeError, ValueError) as exc:
                return 400, {"error": str(exc)}
            return 200, {"fault": asdict(fault)}
        if route == "/faults" and method == "DELETE":
            self.clear_faults()
            return 200, {"faults": []}
        if route == "/faults" and method == "GET":
            with self._lock:
                return 200, {"faults": [asdict(f) for f in self.faults]}
        if route == "/requests" and method == "GET":
            return 200, {"requests": list(self.requests)}
        if route == "/rate" and method == "POST":
            try:
                rate = json.loads(body or b"{}").get("rate")
                self.set_rate(None if rate is None else float(rate))
            except (AttributeError, TypeError, ValueError) as exc:
                return 400, {"error": f"POST /_emulator/rate wants {{'rate': calls per second}}: {exc}"}
            return 200, {"rate": self.throttle.rate}
        if route == "/state" and method == "GET" and self.snapshot is not None:
            return 200, self.snapshot()
        return 404, {"error": f"unknown control endpoint {method} {CONTROL_PREFIX}{route}"}


class EmulatorFacade:
    """What every emulator's Python facade offers, delegated to its :class:`EmulatorServer`
    (``self.server``): lifecycle, addresses, faults, rate and the request log."""

    server: EmulatorServer

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT``."""
        return self.server.endpoint

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every authenticated call so far: ``{"action", "params", ...}`` (the wire adds what it logs)."""
        return list(self.server.requests)

    @property
    def faults(self) -> list[Fault]:
        """The faults still waiting."""
        return list(self.server.faults)

    @property
    def faults_served(self) -> int:
        """How many requests a fault answered."""
        return self.server.faults_served

    def calls(self, action: str) -> list[dict[str, Any]]:
        """The parameters of every call of one action."""
        return self.server.calls(action)

    def inject(self, kind: str = "error", action: str | None = None, *, times: int | None = 1, **options: Any) -> Fault:
        """Add a :class:`Fault`; it answers the next ``times`` matching calls."""
        return self.server.inject(kind, action, times=times, **options)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    def set_rate(self, rate: float | None) -> None:
        """Calls per second per action before the throttling answer (None or 0: unlimited)."""
        self.server.set_rate(rate)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.endpoint}>"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog is 5: a burst of new connections (an asyncio client opening 16 at
    # once) overflowed it and the kernel reset requests already written, an "unknown outcome" no gateway gives.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on resets
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the clouds' gateways: every answer has a Content-Length
    timeout = 60  # an idle kept-alive connection is closed after a minute
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (delayed ACK)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the request log
        pass

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    @property
    def server_version(self) -> str:  # type: ignore[override]
        return self.server.emulator.wire.name

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        emulator = self.server.emulator
        request = Request(self.command, self.path, {k: v for k, v in self.headers.items()})
        if request.route.startswith(CONTROL_PREFIX):
            status, data = emulator.control(self.command, request.route[len(CONTROL_PREFIX) :], self._body())
            self._send(Reply(status, json.dumps(data, ensure_ascii=False, default=str).encode()))
            return
        if emulator.take_fault(emulator.wire.peek_action(request), unread=True) is not None:
            self._reset()
            return
        request.body = self._body()
        reply = emulator.answer(request)
        if reply.end == "reset":
            self._reset()
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            self._send(reply)

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, reply: Reply) -> None:
        cut = reply.end == "cut"
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body[: len(reply.body) // 2] if cut else reply.body)
        if cut:
            self.wfile.flush()
            self._reset()

    def _reset(self) -> None:
        """Abort the connection with a TCP RST, no (further) answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


class EmulatorOptionError(ConfigurationError, ValueError):
    """A command-line emulator option that is unknown or not valid, or a host that is not loopback."""


def parse_options(options: Mapping[str, str], converters: Mapping[str, Callable[[str], Any]]) -> dict[str, Any]:
    """Command-line ``KEY=VALUE`` strings -> keyword arguments (unknown or invalid: ValueError)."""
    kwargs: dict[str, Any] = {}
    for key, value in options.items():
        if key not in converters:
            raise EmulatorOptionError(f"unknown emulator option {key!r}; known: {', '.join(converters)}")
        try:
            kwargs[key] = converters[key](str(value))
        except ValueError:
            raise EmulatorOptionError(f"emulator option {key}={value!r} is not valid") from None
    return kwargs


def flag(value: str) -> bool:
    """A command-line boolean."""
    return value.lower() in {"1", "true", "yes", "on"}


def serve(
    make: Callable[..., Any],
    title: str,
    host: str,
    port: int,
    options: Mapping[str, str],
    converters: Mapping[str, Callable[[str], Any]],
) -> None:
    """Run an emulator in the foreground until interrupted (a ``mailbridge.emulators`` entry point).

    ``options`` are command-line strings converted by ``converters``; ``callback_url`` pushes each
    delivery's event there. The URL to connect with is printed on stderr."""
    try:
        check_loopback(host)
    except ValueError as exc:
        raise EmulatorOptionError(str(exc)) from None
    options = dict(options)
    callback_url = options.pop("callback_url", None)
    emulator = make(host, int(port), **parse_options(options, converters))
    with emulator:
        if callback_url:
            emulator.push_events(callback_url)
        print(f"{title} emulator on {emulator.endpoint}", file=sys.stderr)
        print(f"MAILBRIDGE_URL={emulator.url}", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            for _ in _forever():
                time.sleep(3600)


def _forever() -> Iterator[None]:
    while True:
        yield None
