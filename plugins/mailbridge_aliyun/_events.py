"""Direct Mail pushed events into neutral delivery events (reference part 2, 1.2 and 1.3).

* EventBridge CloudEvents 1.0 (JSON): ``dm:Deliver:Succeed``, ``dm:Deliver:Fail`` (``status``,
  ``failed_type``, ``err_code``, ``err_msg``), ``dm:Trace:Open``, ``dm:Trace:Click`` (``url``),
  ``dm:Feedback:UnSubscribe``, ``dm:Feedback:FblReport`` (``block_email``); any other type
  (``dm:Feedback:Subscribe``, ``dm:Validator:GrayListResult``, future ones) is ``unknown``
  with its raw event. De-duplicated by the CloudEvent ``id``.
* Legacy MNS notifications: ``&``-joined ``key=value`` (values not URL-encoded: each pair is
  split on its first ``=``).

A failure goes through :func:`delivery_status`, the function that reads the polled
SenderStatisticsDetailByParam records (``status`` is the same code, ``failed_type`` the same
classification, ``err_msg`` the same SMTP reply), so push and poll agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailbridge import DeliveryEvent, DeliveryStatus, InvalidRequest
from mailbridge._events import EventRequest, json_body, lenient_time

from ._parse import CST, delivery_status

__all__ = ["parse_cloudevent", "parse_mns", "parse_request"]

PROVIDER = "aliyun"
_FLAGS = {
    "dm:trace:open": "opened",
    "dm:trace:click": "clicked",
    "dm:feedback:unsubscribe": "unsubscribed",
    "dm:feedback:fblreport": "complained",
}
_FAILED_BASE = 4  # a Fail event without a readable status: "failed for other reasons"


def _text(value: Any) -> str | None:
    return None if value is None or value == "" or isinstance(value, dict | list) else str(value)


def _code(value: Any) -> int | None:
    text = _text(value)
    return int(text) if text is not None and text.strip().lstrip("-").isdigit() else None


def _fate(
    kind: str, data: Mapping[str, Any], failed: bool, succeeded: bool
) -> tuple[DeliveryStatus, Any, str | None, dict[str, bool]]:
    flags: dict[str, bool] = {}
    if succeeded:
        return DeliveryStatus.DELIVERED, None, None, flags
    if failed:
        code = _code(data.get("status"))
        if code is None or code == 0:
            code = _FAILED_BASE
        reason = _text(data.get("err_msg")) or _text(data.get("err_code")) or ""
        status, bounce, why = delivery_status(code, str(data.get("failed_type") or ""), reason)
        return status, bounce, why or _text(data.get("failed_type")), flags
    if kind in _FLAGS:
        flags[_FLAGS[kind]] = True
        return DeliveryStatus.DELIVERED, None, None, flags
    return DeliveryStatus.UNKNOWN, None, None, flags


def parse_cloudevent(envelope: Any) -> DeliveryEvent:
    """One EventBridge CloudEvent of source ``acs.dm``."""
    if not isinstance(envelope, dict):
        raise InvalidRequest("a Direct Mail event is a CloudEvents JSON object")
    kind_text, event_id = envelope.get("type"), envelope.get("id")
    if not isinstance(kind_text, str) or not kind_text or not isinstance(event_id, str | int) or event_id == "":
        raise InvalidRequest("not a CloudEvent: 'type' and 'id' are required")
    kind = kind_text.casefold()
    data = envelope.get("data")
    known = kind in _FLAGS or kind in ("dm:deliver:succeed", "dm:deliver:fail")
    if not isinstance(data, dict):
        if known:
            raise InvalidRequest(f"a {kind_text} event carries its fields in 'data'")
        data = {}
    recipient = _text(data.get("rcpt")) or _text(data.get("block_email")) or _text(data.get("email")) or ""
    if known and "@" not in recipient:
        raise InvalidRequest(f"a {kind_text} event names its recipient in data.rcpt")
    status, bounce, reason, flags = _fate(kind, data, kind == "dm:deliver:fail", kind == "dm:deliver:succeed")
    when = data.get("deliver_time") or data.get("block_time") or data.get("operate_time") or envelope.get("time")
    return DeliveryEvent(
        provider=PROVIDER,
        recipient=recipient,
        status=status,
        time=lenient_time(when, CST) or lenient_time(envelope.get("aliyunpublishtime"), CST),
        sender=_text(data.get("from")) or _text(data.get("send_email")),
        message_id=_text(data.get("env_id")) or _text(data.get("envid")),
        raw_status=kind_text,
        raw_detail=": ".join(p for p in (_text(data.get("failed_type")), _text(data.get("err_msg"))) if p) or None,
        bounce_type=bounce,
        reason=reason,
        tag=_text(data.get("tag")),
        url=_text(data.get("url")),
        event_id=str(event_id),
        raw=envelope,
        opened=flags.get("opened"),
        clicked=flags.get("clicked"),
        unsubscribed=flags.get("unsubscribed"),
        complained=flags.get("complained"),
    )


def parse_mns(text: str) -> DeliveryEvent:
    """One legacy MNS notification (``key=value&key=value``)."""
    fields: dict[str, str] = {}
    for pair in text.strip().split("&"):
        key, sep, value = pair.partition("=")
        if sep and key.strip():
            fields[key.strip()] = value.strip()
    recipient = fields.get("rcpt", "")
    if "@" not in recipient or not (fields.get("env_id") or fields.get("msg_id")):
        raise InvalidRequest("not a Direct Mail notification: 'rcpt' and 'env_id' are required")
    kind = fields.get("event", "").casefold()
    code = _code(fields.get("status"))
    failed = "fail" in kind or (code is not None and code != 0 and "open" not in kind and "click" not in kind)
    succeeded = not failed and ("success" in kind or (code == 0 and kind in ("", "deliver")))
    mapped = "dm:trace:open" if "open" in kind else "dm:trace:click" if "click" in kind else kind
    status, bounce, reason, flags = _fate(mapped, fields, failed, succeeded)
    when = fields.get("end_time") or fields.get("recv_time")
    key = "|".join(fields.get(k, "") for k in ("env_id", "rcpt", "event", "status")) + f"|{when}"
    return DeliveryEvent(
        provider=PROVIDER,
        recipient=recipient,
        status=status,
        time=lenient_time(when, CST),
        sender=fields.get("from") or None,
        message_id=fields.get("env_id") or None,
        raw_status=fields.get("event") or None,
        raw_detail=": ".join(p for p in (fields.get("failed_type"), fields.get("err_msg")) if p) or None,
        bounce_type=bounce,
        reason=reason,
        event_id=f"mns:{key}",
        raw=fields,
        opened=flags.get("opened"),
        clicked=flags.get("clicked"),
        unsubscribed=flags.get("unsubscribed"),
        complained=flags.get("complained"),
    )


def parse_request(request: EventRequest) -> list[DeliveryEvent]:
    """A CloudEvent (or a JSON array of them) or an MNS notification, told apart by the body."""
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest("a Direct Mail event body is UTF-8 text") from exc
    head = text.lstrip()[:1]
    if head in ("{", "["):
        data = json_body(request)
        items = data if isinstance(data, list) else [data]
        if not items:
            raise InvalidRequest("an empty list of events")
        return [parse_cloudevent(item) for item in items]
    return [parse_mns(text)]
