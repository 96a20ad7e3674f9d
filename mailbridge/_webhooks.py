"""A receiver for pushed delivery events: framework-free core, WSGI and ASGI faces.

One :class:`EventReceiver` serves every configured cloud at ``.../<provider>/<secret>``
(mount it under any prefix). Per request: the secret in the URL is compared in constant
time (401 if wrong), the cloud's own proof is checked (``Backend.authenticate_events``:
EventBridge's signature, Tencent's ``username``; 401), the body is parsed (400 if it is not
the cloud's format, 413 if larger than 1 MiB), each event is de-duplicated by its provider
key (:func:`mailbridge.event_key`) in the store, handed to ``on_event`` and optionally
suppressed. A bad body is a 4xx and one log line, never a 500: a cloud retries 5xx answers.

A callback that raises is logged and answered 200 (the event is kept as received) unless
``retry_on_callback_failure=True``: then the answer is 503, the event is not marked seen, and
the cloud's redelivery runs the callback again. Chosen default: most clouds retry for hours
(EventBridge up to a day), so a callback bug would otherwise flood the receiver.

Hand-written on the stdlib (no web framework): it is one route and the WSGI/ASGI contracts
are small; a framework would be a dependency of every user for ~60 lines.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from ._events import MAX_EVENT_BODY, EventAuth, EventRequest, event_key
from ._exceptions import AuthenticationError, ConfigurationError, MailbridgeError
from ._models import BounceType, DeliveryEvent, DeliveryStatus, SuppressionReason
from ._url import Secret

if TYPE_CHECKING:
    from ._backend import Backend

__all__ = ["EventReceiver", "EventStore", "MemoryEventStore", "SQLiteEventStore"]

log = logging.getLogger("mailbridge.webhooks")
MIN_SECRET = 16


class EventStore(Protocol):
    """Remembers which events were received (de-duplication), optionally the events themselves."""

    def claim(self, key: str, event: DeliveryEvent) -> bool:
        """Record ``key``; False if it was recorded before (a redelivery)."""

    def release(self, key: str) -> None:
        """Forget ``key`` (its callback failed and the cloud should redeliver it)."""


class MemoryEventStore:
    """The last ``max_keys`` event keys in memory (bounded; oldest forgotten first)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, key: str, event: DeliveryEvent) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)


class SQLiteEventStore:
    """Every received event in a SQLite file, keyed for de-duplication (no size bound)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS events (key TEXT PRIMARY KEY, provider TEXT, recipient TEXT, "
                "status TEXT, time TEXT, message_id TEXT, event TEXT NOT NULL)"
            )

    def claim(self, key: str, event: DeliveryEvent) -> bool:
        row = event.as_dict()
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, event.provider, event.recipient, event.status.value, row["time"], event.message_id,
                 json.dumps(row, default=str, ensure_ascii=False)),
            )  # fmt: skip
            return cursor.rowcount == 1

    def release(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM events WHERE key = ?", (key,))

    def events(self) -> Iterator[dict[str, Any]]:
        """Every stored event (as :meth:`DeliveryEvent.as_dict`), in arrival order."""
        with self._lock:
            rows = self._db.execute("SELECT event FROM events ORDER BY rowid").fetchall()
        for (text,) in rows:
            yield json.loads(text)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _suppressible(event: DeliveryEvent) -> bool:
    """A hard bounce or a complaint: the address should not be mailed again."""
    if event.complained:
        return True
    return event.bounce_type is BounceType.HARD or event.status is DeliveryStatus.INVALID_ADDRESS


class EventReceiver:
    """Receives pushed delivery events of the given providers at ``<mount>/<provider>/<secret>``.

    ``on_event`` gets each new :class:`DeliveryEvent` (redeliveries are dropped using ``store``,
    default a bounded :class:`MemoryEventStore`). ``auth`` maps a provider to an
    :class:`EventAuth` (account check, signature). ``auto_suppress``: an object with
    ``suppress(addresses)`` (a :class:`Client`) or a callable; hard bounces and complaints are
    then added to its suppression list. Mount :attr:`wsgi_app` or :attr:`asgi_app`.
    """

    def __init__(
        self,
        providers: Iterable[str],
        *,
        secret: str | Secret | None,
        on_event: Callable[[DeliveryEvent], object] | None = None,
        auth: Mapping[str, EventAuth] | None = None,
        store: EventStore | None = None,
        retry_on_callback_failure: bool = False,
        auto_suppress: Any = None,
    ) -> None:
        from ._registry import load_backend_class

        self.backends: dict[str, type[Backend]] = {name: load_backend_class(name) for name in providers}
        if not self.backends:
            raise ConfigurationError("an event receiver needs at least one provider")
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value is not None and (len(value) < MIN_SECRET or "/" in value):
            raise ConfigurationError(f"the receiver secret must be at least {MIN_SECRET} characters, without '/'")
        self._secret = value.encode() if value is not None else None
        self.on_event = on_event
        self.auth = dict(auth or {})
        self.store: EventStore = store if store is not None else MemoryEventStore()
        self.retry_on_callback_failure = retry_on_callback_failure
        self._suppress: Callable[[list[str], SuppressionReason], object] | None = None
        if auto_suppress is not None and not callable(auto_suppress):
            client = auto_suppress
            self._suppress = lambda addresses, reason: client.suppress(addresses, reason=reason)
        elif auto_suppress is not None:
            self._suppress = lambda addresses, reason: auto_suppress(addresses)
        self.counts = {"received": 0, "duplicates": 0, "refused": 0}
        self._counts_lock = threading.Lock()

    def _count(self, name: str, n: int = 1) -> None:
        with self._counts_lock:
            self.counts[name] += n

    def __repr__(self) -> str:  # never shows the secret
        return f"EventReceiver(providers={sorted(self.backends)!r})"

    # ------------------------------------------------------------------ the one route

    def _route(self, path: str) -> tuple[int, str | None]:
        parts = [unquote(p) for p in path.split("/") if p]
        if self._secret is None:
            provider = parts[-1] if parts else ""
            return (200, provider) if provider in self.backends else (404, None)
        if len(parts) < 2 or parts[-2] not in self.backends:
            return 404, None
        if not hmac.compare_digest(parts[-1].encode(), self._secret):
            return 401, parts[-2]
        return 200, parts[-2]

    def handle(self, path: str, request: EventRequest) -> tuple[int, dict[str, Any]]:
        """Answer one request: an HTTP status and a JSON-able body. Never raises."""
        status, provider = self._route(path)
        if status != 200 or provider is None:
            self._count("refused")
            log.warning(
                "event request refused (%s): %s %s",
                status,
                request.method,
                "unknown path" if status == 404 else "wrong secret",
            )
            return status, {"error": "not found" if status == 404 else "unauthorized"}
        if request.method.upper() != "POST":
            return 405, {"error": "POST events here"}
        if len(request.body) > MAX_EVENT_BODY:
            self._count("refused")
            log.warning("%s event refused: the body is larger than %d bytes", provider, MAX_EVENT_BODY)
            return 413, {"error": "body too large"}
        backend = self.backends[provider]
        try:
            backend.authenticate_events(request, self.auth.get(provider, EventAuth()))
            events = backend.parse_events(request)
        except AuthenticationError as exc:
            self._count("refused")
            log.warning("%s event refused (401): %s", provider, exc)
            return 401, {"error": "unauthorized"}
        except MailbridgeError as exc:
            self._count("refused")
            log.warning("%s event refused (400): %s", provider, exc)
            return 400, {"error": str(exc)}
        except Exception as exc:  # a parser bug must not make the cloud retry forever
            self._count("refused")
            log.error("%s event refused (400): the parser failed on it: %r", provider, exc, exc_info=True)
            return 400, {"error": "unreadable event"}
        return self._deliver(provider, events)

    def _deliver(self, provider: str, events: list[DeliveryEvent]) -> tuple[int, dict[str, Any]]:
        received = duplicates = 0
        for event in events:
            key = event_key(event)
            if not self.store.claim(key, event):
                duplicates += 1
                continue
            try:
                if self.on_event is not None:
                    self.on_event(event)
                if self._suppress is not None and _suppressible(event):
                    why = SuppressionReason.COMPLAINT if event.complained else SuppressionReason.BOUNCE
                    self._suppress([event.recipient], why)
            except Exception as exc:
                if self.retry_on_callback_failure:
                    self.store.release(key)
                    log.error("%s event callback failed; asking for redelivery (503): %r", provider, exc, exc_info=True)
                    return 503, {"error": "callback failed", "received": received}
                log.error("%s event callback failed (answered 200, not retried): %r", provider, exc, exc_info=True)
            received += 1
        self._count("received", received)
        self._count("duplicates", duplicates)
        return 200, {"received": received, "duplicates": duplicates}

    # ------------------------------------------------------------------ WSGI

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The receiver as a WSGI application (Flask/Django/any WSGI server)."""
        from wsgiref.util import request_uri

        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(max(length, 0), MAX_EVENT_BODY + 1)) if length > 0 else b""
        headers = {k[5:].replace("_", "-"): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-")] = str(environ[key])
        request = EventRequest(body=body, headers=headers, method=environ.get("REQUEST_METHOD", "GET"),
                               url=request_uri(environ))  # fmt: skip
        status, answer = self.handle(environ.get("PATH_INFO", ""), request)
        data = json.dumps(answer).encode()
        start_response(f"{status} {_REASONS.get(status, 'OK')}",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])  # fmt: skip
        return [data]

    # ------------------------------------------------------------------ ASGI

    async def asgi_app(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        """The receiver as an ASGI application (FastAPI/Starlette ``mount``, any ASGI server).

        ``on_event`` runs in a worker thread, so a blocking callback does not stall the loop.
        """
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= MAX_EVENT_BODY + 1:
                chunks.append(chunk)
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("localhost", 80)))
        path = scope.get("root_path", "") + scope.get("path", "")
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"{scope.get('scheme', 'http')}://{host}{path}" + (f"?{query}" if query else "")
        request = EventRequest(body=b"".join(chunks)[: MAX_EVENT_BODY + 1], headers=headers,
                               method=scope.get("method", "GET"), url=url)  # fmt: skip
        status, answer = await asyncio.to_thread(self.handle, scope.get("path", ""), request)
        data = json.dumps(answer).encode()
        headers_out = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers_out})
        await send({"type": "http.response.body", "body": data})


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            413: "Content Too Large", 503: "Service Unavailable"}  # fmt: skip
