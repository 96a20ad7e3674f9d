"""The ``tencent`` backend: Tencent Cloud SES (API 2020-10-02) through the official SDK.

URL: ``tencent://SECRET_ID:SECRET_KEY@REGION?endpoint=http://127.0.0.1:PORT&timeout=SECONDS``, or
``tencent://?region=ap-guangzhou`` with the credentials in ``TENCENTCLOUD_SECRET_ID`` /
``TENCENTCLOUD_SECRET_KEY``. Regions: ap-guangzhou and ap-hongkong (``ses.tencentcloudapi.com``),
ap-singapore (``ses.intl.tencentcloudapi.com``). An ``http://`` endpoint is accepted for loopback only.

Transport: the SDK's sync ``SesClient`` with its retryer off (the core retries) and English error
messages. The SDK builds, signs and parses every request; the bytes travel over the core's shared
HTTP seam (:mod:`mailbridge._http`, httpx) instead of the SDK's ``requests`` session, so that a
Tencent call has what a Direct Mail call has: one deadline (``timeout=``) from connect to the
last byte, and a report of whether the request was written, which the core's outcome rule
(:mod:`mailbridge._outcome`) needs. Every call goes through :meth:`TencentBackend._call`, which
uses the SDK's JSON path and reads ``Response.Error`` itself, at any HTTP status: the SDK only
notices an error when the Content-Type is exactly ``application/json`` (reference B.2) and the
status is 200, so a ``; charset=utf-8`` answer would otherwise pass as an empty success and an
error served with HTTP 4xx/5xx would lose its code.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import re
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urlsplit

import httpx
import requests
from requests.structures import CaseInsensitiveDict
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.retry import NoopRetryer
from tencentcloud.ses.v20201002.ses_client import SesClient

from mailbridge import (
    Backend,
    BatchResult,
    BounceType,
    ConfigurationError,
    DeliveryEvent,
    DeliveryQuery,
    DeliveryStatus,
    DnsRecord,
    Feature,
    Group,
    GroupStatus,
    InvalidRequest,
    LimitExceeded,
    Limits,
    MailbridgeError,
    Member,
    Message,
    Page,
    ProviderURL,
    Rate,
    Recipient,
    ResourceBusy,
    ResponseReader,
    Secret,
    SenderAddress,
    SenderDomain,
    SendReceipt,
    StatisticsRow,
    Suppression,
    SuppressionReason,
    Template,
    TemplateNotFound,
    TemplateSyntax,
    UnsupportedFeature,
    follow_pages,
    redact_url,
    refine_status,
)
from mailbridge._http import CallFailed, GuardedHTTP, guarded_transport, network_reason
from mailbridge._outcome import Stage, answered, failed

from ._errors import TABLE, error_for_code

if TYPE_CHECKING:
    from mailbridge._events import EventAuth, EventRequest
from ._rules import smtp_password_error

__all__ = ["BEIJING", "REGIONS", "TencentBackend"]

log = logging.getLogger("mailbridge.tencent")

#: SES dates (RequestDate, CreateTime, SendDate) are Beijing time; China has no DST.
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

#: Region -> API host (reference B.3).
REGIONS: dict[str, str] = {
    "ap-guangzhou": "ses.tencentcloudapi.com",
    "ap-hongkong": "ses.tencentcloudapi.com",
    "ap-singapore": "ses.intl.tencentcloudapi.com",
}
ENV_ID = "TENCENTCLOUD_SECRET_ID"
ENV_KEY = "TENCENTCLOUD_SECRET_KEY"
DEFAULT_TIMEOUT = 30.0

#: Actions a repeat could apply twice (SES de-duplicates nothing): a failure after the request
#: was written is OutcomeUnknown for these (core rule, mailbridge._outcome), never retried.
#: UpdateEmailSmtpPassWord is here because repeating a password that was set is refused
#: (OperationDenied.RepeatPassWord), which would report a success as a failure.
_NOT_IDEMPOTENT = frozenset(
    {
        "SendEmail",
        "BatchSendEmail",
        "CreateReceiver",
        "CreateReceiverDetail",
        "CreateReceiverDetailWithData",
        "CreateEmailTemplate",
        "CreateEmailIdentity",
        "CreateEmailAddress",
        "UpdateEmailSmtpPassWord",
    }
)

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
_TEMPLATE_STATUS: dict[Any, str] = {0: "approved", 1: "pending_review", 2: "rejected"}

_TRIGGER_TYPES = {"marketing": 0, "transactional": 1, 0: 0, 1: 1, "0": 0, "1": 1}
_OPTION_KEYS = ("trigger_type", "unsubscribe_language", "header_from", "ad_location", "params")


class _RedactAuthorization(logging.Filter):
    """The SDK logs whole requests at DEBUG, Authorization header included: mask it."""

    _pattern = re.compile(r'(Authorization: )[^\n]*|(Credential=)[^,\s]*|("Password": ")[^"]*')

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "Authorization" in text or "Credential=" in text or '"Password"' in text:
            record.msg = self._pattern.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)
            record.args = None
        return True


logging.getLogger("tencentcloud_sdk_common").addFilter(_RedactAuthorization())

_HTML_TAG = re.compile(r"<[a-zA-Z/][^>]*>")


class _HTTPStatusError(TencentCloudSDKException):  # type: ignore[misc]
    """The SDK's ServerNetworkError, keeping the HTTP status it otherwise drops."""

    def __init__(self, status: int, content: bytes) -> None:
        super().__init__("ServerNetworkError", content)
        self.status = status
        self.content = content


class _SesClient(SesClient):  # type: ignore[misc]
    def _check_status(self, resp_inter: Any) -> None:
        if resp_inter.status_code != 200:
            raise _HTTPStatusError(resp_inter.status_code, resp_inter.content)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _compact(data: Mapping[str, str]) -> str:
    """TemplateData as SES wants it: a JSON *string* (compact, UTF-8 kept)."""
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))


def _compact_value(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):  # pragma: no cover - values decoded from JSON always encode
        return repr(value)[:200]


def _b64(text: str | bytes) -> str:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: Any) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(str(value)).decode("utf-8", "replace")
    except ValueError:
        return str(value)


def _beijing_time(r: ResponseReader, key: str) -> dt.datetime | None:
    """``2021-09-28 16:40:35`` (Beijing time) -> aware datetime; None when absent or unreadable."""
    return r.local_time(key, ("%Y-%m-%d %H:%M:%S",), BEIJING)


SUPPRESSION_PAGE = 100  # ListBlackEmailAddress / ListCustomBlacklist Limit: at most 100
BLACKLIST_EPOCH = "2020-10-02"  # ListBlackEmailAddress StartDate: the API version's date, before any entry


def _call_failure(exc: BaseException | None) -> CallFailed | None:
    """The transport's report in an exception chain (the SDK wraps it in ClientNetworkError)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, CallFailed):
            return exc
        seen += 1
        exc = exc.__cause__ or exc.__context__
    return None


def _maybe_sent(exc: BaseException | None) -> bool:
    """True unless the chain proves the request never left (the transport said ``NOT_SENT``)."""
    failure = _call_failure(exc)
    return failure is None or failure.stage is not Stage.NOT_SENT


def _error_body(content: bytes) -> dict[str, Any] | None:
    """``Response.Error`` of a body, whatever the HTTP status, or None."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    response = body.get("Response") if isinstance(body, dict) else None
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    if not isinstance(error, dict) or not error.get("Code"):
        return None
    return {
        "Code": str(error["Code"]),
        "Message": str(error.get("Message") or ""),
        "RequestId": response.get("RequestId"),
    }


class _Raw:
    version = 11  # read by the SDK's debug log formatter


class _SdkConnection:
    """Stands in for the SDK's ``ProxyConnection``: the SDK signs and parses, the shared seam sends.

    Through :class:`mailbridge._http.GuardedHTTP` a Tencent call gets what a Direct Mail call
    gets: one deadline from connect to the last byte (requests' timeouts are per socket
    operation, so a slow drip never trips them) and a report of whether the request was
    written, which the outcome rule needs.
    """

    def __init__(self, timeout: float) -> None:
        self.request_length = 0
        self.client = httpx.Client(
            transport=guarded_transport(verify=True),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )
        self.http = GuardedHTTP(self.client, timeout=timeout)

    def request(
        self, method: str, url: str, body: str | bytes | None = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        content = body.encode("utf-8") if isinstance(body, str) else body
        self.request_length = len(content or b"")
        action = (headers or {}).get("X-TC-Action", "")
        request = self.client.build_request(method, url, content=content, headers=headers)
        answer = self.http.send(request, idempotent=action not in _NOT_IDEMPOTENT)
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response._content_consumed = True
        response.headers = CaseInsensitiveDict(answer.headers.items())
        response.reason = answer.reason_phrase
        response.url = str(answer.url)
        response.raw = _Raw()
        return response

    def close(self) -> None:
        self.client.close()


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


class TencentBackend(Backend):
    """Tencent Cloud SES through ``tencentcloud-sdk-python-ses``."""

    name = "tencent"
    display_name = "Tencent Cloud SES"
    template_syntax = TemplateSyntax("Tencent Cloud SES", "{{", "}}")  # TemplateData keys fill {{key}}
    delivery_codes = MappingProxyType(
        {
            **{f"DeliverStatus={k} (SendStatus=0)": v for k, v in DELIVER_STATUS.items()},
            **{f"SendStatus={k}": v for k, v in SEND_STATUS.items()},
            "SendStatus undocumented": DeliveryStatus.FAILED,
        }
    )
    template_parts = frozenset({"html", "text"})  # no template action stores a subject (the client's catalog does)
    limits = Limits(
        upload_batch_size=20_000,  # CreateReceiverDetail(WithData) doc: "up to 20,000 at a time"
        recipients_per_send=50,  # SendEmailRequest.Destination: "最多支持群发50人"; TooManyRecipients
        max_group_size=50_000,  # CreateReceiverDetail doc: "the recipient group can contain up to 50,000"
        cc_per_send=20,  # SendEmailRequest.Cc: "最多支持抄送20人"
        bcc_per_send=20,  # SendEmailRequest.Bcc: "最多支持抄送20人"
        subject_length=100,  # InvalidParameterValue.SubjectLengthError: "1-100"
        # ReceiversName: the docs give no number ("check the characters and size",
        # ReceiverNameIllegal); 200, as the emulator enforces, keeps absurd names off the wire.
        group_name_length=200,
        template_data_bytes=800,  # ReceiverInputData.TemplateData: whole JSON <= 800 bytes (check_recipient)
        attachments_per_send=10,  # FailedOperation.TooManyAttachments: "最多支持10个附件"
        attachments_total_bytes=4 * 1024 * 1024,  # Attachment.Content: total <= 4 MB before base64
        list_page_size=100,  # ListReceivers / ListReceiverDetails Limit <= 100
        delivery_page_size=100,  # GetSendEmailStatus Limit: "最多 100"
        delivery_query_by_day=True,  # GetSendEmailStatus.RequestDate: one day, no ranges
        timezone=BEIJING,  # RequestDate is a Beijing-time calendar day
        delivery_retention=dt.timedelta(days=30),  # GetSendEmailStatus doc: data within 30 days
        delivery_filters={"recipient", "message_id"},  # ToEmailAddress, MessageId
        async_upload=True,  # CreateReceiverDetail doc: "processed asynchronously"
        # Seed 001: "supports adding more recipient addresses during upload but not address
        # deduplication": the core reads the group first and never sends an address it has.
        dedups_members=False,
        rates={"*": Rate(20)},  # every SES API page: "默认接口请求频率限制: 20次/秒"
        features={
            Feature.HTML_BODY,  # Simple.Html (base64; accounts with the "special config" only)
            Feature.TEXT_BODY,  # Simple.Text
            Feature.TEMPLATE_SEND,
            Feature.SENDER_NAME,  # FromEmailAddress "Alias <addr>"
            Feature.CC,
            Feature.BCC,
            Feature.REPLY_TO,
            Feature.HEADERS,  # SmtpHeaders (JSON object as a string)
            Feature.UNSUBSCRIBE,
            Feature.ATTACHMENTS,
            Feature.PROFILE_FIELDS,  # stored in each member's TemplateData
            Feature.TEMPLATE_DATA,  # CreateReceiverDetailWithData
            Feature.TEMPLATE_DATA_READ,  # ListReceiverDetails returns each member's TemplateData
            Feature.BATCH_SEND,  # BatchSendEmail
            Feature.SCHEDULED_SEND,  # BatchSendEmail TaskType 2 + TimedParam.BeginTime
            Feature.DELIVERY_ENGAGEMENT,  # UserOpened / UserClicked / UserUnsubscribed / UserComplained
            Feature.STATISTICS,  # GetStatisticsReport
            Feature.DOMAINS,  # Create/List/Get/Update(= verify)/DeleteEmailIdentity
            Feature.SENDERS,  # Create/List/DeleteEmailAddress
            Feature.SENDER_PASSWORD,  # UpdateEmailSmtpPassWord
            Feature.TEMPLATES,  # Create/List/Get/Update/DeleteEmailTemplate (Tencent reviews new content)
            Feature.SUPPRESSIONS,  # ListBlackEmailAddress/DeleteBlackList + the custom blacklist actions
        },
    )

    def __init__(
        self,
        *,
        secret_id: str,
        secret_key: Secret,
        region: str = "ap-guangzhou",
        endpoint: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if region not in REGIONS:
            raise ConfigurationError(
                f"Tencent SES region {region!r} is not supported; use one of {', '.join(REGIONS)}", provider=self.name
            )
        self.secret_id = secret_id
        self._secret_key = secret_key
        self.region = region
        self.endpoint = endpoint
        self.timeout = timeout
        scheme, host = "https", REGIONS[region]
        if endpoint:
            parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigurationError(f"endpoint {endpoint!r} is not an http(s) URL", provider=self.name)
            if parts.scheme == "http" and not _is_loopback(parts.hostname):
                raise ConfigurationError(
                    f"endpoint {endpoint!r}: plain http is allowed for a loopback emulator only", provider=self.name
                )
            # The SDK would send userinfo in the Host header (and log it): keep host and port only.
            scheme, host = parts.scheme, parts.netloc.rsplit("@", 1)[-1]
        try:
            credential = Credential(secret_id, secret_key.reveal())
        except TencentCloudSDKException as exc:
            raise ConfigurationError(f"Tencent credentials rejected: {exc.message}", provider=self.name) from None
        profile = ClientProfile(
            httpProfile=HttpProfile(protocol=scheme, endpoint=host, reqTimeout=timeout),
            language="en-US",
            retryer=NoopRetryer(),  # the core owns retries and rate limits
        )
        self._client = _SesClient(credential, region, profile)
        self._connection = _SdkConnection(timeout)
        self._client.request.conn = self._connection

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_url(cls, url: ProviderURL) -> Self:
        secret_id = url.credential(url.username, ENV_ID)
        key_text = url.password.reveal() if url.password else url.credential(None, ENV_KEY)
        if not secret_id or not key_text:
            raise ConfigurationError(
                "Tencent SES needs a SecretId and SecretKey: put them in the URL "
                f"(tencent://SECRET_ID:SECRET_KEY@ap-guangzhou) or set {ENV_ID} and {ENV_KEY}",
                provider=cls.name,
            )
        region = url.host or url.param("region") or "ap-guangzhou"
        if url.host and url.param("region") and url.param("region") != url.host:
            raise ConfigurationError(f"region given twice: {url.host!r} and {url.param('region')!r}", provider=cls.name)
        return cls(
            secret_id=secret_id,
            secret_key=Secret(key_text),
            region=region,
            endpoint=(ProviderURL.parse(e).unsplit() if "://" in e else e) if (e := url.param("endpoint")) else None,
            timeout=url.float_param("timeout", DEFAULT_TIMEOUT),
        )

    def describe(self) -> str:
        text = f"tencent://{self.secret_id[:4]}***@{self.region}"
        return text + (f"?endpoint={redact_url(self.endpoint)}" if self.endpoint else "")

    def __repr__(self) -> str:
        return f"<TencentBackend {self.describe()}>"

    @property
    def rate_limit_key(self) -> str:
        digest = hashlib.sha256(self.secret_id.encode()).hexdigest()[:12]
        return f"tencent:{digest}:{self.region}"

    def close(self) -> None:
        self._connection.close()

    # ------------------------------------------------------------------ the one provider call

    def _call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """One SES action; returns ``Response`` without errors or raises one neutral error.

        Failures go through the core's outcome rule: ``NOT_SENT`` from the transport,
        a ``Response.Error`` (at any HTTP status) through the error table and its
        ``refused`` flag, anything else after the request was written as ``UNKNOWN``.
        """
        idempotent = action not in _NOT_IDEMPOTENT
        try:
            body = self._client.call_json(action, params)
        except TencentCloudSDKException as exc:
            failure = _call_failure(exc)
            if failure is not None:
                raise failed(
                    failure.stage, f"no answer from Tencent SES ({failure.message})", idempotent=idempotent,
                    provider=self.name,
                ) from (failure.__cause__ or exc)  # fmt: skip
            if exc.code == "ClientNetworkError":  # the SDK's own (urllib3's) words never reach users
                raise failed(
                    Stage.UNKNOWN, f"no answer from Tencent SES ({network_reason(exc)})", idempotent=idempotent,
                    provider=self.name,
                ) from exc  # fmt: skip
            status = getattr(exc, "status", None)
            if isinstance(exc, _HTTPStatusError):
                error = _error_body(exc.content)
                if error is None:  # a gateway page or a bare status
                    raise self._bare_status(action, status, exc.content, idempotent) from exc
                raise self._answered(action, error, status, idempotent) from exc
            code = str(exc.code or "ClientError")
            message = exc.message.decode("utf-8", "replace") if isinstance(exc.message, bytes) else str(exc.message)
            error = {"Code": code, "Message": message, "RequestId": exc.requestId}
            raise self._answered(action, error, status, idempotent) from exc
        except (ValueError, KeyError, TypeError) as exc:  # the body is not JSON, or not SES's shape
            raise self._garbled(action, f"malformed response: {exc!r}", idempotent) from exc
        response = body.get("Response") if isinstance(body, dict) else None
        if not isinstance(response, dict):
            raise self._garbled(action, "response has no 'Response' object", idempotent)
        error = response.get("Error")
        if isinstance(error, dict):  # detected here too: the SDK misses it behind "; charset=utf-8"
            found = {
                "Code": str(error.get("Code") or "FailedOperation"),
                "Message": str(error.get("Message") or ""),
                "RequestId": response.get("RequestId"),
            }
            raise self._answered(action, found, 200, idempotent, raw=body)
        return response

    def _answered(
        self, action: str, error: Mapping[str, Any], status: int | None, idempotent: bool, raw: Any = None
    ) -> MailbridgeError:
        code, message, request_id = error["Code"], error["Message"], error.get("RequestId")
        if raw is None and request_id:  # the server answered with Response.Error; keep it in the same shape
            raw = {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}
        neutral = error_for_code(code, message, provider=self.name, request_id=request_id, raw=raw, http_status=status)
        return answered(neutral, refused=TABLE.rule_for(code).refused, idempotent=idempotent)

    def _bare_status(self, action: str, status: int | None, content: bytes, idempotent: bool) -> MailbridgeError:
        text = f"HTTP {status or 'error'} from Tencent SES: " + content[:200].decode("utf-8", "replace")
        if status is not None and status < 500:  # refused by whatever answered (a gateway, a proxy)
            return TABLE.rule_for(None, status).build(
                text, provider=self.name, provider_code="ServerNetworkError", http_status=status
            )
        return failed(
            Stage.UNKNOWN, text, idempotent=idempotent, provider=self.name, http_status=status,
            provider_code="ServerNetworkError",
        )  # fmt: skip

    def _garbled(self, action: str, text: str, idempotent: bool, request_id: str | None = None) -> MailbridgeError:
        return failed(
            Stage.UNKNOWN, text, idempotent=idempotent, provider=self.name, request_id=request_id,
            provider_code="ServerNetworkError",
        )  # fmt: skip

    def _require(self, action: str, response: Mapping[str, Any], key: str) -> Any:
        """A field the answer must carry; its absence means we cannot know what happened."""
        if response.get(key) is None:
            raise self._garbled(
                action, f"{action} answer has no {key}", action not in _NOT_IDEMPOTENT, response.get("RequestId")
            )
        return response[key]

    # ------------------------------------------------------------------ groups

    def _reader(self, data: ResponseReader | Mapping[str, Any], action: str) -> ResponseReader:
        return data if isinstance(data, ResponseReader) else ResponseReader(data, provider=self.name, action=action)

    def _group(self, data: ResponseReader | Mapping[str, Any]) -> Group:
        data = self._reader(data, "ListReceivers")
        status = data.integer("ReceiversStatus")
        return Group(
            id=str(data.integer("ReceiverId", required=True)),  # SES ids are integers (ReceiverData)
            name=data.text("ReceiversName"),
            provider=self.name,
            description=data.string("Desc") or None,
            recipient_count=data.count("Count") or 0,
            status=_GROUP_STATUS.get(status if status is not None else -1, GroupStatus.UNKNOWN),
            created_at=_beijing_time(data, "CreateTime"),
            extra={"invalid_count": data.count("InvalidCount"), "receivers_status": status},
        )

    def _read(self, action: str, params: dict[str, Any]) -> ResponseReader:
        """One call whose ``Response`` is read field by field (a wrong shape is ProviderUnavailable)."""
        return self._success(action, self._call(action, params))

    def _success(self, action: str, response: Mapping[str, Any]) -> ResponseReader:
        """``Response`` as a success answer. No SES success answer has an ``Error``, ``Code`` or
        ``Message`` field (SDK models 2020-10-02), so one that does is an error in another shape
        (a relay's or gateway's, or an ``Error`` that is not an object) and not an empty success."""
        answer = ResponseReader(response, provider=self.name, action=action, root={"Response": response})
        for key in _ERROR_KEYS:
            if answer.has(key):
                raise answer.error(key, answer.raw(key), "no such field in a success answer")
        return answer

    def _offset_page(
        self, action: str, params: dict[str, Any], key: str, cursor: str | None, limit: int = 100
    ) -> tuple[ResponseReader, Page[ResponseReader]]:
        """One Offset/Limit page of ``key`` records. ``TotalCount`` must be there: an answer without
        it is not SES's (an error page or relay reply must not pass for an empty list)."""
        offset = int(cursor or 0)
        response = self._read(action, {**params, "Offset": offset, "Limit": limit})
        total = response.count("TotalCount", required=True) or 0
        rows = response.records(key)
        following = offset + len(rows)
        return response, Page(rows, str(following) if rows and following < total else None)

    def _offset_records(self, action: str, params: dict[str, Any], key: str) -> list[ResponseReader]:
        """Every record of an Offset/Limit listing, bounded by :func:`~mailbridge.follow_pages`."""

        def fetch(cursor: str | None) -> Page[ResponseReader]:
            return self._offset_page(action, params, key, cursor)[1]

        return [r for page in follow_pages(fetch, provider=self.name, operation=action) for r in page.items]

    @staticmethod
    def _receiver_id(group: Group) -> int:
        try:
            return int(group.id)
        except ValueError:
            raise InvalidRequest(f"Tencent SES group ids are integers, not {group.id!r}") from None

    def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        """CreateReceiver; SES groups have no alias, so ``alias`` is ignored."""
        params: dict[str, Any] = {"ReceiversName": name}
        if description:
            params["Desc"] = description
        response = self._call("CreateReceiver", params)
        return Group(
            id=str(self._require("CreateReceiver", response, "ReceiverId")),
            name=name,
            provider=self.name,
            description=description or None,
            recipient_count=0,
            status=GroupStatus.EMPTY,
            created_at=dt.datetime.now(dt.UTC),
        )

    def list_groups(self, *, keyword: str | None, cursor: str | None, page_size: int) -> Page[Group]:
        params: dict[str, Any] = {"KeyWord": keyword} if keyword else {}
        _, page = self._offset_page("ListReceivers", params, "Data", cursor, min(page_size, 100))
        return Page([self._group(d) for d in page.items if d.has("ReceiverId")], page.next_cursor)

    def delete_group(self, group: Group) -> None:
        self._call("DeleteReceiver", {"ReceiverId": self._receiver_id(group)})

    # ------------------------------------------------------------------ members

    @staticmethod
    def template_data(recipient: Recipient) -> dict[str, str]:
        """What a member stores as TemplateData: its profile fields, then its template data."""
        return {**recipient.profile(), **recipient.data}

    def check_recipient(self, recipient: Recipient) -> str | None:
        data = self.template_data(recipient)
        if any(_HTML_TAG.search(v) for v in data.values()):
            return "template data must not contain HTML tags (InvalidParameterValue.InValidTemplateData)"
        if data:
            size = len(_compact(data).encode("utf-8"))
            if size > 800:
                return f"template data is {size} bytes as JSON; Tencent SES allows at most 800 per recipient"
        return None

    def upload_batch(self, group: Group, recipients: Sequence[Recipient]) -> BatchResult:
        receiver_id = self._receiver_id(group)
        emails = [r.email for r in recipients]
        if any(self.template_data(r) for r in recipients):
            datas = [{"Email": r.email, "TemplateData": _compact(self.template_data(r))} for r in recipients]
            answer = self._read("CreateReceiverDetailWithData", {"ReceiverId": receiver_id, "Datas": datas})
        else:
            answer = self._read("CreateReceiverDetail", {"ReceiverId": receiver_id, "Emails": emails})
        return self._batch_result(answer, emails)

    @staticmethod
    def _batch_result(answer: ResponseReader, emails: list[str]) -> BatchResult:
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

    def list_members(self, group: Group, *, cursor: str | None, page_size: int) -> Page[Member]:
        params: dict[str, Any] = {"ReceiverId": self._receiver_id(group)}
        _, page = self._offset_page("ListReceiverDetails", params, "Data", cursor, min(page_size, 100))
        return Page([self._member(d) for d in page.items], page.next_cursor)

    def _member(self, data: ResponseReader | Mapping[str, Any]) -> Member:
        data = self._reader(data, "ListReceiverDetails")
        stored: dict[str, str] = {}
        if text := data.string("TemplateData"):
            try:
                loaded = json.loads(text)
            except (ValueError, RecursionError):
                loaded = {"TemplateData": text}
            if isinstance(loaded, dict):  # values as SES stores them: strings (anything else as JSON)
                stored = {str(k): v if isinstance(v, str) else _compact_value(v) for k, v in loaded.items()}
        profile = {f: stored.pop(f) for f in Recipient.PROFILE_FIELDS if f in stored}
        status = data.integer("Status")
        return Member(
            recipient=Recipient(email=data.text("Email"), data=stored, **profile),
            valid=None if status is None else status == 1,
            invalid_reason=data.string("Reason") or None,
            added_at=_beijing_time(data, "CreateTime"),
        )

    def remove_members(self, group: Group, emails: Sequence[str]) -> None:
        self.unsupported(Feature.REMOVE_RECIPIENTS, "SES has no API to delete a recipient from a list")

    # ------------------------------------------------------------------ sending

    @staticmethod
    def _options(message: Message) -> dict[str, Any]:
        unknown = sorted(set(message.provider_options) - set(_OPTION_KEYS))
        if unknown:
            raise InvalidRequest(
                f"unknown Tencent provider_options {unknown}; known: {', '.join(_OPTION_KEYS)}", provider="tencent"
            )
        return dict(message.provider_options)

    def _common(self, message: Message) -> dict[str, Any]:
        """The fields SendEmail and BatchSendEmail share."""
        options = self._options(message)
        if message.sender_name is not None and any(c in message.sender_name for c in ':<>"\\'):
            # FromEmailAddress is "alias <addr>" with no quoting defined: an alias holding these
            # could not be told apart from the address (and ':' is documented as refused).
            raise InvalidRequest(
                "Tencent SES does not allow ':', '<', '>', '\"' or '\\' in the sender name", provider=self.name
            )
        if message.reply_to_name:
            raise UnsupportedFeature(
                "Tencent SES does not support a reply-to display name (ReplyToAddresses is an address)",
                provider=self.name,
            )
        subject = message.subject  # for a template send the client fills in the template's (from its catalog)
        if not subject:
            raise InvalidRequest(
                "Tencent SES needs a subject, also for template sends (its templates have none)", provider=self.name
            )
        sender = message.sender
        if message.sender_name:  # documented form: alias, one space, <address>; specials quoted (RFC 5322)
            sender = str(Address(display_name=message.sender_name, addr_spec=message.sender))
        params: dict[str, Any] = {"FromEmailAddress": sender, "Subject": subject}
        if message.reply_to:
            params["ReplyToAddresses"] = message.reply_to
        if message.template_id is not None:
            try:
                template_id = int(message.template_id)
            except ValueError:
                raise InvalidRequest(
                    f"Tencent SES template ids are integers, not {message.template_id!r}", provider=self.name
                ) from None
            params["Template"] = {"TemplateID": template_id, "TemplateData": _compact(message.template_data)}
        else:
            simple: dict[str, str] = {}
            if message.html is not None:
                simple["Html"] = _b64(message.html)
            if message.text is not None:
                simple["Text"] = _b64(message.text)
            params["Simple"] = simple
        if message.unsubscribe is not None:
            params["Unsubscribe"] = str(options.get("unsubscribe_language", "2")) if message.unsubscribe else "0"
        if "params" in options:
            params.update(dict(options["params"]))
        return params

    def send(self, message: Message) -> SendReceipt:
        params = self._common(message)
        options = message.provider_options
        params["Destination"] = list(message.to)
        if message.cc:
            params["Cc"] = list(message.cc)
        if message.bcc:
            params["Bcc"] = list(message.bcc)
        if message.attachments:
            for attachment in message.attachments:
                if len(attachment.filename) > 255:
                    raise LimitExceeded(
                        f"attachment name is {len(attachment.filename)} characters; Tencent SES allows 255",
                        provider=self.name,
                    )
            params["Attachments"] = [{"FileName": a.filename, "Content": _b64(a.content)} for a in message.attachments]
        # A single send is transactional (TriggerType 1, the fast channel; reference 2 section 6)
        # unless the caller asks for the marketing channel (provider_options trigger_type).
        trigger = options.get("trigger_type", "transactional")
        if trigger not in _TRIGGER_TYPES:
            raise InvalidRequest("trigger_type must be 'transactional' or 'marketing'", provider=self.name)
        params.setdefault("TriggerType", _TRIGGER_TYPES[trigger])
        if "header_from" in options:
            params["HeaderFrom"] = str(options["header_from"])
        headers = dict(message.headers)
        for name in [h for h in headers if h.lower() == "message-id"]:
            params["SmtpMessageId"] = headers.pop(name)
        if headers:
            params["SmtpHeaders"] = json.dumps(headers, ensure_ascii=False)
        sent_at = dt.datetime.now(dt.UTC)
        response = self._call("SendEmail", params)
        return SendReceipt(
            provider=self.name,
            message_ids=(str(self._require("SendEmail", response, "MessageId")),),
            accepted=(*message.to, *message.cc, *message.bcc),
            request_id=response.get("RequestId"),
            sent_at=sent_at,
        )

    def send_to_group(self, group: Group, message: Message, *, schedule: dt.datetime | None = None) -> SendReceipt:
        """BatchSendEmail: ``TaskType`` 1 (now), or 2 with ``TimedParam.BeginTime`` (Beijing time,
        as every SES date) for a ``schedule``; a TaskType given in ``provider_options["params"]`` is kept."""
        if message.attachments:
            self.unsupported(Feature.ATTACHMENTS, "BatchSendEmail does not take attachments yet")
        if message.cc or message.bcc or message.headers:
            raise UnsupportedFeature(
                "Tencent SES BatchSendEmail takes no cc, bcc or custom headers", provider=self.name
            )
        params = self._common(message)
        params["ReceiverId"] = self._receiver_id(group)
        if schedule is not None:
            begin = schedule.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
            params.update({"TaskType": 2, "TimedParam": {"BeginTime": begin}})
        else:
            params.setdefault("TaskType", 1)  # send now, unless provider_options set another task type
        options = message.provider_options
        if "ad_location" in options:
            params["ADLocation"] = int(options["ad_location"])
        sent_at = dt.datetime.now(dt.UTC)
        try:
            response = self._call("BatchSendEmail", params)
        except ResourceBusy as exc:
            if exc.provider_code != "OperationDenied.ReceiverStatusError":
                raise
            raise self._receiver_status_error(group, exc) from exc
        return SendReceipt(
            provider=self.name,
            request_id=response.get("RequestId"),
            sent_at=sent_at,
            batch_id=str(self._require("BatchSendEmail", response, "TaskId")),
            extra={"group_id": group.id},
        )

    def _receiver_status_error(self, group: Group, exc: ResourceBusy) -> MailbridgeError:
        """ReceiverStatusError means "empty, or not finished importing": ask which. Only an
        import still running is worth a retry; an empty list stays empty."""
        try:
            found = [g for g in self.list_groups(keyword=group.name, cursor=None, page_size=100).items]
        except MailbridgeError:
            return exc
        current = next((g for g in found if g.id == group.id), None)
        if current is not None and current.status is GroupStatus.PROCESSING:
            exc.retryable = True
            return exc
        return InvalidRequest(
            f"recipient group {group.name!r} is empty: upload recipients before a group send",
            provider=self.name,
            provider_code=exc.provider_code,
            provider_message=exc.provider_message,
            request_id=exc.request_id,
        )

    def send_task(self, task_id: str) -> dict[str, Any]:
        """The ListSendTasks record of a group send (``SendReceipt.batch_id``), or {} when not listed."""

        def fetch(cursor: str | None) -> Page[ResponseReader]:
            return self._offset_page("ListSendTasks", {}, "Data", cursor)[1]

        for page in follow_pages(fetch, provider=self.name, operation="ListSendTasks"):
            for task in page.items:
                if task.string("TaskId") == str(task_id):
                    return task.as_dict()
        return {}

    # ------------------------------------------------------------------ delivery

    def query_deliveries(self, query: DeliveryQuery, *, cursor: str | None, page_size: int) -> Page[DeliveryEvent]:
        offset = int(cursor or 0)
        limit = min(page_size, 100)
        params: dict[str, Any] = {
            "RequestDate": query.start.astimezone(BEIJING).date().isoformat(),
            "Offset": offset,
            "Limit": limit,
        }
        if query.message_id:
            params["MessageId"] = query.message_id
        if query.recipient:
            params["ToEmailAddress"] = query.recipient
        response = self._read("GetSendEmailStatus", params)
        response.expect("EmailStatusList")  # the only field of the answer besides RequestId
        rows = response.records("EmailStatusList")
        events = [self._event(r) for r in rows]
        return Page(events, str(offset + len(rows)) if len(rows) >= limit else None)

    def _event(self, row: ResponseReader | Mapping[str, Any]) -> DeliveryEvent:
        row = self._reader(row, "GetSendEmailStatus")
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
            provider=self.name,
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

    def statistics(self, start: str, end: str) -> list[StatisticsRow]:
        response = self._read("GetStatisticsReport", {"StartDate": start, "EndDate": end})
        response.expect("DailyVolumes")
        rows: list[StatisticsRow] = []
        for v in response.records("DailyVolumes"):
            if not (day := v.string("SendDate")):
                continue
            try:
                date = dt.date.fromisoformat(day[:10])
            except ValueError:
                raise v.error(f"{v.path}.SendDate", day, "a date (YYYY-MM-DD)") from None
            rows.append(
                StatisticsRow(
                    date=date,
                    requested=v.count("RequestCount") or 0,
                    delivered=v.count("DeliveredCount") or 0,
                    bounced=v.count("BounceCount") or 0,
                    opened=v.count("OpenedCount"),
                    clicked=v.count("ClickedCount"),
                    unsubscribed=v.count("UnsubscribeCount"),
                )
            )
        return rows

    # ------------------------------------------------------------------ read-only setup views

    def _domain(self, name: str, response: ResponseReader) -> SenderDomain:
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
            provider=self.name,
            verified=verified,
            status="verified" if verified else "pending",
            records=records,
        )

    def create_domain(self, name: str) -> SenderDomain:
        return self._domain(name, self._read("CreateEmailIdentity", {"EmailIdentity": name}))

    def list_domains(self) -> list[SenderDomain]:
        response = self._read("ListEmailIdentities", {})
        response.expect("EmailIdentities")
        return [
            SenderDomain(
                name=i.text("IdentityName"),
                provider=self.name,
                verified=i.flag("SendingEnabled"),
                status="verified" if i.flag("SendingEnabled") else "pending",
            )
            for i in response.records("EmailIdentities")
        ]

    def get_domain(self, name: str) -> SenderDomain:
        response = self._read("GetEmailIdentity", {"EmailIdentity": name})
        response.expect("VerifiedForSendingStatus")
        return self._domain(name, response)

    def verify_domain(self, name: str) -> SenderDomain:
        # UpdateEmailIdentity is SES's "check the DNS records again" and answers like GetEmailIdentity.
        return self._domain(name, self._read("UpdateEmailIdentity", {"EmailIdentity": name}))

    def delete_domain(self, name: str) -> None:
        self._call("DeleteEmailIdentity", {"EmailIdentity": name})

    def create_sender(self, address: str, *, kind: str | None = None, reply_to: str | None = None) -> SenderAddress:
        # SES addresses serve transactional and batch mail alike, so ``kind`` has nothing to select.
        if reply_to is not None:
            log.warning(
                "Tencent SES has no per-sender reply-to address; %s is created without it (set one per message)",
                address,
            )
        self._call("CreateEmailAddress", {"EmailAddress": address})
        return SenderAddress(address=address, provider=self.name)

    def list_senders(self) -> list[SenderAddress]:
        response = self._read("ListEmailAddress", {})
        response.expect("EmailSenders")
        return [
            SenderAddress(address=s.text("EmailAddress"), provider=self.name) for s in response.records("EmailSenders")
        ]

    def delete_sender(self, sender: SenderAddress) -> None:
        self._call("DeleteEmailAddress", {"EmailAddress": sender.address})

    def set_sender_password(self, sender: SenderAddress, password: Secret) -> None:
        if problem := smtp_password_error(password.reveal()):
            raise InvalidRequest(f"Tencent SES refuses this SMTP password: {problem}", provider=self.name)
        self._call("UpdateEmailSmtpPassWord", {"Password": password.reveal(), "EmailAddress": sender.address})

    # ------------------------------------------------------------------ templates

    @staticmethod
    def _template_id(template_id: str) -> int:
        """SES template ids are integers: anything else names no template."""
        try:
            return int(template_id)
        except ValueError:
            raise TemplateNotFound(f"no Tencent SES template with id {template_id!r}", provider="tencent") from None

    def _template_content(self, html: str | None, text: str | None) -> dict[str, str]:
        content: dict[str, str] = {}
        if (provider_html := self.template_syntax.to_provider(html)) is not None:
            content["Html"] = _b64(provider_html)
        if (provider_text := self.template_syntax.to_provider(text)) is not None:
            content["Text"] = _b64(provider_text)
        return content

    def _held(self, template_id: str, name: str, html: str | None, text: str | None, status: int) -> Template:
        """The template as SES now holds it: no subject, the bodies as they read back."""
        syntax = self.template_syntax
        return Template(
            id=template_id,
            name=name,
            provider=self.name,
            html=syntax.from_provider(syntax.to_provider(html)),
            text=syntax.from_provider(syntax.to_provider(text)),
            status=_TEMPLATE_STATUS[status],
        )

    def create_template(self, name: str, *, subject: str, html: str | None = None, text: str | None = None) -> Template:
        """CreateEmailTemplate with the bodies; ``subject`` is not sent (SES templates have none)."""
        content = self._template_content(html, text)
        response = self._call("CreateEmailTemplate", {"TemplateName": name, "TemplateContent": content})
        template_id = str(self._require("CreateEmailTemplate", response, "TemplateID"))
        return self._held(template_id, name, html, text, 1)  # every new SES template is reviewed first

    def list_templates(self) -> list[Template]:
        """ListEmailTemplates, every page (bounded by :func:`~mailbridge.follow_pages`)."""
        templates: list[Template] = []
        for t in self._offset_records("ListEmailTemplates", {}, "TemplatesMetadata"):
            if (number := t.integer("TemplateID")) is None:
                continue
            template_id = str(number)
            templates.append(
                Template(
                    id=template_id,
                    name=t.text("TemplateName"),
                    provider=self.name,
                    status=_TEMPLATE_STATUS.get(t.integer("TemplateStatus"), "unavailable"),
                )
            )
        return templates

    def get_template(self, template_id: str) -> Template:
        """GetEmailTemplate: the bodies in the neutral syntax, ``subject`` None (SES stores none)."""
        response = self._read("GetEmailTemplate", {"TemplateID": self._template_id(template_id)})
        response.expect("TemplateContent")
        content = response.object("TemplateContent") or ResponseReader(
            {}, provider=self.name, action="GetEmailTemplate"
        )
        return Template(
            id=str(template_id),
            name=response.text("TemplateName"),
            provider=self.name,
            html=self.template_syntax.from_provider(_unb64(content.string("Html"))),
            text=self.template_syntax.from_provider(_unb64(content.string("Text"))),
            status=_TEMPLATE_STATUS.get(response.integer("TemplateStatus"), "unavailable"),
        )

    def update_template(
        self, template: Template, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        params = {
            "TemplateID": self._template_id(template.id),
            "TemplateName": template.name,
            "TemplateContent": self._template_content(html, text),
        }
        self._call("UpdateEmailTemplate", params)
        return self._held(template.id, template.name, html, text, 1)  # changed content is reviewed again

    def delete_template(self, template: Template) -> None:
        self._call("DeleteEmailTemplate", {"TemplateID": self._template_id(template.id)})

    # ------------------------------------------------------------------ pushed events

    @classmethod
    def parse_events(cls, request: EventRequest) -> list[DeliveryEvent]:
        """A Tencent SES callback (reference part 2, 1.1); statuses as in GetSendEmailStatus."""
        from ._events import parse_callback

        return parse_callback(request, DELIVER_STATUS)

    @classmethod
    def authenticate_events(cls, request: EventRequest, auth: EventAuth) -> None:
        """Tencent signs nothing: the receiver's URL secret, then ``username`` == the appId."""
        from ._events import check_account

        check_account(request, auth.account)

    # ------------------------------------------------------------------ suppression lists

    def list_suppressions(self, *, cursor: str | None, page_size: int) -> Page[Suppression]:
        """Tencent's shared hard-bounce blacklist (ListBlackEmailAddress, scope ``shared``), then
        the account's active custom blacklist (ListCustomBlacklist Status 1, reason ``manual``).
        Cursor ``shared:<offset>`` or ``custom:<offset>``."""
        part, _, offset_text = (cursor or "shared:0").partition(":")
        offset = int(offset_text or 0)
        limit = min(page_size, SUPPRESSION_PAGE)
        if part == "shared":
            response = self._read(
                "ListBlackEmailAddress",
                {
                    "StartDate": BLACKLIST_EPOCH,  # required; no span limit documented: the whole history
                    "EndDate": dt.datetime.now(BEIJING).date().isoformat(),
                    "Offset": offset,
                    "Limit": limit,
                },
            )
            rows = response.records("BlackList")
            items = [
                Suppression(
                    address=r.text("EmailAddress"),
                    reason=SuppressionReason.BOUNCE,
                    since=_beijing_time(r, "BounceTime"),
                    scope="shared",
                    provider=self.name,
                    detail=r.string("IspDesc") or None,
                )
                for r in rows
            ]
            more = offset + len(rows) < (response.count("TotalCount") or 0) and len(rows) > 0
            if not items:  # an empty page ends a listing (follow_pages): go straight on to the custom list
                return self.list_suppressions(cursor="custom:0", page_size=page_size)
            return Page(items, f"shared:{offset + len(rows)}" if more else "custom:0")
        response = self._read("ListCustomBlacklist", {"Offset": offset, "Limit": limit, "Status": 1})
        rows = response.records("Data")
        items = [
            Suppression(
                address=r.text("Email"),
                reason=SuppressionReason.MANUAL,
                since=_beijing_time(r, "CreateTime"),
                scope="account",
                provider=self.name,
                detail=f"expires {expires}" if (expires := r.string("ExpireDate")) else None,
            )
            for r in rows
        ]
        more = offset + len(rows) < (response.count("TotalCount") or 0) and len(rows) > 0
        return Page(items, f"custom:{offset + len(rows)}" if more else None)

    def add_suppressions(self, addresses: Sequence[str], reason: SuppressionReason = SuppressionReason.MANUAL) -> None:
        """CreateCustomBlacklist without ExpireDate (permanent); the list keeps no reason."""
        self._call("CreateCustomBlacklist", {"Emails": list(addresses)})

    def remove_suppressions(self, addresses: Sequence[str]) -> None:
        """DeleteCustomBlackList, then DeleteBlackList (false positives on the shared list)."""
        self._call("DeleteCustomBlackList", {"Emails": list(addresses)})
        self._call("DeleteBlackList", {"EmailAddressList": list(addresses)})
