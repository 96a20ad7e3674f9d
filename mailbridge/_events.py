"""Pushed delivery events: the request a cloud makes, and parsing it into :class:`DeliveryEvent`.

Each backend owns its cloud's format (``Backend.parse_events``) and its proof of origin
(``Backend.authenticate_events``); this module only dispatches through the registry, so the
core never imports a backend. Parsers are pure functions of the request: no network.

A pushed event gets the status the delivery log (``Client.deliveries``) gives the same fate:
the parsers reuse each backend's polling table and :func:`mailbridge.refine_status`.
Engagement events (open, click, complaint, unsubscribe) are ``delivered`` with the flag set,
as in the delivery log; an event type mailbridge does not know is ``unknown`` and keeps its
raw body (never dropped).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from attrs import field, frozen

from ._exceptions import InvalidRequest
from ._models import DeliveryEvent

__all__ = ["EventAuth", "EventRequest", "event_key", "json_body", "lenient_time", "parse_events"]

MAX_EVENT_BODY = 1 << 20  # 1 MiB: one event is a few hundred bytes; anything larger is refused (413)


def _lower_keys(value: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (value or {}).items()}


@frozen
class EventRequest:
    """One HTTP request a cloud made to a receiver: what every parser and check reads.

    ``url`` is the full URL the cloud called (scheme, host, path, query), as signatures cover it;
    header names are lower-cased.
    """

    body: bytes
    headers: dict[str, str] = field(factory=dict, converter=_lower_keys)
    method: str = "POST"
    url: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@frozen
class EventAuth:
    """What a receiver checks besides the secret in its URL.

    ``account``: the account the events must belong to (Tencent appId in ``username``, the
    Alibaba Cloud account id in ``aliyunaccountid``). ``signature``: require and verify the
    cloud's signature where it documents one (EventBridge); ``fetch_certificate`` downloads the
    signing certificate from its (checked) URL, ``max_age`` bounds the signed timestamp (seconds),
    ``clock`` gives the current Unix time.
    """

    account: str | None = None
    signature: bool = False
    fetch_certificate: Callable[[str], bytes] | None = None
    max_age: float = 60.0
    clock: Callable[[], float] | None = None


def json_body(request: EventRequest | bytes) -> Any:
    """The request body as JSON, or :class:`InvalidRequest` (a 400) if it is not."""
    body = request.body if isinstance(request, EventRequest) else request
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest(f"the event body is not JSON: {exc}") from exc


_OFFSET_FREE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def lenient_time(value: Any, default_tz: dt.tzinfo = dt.UTC) -> dt.datetime | None:
    """An event time: Unix seconds (int or digits), ISO 8601 with or without offset (then
    ``default_tz``), or a suffix the cloud made up (``2024-04-29T11:07:13.179PRC``: the zone
    name is dropped and ``default_tz`` used). None if absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(float(value), dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if text.isdigit():
        return lenient_time(int(text), default_tz)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        stripped = re.sub(r"[A-Za-z]+$", "", text)
        if not _OFFSET_FREE.match(stripped):
            return None
        try:
            parsed = dt.datetime.fromisoformat(stripped)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=default_tz)


def event_key(event: DeliveryEvent) -> str:
    """The de-duplication key of an event: the provider's own key where it has one
    (``event_id``), else a digest of the raw event."""
    if event.event_id:
        return f"{event.provider}:{event.event_id}"
    raw = json.dumps(event.raw, sort_keys=True, default=str, ensure_ascii=False)
    return f"{event.provider}:sha256:{hashlib.sha256(raw.encode()).hexdigest()}"


def parse_events(provider: str, request: EventRequest | bytes | str) -> list[DeliveryEvent]:
    """Parse one pushed request of ``provider``'s cloud into neutral events.

    Raises :class:`InvalidRequest` for a body that is not that cloud's format; unknown event
    types parse as status ``unknown``. Does not authenticate (see :class:`EventReceiver`).
    """
    from ._registry import load_backend_class

    if isinstance(request, str):
        request = request.encode("utf-8")
    if isinstance(request, bytes):
        request = EventRequest(body=request)
    return load_backend_class(provider).parse_events(request)
