"""Tencent SES callbacks (reference part 2, 1.1) into neutral delivery events.

One JSON object per event: ``event`` (``delivered``, ``dropped``, ``bounce``, ``deferred``,
``open``, ``click``, ``spamreport``, ``unsubscribe``; 2021: ``processed``), ``eventid``,
``email``, ``bulkId`` (SendEmail's MessageId), ``timestamp``, ``reason``, ``bounceType``,
``username`` (appId), ... The delivery events' ``eventid`` equals GetSendEmailStatus's
``DeliverStatus`` code for the same fate (1, 2, 3, 8), so both go through one table and
:func:`mailbridge.refine_status`: push and poll agree. Tencent documents no signature: the
receiver's URL secret and the ``username`` check (:func:`check_account`) authenticate it.
"""

from __future__ import annotations

import email.header
import hmac
from collections.abc import Mapping
from typing import Any

from mailbridge import (
    AuthenticationError,
    BounceType,
    DeliveryEvent,
    DeliveryStatus,
    InvalidRequest,
    refine_status,
)
from mailbridge._events import EventRequest, json_body, lenient_time

__all__ = ["EVENT_IDS", "check_account", "parse_callback"]

PROVIDER = "tencent"
EVENT_IDS = {
    "delivered": 1,
    "dropped": 2,
    "bounce": 3,
    "open": 4,
    "click": 5,
    "spamreport": 6,
    "unsubscribe": 7,
    "deferred": 8,
}
_NAMES = {v: k for k, v in EVENT_IDS.items()}
_FLAGS = {"open": "opened", "click": "clicked", "spamreport": "complained", "unsubscribe": "unsubscribed"}
_BOUNCE_TYPES = {
    "hard_bounce": BounceType.HARD,
    "hard": BounceType.HARD,
    "soft_bounce": BounceType.SOFT,
    "soft": BounceType.SOFT,
}


def _items(request: EventRequest) -> list[Mapping[str, Any]]:
    data = json_body(request)
    items = data if isinstance(data, list) else [data]  # one object per event; a list is taken too
    if not items or not all(isinstance(i, dict) for i in items):
        raise InvalidRequest("a Tencent SES callback is a JSON object")
    return items


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _subject(value: Any) -> str | None:
    text = _text(value)
    if text is None or "=?" not in text:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeDecodeError):  # a malformed encoded word: keep it as sent
        return text


def _event(item: Mapping[str, Any], deliver_status: Mapping[int, DeliveryStatus]) -> DeliveryEvent:
    name = item.get("event")
    event_id = item.get("eventid")
    if isinstance(event_id, str) and event_id.isdigit():
        event_id = int(event_id)
    if not isinstance(name, str) or not name:
        name = _NAMES.get(event_id) if isinstance(event_id, int) and not isinstance(event_id, bool) else None
    if name is None:
        raise InvalidRequest("not a Tencent SES callback: no 'event'")
    recipient = item.get("email")
    if not isinstance(recipient, str) or "@" not in recipient:
        raise InvalidRequest("a Tencent SES callback names its recipient in 'email'")
    kind = name.strip().lower()
    reason = _text(item.get("reason"))
    flags: dict[str, bool] = {}
    bounce_type: BounceType | None = None
    code = EVENT_IDS.get(kind)
    if code is not None and code in deliver_status:
        status, bounce_type = refine_status(deliver_status[code], reason)
        if kind == "bounce":
            stated = _BOUNCE_TYPES.get(str(item.get("bounceType", "")).lower())
            bounce_type = stated or bounce_type or BounceType.HARD  # as polling: a refusal, not a delay
    elif kind in _FLAGS:
        status = DeliveryStatus.DELIVERED
        flags[_FLAGS[kind]] = True
    elif kind == "processed":  # 2021 doc: an intermediate state
        status = DeliveryStatus.PENDING
    else:
        status = DeliveryStatus.UNKNOWN
    bulk_id = _text(item.get("bulkId") or item.get("bulkid"))
    timestamp = item.get("timestamp")
    key = "|".join(
        str(p) for p in (bulk_id, recipient.casefold(), event_id if event_id is not None else kind, timestamp)
    )
    return DeliveryEvent(
        provider=PROVIDER,
        recipient=recipient,
        status=status,
        time=lenient_time(timestamp),
        sender=_text(item.get("from")),
        subject=_subject(item.get("subject")),
        message_id=bulk_id,
        raw_status=kind,
        raw_detail=reason,
        bounce_type=bounce_type,
        reason=reason if status is not DeliveryStatus.DELIVERED else None,
        url=_text(item.get("link")),
        event_id=key,
        raw=dict(item),
        opened=flags.get("opened"),
        clicked=flags.get("clicked"),
        unsubscribed=flags.get("unsubscribed"),
        complained=flags.get("complained"),
    )


def parse_callback(request: EventRequest, deliver_status: Mapping[int, DeliveryStatus]) -> list[DeliveryEvent]:
    """Every event of one callback request (``deliver_status``: the polling table)."""
    return [_event(item, deliver_status) for item in _items(request)]


def check_account(request: EventRequest, app_id: str | None) -> None:
    """Every event must be for ``app_id`` (its ``username``), compared in constant time."""
    if app_id is None:
        return
    for item in _items(request):
        username = item.get("username")
        if not hmac.compare_digest(str(username if username is not None else "").encode(), app_id.encode()):
            raise AuthenticationError("the callback is for another Tencent Cloud account", provider=PROVIDER)
