"""The ``tencent`` backend: Tencent Cloud SES (API 2020-10-02) through the official SDK.

The URL is :mod:`._config`'s, the call (the SDK over the core's HTTP seam, one outcome rule) is
:mod:`._transport`'s, the error table :mod:`._errors`', reading answers :mod:`._parse`'s; this
module maps the neutral operations onto SES actions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from email.headerregistry import Address
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Self

from mailbridge import (
    Backend,
    BatchResult,
    DeliveryEvent,
    DeliveryQuery,
    DeliveryStatus,
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
)

from ._config import DEFAULT_TIMEOUT, ENV_ID, ENV_KEY, REGIONS, TencentConfig
from ._parse import (
    BEIJING,
    DELIVER_STATUS,
    HTML_TAG,
    SEND_STATUS,
    TEMPLATE_STATUS,
    b64,
    batch_result,
    beijing_time,
    compact,
    domain,
    event,
    group,
    member,
    success,
    unb64,
)
from ._transport import SesTransport

if TYPE_CHECKING:
    from mailbridge._events import EventAuth, EventRequest
from ._rules import smtp_password_error

__all__ = ["BEIJING", "DELIVER_STATUS", "REGIONS", "SEND_STATUS", "TencentBackend"]

log = logging.getLogger("mailbridge.tencent")

_TRIGGER_TYPES = {"marketing": 0, "transactional": 1, 0: 0, 1: 1, "0": 0, "1": 1}
_OPTION_KEYS = ("trigger_type", "unsubscribe_language", "header_from", "ad_location", "params")


SUPPRESSION_PAGE = 100  # ListBlackEmailAddress / ListCustomBlacklist Limit: at most 100
BLACKLIST_EPOCH = "2020-10-02"  # ListBlackEmailAddress StartDate: the API version's date, before any entry


class TencentBackend(Backend):
    """Tencent Cloud SES through ``tencentcloud-sdk-python-ses``."""

    name = "tencent"
    display_name = "Tencent Cloud SES"
    template_syntax = TemplateSyntax("Tencent Cloud SES", "{{", "}}")  # TemplateData keys fill {{key}}
    secret_fields = Backend.secret_fields | {"SecretId", "SecretKey", "X-TC-Token"}  # + SMTP Password
    environment = frozenset({ENV_ID, ENV_KEY})
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
        insecure: bool = False,
    ) -> None:
        config = TencentConfig(secret_id, secret_key, region, endpoint, timeout, insecure)
        self.secret_id = secret_id
        self._secret_key = secret_key
        self.region = region
        self.endpoint = endpoint
        self.timeout = timeout
        self._transport = SesTransport(config)
        self._client = self._transport.client
        self._connection = self._transport.connection

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_url(cls, url: ProviderURL) -> Self:
        c = TencentConfig.from_url(url)
        return cls(
            secret_id=c.secret_id,
            secret_key=c.secret_key,
            region=c.region,
            endpoint=c.endpoint,
            timeout=c.timeout,
            insecure=c.insecure,
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
        self._transport.close()

    def _call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """One SES action (:meth:`SesTransport.call`): the ``Response`` or one neutral error."""
        return self._transport.call(action, params)

    # ------------------------------------------------------------------ the one provider call

    # ------------------------------------------------------------------ groups

    def _read(self, action: str, params: dict[str, Any]) -> ResponseReader:
        """One call whose ``Response`` is read field by field (a wrong shape is ProviderUnavailable)."""
        return success(action, self._call(action, params))

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
            id=str(self._transport.require("CreateReceiver", response, "ReceiverId")),
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
        return Page([group(d) for d in page.items if d.has("ReceiverId")], page.next_cursor)

    def delete_group(self, group: Group) -> None:
        self._call("DeleteReceiver", {"ReceiverId": self._receiver_id(group)})

    # ------------------------------------------------------------------ members

    @staticmethod
    def template_data(recipient: Recipient) -> dict[str, str]:
        """What a member stores as TemplateData: its profile fields, then its template data."""
        return {**recipient.profile(), **recipient.data}

    def check_recipient(self, recipient: Recipient) -> str | None:
        data = self.template_data(recipient)
        if any(HTML_TAG.search(v) for v in data.values()):
            return "template data must not contain HTML tags (InvalidParameterValue.InValidTemplateData)"
        if data:
            size = len(compact(data).encode("utf-8"))
            if size > 800:
                return f"template data is {size} bytes as JSON; Tencent SES allows at most 800 per recipient"
        return None

    def upload_batch(self, group: Group, recipients: Sequence[Recipient]) -> BatchResult:
        receiver_id = self._receiver_id(group)
        emails = [r.email for r in recipients]
        if any(self.template_data(r) for r in recipients):
            datas = [{"Email": r.email, "TemplateData": compact(self.template_data(r))} for r in recipients]
            answer = self._read("CreateReceiverDetailWithData", {"ReceiverId": receiver_id, "Datas": datas})
        else:
            answer = self._read("CreateReceiverDetail", {"ReceiverId": receiver_id, "Emails": emails})
        return batch_result(answer, emails)

    def list_members(self, group: Group, *, cursor: str | None, page_size: int) -> Page[Member]:
        params: dict[str, Any] = {"ReceiverId": self._receiver_id(group)}
        _, page = self._offset_page("ListReceiverDetails", params, "Data", cursor, min(page_size, 100))
        return Page([member(d) for d in page.items], page.next_cursor)

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
            params["Template"] = {"TemplateID": template_id, "TemplateData": compact(message.template_data)}
        else:
            simple: dict[str, str] = {}
            if message.html is not None:
                simple["Html"] = b64(message.html)
            if message.text is not None:
                simple["Text"] = b64(message.text)
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
            params["Attachments"] = [{"FileName": a.filename, "Content": b64(a.content)} for a in message.attachments]
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
            message_ids=(str(self._transport.require("SendEmail", response, "MessageId")),),
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
            batch_id=str(self._transport.require("BatchSendEmail", response, "TaskId")),
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
        events = [event(r) for r in rows]
        return Page(events, str(offset + len(rows)) if len(rows) >= limit else None)

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

    def create_domain(self, name: str) -> SenderDomain:
        return domain(name, self._read("CreateEmailIdentity", {"EmailIdentity": name}))

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
        return domain(name, response)

    def verify_domain(self, name: str) -> SenderDomain:
        # UpdateEmailIdentity is SES's "check the DNS records again" and answers like GetEmailIdentity.
        return domain(name, self._read("UpdateEmailIdentity", {"EmailIdentity": name}))

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
            content["Html"] = b64(provider_html)
        if (provider_text := self.template_syntax.to_provider(text)) is not None:
            content["Text"] = b64(provider_text)
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
            status=TEMPLATE_STATUS[status],
        )

    def create_template(self, name: str, *, subject: str, html: str | None = None, text: str | None = None) -> Template:
        """CreateEmailTemplate with the bodies; ``subject`` is not sent (SES templates have none)."""
        content = self._template_content(html, text)
        response = self._call("CreateEmailTemplate", {"TemplateName": name, "TemplateContent": content})
        template_id = str(self._transport.require("CreateEmailTemplate", response, "TemplateID"))
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
                    status=TEMPLATE_STATUS.get(t.integer("TemplateStatus"), "unavailable"),
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
            html=self.template_syntax.from_provider(unb64(content.string("Html"))),
            text=self.template_syntax.from_provider(unb64(content.string("Text"))),
            status=TEMPLATE_STATUS.get(response.integer("TemplateStatus"), "unavailable"),
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
                    since=beijing_time(r, "BounceTime"),
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
                since=beijing_time(r, "CreateTime"),
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
