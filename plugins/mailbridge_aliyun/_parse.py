"""Direct Mail response records -> neutral models (pure functions, no I/O)."""

from __future__ import annotations

import ast
import contextlib
import csv
import datetime as dt
import io
import json
import re
from collections.abc import Mapping
from typing import Any

from mailbridge import (
    AccountSummary,
    BounceType,
    DeliveryEvent,
    DeliveryStatus,
    DnsRecord,
    Group,
    GroupStatus,
    InvalidRequest,
    Member,
    Recipient,
    SenderAddress,
    SenderDomain,
    StatisticsRow,
    Tag,
    Template,
    TemplateSyntax,
    refine_status,
)

__all__ = [
    "CST",
    "DELIVERY_STATUS",
    "DM_SYNTAX",
    "KIND_TO_SENDTYPE",
    "STATUS_CODE",
    "account",
    "compact",
    "delivery_event",
    "delivery_status",
    "domain",
    "group",
    "is_duplicate_message",
    "member",
    "profile_detail",
    "records",
    "sender",
    "statistics_row",
    "tag",
    "template",
]

PROVIDER = "aliyun"
# China Standard Time: DM's "yyyy-MM-dd HH:mm" times are Beijing local time (seed 004's sample
# has LastUpdateTime "2021-04-28T17:11Z" for UtcLastUpdateTime 1619601108 = 09:11:48 UTC).
CST = dt.timezone(dt.timedelta(hours=8), "CST")

# seed 004: Status 0 delivered, 2 invalid address, 3 spam, 4 failed for other reasons.
DELIVERY_STATUS: dict[int, DeliveryStatus] = {
    0: DeliveryStatus.DELIVERED,
    2: DeliveryStatus.INVALID_ADDRESS,
    3: DeliveryStatus.REJECTED,
    4: DeliveryStatus.FAILED,
}
STATUS_CODE = {v: k for k, v in DELIVERY_STATUS.items()}
# ErrorClassification values that make a failure an invalid address (seed 004 shows SmtpNxBox;
# EventBridge's failed_type adds SysOutDnsResolveFail: no such domain).
CLASSIFICATION_STATUS: dict[str, DeliveryStatus] = {
    "SmtpNxBox": DeliveryStatus.INVALID_ADDRESS,
    "SysOutDnsResolveFail": DeliveryStatus.INVALID_ADDRESS,
}


def delivery_status(
    code: int | None, classification: str, message: str
) -> tuple[DeliveryStatus, BounceType | None, str | None]:
    """Status, bounce type and reason of one SenderStatisticsDetailByParam record.

    ``Status`` (0 delivered, 2 invalid address, 3 spam, 4 other failure) is the base, a known
    ``ErrorClassification`` of a failure settles it, then the SMTP reply in ``Message`` refines it
    (:func:`mailbridge.refine_status`). A record without a Status is still pending.
    """
    # An unlisted code (seed 004 skips 1) is taken as still in progress, like a missing one.
    base = DELIVERY_STATUS.get(code, DeliveryStatus.PENDING) if code is not None else DeliveryStatus.PENDING
    if base in (DeliveryStatus.REJECTED, DeliveryStatus.FAILED):
        base = CLASSIFICATION_STATUS.get(classification, base)
    status, bounce = refine_status(base, message)
    return status, bounce, (message or classification or None) if status is not DeliveryStatus.DELIVERED else None


# Detail keys of SaveReceiverDetail (seed 000) <-> neutral profile fields.
PROFILE_KEYS = (("b", "birthday"), ("e", "email"), ("g", "gender"), ("m", "mobile"), ("n", "nickname"), ("u", "name"))
# QueryReceiverDetail DataSchema names (reference A.1.1) <-> neutral profile fields.
SCHEMA_FIELDS = {
    "UserName": "name",
    "NickName": "nickname",
    "Gender": "gender",
    "Birthday": "birthday",
    "Mobile": "mobile",
}
DEFAULT_SCHEMA = "UserName,NickName,Gender,Birthday,Mobile"

# DescAccountSummary UserStatus: seed 003 documents 0-3, the 1.11.1 SDK 0/1/2/4/8 (reference A.6).
USER_STATUS = {0: "normal", 1: "frozen", 2: "overdue", 3: "sending_disabled", 4: "outbound_restricted", 8: "deleted"}
# Direct Mail writes template variables ``{name}`` ("hello {name}"); the neutral syntax is ``{{name}}``.
DM_SYNTAX = TemplateSyntax("Alibaba Cloud Direct Mail", "{", "}")
# CreateMailAddress / QueryMailAddressByParam Sendtype (seed 003) <-> neutral sender kind.
KIND_TO_SENDTYPE = {"transactional": "trigger", "batch": "batch"}
SENDTYPE_TO_KIND = {v: k for k, v in KIND_TO_SENDTYPE.items()}
# Domain status (seed 003, QueryDomainByParam / DescDomain).
DOMAIN_STATUS = {
    "0": "verified",
    "1": "verification_failed",
    "2": "not_filed_no_cname",
    "3": "not_filed",
    "4": "no_cname",
}
AVAILABLE = frozenset({"0", "2", "3", "4"})  # seed 003: "the domain name is (verified and) available"

_DUPLICATE = re.compile(r"duplicat|repeat|already exist|重复|已存在", re.I)


def compact(value: Any) -> str:
    """JSON exactly as the DM docs show it: no spaces, UTF-8 kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def records(body: Mapping[str, Any], *path: str) -> list[dict[str, Any]]:
    """``body[path0][path1]`` as a list (DM nests lists under lower-case ``data``)."""
    node: Any = body
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    if isinstance(node, Mapping):  # a single record is sometimes not wrapped in a list
        return [dict(node)]
    return [dict(r) for r in node or () if isinstance(r, Mapping)]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _epoch(value: Any) -> dt.datetime | None:
    seconds = _int(value)
    if seconds is None:
        return None
    if seconds > 10**11:  # milliseconds
        seconds //= 1000
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _cst_time(value: Any) -> dt.datetime | None:
    """``2021-04-28T17:11Z`` (Beijing time despite the Z, see :data:`CST`)."""
    if not value:
        return None
    text = str(value).rstrip("Z")
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=CST).astimezone(dt.UTC)
        except ValueError:
            continue
    return None


# --------------------------------------------------------------------------- groups & members


def group(r: Mapping[str, Any]) -> Group:
    """A QueryReceiverByParam ``data.receiver`` record."""
    count = _int(r.get("Count"))
    raw_status = str(r.get("ReceiversStatus", ""))
    if raw_status == "0":
        status = GroupStatus.PROCESSING  # "0: uploading"
    elif raw_status == "1":
        status = GroupStatus.READY if count else GroupStatus.EMPTY
    else:
        status = GroupStatus.UNKNOWN
    return Group(
        id=str(r.get("ReceiverId", "")),
        name=str(r.get("ReceiversName", "")),
        provider=PROVIDER,
        description=r.get("Desc") or None,
        recipient_count=count,
        status=status,
        created_at=_epoch(r.get("UtcCreateTime")) or _cst_time(r.get("CreateTime")),
        extra={"alias": r.get("ReceiversAlias"), "status": raw_status},
    )


def profile_detail(recipient: Recipient) -> dict[str, str]:
    """One ``Detail`` object: ``{"b","e","g","m","n","u"}`` with only the fields that are set."""
    return {key: value for key, attr in PROFILE_KEYS if (value := getattr(recipient, attr))}


def is_duplicate_message(message: str) -> bool:
    """Whether a SaveReceiverDetail per-address ErrMessage says the address is already there.

    Seed 000 says a duplicate "returns ErrorCount: 1" without quoting the message, so the
    message is matched loosely (English and Chinese wording).
    """
    return bool(_DUPLICATE.search(message or ""))


def _member_data(raw: Any, schema: str) -> dict[str, str]:
    if not raw:
        return {}
    text = str(raw)
    decoded: Any = None
    if text.lstrip().startswith("{"):
        # JSON, or the Python-literal dict the QueryReceiverDetail doc example shows.
        try:
            decoded = json.loads(text)
        except ValueError:
            with contextlib.suppress(ValueError, SyntaxError, MemoryError, RecursionError):
                decoded = ast.literal_eval(text)
    if isinstance(decoded, Mapping):
        return {SCHEMA_FIELDS.get(str(k), str(k)): str(v) for k, v in decoded.items() if v not in (None, "")}
    values = next(csv.reader(io.StringIO(text)), [])
    names = [n.strip() for n in (schema or DEFAULT_SCHEMA).split(",")]
    return {SCHEMA_FIELDS.get(n, n): v for n, v in zip(names, values, strict=False) if v}


def member(r: Mapping[str, Any], schema: str) -> Member:
    """A QueryReceiverDetail ``data.detail`` record; ``Data`` is read with ``DataSchema``."""
    fields = _member_data(r.get("Data"), schema)
    profile = {k: fields.pop(k) for k in list(fields) if k in Recipient.PROFILE_FIELDS}
    return Member(
        recipient=Recipient(email=str(r.get("Email", "")), data=fields, **profile),
        valid=True,
        added_at=_epoch(r.get("UtcCreateTime")) or _cst_time(r.get("CreateTime")),
    )


# --------------------------------------------------------------------------- delivery


def delivery_event(r: Mapping[str, Any]) -> DeliveryEvent:
    """A SenderStatisticsDetailByParam ``data.mailDetail`` record (seed 004)."""
    code = _int(r.get("Status"))
    classification = str(r.get("ErrorClassification") or "")
    message = str(r.get("Message") or "")
    detail = ": ".join(p for p in (classification, message) if p) or None
    status, bounce_type, reason = delivery_status(code, classification, message)
    return DeliveryEvent(
        provider=PROVIDER,
        recipient=str(r.get("ToAddress", "")),
        status=status,
        bounce_type=bounce_type,
        reason=reason,
        time=_epoch(r.get("UtcLastUpdateTime")) or _cst_time(r.get("LastUpdateTime")),
        sender=r.get("AccountName") or None,
        subject=r.get("Subject") or None,
        message_id=None,  # DM's delivery details carry no EnvId
        raw_status=None if r.get("Status") is None else str(r.get("Status")),
        raw_detail=detail,
    )


# --------------------------------------------------------------------------- account & setup


def account(body: Mapping[str, Any]) -> AccountSummary:
    """DescAccountSummary. ``daily_remaining`` is DM's DailyRemainFreeQuota (the only remainder it reports)."""
    status_code = _int(body.get("UserStatus"))
    keep = {k: v for k, v in body.items() if k != "RequestId"}
    return AccountSummary(
        provider=PROVIDER,
        daily_quota=_int(body.get("DailyQuota")),
        daily_remaining=_int(body.get("DailyRemainFreeQuota")),
        monthly_quota=_int(body.get("MonthQuota")),
        monthly_remaining=None,
        status=USER_STATUS.get(status_code, str(status_code)) if status_code is not None else None,
        extra=keep,
    )


def _ok(value: Any) -> bool | None:
    """DM's auth-status flags: "0" verified, "1" not."""
    text = "" if value is None else str(value)
    return {"0": True, "1": False}.get(text)


def _qualify(host: str, name: str, top: str | None) -> str:
    """A DescDomain host record as a full DNS name.

    The console shows host records relative to the primary domain (``TlDomainName``):
    for ``mail.example.com`` the DKIM host is ``<selector>._domainkey.mail``. A host that
    already ends with the domain is kept; one that ends with the sub-domain part is
    qualified with the primary domain; anything else is taken relative to the domain.
    """
    host = host.strip().rstrip(".")
    if not host or host == "@":
        return name
    if host == name or host.endswith("." + name):
        return host
    sub = name[: -len(top) - 1] if top and name.endswith("." + top) else ""
    if sub and (host == sub or host.endswith("." + sub)):
        return f"{host}.{top}"
    return f"{host}.{name}"


def domain(r: Mapping[str, Any], *, with_records: bool) -> SenderDomain:
    """A QueryDomainByParam record, or a DescDomain body with the DNS records it asks for.

    Records (seed 003 DescDomain, and the current DescDomain fields of the 2015-11-23 SDK
    models): ownership TXT ``aliyundm.<domain>`` (``HostRecord`` when given) =
    ``DomainType`` (the token QueryDomainByParam calls DomainRecord); SPF TXT on the domain
    = ``SpfRecordV2``, else ``v=spf1 <SpfRecord> -all``; DKIM TXT ``DkimRR`` =
    ``DkimPublicKey``; MX = ``MxRecord``; tracking CNAME ``<CnameRecord>.<domain>`` ->
    ``TracefRecord`` (the seed's table spells it ``TraceRecord``; both are read); DMARC TXT
    ``DmarcHostRecord`` = ``DmarcRecord``. Each record's ``verified`` comes from its auth
    flag ("0" passed, "1" not). ``verified`` is true for DomainStatus 0, 2, 3 and 4, the
    states seed 003 calls "available"; ``status`` keeps the detail.
    """
    name = str(r.get("DomainName", ""))
    top = str(r.get("TldomainName") or r.get("TlDomainName") or "") or None
    raw_status = "" if r.get("DomainStatus") is None else str(r.get("DomainStatus"))
    recs: list[DnsRecord] = []
    if with_records:
        token = r.get("DomainType") or r.get("DomainRecord")
        if token:
            host = _qualify(str(r["HostRecord"]), name, top) if r.get("HostRecord") else f"aliyundm.{name}"
            recs.append(DnsRecord("TXT", host, str(token), "ownership", _ok(r.get("CnameAuthStatus"))))
        spf = r.get("SpfRecordV2") or (f"v=spf1 {r['SpfRecord']} -all" if r.get("SpfRecord") else None)
        if spf:
            recs.append(DnsRecord("TXT", name, str(spf), "spf", _ok(r.get("SpfAuthStatus"))))
        if r.get("DkimRR") and r.get("DkimPublicKey"):
            host = _qualify(str(r["DkimRR"]), name, top)
            recs.append(DnsRecord("TXT", host, str(r["DkimPublicKey"]), "dkim", _ok(r.get("DkimAuthStatus"))))
        if r.get("MxRecord"):
            recs.append(DnsRecord("MX", name, str(r["MxRecord"]), "mx", _ok(r.get("MxAuthStatus"))))
        trace = r.get("TracefRecord") or r.get("TraceRecord")
        if r.get("CnameRecord") and trace:
            host = _qualify(str(r["CnameRecord"]), name, top)
            recs.append(DnsRecord("CNAME", host, str(trace), "tracking", _ok(r.get("CnameConfirmStatus"))))
        if r.get("DmarcHostRecord") and r.get("DmarcRecord"):
            host = _qualify(str(r["DmarcHostRecord"]), name, top)
            recs.append(DnsRecord("TXT", host, str(r["DmarcRecord"]), "dmarc", _ok(r.get("DmarcAuthStatus"))))
    return SenderDomain(
        name=name,
        provider=PROVIDER,
        id=None if r.get("DomainId") is None else str(r.get("DomainId")),
        verified=raw_status in AVAILABLE if raw_status else None,
        status=DOMAIN_STATUS.get(raw_status, raw_status or None),
        records=recs,
    )


def sender(r: Mapping[str, Any]) -> SenderAddress:
    """A QueryMailAddressByParam ``data.mailAddress`` record.

    ``kind``: DM's Sendtype ``trigger`` is the neutral ``transactional``, ``batch`` stays.
    ``status``: ``frozen`` (AccountStatus 1); else, with a reply-to address whose
    ReplyStatus is known, ``reply-to verified`` (0) or ``reply-to pending``; else ``normal``.
    """
    status = _int(r.get("AccountStatus"))
    raw_kind = str(r.get("Sendtype") or "")
    reply_to = r.get("ReplyAddress") or None
    reply_status = _int(r.get("ReplyStatus"))
    if status == 1:
        text: str | None = "frozen"
    elif status is None:
        text = None
    elif status != 0:
        text = str(status)
    elif reply_to and reply_status is not None:
        text = "reply-to verified" if reply_status == 0 else "reply-to pending"
    else:
        text = "normal"
    return SenderAddress(
        address=str(r.get("AccountName", "")),
        provider=PROVIDER,
        id=None if r.get("MailAddressId") is None else str(r.get("MailAddressId")),
        kind=SENDTYPE_TO_KIND.get(raw_kind, raw_kind or None),
        reply_to=reply_to,
        status=text,
    )


def tag(r: Mapping[str, Any]) -> Tag:
    """A QueryTagByParam ``data.tag`` record."""
    return Tag(id=str(r.get("TagId", "")), name=str(r.get("TagName", "")), description=r.get("TagDescription") or None)


# --------------------------------------------------------------------------- templates

# DescTemplate TemplateStatus: 0 draft, 1 pending review, 2 approved, 3 rejected.
TEMPLATE_STATUS = {"0": "draft", "1": "pending", "2": "approved", "3": "rejected"}


def template(r: Mapping[str, Any], template_id: str | None = None) -> Template:
    """A QueryTemplateByParam ``data.template`` record or a DescTemplate body, in the neutral syntax.

    DM's ``{name}`` becomes ``{{name}}``; DM text holding a literal ``{{...}}`` raises
    :class:`InvalidRequest` naming it (see :data:`DM_SYNTAX`). A DM template has one
    HTML body (``TemplateText``), so ``text`` is always ``None``.
    """
    raw_status = "" if r.get("TemplateStatus") is None else str(r.get("TemplateStatus"))
    name = str(r.get("TemplateName", ""))
    try:
        subject = DM_SYNTAX.from_provider(r.get("TemplateSubject"))
        html = DM_SYNTAX.from_provider(r.get("TemplateText"))
    except InvalidRequest as exc:
        raise InvalidRequest(f"Direct Mail template {name!r}: {exc}", provider=PROVIDER) from None
    return Template(
        id=str(template_id or r.get("TemplateId", "")),
        name=name,
        provider=PROVIDER,
        subject=subject,
        html=html,
        status=TEMPLATE_STATUS.get(raw_status, raw_status or None),
    )


def statistics_row(r: Mapping[str, Any]) -> StatisticsRow | None:
    """A SenderStatisticsByTagNameAndBatchID ``data.stat`` record (lower-camel counts, ``faildCount`` sic)."""
    try:
        day = dt.date.fromisoformat(str(r.get("CreateTime", ""))[:10])
    except ValueError:
        return None
    return StatisticsRow(
        date=day,
        requested=_int(r.get("requestCount")) or 0,
        delivered=_int(r.get("successCount")) or 0,
        bounced=(_int(r.get("faildCount")) or 0) + (_int(r.get("unavailableCount")) or 0),
    )
