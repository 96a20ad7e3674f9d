"""Direct Mail response records -> neutral models (pure functions, no I/O).

Every field is read through :class:`mailbridge.ResponseReader` with the type it must have, so
an answer of the wrong shape (a list where a count belongs, a time of ``1e30``, ``data`` that
is a string) raises :class:`ProviderUnavailable` naming the field and carrying the scrubbed
body, never a ``TypeError``/``ValueError``/``OverflowError``. Direct Mail's own looseness is
accepted: numbers as digit strings, a one-record list as a bare object, three time formats.
"""

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
    CHINA_TIME,
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
    ResponseReader,
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
    "reader",
    "records",
    "sender",
    "statistics_row",
    "tag",
    "template",
]

PROVIDER = "aliyun"
# China Standard Time: DM's "yyyy-MM-dd HH:mm" times are Beijing local time (seed 004's sample
# has LastUpdateTime "2021-04-28T17:11Z" for UtcLastUpdateTime 1619601108 = 09:11:48 UTC).
CST = CHINA_TIME

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


def reader(body: Mapping[str, Any], action: str) -> ResponseReader:
    """A decoded Direct Mail answer, ready for typed reads."""
    return ResponseReader(body, provider=PROVIDER, action=action)


def records(body: ResponseReader, *path: str) -> list[ResponseReader]:
    """``body[path0][path1]`` as a list of records (DM nests lists under lower-case ``data``).

    An absent level is an empty list; a level of the wrong type is a wrong shape. A single
    record is sometimes not wrapped in a list, so a bare object counts as a list of one.
    """
    node: ResponseReader | None = body
    for key in path[:-1]:
        node = node.object(key) if node is not None else None
    return node.records(path[-1], single=True) if node is not None else []


Record = ResponseReader | Mapping[str, Any]


def _as_reader(r: Record, action: str) -> ResponseReader:
    return r if isinstance(r, ResponseReader) else reader(r, action)


_CST_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")


def _time(r: ResponseReader, utc_key: str, cst_key: str) -> dt.datetime | None:
    """The UTC epoch field, else the ``2021-04-28T17:11Z`` one (Beijing time despite the Z, see :data:`CST`)."""
    return r.epoch(utc_key) or r.local_time(cst_key, _CST_FORMATS, CST)


# --------------------------------------------------------------------------- groups & members


def group(r: Record) -> Group:
    """A QueryReceiverByParam ``data.receiver`` record."""
    r = _as_reader(r, "QueryReceiverByParam")
    count = r.count("Count")
    raw_status = r.text("ReceiversStatus")
    if raw_status == "0":
        status = GroupStatus.PROCESSING  # "0: uploading"
    elif raw_status == "1":
        status = GroupStatus.READY if count else GroupStatus.EMPTY
    else:
        status = GroupStatus.UNKNOWN
    return Group(
        id=r.text("ReceiverId"),
        name=r.text("ReceiversName"),
        provider=PROVIDER,
        description=r.string("Desc") or None,
        recipient_count=count,
        status=status,
        created_at=_time(r, "UtcCreateTime", "CreateTime"),
        extra={"alias": r.string("ReceiversAlias"), "status": raw_status},
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


def _scalar(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _member_data(r: ResponseReader, schema: str) -> dict[str, str]:
    raw = r.raw("Data")
    if isinstance(raw, Mapping):  # already an object (not the documented string)
        return {SCHEMA_FIELDS.get(str(k), str(k)): _scalar(v) for k, v in raw.items() if v not in (None, "")}
    text = r.string("Data")
    if not text:
        return {}
    decoded: Any = None
    if text.lstrip().startswith("{"):
        # JSON, or the Python-literal dict the QueryReceiverDetail doc example shows.
        try:
            decoded = json.loads(text)
        except ValueError:
            with contextlib.suppress(ValueError, SyntaxError, MemoryError, RecursionError):
                decoded = ast.literal_eval(text)
    if isinstance(decoded, Mapping):
        return {SCHEMA_FIELDS.get(str(k), str(k)): _scalar(v) for k, v in decoded.items() if v not in (None, "")}
    try:
        values = next(csv.reader(io.StringIO(text)), [])
    except csv.Error:  # e.g. a stray quote or NUL: keep the value whole rather than guess
        values = [text]
    names = [n.strip() for n in (schema or DEFAULT_SCHEMA).split(",")]
    return {SCHEMA_FIELDS.get(n, n): v for n, v in zip(names, values, strict=False) if v}


def member(r: Record, schema: str) -> Member:
    """A QueryReceiverDetail ``data.detail`` record; ``Data`` is read with ``DataSchema``."""
    r = _as_reader(r, "QueryReceiverDetail")
    fields = _member_data(r, schema)
    profile = {k: fields.pop(k) for k in list(fields) if k in Recipient.PROFILE_FIELDS}
    return Member(
        recipient=Recipient(email=r.text("Email"), data=fields, **profile),
        valid=True,
        added_at=_time(r, "UtcCreateTime", "CreateTime"),
    )


# --------------------------------------------------------------------------- delivery


def delivery_event(r: Record) -> DeliveryEvent:
    """A SenderStatisticsDetailByParam ``data.mailDetail`` record (seed 004)."""
    r = _as_reader(r, "SenderStatisticsDetailByParam")
    code = r.integer("Status")
    classification = r.text("ErrorClassification")
    message = r.text("Message")
    detail = ": ".join(p for p in (classification, message) if p) or None
    status, bounce_type, reason = delivery_status(code, classification, message)
    return DeliveryEvent(
        provider=PROVIDER,
        recipient=r.text("ToAddress"),
        status=status,
        bounce_type=bounce_type,
        reason=reason,
        time=_time(r, "UtcLastUpdateTime", "LastUpdateTime"),
        sender=r.string("AccountName") or None,
        subject=r.string("Subject") or None,
        message_id=None,  # DM's delivery details carry no EnvId
        raw_status=None if code is None else str(code),
        raw_detail=detail,
    )


# --------------------------------------------------------------------------- account & setup


def account(body: Record) -> AccountSummary:
    """DescAccountSummary. ``daily_remaining`` is DM's DailyRemainFreeQuota (the only remainder it reports)."""
    body = _as_reader(body, "DescAccountSummary")
    status_code = body.integer("UserStatus")
    keep = {k: v for k, v in body.as_dict().items() if k != "RequestId"}
    return AccountSummary(
        provider=PROVIDER,
        daily_quota=body.integer("DailyQuota"),
        daily_remaining=body.integer("DailyRemainFreeQuota"),
        monthly_quota=body.integer("MonthQuota"),
        monthly_remaining=None,
        status=USER_STATUS.get(status_code, str(status_code)) if status_code is not None else None,
        extra=keep,
    )


def _ok(r: ResponseReader, key: str) -> bool | None:
    """DM's auth-status flags: "0" verified, "1" not."""
    return {"0": True, "1": False}.get(r.text(key))


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


def domain(r: Record, *, with_records: bool) -> SenderDomain:
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
    r = _as_reader(r, "DescDomain")
    name = r.text("DomainName")
    top = r.string("TldomainName") or r.string("TlDomainName") or None
    raw_status = r.text("DomainStatus")
    recs: list[DnsRecord] = []
    if with_records:
        token = r.string("DomainType") or r.string("DomainRecord")
        if token:
            host_record = r.string("HostRecord")
            host = _qualify(host_record, name, top) if host_record else f"aliyundm.{name}"
            recs.append(DnsRecord("TXT", host, token, "ownership", _ok(r, "CnameAuthStatus")))
        spf_include = r.string("SpfRecord")
        spf = r.string("SpfRecordV2") or (f"v=spf1 {spf_include} -all" if spf_include else None)
        if spf:
            recs.append(DnsRecord("TXT", name, spf, "spf", _ok(r, "SpfAuthStatus")))
        dkim_host, dkim_key = r.string("DkimRR"), r.string("DkimPublicKey")
        if dkim_host and dkim_key:
            recs.append(DnsRecord("TXT", _qualify(dkim_host, name, top), dkim_key, "dkim", _ok(r, "DkimAuthStatus")))
        if mx := r.string("MxRecord"):
            recs.append(DnsRecord("MX", name, mx, "mx", _ok(r, "MxAuthStatus")))
        trace = r.string("TracefRecord") or r.string("TraceRecord")
        cname = r.string("CnameRecord")
        if cname and trace:
            recs.append(DnsRecord("CNAME", _qualify(cname, name, top), trace, "tracking", _ok(r, "CnameConfirmStatus")))
        dmarc_host, dmarc = r.string("DmarcHostRecord"), r.string("DmarcRecord")
        if dmarc_host and dmarc:
            recs.append(DnsRecord("TXT", _qualify(dmarc_host, name, top), dmarc, "dmarc", _ok(r, "DmarcAuthStatus")))
    return SenderDomain(
        name=name,
        provider=PROVIDER,
        id=r.string("DomainId"),
        verified=raw_status in AVAILABLE if raw_status else None,
        status=DOMAIN_STATUS.get(raw_status, raw_status or None),
        records=recs,
    )


def sender(r: Record) -> SenderAddress:
    """A QueryMailAddressByParam ``data.mailAddress`` record.

    ``kind``: DM's Sendtype ``trigger`` is the neutral ``transactional``, ``batch`` stays.
    ``status``: ``frozen`` (AccountStatus 1); else, with a reply-to address whose
    ReplyStatus is known, ``reply-to verified`` (0) or ``reply-to pending``; else ``normal``.
    """
    r = _as_reader(r, "QueryMailAddressByParam")
    status = r.integer("AccountStatus")
    raw_kind = r.text("Sendtype")
    reply_to = r.string("ReplyAddress") or None
    reply_status = r.integer("ReplyStatus")
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
        address=r.text("AccountName"),
        provider=PROVIDER,
        id=r.string("MailAddressId"),
        kind=SENDTYPE_TO_KIND.get(raw_kind, raw_kind or None),
        reply_to=reply_to,
        status=text,
    )


def tag(r: Record) -> Tag:
    """A QueryTagByParam ``data.tag`` record."""
    r = _as_reader(r, "QueryTagByParam")
    return Tag(id=r.text("TagId"), name=r.text("TagName"), description=r.string("TagDescription") or None)


# --------------------------------------------------------------------------- templates

# DescTemplate TemplateStatus: 0 draft, 1 pending review, 2 approved, 3 rejected.
TEMPLATE_STATUS = {"0": "draft", "1": "pending", "2": "approved", "3": "rejected"}


def template(r: Record, template_id: str | None = None) -> Template:
    """A QueryTemplateByParam ``data.template`` record or a DescTemplate body, in the neutral syntax.

    DM's ``{name}`` becomes ``{{name}}``; DM text holding a literal ``{{...}}`` raises
    :class:`InvalidRequest` naming it (see :data:`DM_SYNTAX`). A DM template has one
    HTML body (``TemplateText``), so ``text`` is always ``None``.
    """
    r = _as_reader(r, "DescTemplate")
    raw_status = r.text("TemplateStatus")
    name = r.text("TemplateName")
    try:
        subject = DM_SYNTAX.from_provider(r.string("TemplateSubject"))
        html = DM_SYNTAX.from_provider(r.string("TemplateText"))
    except InvalidRequest as exc:
        raise InvalidRequest(f"Direct Mail template {name!r}: {exc}", provider=PROVIDER) from None
    return Template(
        id=str(template_id or r.text("TemplateId")),
        name=name,
        provider=PROVIDER,
        subject=subject,
        html=html,
        status=TEMPLATE_STATUS.get(raw_status, raw_status or None),
    )


def statistics_row(r: Record) -> StatisticsRow | None:
    """A SenderStatisticsByTagNameAndBatchID ``data.stat`` record (lower-camel counts, ``faildCount`` sic)."""
    r = _as_reader(r, "SenderStatisticsByTagNameAndBatchID")
    try:
        day = dt.date.fromisoformat(r.text("CreateTime")[:10])
    except ValueError:
        return None
    return StatisticsRow(
        date=day,
        requested=r.count("requestCount") or 0,
        delivered=r.count("successCount") or 0,
        bounced=(r.count("faildCount") or 0) + (r.count("unavailableCount") or 0),
    )
