"""Reading SES answers: status tables, Beijing times, and the records into neutral models.

Every function takes the ``Response`` object (or one of its records) the transport returned and
gives a neutral model; a field in the wrong shape raises the reader's ProviderUnavailable.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from mailbridge import (
    CHINA_TIME,
    BatchResult,
    BounceType,
    DeliveryEvent,
    DeliveryStatus,
    DnsRecord,
    Group,
    GroupStatus,
    Member,
    Recipient,
    ResponseReader,
    SenderDomain,
    refine_status,
)

__all__ = [
    "BEIJING",
    "DELIVER_STATUS",
    "HTML_TAG",
    "SEND_STATUS",
    "TEMPLATE_STATUS",
    "b64",
    "batch_result",
    "beijing_time",
    "compact",
    "compact_value",
    "domain",
    "event",
    "group",
    "member",
    "reader",
    "success",
    "unb64",
]

PROVIDER = "tencent"

#: SES dates (RequestDate, CreateTime, SendDate) are Beijing time; China has no DST.
BEIJING = CHINA_TIME

#: Fields no SES success answer has (checked against every *Response model of the SDK).
_ERROR_KEYS = ("Error", "Code", "Message", "code", "message")

_GROUP_STATUS = {1: GroupStatus.EMPTY, 2: GroupStatus.PROCESSING, 3: GroupStatus.READY}

#: GetSendEmailStatus.SendStatus (Tencent-side processing) -> neutral status; 0 means "see DeliverStatus".
SEND_STATUS: dict[int, DeliveryStatus] = {
    1001: DeliveryStatus.FAILED,  # internal system error
    1002: DeliveryStatus.FAILED,
    1003: DeliveryStatus.FAILED,
    1004: DeliveryStatus.FAILED,  # send timeout
    1005: DeliveryStatus.FAILED,
    1006: DeliveryStatus.REJECTED,  # frequency control: too many mails to this address
    1007: DeliveryStatus.REJECTED,  # address in the blacklist
    1008: DeliveryStatus.REJECTED,  # domain refused by the recipient
    1009: DeliveryStatus.FAILED,
    1010: DeliveryStatus.FAILED,  # daily sending limit exceeded
    1011: DeliveryStatus.FAILED,  # no permission for custom content: templates only
    1013: DeliveryStatus.REJECTED,  # domain unsubscribed by the recipient
    2001: DeliveryStatus.FAILED,  # no record found
    3007: DeliveryStatus.FAILED,  # invalid template id
    3008: DeliveryStatus.REJECTED,  # recipient domain temporarily blocked
    3009: DeliveryStatus.FAILED,  # no permission for this template
    3010: DeliveryStatus.FAILED,  # TemplateData malformed
    3014: DeliveryStatus.FAILED,  # sender domain not verified
    3020: DeliveryStatus.REJECTED,  # recipient mailbox type blacklisted
    3024: DeliveryStatus.INVALID_ADDRESS,  # address format pre-check failed
    3030: DeliveryStatus.REJECTED,  # bounce rate too high, temporarily restricted
    3033: DeliveryStatus.FAILED,  # insufficient balance
}
#: GetSendEmailStatus.DeliverStatus (recipient side), when SendStatus is 0.
DELIVER_STATUS: dict[int, DeliveryStatus] = {
    0: DeliveryStatus.PENDING,  # accepted by Tencent, queued
    1: DeliveryStatus.DELIVERED,
    2: DeliveryStatus.REJECTED,  # dropped by Tencent (suppressed, blocked); DeliverMessage says why
    3: DeliveryStatus.REJECTED,  # refused by the recipient's ESP; its reply (550 5.1.1: invalid_address) refines it
    8: DeliveryStatus.PENDING,  # delayed by the recipient's ESP
}

#: TemplatesMetadata.TemplateStatus: 0 approved, 1 in review, 2 rejected, anything else unavailable.
TEMPLATE_STATUS: dict[Any, str] = {0: "approved", 1: "pending_review", 2: "rejected"}

HTML_TAG = re.compile(r"<[a-zA-Z/][^>]*>")


def compact(data: Mapping[str, str]) -> str:
    """TemplateData as SES wants it: a JSON *string* (compact, UTF-8 kept)."""
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))


def compact_value(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):  # pragma: no cover - values decoded from JSON always encode
        return repr(value)[:200]


def b64(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def unb64(value: Any) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(str(value)).decode("utf-8", "replace")
    except ValueError:
        return str(value)


def beijing_time(r: ResponseReader, key: str) -> dt.datetime | None:
    """``2021-09-28 16:40:35`` (Beijing time) -> aware datetime; None when absent or unreadable."""
    return r.local_time(key, ("%Y-%m-%d %H:%M:%S",), BEIJING)


def _purpose(record: ResponseReader) -> str:
    host = record.text("SendDomain").lower()
    value = record.text("ExpectedValue").lower()
    kind = record.text("Type").upper()
    if kind == "MX":
        return "mx"
    if "_domainkey" in host or "dkim" in value:
        return "dkim"
    if host.startswith("_dmarc") or value.startswith("v=dmarc"):
        return "dmarc"
    if value.startswith("v=spf1"):
        return "spf"
    return "ownership"


def reader(data: ResponseReader | Mapping[str, Any], action: str) -> ResponseReader:
    return data if isinstance(data, ResponseReader) else ResponseReader(data, provider=PROVIDER, action=action)


def success(action: str, response: Mapping[str, Any]) -> ResponseReader:
    """``Response`` as a success answer. No SES success answer has an ``Error``, ``Code`` or
    ``Message`` field (SDK models 2020-10-02), so one that does is an error in another shape
    (a relay's or gateway's, or an ``Error`` that is not an object) and not an empty success."""
    answer = ResponseReader(response, provider=PROVIDER, action=action, root={"Response": response})
    for key in _ERROR_KEYS:
        if answer.has(key):
            raise answer.error(key, answer.raw(key), "no such field in a success answer")
    return answer


def group(data: ResponseReader | Mapping[str, Any]) -> Group:
    data = reader(data, "ListReceivers")
    status = data.integer("ReceiversStatus")
    return Group(
        id=str(data.integer("ReceiverId", required=True)),  # SES ids are integers (ReceiverData)
        name=data.text("ReceiversName"),
        provider=PROVIDER,
        description=data.string("Desc") or None,
        recipient_count=data.count("Count") or 0,
        status=_GROUP_STATUS.get(status if status is not None else -1, GroupStatus.UNKNOWN),
        created_at=beijing_time(data, "CreateTime"),
        extra={"invalid_count": data.count("InvalidCount"), "receivers_status": status},
    )


def batch_result(answer: ResponseReader, emails: list[str]) -> BatchResult:
    """CreateReceiverDetail(WithData) counts. The counts are optional: the CreateReceiverDetail
    doc's own example answers with a RequestId only (SES took the request, nothing more is
    known). ``ValidCount`` is every address stored, repeats included (SES does not
    de-duplicate); ``RepeatCount`` those already in the group or repeated within the call
    (the core sends no repeats within a call, so for it a repeat is an existing member); the
    rest were refused without names (too long, empty). SES reports counts only: say how many
    were refused, never guess which."""
    sent = len(emails)
    request_id = answer.string("RequestId")
    valid = answer.count("ValidCount")
    if valid is None:
        return BatchResult(accepted=emails, processing=True, request_id=request_id)
    # Repeats within this call (the core never sends any) are stored twice, as SES does: accepted.
    in_call = sent - len({e.casefold() for e in emails})
    repeated = min(max((answer.count("RepeatCount", 0) or 0) - in_call, 0), valid)
    if valid == sent and not repeated:
        return BatchResult(accepted=emails, processing=True, request_id=request_id)
    refused = max(sent - valid, 0)
    note = None
    if refused:
        note = (
            f"SES imported {valid} of {sent} addresses ({repeated} already in the group, too long: "
            f"{answer.count('TooLongCount', 0)}, empty: {answer.count('EmptyEmailCount', 0)}) "
            "and does not say which it refused; see the group's members for per-address status"
        )
    return BatchResult(
        accepted_count=valid - repeated,
        existing_count=repeated,
        unattributed_rejected=refused,
        note=note,
        processing=True,
        request_id=request_id,
    )


def member(data: ResponseReader | Mapping[str, Any]) -> Member:
    data = reader(data, "ListReceiverDetails")
    stored: dict[str, str] = {}
    if text := data.string("TemplateData"):
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError):
            loaded = {"TemplateData": text}
        if isinstance(loaded, dict):  # values as SES stores them: strings (anything else as JSON)
            stored = {str(k): v if isinstance(v, str) else compact_value(v) for k, v in loaded.items()}
    profile = {f: stored.pop(f) for f in Recipient.PROFILE_FIELDS if f in stored}
    status = data.integer("Status")
    return Member(
        recipient=Recipient(email=data.text("Email"), data=stored, **profile),
        valid=None if status is None else status == 1,
        invalid_reason=data.string("Reason") or None,
        added_at=beijing_time(data, "CreateTime"),
    )


def event(row: ResponseReader | Mapping[str, Any]) -> DeliveryEvent:
    row = reader(row, "GetSendEmailStatus")
    send_status = row.integer("SendStatus") or 0
    deliver_status = row.integer("DeliverStatus") or 0
    if send_status:
        status = SEND_STATUS.get(send_status, DeliveryStatus.FAILED)
    else:
        status = DELIVER_STATUS.get(deliver_status, DeliveryStatus.PENDING)
    reason = row.string("DeliverMessage") or None
    status, bounce_type = refine_status(status, reason)  # the SMTP reply quoted, if any
    if not send_status and deliver_status == 3 and bounce_type is None:
        bounce_type = BounceType.HARD  # "ESP rejected" without a reply code: a refusal, not a delay
    complained = row.flag("UserComplained")
    if complained is None:
        complained = row.flag("UserComplainted")  # the older, misspelt field
    return DeliveryEvent(
        provider=PROVIDER,
        recipient=row.text("ToEmailAddress"),
        status=status,
        time=row.epoch("RequestTime"),
        sender=row.string("FromEmailAddress"),
        message_id=row.string("MessageId"),
        raw_status=f"SendStatus={send_status} DeliverStatus={deliver_status}",
        raw_detail=reason,
        reason=reason if status is not DeliveryStatus.DELIVERED else None,
        bounce_type=bounce_type,
        opened=row.flag("UserOpened"),
        clicked=row.flag("UserClicked"),
        unsubscribed=row.flag("UserUnsubscribed"),
        complained=complained,
    )


def domain(name: str, response: ResponseReader) -> SenderDomain:
    records = [
        DnsRecord(
            type=a.text("Type"),
            host=a.text("SendDomain"),
            value=a.text("ExpectedValue"),
            purpose=_purpose(a),
            verified=a.flag("Status"),
        )
        for a in response.records("Attributes")
    ]
    verified = response.flag("VerifiedForSendingStatus")
    return SenderDomain(
        name=name,
        provider=PROVIDER,
        verified=verified,
        status="verified" if verified else "pending",
        records=records,
    )
