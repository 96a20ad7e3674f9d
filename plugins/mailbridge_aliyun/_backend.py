"""Alibaba Cloud Direct Mail (API 2015-11-23) as a mailbridge backend.

One method, one Direct Mail action, except ``create_group``, ``create_sender`` and
``create_template`` (an exact-name look-up first: DM documents no "already exists" code for
them), the domain methods (name -> DomainId first; ``create_domain`` and ``verify_domain``
end with DescDomain so the result carries the DNS records), ``delete_sender`` /
``set_sender_password`` / ``verify_reply_to`` given an address without its MailAddressId,
and ``send_to_group`` with a stored template (DescTemplate resolves the id to the
TemplateName BatchSendMail wants). Wire
format and signing: :mod:`._transport`; errors: :mod:`._errors`; parsing: :mod:`._parse`. The reads
and BatchSendMail are written once, as request plans (``plan_*``, :mod:`._calls`) that this backend
runs over the blocking transport and :mod:`._async_backend` over the async one.

Where the seeds and the reference disagree, this backend follows:

* Subject length: seed 002 (current SingleSendMail doc) says 256 characters; the
  reference quotes an older error table saying 100. **256** is declared: it is the
  current official limit and the older table predates it.
* SenderStatisticsDetailByParam times: seed 004's sample pairs ``LastUpdateTime``
  "2021-04-28T17:11Z" with ``UtcLastUpdateTime`` 1619601108 (09:11:48 UTC), so the
  "yyyy-MM-dd HH:mm" times are Beijing time despite the "Z": StartTime/EndTime are sent in
  UTC+8 and event times are read from ``UtcLastUpdateTime``.
* Paging of QueryReceiverByParam: the docs (and issue 3) page with ``NextStart``; the
  SDK's request model (reference A.1.1) only has the deprecated ``PageNo``. ``NextStart``
  is sent, as the response documentation says to.
* UserStatus: seed 003 lists 0-3 (3: cannot send), the 1.11.1 SDK 0/1/2/4/8; both are mapped.
* ``ReplyToAddress`` is sent as ``true``/``false`` as the docs say, not the SDK's ``True``.
* DescDomain's sample JSON spells ``TracefRecord``/``TlDomainName``, its table
  ``TraceRecord``/``TldomainName``; both spellings are read.
* Responses the seeds do not show (QueryMailAddressByParam, QueryTagByParam, the template
  actions) follow the public API pages (``data.mailAddress``, ``data.tag``, ``data.template``).

Things Direct Mail cannot do, declared in :attr:`AliyunBackend.limits` so the core refuses
them: cc, engagement flags in delivery records, and filtering delivery records by message
(records carry no EnvId, so ``message_id`` is not a server-side filter).

Attachments go the way of the official SDK's ``single_send_mail_advance`` (seed 002: "only in the
latest SDK"): each file is uploaded to Direct Mail's OSS bucket first (OpenPlatform
AuthorizeFileUpload, then an OSS form upload, :mod:`._attachments`) and SingleSendMail names
it by URL. Limits (alibabacloud.com/help/en/direct-mail/sdk-attachment, reference part 2
section 2): at most 100 attachments, a whole message of at most 15 MB with raw attachments
advised at most 8 MB (Base64 adds about a third): **8 MiB** in total is declared, so that a
message the core lets through fits. No file-type rule is documented; none is enforced.
BatchSendMail has no attachment field: group sends with attachments are refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html as html_lib
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from mailbridge import (
    AccountSummary,
    AlreadyExists,
    Backend,
    BatchResult,
    ContentRejected,
    DeliveryEvent,
    DeliveryQuery,
    DeliveryStatus,
    Feature,
    Group,
    GroupNotFound,
    GroupStatus,
    InvalidRequest,
    Limits,
    Member,
    Message,
    NotFound,
    Operation,
    Page,
    ProviderURL,
    QuotaExceeded,
    Rate,
    Recipient,
    RejectedAddress,
    ResponseReader,
    Secret,
    SenderAddress,
    SenderDomain,
    SenderNotFound,
    SendReceipt,
    StatisticsRow,
    Suppression,
    SuppressionReason,
    Tag,
    Template,
    TemplateNotFound,
)
from mailbridge._flow import drive

from . import _parse as parse
from ._calls import Call, Plan, ask, every_page
from ._config import ENV_KEY_ID, ENV_SECRET, AliyunConfig
from ._transport import DirectMailTransport

if TYPE_CHECKING:
    import httpx

    from mailbridge._events import EventAuth, EventRequest

    from ._async_backend import AsyncAliyunBackend
    from ._attachments import AttachmentUploader

__all__ = ["AliyunBackend", "check_list_alias", "check_smtp_password", "list_alias", "quota_translated"]

log = logging.getLogger("mailbridge.aliyun")
T = TypeVar("T")

# Every SingleSendMail parameter of seed 002 (Attachments: set from Message.attachments only).
SINGLE_SEND_PARAMS = frozenset(
    {
        "AccountName", "AddressType", "TagName", "ReplyToAddress", "ToAddress", "Subject", "HtmlBody", "TextBody",
        "FromAlias", "ReplyAddress", "ReplyAddressAlias", "ClickTrace", "UnSubscribeLinkType",
        "UnSubscribeFilterLevel", "Headers", "IpPoolId", "Template", "BccAddress", "DomainAuth",
    }
)  # fmt: skip
# BatchSendMail (reference A.1.2).
BATCH_SEND_PARAMS = frozenset(
    {
        "AccountName", "AddressType", "ClickTrace", "DomainAuth", "Headers", "IpPoolId", "ReceiversName",
        "ReplyAddress", "ReplyAddressAlias", "TagName", "TemplateName", "UnSubscribeFilterLevel",
        "UnSubscribeLinkType", "Receivers", "TemplateContent",
    }
)  # fmt: skip
_TAG_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # seed 002 TagName
_DOMAIN_NAME = re.compile(r"[A-Za-z0-9.-]{1,50}")  # seed 003 CreateDomain DomainName
_ALIAS_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_QUOTA_TEXT = re.compile(r"quota|额度|配额", re.I)  # InvalidSendMail.Spam for a used-up daily/monthly quota
# CreateReceiver ReceiversAlias: "an email address less than 30 characters long"; the documented
# InvalidReceiverName.Malformed allows letters, digits, "_", "-" and "." around one "@".
_LIST_ALIAS = re.compile(r"[A-Za-z0-9_.-]+@[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+")
LIST_ALIAS_LENGTH = 29
LIST_ALIAS_DOMAIN = "list.invalid"  # RFC 2606: a name that never resolves, for an address never mailed


def check_list_alias(alias: str) -> str:
    """``alias`` if Direct Mail would take it as a ReceiversAlias, else :class:`InvalidRequest`."""
    if len(alias) > LIST_ALIAS_LENGTH or not _LIST_ALIAS.fullmatch(alias):
        raise InvalidRequest(
            f"a Direct Mail list alias must be an email address of at most {LIST_ALIAS_LENGTH} characters "
            f"(letters, digits, '_', '-', '.'), not {alias!r}",
            provider="aliyun",
        )
    return alias


def list_alias(name: str) -> str:
    """The default ReceiversAlias: the list name made address-safe, ``@list.invalid``, under 30 characters."""
    room = LIST_ALIAS_LENGTH - len(LIST_ALIAS_DOMAIN) - 1
    local = _ALIAS_CHARS.sub("-", name).strip("-.")[:room].strip("-.") or "list"
    return f"{local}@{LIST_ALIAS_DOMAIN}"


_FEATURES = set(Feature) - {
    Feature.CC,
    Feature.INLINE_IMAGES,  # Attachments.N carry a name and a URL only, no Content-ID: no inline parts
    Feature.DELIVERY_ENGAGEMENT,
    Feature.TEMPLATE_DATA_READ,  # QueryReceiverDetail returns only the DataSchema profile fields, never CustomDetail
    Feature.SCHEDULED_SEND,  # no 2015-11-23 action takes a send time: BatchSendMail starts at once (reference 2, 9)
    Feature.SMTPUTF8,  # Direct Mail refuses non-ASCII (SMTPUTF8/IDN) addresses (issue 10)
}


def quota_refusal(exc: ContentRejected, operation: Operation) -> QuotaExceeded | None:
    """DM's daily-quota refusal (``InvalidSendMail.Spam`` with quota text) as QuotaExceeded, else None."""
    if exc.provider_code != "InvalidSendMail.Spam" or not _QUOTA_TEXT.search(str(exc.provider_message or exc)):
        return None
    return QuotaExceeded(
        f"Direct Mail refused the send: the account's sending quota is used up ({exc.provider_message})",
        provider="aliyun",
        operation=str(operation),
        provider_code=exc.provider_code,
        provider_message=exc.provider_message,
        request_id=exc.request_id,
        http_status=exc.http_status,
        raw=exc.raw,
    )


@contextlib.contextmanager
def quota_translated(operation: Operation) -> Iterator[None]:
    """Around a send action (blocking or awaited): DM's daily-quota refusal, ``InvalidSendMail.Spam`` with
    quota text (reference A.5, A.6), becomes :class:`QuotaExceeded`, not a content rejection."""
    try:
        yield
    except ContentRejected as exc:
        if (quota := quota_refusal(exc, operation)) is not None:
            raise quota from exc
        raise


def _suppression_reason(kind: Any) -> SuppressionReason:
    """ListUserSuppression ``Type`` (values undocumented): a bounce if it says so, else manual."""
    return SuppressionReason.BOUNCE if "bounce" in str(kind or "").lower() else SuppressionReason.MANUAL


def _minute_floor(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


def _minute_ceil(value: dt.datetime) -> dt.datetime:
    floor = _minute_floor(value)
    return floor if floor == value else floor + dt.timedelta(minutes=1)


class AliyunBackend(Backend):
    """Alibaba Cloud Direct Mail over its RPC API, signed V3 (default) or V2.

    Build it from a URL (``mailbridge.connect("aliyun://KEY:SECRET@cn-hangzhou")``) or
    directly with an :class:`AliyunConfig` and, for unit tests, an ``httpx`` transport.
    """

    name = "aliyun"
    display_name = "Alibaba Cloud Direct Mail"
    template_syntax = parse.DM_SYNTAX
    template_parts = frozenset({"subject", "html"})  # one HTML body (TemplateText), no text part
    install_hint = "pip install mailbridge"
    # V2 query parameters, the STS token (parameter and V3 header), the SMTP Password of ModifyMailAddress, and an
    # attachment upload's grant (AuthorizeFileUpload's EncodedPolicy, the OSS form's OSSAccessKeyId and policy).
    secret_fields = Backend.secret_fields | {
        "AccessKeyId", "AccessKeySecret", "Signature", "SignatureNonce", "SecurityToken", "x-acs-security-token",
        "EncodedPolicy", "OSSAccessKeyId", "policy", "x-oss-security-token",
    }  # fmt: skip
    environment = frozenset({ENV_KEY_ID, ENV_SECRET})
    delivery_codes = MappingProxyType(
        {
            **{f"Status={k}": v for k, v in parse.DELIVERY_STATUS.items()},
            **{f"ErrorClassification={k}": v for k, v in parse.CLASSIFICATION_STATUS.items()},
            "Status missing or unlisted": DeliveryStatus.PENDING,
        }
    )
    limits = Limits(
        upload_batch_size=500,  # seed 000: SaveReceiverDetail "up to 500 recipients at a time"
        recipients_per_send=100,  # seed 002: ToAddress "a maximum of 100 addresses"
        remove_batch_size=1,  # seed 003: DeleteReceiverDetail takes one Email
        suppression_batch_size=1,  # CreateUserSuppression / DeleteInvalidAddress take one address
        max_group_size=10_000,  # A.1.3 (doc-detail/57125): "the maximum number is 10000" per list
        max_groups=10,  # A.1.3 (doc-detail/57125): "up to 10 recipient lists"
        group_name_length=30,  # A.1.1 / CreateReceiver doc: ReceiversName 1-30 characters
        bcc_per_send=2,  # seed 002: "up to two BCC recipients"
        subject_length=256,  # seed 002: "cannot exceed 256 characters" (older table: 100, see module doc)
        sender_name_length=14,  # seed 002: FromAlias "must be fewer than 15 characters"
        headers_per_send=10,  # seed 002: "a maximum of 10 headers" (extra ones silently ignored by DM)
        tag_length=128,  # seed 002: TagName 1-128 characters
        attachments_per_send=100,  # sdk-attachment page: "up to 100 attachments"
        attachments_total_bytes=8 * 1024 * 1024,  # sdk-attachment page: raw files <= 8 MB advised (15 MB message)
        list_page_size=100,  # A.1.1: QueryReceiverByParam PageSize default 100
        delivery_page_size=100,  # seed 004: Length 1-100
        delivery_query_window=dt.timedelta(days=30),  # seed 004: "cannot exceed 30 days"
        # seed 004: ToAddress, AccountName, TagName (one at a time: the backend sends one and
        # filters the others itself) and Status; records carry no EnvId, so no message_id.
        delivery_filters={"recipient", "sender", "status", "tag"},
        unsupported_delivery_filters={"message_id"},
        timezone=parse.CST,  # StartTime/EndTime are Beijing time (see _parse.CST)
        rates={
            Operation.SEND: Rate(100),  # A.6: SingleSendMail 100 calls/s per account
            Operation.SEND_TO_GROUP: Rate(10, 60),  # A.6: BatchSendMail 20/min mainland, 10/min elsewhere
            Operation.CREATE_GROUP: Rate(10, 60),  # A.6 quota table: CreateReceiver 10/60s
            Operation.REMOVE_MEMBERS: Rate(20),  # A.6 quota table: DeleteReceiverDetail 20/1s
            Operation.LIST_MEMBERS: Rate(2),  # A.6 quota table: QueryReceiverDetail 2/1s
            # Sender addresses: A.6 quota table QueryMailAddressByParam 5/1s, ApproveReplyMailAddress 5/1s,
            # DeleteMailAddress 10/1s, ModifyMailAddress 300/60s: the lowest, 5/s, for the whole operation.
            Operation.SENDERS: Rate(5),
            # Sender domains: A.6 quota table CheckDomain 10/60s (the only domain action it lists).
            Operation.DOMAINS: Rate(10, 60),
            Operation.ACCOUNT: Rate(10, 60),  # A.6 quota table: DescAccountSummary 10/60s
            Operation.DELIVERIES: Rate(500, 60),  # A.6 quota table: SenderStatisticsDetailByParam 500/60s
            Operation.STATISTICS: Rate(50, 60),  # A.6: SenderStatisticsByTagNameAndBatchID 50 calls/min
            Operation.TAGS: Rate(30, 10),  # A.6 quota table: CreateTag 30/10s
            # Templates: A.6 quota table ModifyTemplate 2/1s, DeleteTemplate 10/1s, DescTemplate 20/1s,
            # QueryTemplateByParam 20/1s: the lowest, 2/s.
            Operation.TEMPLATES: Rate(2),
        },
        features=_FEATURES,
    )

    def __init__(
        self,
        config: AliyunConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._async_transport = async_transport
        self.api = DirectMailTransport(
            config.endpoint,
            config.access_key_id,
            config.secret,
            signature=config.signature,
            timeout=config.timeout,
            transport=transport,
        )
        self._transport = transport
        self._uploader: AttachmentUploader | None = None  # built on the first attachment

    @classmethod
    def from_url(cls, url: ProviderURL, *, transport: httpx.BaseTransport | None = None) -> Self:
        return cls(AliyunConfig.from_url(url), transport=transport)

    def describe(self) -> str:
        return self.config.describe()

    def __repr__(self) -> str:
        return f"<AliyunBackend {self.describe()}>"

    @property
    def rate_limit_key(self) -> str:
        return f"aliyun:{self.config.account_key}"

    def close(self) -> None:
        self.api.close()
        if self._uploader is not None:
            self._uploader.close()

    def _attachments(self) -> AttachmentUploader:
        if self._uploader is None:
            from ._attachments import AttachmentUploader  # imported with the first attachment: it needs httpx

            config = self.config
            self._uploader = AttachmentUploader(
                config.openplatform_endpoint,
                config.access_key_id,
                config.secret,
                region=config.region,
                signature=config.signature,
                oss=config.oss_endpoint,
                timeout=config.timeout,
                transport=self._transport,
            )
        return self._uploader

    def _call(
        self, action: str, params: Mapping[str, Any], operation: Operation, *, is_send: bool = False
    ) -> dict[str, Any]:
        return self.api.call(action, params, operation=str(operation), is_send=is_send)

    def _read(self, action: str, params: Mapping[str, Any], operation: Operation) -> ResponseReader:
        """One read: the decoded answer behind typed accessors (a wrong shape is ProviderUnavailable)."""
        return parse.reader(self._call(action, params, operation), action)

    def _run(self, plan: Plan[T]) -> T:
        """Execute a request plan (:mod:`._calls`) call by call over the blocking transport."""
        return drive(plan, self._execute)

    def _execute(self, call: Call) -> dict[str, Any]:
        if call.is_send:
            return self._send_call(call.action, call.params, call.operation)
        return self._call(call.action, call.params, call.operation)

    @staticmethod
    def _next(body: ResponseReader, got: int, page_size: int, cursor: str | None) -> str | None:
        """The next page's ``NextStart``: followed until DM returns none (a short page is not the
        end: DM may return fewer rows than asked with more to come); a token repeating the
        request's own cursor, or one on an empty page, would loop, so it ends the listing too."""
        token = body.string("NextStart")
        token = None if token in (None, "", "0") else token
        if not got or token == cursor:
            return None
        return token

    # ------------------------------------------------------------------ groups

    def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        return self._run(self.plan_create_group(name, description, alias))

    def plan_create_group(self, name: str, description: str | None, alias: str | None) -> Plan[Group]:
        """CreateReceiver. Names must be unique, but DM documents no code for a taken name,
        so an exact-name look-up (QueryReceiverByParam) runs first and raises AlreadyExists.

        ``alias`` is the list's ``ReceiversAlias``, which DM requires: "an email address less than
        30 characters long", for your own identification only (nothing is sent to it). Without
        one, :func:`list_alias` derives it from the name."""
        alias = check_list_alias(alias) if alias is not None else list_alias(name)
        existing = yield from self.plan_list_groups(name, None, self.limits.list_page_size)
        if any(g.name == name for g in existing.items):
            raise AlreadyExists(f"a recipient list named {name!r} already exists", provider=self.name)
        body = yield Call(
            "CreateReceiver",
            {"ReceiversName": name, "ReceiversAlias": alias, "Desc": description},
            Operation.CREATE_GROUP,
        )
        return Group(
            id=str(body.get("ReceiverId", "")),
            name=name,
            provider=self.name,
            description=description,
            recipient_count=0,
            status=GroupStatus.EMPTY,
            extra={"alias": alias, "request_id": body.get("RequestId")},
        )

    def list_groups(self, *, keyword: str | None, cursor: str | None, page_size: int) -> Page[Group]:
        return self._run(self.plan_list_groups(keyword, cursor, page_size))

    def plan_list_groups(self, keyword: str | None, cursor: str | None, page_size: int) -> Plan[Page[Group]]:
        """QueryReceiverByParam, one page."""
        body = yield from ask(
            "QueryReceiverByParam",
            {"KeyWord": keyword, "PageSize": page_size, "NextStart": cursor},
            Operation.LIST_GROUPS,
        )
        items = [parse.group(r) for r in parse.records(body, "data", "receiver")]
        return Page(items, self._next(body, len(items), page_size, cursor))

    def get_group(self, group_id: str) -> Group:
        return self._run(self.plan_get_group(group_id))

    def plan_get_group(self, group_id: str) -> Plan[Group]:
        """The list with this ReceiverId, from QueryReceiverByParam (DM has no get-by-id for lists)."""
        size = self.limits.list_page_size
        groups = yield from every_page(
            lambda cursor: self.plan_list_groups(None, cursor, size), provider=self.name, operation=Operation.GET_GROUP
        )
        for group in groups:
            if group.id == group_id:
                return group
        raise GroupNotFound(f"no group with id {group_id!r}", provider=self.name)

    def delete_group(self, group: Group) -> None:
        self._run(self.plan_delete_group(group))

    def plan_delete_group(self, group: Group) -> Plan[None]:
        """DeleteReceiver."""
        yield Call("DeleteReceiver", {"ReceiverId": group.id}, Operation.DELETE_GROUP)

    # ------------------------------------------------------------------ members

    def upload_batch(self, group: Group, recipients: Sequence[Recipient]) -> BatchResult:
        """SaveReceiverDetail: each address once, in ``Detail`` (profile fields) *or*, when it has
        template data, in ``CustomDetail`` (its profile fields then go in CustomData too): seed 000
        counts an address given twice in one call as an error.

        Per-address failures (``Data.Detail``): a message saying the address is there already,
        or no message at all (seed 000: a duplicate "returns ErrorCount: 1"; the core has removed
        repeats and bad syntax, so a silent failure is an address already in the list), is
        ``existing``; any other message a rejection. Failures DM counts but does not list are
        ``unattributed_rejected``.
        """
        plain = [r for r in recipients if not r.data]
        with_data = [r for r in recipients if r.data]
        detail = [parse.profile_detail(r) for r in plain]
        custom = [{"Email": r.email, "CustomData": {**r.profile(), **r.data}} for r in with_data]
        body = self._read(
            "SaveReceiverDetail",
            {
                "ReceiverId": group.id,
                "Detail": parse.compact(detail) if detail else None,
                "CustomDetail": parse.compact(custom) if custom else None,
            },
            Operation.UPLOAD,
        )
        failures = parse.records(body, "Data", "Detail")
        failed: dict[str, str] = {f.text("Email").casefold(): f.text("ErrMessage") for f in failures}
        accepted, rejected, existing = [], [], []
        for r in recipients:
            if r.key not in failed:
                accepted.append(r.email)
            elif not failed[r.key] or parse.is_duplicate_message(failed[r.key]):
                existing.append(r.email)
            else:
                rejected.append(RejectedAddress(r.email, failed[r.key], "provider"))
        error_count = body.count("ErrorCount")
        named = sum(1 for r in recipients if r.key in failed)
        if error_count is not None and error_count > named:
            unnamed = min(error_count - named, len(accepted))
            return BatchResult(
                accepted_count=len(accepted) - unnamed,
                rejected=rejected,
                existing=existing,
                unattributed_rejected=unnamed,
                note=f"Direct Mail reported {error_count} failed addresses but named {named}",
                request_id=body.string("RequestId"),
            )
        return BatchResult(accepted=accepted, rejected=rejected, existing=existing, request_id=body.string("RequestId"))

    def list_members(self, group: Group, *, cursor: str | None, page_size: int) -> Page[Member]:
        return self._run(self.plan_list_members(group, cursor, page_size))

    def plan_list_members(self, group: Group, cursor: str | None, page_size: int) -> Plan[Page[Member]]:
        """QueryReceiverDetail, one page."""
        body = yield from ask(
            "QueryReceiverDetail",
            {"ReceiverId": group.id, "PageSize": page_size, "NextStart": cursor},
            Operation.LIST_MEMBERS,
        )
        schema = body.text("DataSchema")
        items = [parse.member(r, schema) for r in parse.records(body, "data", "detail")]
        return Page(items, self._next(body, len(items), page_size, cursor))

    def find_members(self, group: Group, emails: Sequence[str]) -> Mapping[str, str] | None:
        return self._run(self.plan_find_members(group, emails))

    def plan_find_members(self, group: Group, emails: Sequence[str]) -> Plan[Mapping[str, str] | None]:
        """QueryReceiverDetail with ``KeyWord`` (a substring match, 0-50 characters) per address,
        kept when the address matches exactly; None (list the group) if an address is longer."""
        if any(len(e) > 50 for e in emails):
            return None
        found: dict[str, str] = {}
        for email in emails:
            cursor: str | None = None
            while True:
                body = yield from ask(
                    "QueryReceiverDetail",
                    {"ReceiverId": group.id, "KeyWord": email, "PageSize": 100, "NextStart": cursor},
                    Operation.LIST_MEMBERS,
                )
                rows = parse.records(body, "data", "detail")
                found.update({r.text("Email").casefold(): r.text("Email") for r in rows
                              if r.text("Email").casefold() == email.casefold()})  # fmt: skip
                cursor = self._next(body, len(rows), 100, cursor)
                if cursor is None or email.casefold() in found:
                    break
        return found

    def remove_members(self, group: Group, emails: Sequence[str]) -> None:
        self._run(self.plan_remove_members(group, emails))

    def plan_remove_members(self, group: Group, emails: Sequence[str]) -> Plan[None]:
        """DeleteReceiverDetail, one address per call (``remove_batch_size=1``)."""
        for email in emails:
            yield Call("DeleteReceiverDetail", {"ReceiverId": group.id, "Email": email}, Operation.REMOVE_MEMBERS)

    # ------------------------------------------------------------------ sending

    @staticmethod
    def _options(message: Message, allowed: frozenset[str], action: str) -> dict[str, Any]:
        """``provider_options`` as DM parameters; structured values (``Headers``, ``Template``,
        ``TemplateContent`` ...) go out as compact JSON, as DM's JSON-string parameters need."""
        unknown = set(message.provider_options) - allowed
        if unknown:
            raise InvalidRequest(
                f"unknown Direct Mail {action} option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(allowed))}",
                provider="aliyun",
            )
        return {
            k: parse.compact(v) if isinstance(v, Mapping | list | tuple) else v
            for k, v in message.provider_options.items()
        }

    @staticmethod
    def _common(message: Message) -> dict[str, Any]:
        if message.tag is not None and not _TAG_NAME.match(message.tag):
            raise InvalidRequest(
                f"Direct Mail tag {message.tag!r} may only contain letters, digits, '_' and '-'", provider="aliyun"
            )
        return {
            "AccountName": message.sender,
            "AddressType": 1,  # 1: the sender address itself (0: a random account)
            "TagName": message.tag,
            "ReplyAddress": message.reply_to,
            "ReplyAddressAlias": message.reply_to_name if message.reply_to else None,
            "ClickTrace": None if message.click_tracking is None else ("1" if message.click_tracking else "0"),
            "UnSubscribeLinkType": None
            if message.unsubscribe is None
            else ("default" if message.unsubscribe else "disabled"),
            "Headers": parse.compact(message.headers) if message.headers else None,
        }

    def send(self, message: Message) -> SendReceipt:
        """SingleSendMail; the EnvId is the message id. ``provider_options`` may set any seed-002 parameter."""
        params = self.single_send_params(message)
        if message.attachments:  # uploaded last, after every local check: a failure here is "not sent"
            params.update(self._attachments().upload(message.attachments))
        body = self._send_call("SingleSendMail", params, Operation.SEND)
        return self.single_send_receipt(message, body)

    def async_backend(self) -> AsyncAliyunBackend:
        """Native asyncio sends and reads over an ``httpx.AsyncClient`` (:mod:`._async_backend`)."""
        from ._async_backend import AsyncAliyunBackend

        return AsyncAliyunBackend(self, transport=self._async_transport)

    def single_send_params(self, message: Message) -> dict[str, Any]:
        """The SingleSendMail parameters of a message (bad input raises before any call)."""
        params = self._common(message)
        params.update(
            {
                "ReplyToAddress": False,  # use the console's reply-to address: no (ReplyAddress is explicit)
                "ToAddress": ",".join(message.to),
                "Subject": message.subject,
                "FromAlias": message.sender_name,
                "BccAddress": ",".join(message.bcc) or None,
            }
        )
        if message.template_id:
            params["Template"] = parse.compact(
                {"TemplateId": message.template_id, "TemplateData": message.template_data}
            )
            if not message.subject:  # seed 002: Subject is required, also with a template (the client fills it)
                raise InvalidRequest("Direct Mail template sends need a subject (seed 002)", provider=self.name)
        else:
            params["HtmlBody"] = message.html
            params["TextBody"] = message.text
        params.update(self._options(message, SINGLE_SEND_PARAMS, "SingleSendMail"))
        return params

    def single_send_receipt(self, message: Message, body: Mapping[str, Any]) -> SendReceipt:
        """The receipt of a SingleSendMail answer; the EnvId is the message id."""
        env_id = body.get("EnvId")
        return SendReceipt(
            provider=self.name,
            message_ids=(str(env_id),) if env_id else (),
            accepted=(*message.to, *message.bcc),
            request_id=body.get("RequestId"),
            extra={"EnvId": env_id},
        )

    def _send_call(self, action: str, params: Mapping[str, Any], operation: Operation) -> dict[str, Any]:
        """A send action; DM's daily-quota refusal is ``InvalidSendMail.Spam`` with quota text
        (reference A.5, A.6): that one is :class:`QuotaExceeded`, not a content rejection."""
        with quota_translated(operation):
            return self._call(action, params, operation, is_send=True)

    def send_to_group(self, group: Group, message: Message) -> SendReceipt:
        return self._run(self.plan_send_to_group(group, message))

    def plan_send_to_group(self, group: Group, message: Message) -> Plan[SendReceipt]:
        """BatchSendMail to the list by name: a stored template or inline content (TemplateContent,
        whose ``{{var}}`` variables are written in DM's ``{var}`` syntax).
        BatchSendMail names templates by TemplateName, so ``template_id`` is resolved with
        DescTemplate first (or give ``provider_options={"TemplateName": ...}``). Per-recipient data comes from the
        list's CustomDetail, so ``template_data`` is refused, as are bcc and sender_name with
        a stored template (DM has no parameter for them)."""
        if message.template_data:
            raise InvalidRequest("Direct Mail group sends take template data from the list members", provider=self.name)
        if message.bcc:
            raise InvalidRequest("Direct Mail BatchSendMail has no bcc", provider=self.name)
        if message.attachments:
            self.unsupported(Feature.ATTACHMENTS, "Direct Mail BatchSendMail takes no attachments")
        params = self._common(message)
        params["ReceiversName"] = group.name
        if message.template_id:
            if message.sender_name:
                raise InvalidRequest(
                    "with a stored template the sender name comes from the template", provider=self.name
                )
            if "TemplateName" not in message.provider_options:
                params["TemplateName"] = (yield from self.plan_get_template(message.template_id)).name
        else:
            syntax = self.template_syntax  # inline content is a DM template too: {{var}} -> {var}
            content = {
                "Subject": syntax.to_provider(message.subject),
                "HtmlBody": syntax.to_provider(message.html),
                "TextBody": syntax.to_provider(message.text),
                "Alias": message.sender_name,
            }
            params["TemplateContent"] = parse.compact({k: v for k, v in content.items() if v is not None})
        params.update(self._options(message, BATCH_SEND_PARAMS, "BatchSendMail"))
        body = yield Call("BatchSendMail", params, Operation.SEND_TO_GROUP, is_send=True)
        env_id = body.get("EnvId")
        return SendReceipt(
            provider=self.name,
            message_ids=(str(env_id),) if env_id else (),
            request_id=body.get("RequestId"),
            batch_id=str(env_id) if env_id else None,
            extra={"EnvId": env_id, "group": group.name},
        )

    # ------------------------------------------------------------------ delivery

    def query_deliveries(self, query: DeliveryQuery, *, cursor: str | None, page_size: int) -> Page[DeliveryEvent]:
        return self._run(self.plan_query_deliveries(query, cursor, page_size))

    def plan_query_deliveries(
        self, query: DeliveryQuery, cursor: str | None, page_size: int
    ) -> Plan[Page[DeliveryEvent]]:
        """SenderStatisticsDetailByParam, one page. Only one of ToAddress/TagName/AccountName may be sent;
        the first given (in that order) goes to DM and a sender given besides is applied here.
        Recipient and tag together are refused: records carry no tag to check."""
        if query.recipient is not None and query.tag is not None:
            raise InvalidRequest(
                "Direct Mail can filter deliveries by recipient or by tag, not both", provider=self.name
            )
        window = self.limits.delivery_query_window or dt.timedelta(days=30)
        start = _minute_floor(query.start.astimezone(parse.CST))
        end = min(_minute_ceil(query.end.astimezone(parse.CST)), start + window)
        server: dict[str, Any] = {}
        if query.recipient is not None:
            server["ToAddress"] = query.recipient
        elif query.tag is not None:
            server["TagName"] = query.tag
        elif query.sender is not None:
            server["AccountName"] = query.sender
        local_sender = query.sender if query.sender is not None and "AccountName" not in server else None
        # Only "delivered" is one DM Status (0); the failures are refined by classification and
        # SMTP reply (a Status 4 "550 5.1.1" is invalid_address), so they are filtered here.
        server_status = query.status is DeliveryStatus.DELIVERED
        if server_status:
            server["Status"] = parse.STATUS_CODE[DeliveryStatus.DELIVERED]
        length = min(page_size, self.limits.delivery_page_size)
        body = yield from ask(
            "SenderStatisticsDetailByParam",
            {
                "StartTime": start.strftime("%Y-%m-%d %H:%M"),
                "EndTime": end.strftime("%Y-%m-%d %H:%M"),
                "Length": length,
                "NextStart": cursor,
                **server,
            },
            Operation.DELIVERIES,
        )
        rows = parse.records(body, "data", "mailDetail")
        events = [parse.delivery_event(r) for r in rows]
        if local_sender is not None:
            events = [e for e in events if (e.sender or "").casefold() == local_sender.casefold()]
        if query.status is not None and not server_status:
            events = [e for e in events if e.has(query.status)]
        return Page(events, self._next(body, len(rows), length, cursor))

    # ------------------------------------------------------------------ account & setup

    def account_summary(self) -> AccountSummary:
        return self._run(self.plan_account_summary())

    def plan_account_summary(self) -> Plan[AccountSummary]:
        """DescAccountSummary."""
        return parse.account((yield from ask("DescAccountSummary", {}, Operation.ACCOUNT)))

    def statistics(self, start: str, end: str) -> list[StatisticsRow]:
        return self._run(self.plan_statistics(start, end))

    def plan_statistics(self, start: str, end: str) -> Plan[list[StatisticsRow]]:
        """SenderStatisticsByTagNameAndBatchID, one call per 31 days (its documented span);
        ``bounced`` is DM's faildCount plus unavailableCount (invalid addresses)."""
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        rows: list[StatisticsRow] = []
        while first <= last:
            upto = min(first + dt.timedelta(days=30), last)
            body = yield from ask(
                "SenderStatisticsByTagNameAndBatchID",
                {"StartTime": first.isoformat(), "EndTime": upto.isoformat()},
                Operation.STATISTICS,
            )
            parsed = (parse.statistics_row(r) for r in parse.records(body, "data", "stat"))
            rows.extend(r for r in parsed if r is not None)
            first = upto + dt.timedelta(days=1)
        return sorted(rows, key=lambda r: r.date)

    def _paged(self, action: str, path: tuple[str, str], operation: Operation, **params: Any) -> list[ResponseReader]:
        return self._run(self._plan_paged(action, path, operation, **params))

    def _plan_paged(
        self, action: str, path: tuple[str, str], operation: Operation, **params: Any
    ) -> Plan[list[ResponseReader]]:
        """PageNo/PageSize listings (domains, senders, tags, templates): every page, bounded as
        :func:`~mailbridge.follow_pages` is (a repeated page, e.g. a server ignoring PageNo, ends it).
        A short page, or TotalCount reached, is the last."""
        size = 50

        def fetch(cursor: str | None) -> Plan[Page[ResponseReader]]:
            page_no = int(cursor or 1)
            body = yield from ask(action, {**params, "PageNo": page_no, "PageSize": size}, operation)
            rows = parse.records(body, *path)
            total = body.count("TotalCount")
            more = len(rows) >= size and (total is None or page_no * size < total)
            return Page(rows, str(page_no + 1) if more else None)

        return (yield from every_page(fetch, provider=self.name, operation=operation))

    # ------------------------------------------------------------------ sender domains

    def _domain_row(self, name: str) -> ResponseReader:
        """The QueryDomainByParam record of one domain (exact name), or NotFound."""
        rows = self._paged("QueryDomainByParam", ("data", "domain"), Operation.DOMAINS, KeyWord=name)
        match = next((r for r in rows if r.text("DomainName").casefold() == name.casefold()), None)
        if match is None:
            raise NotFound(f"no Direct Mail sender domain {name!r}", provider=self.name)
        return match

    def _described(self, row: ResponseReader) -> SenderDomain:
        body = self._call("DescDomain", {"DomainId": row.string("DomainId")}, Operation.DOMAINS)
        return parse.domain(parse.reader({**row.as_dict(), **body}, "DescDomain"), with_records=True)

    def create_domain(self, name: str) -> SenderDomain:
        """CreateDomain, then DescDomain for the DNS records the domain needs (it starts unverified).

        Seed 003: DomainName "1 to 50 characters ... digits, letters, periods (.), hyphens (-)",
        checked before the call. A taken name is ``InvalidDomainName.Duplicate`` (AlreadyExists).
        """
        if not _DOMAIN_NAME.fullmatch(name):
            raise InvalidRequest(
                f"Direct Mail domain names are 1-50 letters, digits, '.' and '-': {name!r}", provider=self.name
            )
        body = self._read("CreateDomain", {"DomainName": name}, Operation.DOMAINS)
        return self._described(parse.reader({"DomainName": name, "DomainId": body.string("DomainId")}, "CreateDomain"))

    def list_domains(self) -> list[SenderDomain]:
        rows = self._paged("QueryDomainByParam", ("data", "domain"), Operation.DOMAINS)
        return [parse.domain(r, with_records=False) for r in rows]

    def get_domain(self, name: str) -> SenderDomain:
        """QueryDomainByParam (name -> DomainId), then DescDomain for the DNS records."""
        return self._described(self._domain_row(name))

    def verify_domain(self, name: str) -> SenderDomain:
        """CheckDomain (DM checks the published records now), then DescDomain for the new state."""
        row = self._domain_row(name)
        body = self._read("CheckDomain", {"DomainId": row.string("DomainId")}, Operation.DOMAINS)
        if (status := body.string("DomainStatus")) is not None:
            row = parse.reader({**row.as_dict(), "DomainStatus": status}, "CheckDomain")
        return self._described(row)

    def delete_domain(self, name: str) -> None:
        self._call("DeleteDomain", {"DomainId": self._domain_row(name).string("DomainId")}, Operation.DOMAINS)

    # ------------------------------------------------------------------ sender addresses

    def _sender_rows(self, keyword: str | None = None) -> list[ResponseReader]:
        return self._paged("QueryMailAddressByParam", ("data", "mailAddress"), Operation.SENDERS, KeyWord=keyword)

    def _sender_id(self, sender: SenderAddress) -> str:
        """The MailAddressId (looked up by address when the SenderAddress does not carry it)."""
        if sender.id:
            return sender.id
        for row in self._sender_rows(sender.address):
            if row.text("AccountName").casefold() == sender.address.casefold():
                return row.text("MailAddressId", required=True)
        raise SenderNotFound(f"no Direct Mail sender address {sender.address!r}", provider=self.name)

    def create_sender(self, address: str, *, kind: str | None = None, reply_to: str | None = None) -> SenderAddress:
        """CreateMailAddress (Sendtype ``trigger`` for "transactional", the default, or ``batch``).

        DM documents no code for an address that exists already, so an exact look-up
        (QueryMailAddressByParam) runs first and raises AlreadyExists.
        """
        if any(r.text("AccountName").casefold() == address.casefold() for r in self._sender_rows(address)):
            raise AlreadyExists(f"sender address {address!r} already exists on Direct Mail", provider=self.name)
        sendtype = parse.KIND_TO_SENDTYPE[kind or "transactional"]
        body = self._call(
            "CreateMailAddress",
            {"AccountName": address, "Sendtype": sendtype, "ReplyAddress": reply_to},
            Operation.SENDERS,
        )
        return SenderAddress(
            address=address,
            provider=self.name,
            id=None if body.get("MailAddressId") is None else str(body["MailAddressId"]),
            kind=kind or "transactional",
            reply_to=reply_to,
            status="reply-to pending" if reply_to else "normal",
        )

    def list_senders(self) -> list[SenderAddress]:
        return [parse.sender(r) for r in self._sender_rows()]

    def delete_sender(self, sender: SenderAddress) -> None:
        self._call("DeleteMailAddress", {"MailAddressId": self._sender_id(sender)}, Operation.SENDERS)

    def set_sender_password(self, sender: SenderAddress, password: Secret) -> None:
        """ModifyMailAddress with Password, after checking DM's documented rules locally
        (:func:`check_smtp_password`); the password is never logged, and cassettes scrub it."""
        if problem := check_smtp_password(password):
            raise InvalidRequest(f"Direct Mail SMTP password rejected before sending: {problem}", provider=self.name)
        self._call(
            "ModifyMailAddress",
            {"MailAddressId": self._sender_id(sender), "Password": password.reveal()},
            Operation.SENDERS,
        )

    def verify_reply_to(self, sender: SenderAddress) -> None:
        """CheckReplyToMailAddress: DM mails the reply-to address a link; following it (or
        :meth:`approve_reply_to` with the link's ticket) completes the verification."""
        if not sender.reply_to:  # the caller's copy may be incomplete: DM's record decides
            key = sender.address.casefold()
            sender = next(
                (s for s in self.list_senders() if (sender.id and s.id == sender.id) or s.address.casefold() == key),
                sender,
            )
        if not sender.reply_to:
            raise InvalidRequest(f"sender {sender.address!r} has no reply-to address to verify", provider=self.name)
        self._call("CheckReplyToMailAddress", {"MailAddressId": self._sender_id(sender)}, Operation.SENDERS)

    def approve_reply_to(self, ticket: str) -> None:
        """ApproveReplyMailAddress: confirm a reply-to address with the ticket from DM's verification mail."""
        self._call("ApproveReplyMailAddress", {"Ticket": ticket}, Operation.SENDERS)

    # ------------------------------------------------------------------ tags

    def list_tags(self) -> list[Tag]:
        return self._run(self.plan_list_tags())

    def plan_list_tags(self) -> Plan[list[Tag]]:
        """QueryTagByParam, every page."""
        return [parse.tag(r) for r in (yield from self._plan_paged("QueryTagByParam", ("data", "tag"), Operation.TAGS))]

    def create_tag(self, name: str, description: str | None = None) -> Tag:
        return self._run(self.plan_create_tag(name, description))

    def plan_create_tag(self, name: str, description: str | None) -> Plan[Tag]:
        """CreateTag."""
        body = yield Call("CreateTag", {"TagName": name, "TagDescription": description}, Operation.TAGS)
        return Tag(id=str(body.get("TagId", "")), name=name, description=description)

    def rename_tag(self, tag: Tag, new_name: str) -> Tag:
        return self._run(self.plan_rename_tag(tag, new_name))

    def plan_rename_tag(self, tag: Tag, new_name: str) -> Plan[Tag]:
        """ModifyTag (the description kept)."""
        params = {"TagId": tag.id, "TagName": new_name, "TagDescription": tag.description}
        yield Call("ModifyTag", params, Operation.TAGS)
        return Tag(id=tag.id, name=new_name, description=tag.description)

    def delete_tag(self, tag: Tag) -> None:
        self._run(self.plan_delete_tag(tag))

    def plan_delete_tag(self, tag: Tag) -> Plan[None]:
        """DeleteTag."""
        yield Call("DeleteTag", {"TagId": tag.id}, Operation.TAGS)

    # ------------------------------------------------------------------ templates

    @staticmethod
    def _template_body(html: str | None, text: str | None) -> str:
        """DM templates have one HTML body: ``html``, else the text escaped (newlines as <br>)."""
        return html if html is not None else html_lib.escape(text or "").replace("\n", "<br>")

    def _template_params(self, name: str, subject: str, html: str | None, text: str | None) -> dict[str, Any]:
        syntax = self.template_syntax
        return {
            "TemplateName": name,
            "TemplateSubject": syntax.to_provider(subject),
            "TemplateText": syntax.to_provider(self._template_body(html, text)),
        }

    def _held(self, template_id: str, name: str, subject: str, html: str | None, text: str | None) -> Template:
        """The template as DM now holds it: subject and the one HTML body as they read back, no text part."""
        syntax = self.template_syntax
        return Template(
            id=template_id,
            name=name,
            provider=self.name,
            subject=syntax.from_provider(syntax.to_provider(subject)),
            html=syntax.from_provider(syntax.to_provider(self._template_body(html, text))),
            status="pending",
        )

    def create_template(self, name: str, *, subject: str, html: str | None = None, text: str | None = None) -> Template:
        return self._run(self.plan_create_template(name, subject, html, text))

    def plan_create_template(self, name: str, subject: str, html: str | None, text: str | None) -> Plan[Template]:
        """CreateTemplate (TemplateType 0), ``{{var}}`` written as DM's ``{var}``. New templates
        await DM's review. DM documents no code for a taken name, so QueryTemplateByParam
        looks for it first (AlreadyExists). DM keeps no text part (the client's catalog does)."""
        params = self._template_params(name, subject, html, text)  # translation errors before any call
        rows = yield from self._plan_paged(
            "QueryTemplateByParam", ("data", "template"), Operation.TEMPLATES, KeyWord=name
        )
        if any(r.text("TemplateName") == name for r in rows):
            raise AlreadyExists(f"a Direct Mail template named {name!r} already exists", provider=self.name)
        answer = yield Call("CreateTemplate", {"TemplateType": 0, **params}, Operation.TEMPLATES)
        return self._held(str(answer.get("TemplateId", "")), name, subject, html, text)

    def list_templates(self) -> list[Template]:
        return self._run(self.plan_list_templates())

    def plan_list_templates(self) -> Plan[list[Template]]:
        """QueryTemplateByParam, then DescTemplate for each record: the listing carries no subject
        and no body (SDK model ``QueryTemplateByParamResponseBodyDataTemplate``)."""
        rows = yield from self._plan_paged("QueryTemplateByParam", ("data", "template"), Operation.TEMPLATES)
        templates = []
        for r in rows:
            if r.has("TemplateText"):
                templates.append(parse.template(r))
            else:
                templates.append((yield from self.plan_get_template(r.text("TemplateId", required=True))))
        return templates

    def get_template(self, template_id: str) -> Template:
        return self._run(self.plan_get_template(template_id))

    def plan_get_template(self, template_id: str) -> Plan[Template]:
        """DescTemplate. DM template ids are numbers: anything else names no template."""
        if not template_id.isdigit():
            raise TemplateNotFound(f"no Direct Mail template with id {template_id!r}", provider=self.name)
        body = yield from ask("DescTemplate", {"TemplateId": template_id}, Operation.TEMPLATES)
        return parse.template(body, template_id)

    def update_template(
        self, template: Template, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        return self._run(self.plan_update_template(template, subject, html, text))

    def plan_update_template(
        self, template: Template, subject: str, html: str | None, text: str | None
    ) -> Plan[Template]:
        """ModifyTemplate (same name); DM reviews the changed template again."""
        params = self._template_params(template.name, subject, html, text)
        yield Call("ModifyTemplate", {"TemplateId": template.id, **params}, Operation.TEMPLATES)
        return self._held(template.id, template.name, subject, html, text)

    def delete_template(self, template: Template) -> None:
        self._run(self.plan_delete_template(template))

    def plan_delete_template(self, template: Template) -> Plan[None]:
        """DeleteTemplate."""
        yield Call("DeleteTemplate", {"TemplateId": template.id}, Operation.TEMPLATES)

    # ------------------------------------------------------------------ pushed events

    @classmethod
    def parse_events(cls, request: EventRequest) -> list[DeliveryEvent]:
        """EventBridge CloudEvents or legacy MNS notifications (reference part 2, 1.2-1.3)."""
        from ._events import parse_request

        return parse_request(request)

    @classmethod
    def authenticate_events(cls, request: EventRequest, auth: EventAuth) -> None:
        """EventBridge's RSA signature when ``auth.signature``, and ``aliyunaccountid``."""
        from . import _eventbridge

        if auth.signature:
            _eventbridge.verify(request, auth)
        _eventbridge.check_account(request, auth.account)

    # ------------------------------------------------------------------ suppression lists

    def list_suppressions(self, *, cursor: str | None, page_size: int) -> Page[Suppression]:
        """QueryInvalidAddress (the invalid-address library, scope ``shared``: hard bounces of the
        last 30 days, DM's longest window), then ListUserSuppression (the account's own list).
        Cursor ``invalid:<NextStart>`` or ``user:<PageNo>``."""
        part, _, token = (cursor or "invalid:").partition(":")
        if part == "invalid":
            today = dt.datetime.now(parse.CST).date()
            body = self._read(
                "QueryInvalidAddress",
                {
                    "StartTime": (today - dt.timedelta(days=30)).isoformat(),
                    "EndTime": today.isoformat(),
                    "Length": min(page_size, 100),
                    "NextStart": token or None,
                },
                Operation.SUPPRESSIONS,
            )
            rows = parse.records(body, "data", "mailDetail")
            items = [
                Suppression(
                    address=r.text("ToAddress"),
                    reason=SuppressionReason.BOUNCE,
                    since=parse._time(r, "UtcLastUpdateTime", "LastUpdateTime"),
                    scope="shared",
                    provider=self.name,
                )
                for r in rows
            ]
            following = self._next(body, len(rows), page_size, token or None)
            if not items:  # an empty page ends a listing (follow_pages): go straight on to the account's list
                return self.list_suppressions(cursor="user:1", page_size=page_size)
            return Page(items, f"invalid:{following}" if following else "user:1")
        page_no = int(token or 1)
        size = min(page_size, 100)
        body = self._read("ListUserSuppression", {"PageNo": page_no, "PageSize": size}, Operation.SUPPRESSIONS)
        rows = parse.records(body, "Data", "UserSuppressions")
        items = [
            Suppression(
                address=r.text("Address"),
                reason=_suppression_reason(r.string("Type")),
                since=r.epoch("CreateTime"),
                scope="account",
                provider=self.name,
                detail=r.string("SuppressionId"),
            )
            for r in rows
        ]
        more = bool(rows) and page_no * size < (body.count("TotalCount") or 0)
        return Page(items, f"user:{page_no + 1}" if more else None)

    def add_suppressions(self, addresses: Sequence[str], reason: SuppressionReason = SuppressionReason.MANUAL) -> None:
        """CreateUserSuppression (one address per call: ``suppression_batch_size`` 1); no reason field."""
        for address in addresses:
            self._call("CreateUserSuppression", {"Address": address}, Operation.SUPPRESSIONS)

    def remove_suppressions(self, addresses: Sequence[str]) -> None:
        """DeleteInvalidAddress, then the address's ListUserSuppression ids through RemoveUserSuppression."""
        for address in addresses:
            self._call("DeleteInvalidAddress", {"ToAddress": address}, Operation.SUPPRESSIONS)
            body = self._read(
                "ListUserSuppression", {"Address": address, "PageNo": 1, "PageSize": 100}, Operation.SUPPRESSIONS
            )
            rows = parse.records(body, "Data", "UserSuppressions")
            ids = [i for r in rows if (i := r.string("SuppressionId")) is not None]
            if ids:
                self._call("RemoveUserSuppression", {"SuppressionIds": ",".join(ids)}, Operation.SUPPRESSIONS)


def check_smtp_password(password: Secret) -> str | None:
    """Why Direct Mail would refuse this SMTP password, or None (the message never quotes it).

    The rules of the current ModifyMailAddress page (alibabacloud.com/help/en/direct-mail/
    modifymailaddress; seed 003 has the first two only): 10 to 20 characters; digits,
    upper-case and lower-case letters, at least two of each; neither the digits nor the
    letters may be one character repeated. "Not the same as the last one" can only be
    checked by Direct Mail.
    """
    value = password.reveal()
    if not 10 <= len(value) <= 20:
        return f"it must be 10 to 20 characters long (it has {len(value)})"
    digits = [c for c in value if c.isascii() and c.isdigit()]
    upper = [c for c in value if c.isascii() and c.isupper()]
    lower = [c for c in value if c.isascii() and c.islower()]
    missing = [what for what, found in (("digits", digits), ("upper-case letters", upper),
                                          ("lower-case letters", lower)) if len(found) < 2]  # fmt: skip
    if missing:
        return "it needs at least two " + ", two ".join(missing)
    if len(set(digits)) < 2:
        return "its digits must not be one digit repeated"
    if len(set(upper + lower)) < 2:
        return "its letters must not be one letter repeated"
    return None
