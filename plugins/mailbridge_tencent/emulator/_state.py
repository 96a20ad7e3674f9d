"""The emulated SES account: groups, members, sent mail, delivery records, domains, senders, templates.

Imports uploads asynchronously by default, as SES does (status 1 -> 2 -> 3 over ``upload_delay``
seconds of its ``clock``, ``OperationDenied.ReceiverIsOperating`` meanwhile; ``upload_delay=0`` for
instant imports), stores duplicates (SES does not de-duplicate) and enforces the documented limits
with the documented codes. The wire is :mod:`._wire`; the facade with the harness is the package.

Simulated delivery, by recipient domain (the same domains and SMTP replies as the Direct Mail
emulator and the local backend): ``bounce.example`` is refused by the recipient's ESP with
``550 5.1.1`` (DeliverStatus 3), ``spam.example`` refused with ``554 5.7.1`` (3),
``drop.example`` dropped by Tencent (2), ``fail.example`` fails to connect (SendStatus 1004,
``421 4.4.0``), ``delay.example`` delayed (8),
``invalid.example`` fails the address pre-check (SendStatus 3024), ``opened.example`` is
delivered, opened and clicked; every other address is delivered (1).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from attrs import define, field

from mailbridge import CHINA_TIME
from mailbridge.testing.emulator import Call, EmulatorError, Rendered

from .._rules import smtp_password_error
from ._lists import BLACKLIST_PARAMS, BlacklistActions
from ._push import PushEvents

__all__ = ["ACTION_PARAMS", "DEFAULT_UPLOAD_DELAY", "TEST_SECRET_ID", "TEST_SECRET_KEY", "SESAccount"]

TEST_SECRET_ID = "AKIDMailbridgeTestSecretId0000"
TEST_SECRET_KEY = "mailbridge-test-secret-tencent"
BEIJING = CHINA_TIME
MAX_UPLOAD = 20_000  # CreateReceiverDetail: per request
MAX_GROUP = 50_000  # per recipient group
MAX_DESTINATION = 50
MAX_COPIES = 20
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 4 * 1024 * 1024
MAX_TEMPLATE_DATA = 800
MAX_PAGE = 100
# Imports are asynchronous on SES (status 2 "uploading" before 3): by default one stays uploading
# this long on the emulator's clock. ``upload_delay=0`` opts in to instant imports.
DEFAULT_UPLOAD_DELAY = 5.0
RETENTION_DAYS = 30
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_FROM = re.compile(r"^(?:(?P<alias>[^<>]+?) <(?P<quoted>[^<>\s]+)>|(?P<bare>[^<>\s]+))$")


class _Error(EmulatorError):
    """An SES error answer (``Response.Error``, HTTP 200)."""


@define
class _Group:
    id: int
    name: str
    desc: str
    created: str
    members: list[dict[str, Any]] = field(factory=list)
    pending: list[tuple[float, list[dict[str, Any]]]] = field(factory=list)

    @property
    def status(self) -> int:
        if self.pending:
            return 2
        return 3 if self.members else 1


#: The parameters each action accepts (from the SDK's models.py); anything else is UnknownParameter.
ACTION_PARAMS: dict[str, set[str]] = {
    "CreateReceiver": {"ReceiversName", "Desc"},
    "ListReceivers": {"Offset", "Limit", "Status", "KeyWord"},
    "DeleteReceiver": {"ReceiverId"},
    "CreateReceiverDetail": {"ReceiverId", "Emails"},
    "CreateReceiverDetailWithData": {"ReceiverId", "Datas"},
    "ListReceiverDetails": {"ReceiverId", "Offset", "Limit", "Email", "CreateTimeBegin", "CreateTimeEnd", "Status"},
    "SendEmail": {
        "FromEmailAddress",
        "Subject",
        "Destination",
        "ReplyToAddresses",
        "Cc",
        "Bcc",
        "Template",
        "Simple",
        "Attachments",
        "Unsubscribe",
        "TriggerType",
        "SmtpMessageId",
        "SmtpHeaders",
        "HeaderFrom",
    },
    "BatchSendEmail": {
        "FromEmailAddress",
        "ReceiverId",
        "Subject",
        "TaskType",
        "ReplyToAddresses",
        "Template",
        "Simple",
        "Attachments",
        "CycleParam",
        "TimedParam",
        "Unsubscribe",
        "ADLocation",
    },
    "ListSendTasks": {"Offset", "Limit", "Status", "ReceiverId", "TaskType"},
    "GetSendEmailStatus": {"RequestDate", "Offset", "Limit", "MessageId", "ToEmailAddress"},
    "GetStatisticsReport": {"StartDate", "EndDate", "Domain", "ReceivingMailboxType"},
    "ListEmailIdentities": {"TagList", "Limit", "Offset"},
    "GetEmailIdentity": {"EmailIdentity"},
    "ListEmailAddress": set(),
    "CreateEmailTemplate": {"TemplateName", "TemplateContent"},
    "ListEmailTemplates": {"Limit", "Offset"},
    "GetEmailTemplate": {"TemplateID"},
    "DeleteEmailTemplate": {"TemplateID"},
    "UpdateEmailTemplate": {"TemplateContent", "TemplateID", "TemplateName"},
    "CreateEmailIdentity": {"EmailIdentity", "DKIMOption", "TagList"},
    "UpdateEmailIdentity": {"EmailIdentity", "NewAPI", "DKIMOption"},
    "DeleteEmailIdentity": {"EmailIdentity"},
    "CreateEmailAddress": {"EmailAddress", "EmailSenderName"},
    "DeleteEmailAddress": {"EmailAddress"},
    "UpdateEmailSmtpPassWord": {"Password", "EmailAddress"},
}

_SIMULATED: dict[str, tuple[int, int, str]] = {
    "bounce.example": (0, 3, "550 5.1.1 mailbox does not exist (emulated)"),
    "spam.example": (0, 3, "554 5.7.1 rejected as spam (emulated)"),
    "drop.example": (0, 2, "dropped: the address is on the suppression list (emulated)"),
    "fail.example": (1004, 0, "421 4.4.0 connection failed (emulated)"),
    "delay.example": (0, 8, "421 try again later (emulated)"),
    "invalid.example": (3024, 0, "address pre-check failed (emulated)"),
}


def _beijing_now(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, BEIJING)


def _b64decode(value: Any, code: str) -> bytes:
    if not isinstance(value, str):
        raise _Error(code, "content must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Error(code, "content is not valid base64") from None


def _int(params: Mapping[str, Any], name: str, default: int | None = None, missing: str = "MissingParameter") -> int:
    value = params.get(name, default)
    if value is None:
        raise _Error(missing, f"The request is missing a required parameter `{name}`.")
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Error("InvalidParameter", f"the parameter {name} must be an integer")
    return value


def _page(params: Mapping[str, Any]) -> tuple[int, int]:
    """``Offset`` and ``Limit``, both required on every SES listing that takes them."""
    offset = _int(params, "Offset")
    limit = _int(params, "Limit")
    if limit > MAX_PAGE or limit < 0 or offset < 0:
        raise _Error("FailedOperation.InvalidLimit", "Limit supports at most 100")
    return offset, limit


ACTION_PARAMS.update(BLACKLIST_PARAMS)


class SESAccount(BlacklistActions, PushEvents):
    """One emulated SES account. **Parameters:** ``upload_delay`` *(optional)*: seconds (on
    ``clock``) an upload stays "uploading", default :data:`DEFAULT_UPLOAD_DELAY` as imports take
    time on SES too (0: finish at once); ``allow_simple`` *(optional)*: whether raw Html/Text sends
    are allowed (real accounts need a special config); ``templates``: template id -> name;
    ``domains``: verified sender domains (None: any); ``blacklist``: addresses SendEmail refuses;
    ``max_groups``: recipient groups per account; ``max_group_size``: addresses per group (the
    documented 50,000); ``template_review``: new templates stay "in review" (status 1) instead of
    being approved at once; ``auto_verify``: UpdateEmailIdentity finds a new domain's DNS records
    in place.
    """

    def __init__(
        self,
        *,
        upload_delay: float = DEFAULT_UPLOAD_DELAY,
        allow_simple: bool = True,
        templates: Mapping[int, str] | None = None,
        domains: Iterable[str] | None = None,
        blacklist: Iterable[str] = (),
        max_groups: int = 100,
        max_group_size: int = MAX_GROUP,
        template_review: bool = False,
        auto_verify: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.upload_delay = upload_delay
        self.allow_simple = allow_simple
        names = dict(templates or {1: "welcome", 2: "newsletter"})
        self.templates: dict[int, dict[str, Any]] = {
            i: {"name": n, "html": f"<p>{n}, {{{{name}}}}</p>", "text": f"{n}, {{{{name}}}}", "status": 0}
            for i, n in names.items()
        }
        self.template_review = template_review
        # Sender domains (name -> verified) and addresses; with ``domains`` None any sender may send.
        self.strict_senders = domains is not None
        initial = list(domains) if domains is not None else ["mail.example.com"]
        self.identities: dict[str, dict[str, Any]] = {d: {"verified": True} for d in initial}
        self.senders: dict[str, dict[str, Any]] = {
            f"noreply@{d}": {"name": "mailbridge", "created": int(clock()), "password": None} for d in initial
        }
        self.auto_verify = auto_verify
        self.blacklist = {a.casefold() for a in blacklist}
        self.max_groups = max_groups
        self.max_group_size = max_group_size  # the documented 50,000; smaller to test splitting cheaply
        self.clock = clock
        self.groups: dict[int, _Group] = {}
        self.sent_mail: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.tasks: list[dict[str, Any]] = []
        self.timed: list[tuple[float, Callable[[], None]]] = []  # (BeginTime, run) of timed batch tasks
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()

    def publish_dns(self, domain: str) -> None:
        """Publish a domain's expected DNS records: the next UpdateEmailIdentity (verify) succeeds."""
        with self._lock:
            if domain not in self.identities:
                raise KeyError(f"no sender domain {domain!r} in the emulator")
            self.identities[domain]["published"] = True

    def expected_records(self, domain: str) -> list[tuple[str, str, str]]:
        """(type, host, value) of every DNS record the emulator expects for ``domain``."""
        with self._lock:
            answer = self._identity_answer(domain, self.identities[domain])
        return [(a["Type"], a["SendDomain"], a["ExpectedValue"]) for a in answer["Attributes"]]

    def render_template(self, template_id: str | int, data: Mapping[str, str]) -> Rendered:
        """A stored template rendered the SES way: ``{{name}}`` from TemplateData (SES templates
        have no subject: ``subject`` is None)."""
        with self._lock:
            stored = self.templates[int(template_id)]

        def fill(text: str | None) -> str | None:
            if text is None:
                return None
            return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(data.get(m.group(1), "")), text)

        return Rendered(None, fill(stored.get("html")), fill(stored.get("text")))

    def finish_uploads(self) -> None:
        """Complete every pending import now, whatever ``upload_delay`` says."""
        with self._lock:
            for group in self.groups.values():
                for _, entries in group.pending:
                    group.members.extend(entries)
                group.pending.clear()

    def _tick(self) -> None:
        now = self.clock()
        for group in self.groups.values():
            done = [p for p in group.pending if p[0] <= now]
            for item in done:
                group.members.extend(item[1])
                group.pending.remove(item)
        for task in [t for t in self.timed if t[0] <= now]:  # timed batch tasks whose BeginTime has come
            self.timed.remove(task)
            task[1]()

    # ------------------------------------------------------------------ request handling

    def dispatch(self, call: Call) -> dict[str, Any]:
        """Answer one authenticated call: the ``Response`` fields (errors raise :class:`_Error`)."""
        with self._lock:
            self._tick()
            result: dict[str, Any] = getattr(self, f"_do_{call.action}")(call.params)
            return result

    def snapshot(self) -> dict[str, Any]:
        """``GET /_emulator/state``: groups and sent mail (attachments left out)."""
        with self._lock:
            return {
                "groups": [self._group_data(g) for g in self.groups.values()],
                "sent_mail": [{k: v for k, v in m.items() if k != "attachments"} for m in self.sent_mail],
            }

    # ------------------------------------------------------------------ groups

    def _group(self, params: Mapping[str, Any]) -> _Group:
        receiver_id = _int(params, "ReceiverId", missing="MissingParameter.ReceiverIdNecessary")
        group = self.groups.get(receiver_id)
        if group is None:
            raise _Error("OperationDenied.ReceiverNotExist", "the recipient group does not exist")
        return group

    @staticmethod
    def _group_data(group: _Group) -> dict[str, Any]:
        return {
            "ReceiverId": group.id,
            "ReceiversName": group.name,
            "Count": sum(1 for m in group.members),
            "Desc": group.desc,
            "ReceiversStatus": group.status,
            "CreateTime": group.created,
            "InvalidCount": sum(1 for m in group.members if m["Status"] == 2),
        }

    def _do_CreateReceiver(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("ReceiversName")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise _Error("InvalidParameterValue.ReceiverNameIllegal", "the recipient group name is not valid")
        desc = params.get("Desc", "")
        if not isinstance(desc, str) or len(desc) > 300:
            raise _Error("InvalidParameterValue.ReceiverDescIllegal", "the description must have 1-300 characters")
        if any(g.name == name for g in self.groups.values()):
            raise _Error("InvalidParameterValue.RepeatReceiverName", "the recipient group name already exists")
        if len(self.groups) >= self.max_groups:
            raise _Error("LimitExceeded.ExceedReceiverLimit", "too many recipient groups")
        group = _Group(next(self._ids), name, desc, _beijing_now(self.clock()).strftime("%Y-%m-%d %H:%M:%S"))
        self.groups[group.id] = group
        return {"ReceiverId": group.id}

    def _do_ListReceivers(self, params: dict[str, Any]) -> dict[str, Any]:
        offset, limit = _page(params)
        groups = sorted(self.groups.values(), key=lambda g: g.id)
        if params.get("KeyWord"):
            groups = [g for g in groups if str(params["KeyWord"]) in g.name]
        if params.get("Status") is not None:
            groups = [g for g in groups if g.status == params["Status"]]
        return {"TotalCount": len(groups), "Data": [self._group_data(g) for g in groups[offset : offset + limit]]}

    def _do_DeleteReceiver(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        if group.pending:
            raise _Error("OperationDenied.ReceiverIsOperating", "the recipient group is being uploaded")
        del self.groups[group.id]
        return {}

    def _upload(self, group: _Group, entries: list[tuple[Any, Any]]) -> dict[str, Any]:
        if group.pending:
            raise _Error("OperationDenied.ReceiverIsOperating", "the recipient group is being uploaded; try later")
        if not entries:
            raise _Error("MissingParameter.EmailsNecessary", "the recipient email address is required")
        if len(entries) > MAX_UPLOAD:
            raise _Error("LimitExceeded.ReceiverDetailRequestLimit", "at most 20000 addresses per request")
        seen = {m["Email"].casefold() for m in group.members}
        if len(group.members) + len(entries) > self.max_group_size:
            raise _Error(
                "LimitExceeded.ReceiverDetailCountLimit",
                f"a recipient group holds at most {self.max_group_size} addresses",
            )
        now = _beijing_now(self.clock()).strftime("%Y-%m-%d %H:%M:%S")
        counts = {
            "TotalCount": len(entries),
            "ValidCount": 0,
            "TooLongCount": 0,
            "EmptyEmailCount": 0,
            "RepeatCount": 0,
        }
        accepted: list[dict[str, Any]] = []
        for email, data in entries:
            if data is not None:
                if not isinstance(data, str):
                    raise _Error("InvalidParameterValue.TemplateDataError", "TemplateData must be a JSON string")
                try:
                    decoded = json.loads(data)
                except ValueError:
                    raise _Error("InvalidParameterValue.TemplateDataError", "TemplateData must be JSON") from None
                if not isinstance(decoded, dict):
                    raise _Error("InvalidParameterValue.TemplateDataError", "TemplateData must be a JSON object")
                if len(data.encode()) > MAX_TEMPLATE_DATA:
                    raise _Error("InvalidParameterValue.TemplateDataLenLimit", "TemplateData exceeds 800 bytes")
                if re.search(r"<[a-zA-Z/][^>]*>", data):
                    raise _Error("InvalidParameterValue.InValidTemplateData", "TemplateData must not contain HTML")
            if not isinstance(email, str) or not email.strip():
                counts["EmptyEmailCount"] += 1
                continue
            if len(email) > 254:
                counts["TooLongCount"] += 1
                continue
            if email.casefold() in seen:  # counted, but stored all the same: SES does not de-duplicate
                counts["RepeatCount"] += 1
            seen.add(email.casefold())
            valid = bool(_EMAIL.match(email))
            accepted.append(
                {
                    "Email": email,
                    "CreateTime": now,
                    "TemplateData": data or "",
                    "Reason": "" if valid else "invalid email address format",
                    "Status": 1 if valid else 2,
                    "EmailId": next(self._ids),
                }
            )
            counts["ValidCount"] += 1
        group.pending.append((self.clock() + self.upload_delay, accepted))
        if self.upload_delay <= 0:
            self._tick()
        return counts

    def _do_CreateReceiverDetail(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        emails = params.get("Emails")
        if not isinstance(emails, list):
            raise _Error("MissingParameter.EmailsNecessary", "the recipient email address is required")
        return self._upload(group, [(e, None) for e in emails])

    def _do_CreateReceiverDetailWithData(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        datas = params.get("Datas")
        if not isinstance(datas, list):
            raise _Error("MissingParameter.EmailsNecessary", "Datas is required")
        return self._upload(group, [(d.get("Email"), d.get("TemplateData")) for d in datas if isinstance(d, dict)])

    def _do_ListReceiverDetails(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        offset, limit = _page(params)
        members = group.members
        if params.get("Email"):
            members = [m for m in members if str(params["Email"]) in m["Email"]]
        if params.get("Status") is not None:
            members = [m for m in members if m["Status"] == params["Status"]]
        return {
            "TotalCount": len(members),
            "Data": [dict(m) for m in members[offset : offset + limit]],
            "ValidCount": sum(1 for m in group.members if m["Status"] == 1),
            "InvalidCount": sum(1 for m in group.members if m["Status"] == 2),
        }

    # ------------------------------------------------------------------ sending

    def _sender(self, params: Mapping[str, Any]) -> tuple[str, str | None]:
        value = params.get("FromEmailAddress")
        if not isinstance(value, str) or not value:
            raise _Error("InvalidParameterValue.EmailAddressIsNULL", "the sender address is empty")
        match = _FROM.match(value)
        if not match:
            raise _Error("FailedOperation.IncorrectSender", "the sender format is incorrect")
        alias = match["alias"]
        address = match["quoted"] or match["bare"]
        if alias is not None and ":" in alias:
            raise _Error("InvalidParameterValue.IllegalSenderName", "the sender alias must not contain ':'")
        if not _EMAIL.match(address):
            raise _Error("FailedOperation.IncorrectSender", "the sender address is invalid")
        domain = address.rsplit("@", 1)[1].casefold()
        verified = {d.casefold() for d, i in self.identities.items() if i["verified"]}
        if self.strict_senders and domain not in verified:
            raise _Error("FailedOperation.NotAuthenticatedSender", "the sender domain is not verified")
        return address, alias

    def _content(self, params: Mapping[str, Any]) -> dict[str, Any]:
        subject = params.get("Subject")
        if not isinstance(subject, str) or not 1 <= len(subject) <= 100:
            raise _Error("InvalidParameterValue.SubjectLengthError", "the subject must have 1-100 characters")
        template, simple = params.get("Template"), params.get("Simple")
        if template is not None and simple is not None:
            raise _Error("InvalidParameter", "Template and Simple cannot be used together")
        out: dict[str, Any] = {"subject": subject, "template_id": None, "template_data": {}, "html": None, "text": None}
        if template is not None:
            template_id = template.get("TemplateID") if isinstance(template, dict) else None
            if isinstance(template_id, bool) or not isinstance(template_id, int) or template_id not in self.templates:
                raise _Error("FailedOperation.InvalidTemplateID", "the template ID is invalid or unavailable")
            if self.templates[template_id]["status"] != 0:
                raise _Error("OperationDenied.TemplateStatusError", "the template is not approved")
            data = template.get("TemplateData", "{}")
            try:
                decoded = json.loads(data) if isinstance(data, str) else None
            except ValueError:
                decoded = None
            if not isinstance(decoded, dict):
                raise _Error("FailedOperation.WrongContentJson", "TemplateData must be a JSON string")
            out.update(template_id=template_id, template_data=decoded)
        elif simple is not None:
            if not self.allow_simple:
                raise _Error("FailedOperation.WithOutPermission", "only template sends are allowed")
            if not isinstance(simple, dict) or not (simple.get("Html") or simple.get("Text")):
                raise _Error("FailedOperation.MissingEmailContent", "Html or Text is required")
            for key in ("Html", "Text"):
                if simple.get(key) is not None:
                    decoded_body = _b64decode(simple[key], "InvalidParameterValue.EmailContentIsWrong")
                    out[key.lower()] = decoded_body.decode("utf-8", "replace")
        else:
            raise _Error("FailedOperation.MissingEmailContent", "TemplateData and Simple cannot both be empty")
        unsubscribe = params.get("Unsubscribe")
        if unsubscribe is not None and unsubscribe not in {str(i) for i in range(13)}:
            raise _Error("InvalidParameterValue", "Unsubscribe must be '0' to '12'")
        out["unsubscribe"] = unsubscribe
        return out

    def _record(self, mail: dict[str, Any], recipients: list[str]) -> None:
        now = self.clock()
        self.sent_mail.append(mail)
        for address in recipients:
            domain = address.rsplit("@", 1)[-1].casefold()
            send_status, deliver_status, detail = _SIMULATED.get(domain, (0, 1, "250 OK (emulated)"))
            opened = domain == "opened.example"
            self.deliveries.append(
                {
                    "MessageId": mail["message_id"],
                    "ToEmailAddress": address,
                    "FromEmailAddress": mail["from"],
                    "SendStatus": send_status,
                    "DeliverStatus": deliver_status,
                    "DeliverMessage": detail,
                    "RequestTime": int(now),
                    "DeliverTime": int(now) if deliver_status == 1 else 0,
                    "UserOpened": opened,
                    "UserClicked": opened,
                    "UserUnsubscribed": False,
                    "UserComplainted": False,
                    "UserComplained": False,
                    "_date": _beijing_now(now).date().isoformat(),
                }
            )
            self._push_row(self.deliveries[-1], mail)

    def _message_id(self) -> str:
        stamp = _beijing_now(self.clock()).strftime("%Y%m%d%H%M%S")
        return f"qcloudses-30-{next(self._ids)}-date-{stamp}-{uuid.uuid4().hex[:12]}"

    def _do_SendEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        address, alias = self._sender(params)
        lists = {k: params.get(k) or [] for k in ("Destination", "Cc", "Bcc")}
        if not any(lists.values()):
            raise _Error("InvalidParameterValue.EmailAddressIsNULL", "Destination, Cc or Bcc is required")
        if len(lists["Destination"]) > MAX_DESTINATION:
            raise _Error("FailedOperation.TooManyRecipients", "at most 50 recipients")
        if len(lists["Cc"]) > MAX_COPIES or len(lists["Bcc"]) > MAX_COPIES:
            raise _Error("FailedOperation.TooManyRecipients", "at most 20 Cc and 20 Bcc recipients")
        if {a.casefold() for a in lists["Bcc"]} & {a.casefold() for a in lists["Destination"]}:
            raise _Error("InvalidParameterValue", "Bcc and Destination must not repeat an address")
        recipients = [a for v in lists.values() for a in v]
        for recipient in recipients:
            if not isinstance(recipient, str) or not _EMAIL.match(recipient):
                raise _Error("InvalidParameterValue.IllegalEmailAddress", "an email address is not valid")
            if recipient.casefold() in self.blacklist or self.custom_blacklisted(recipient):
                raise _Error("FailedOperation.EmailAddrInBlacklist", "the email address is in the blacklist")
        content = self._content(params)
        attachments = []
        total = 0
        for item in params.get("Attachments") or []:
            name = item.get("FileName") if isinstance(item, dict) else None
            if not isinstance(name, str) or not name or len(name) > 255:
                raise _Error("FailedOperation.InvalidAttachName", "the attachment name is not supported")
            data = _b64decode(item.get("Content"), "InvalidParameterValue.AttachContentIsWrong")
            total += len(data)
            attachments.append({"filename": name, "content": data})
        if len(attachments) > MAX_ATTACHMENTS:
            raise _Error("FailedOperation.TooManyAttachments", "at most 10 attachments")
        if total > MAX_ATTACHMENT_BYTES:
            raise _Error("FailedOperation.AttachContentToolarge", "attachments exceed 4 MB in total")
        headers: dict[str, Any] = {}
        if params.get("SmtpHeaders") is not None:
            try:
                headers = json.loads(params["SmtpHeaders"])
            except (TypeError, ValueError):
                headers = {}
            if not isinstance(headers, dict):
                raise _Error("InvalidParameter", "SmtpHeaders must be a JSON object string")
        trigger = params.get("TriggerType")
        if trigger not in (None, 0, 1):
            raise _Error("InvalidParameter", "TriggerType must be 0 or 1")
        message_id = self._message_id()
        mail = {
            "message_id": message_id,
            "from": address,
            "from_alias": alias,
            "to": list(lists["Destination"]),
            "cc": list(lists["Cc"]),
            "bcc": list(lists["Bcc"]),
            "reply_to": params.get("ReplyToAddresses"),
            "attachments": attachments,
            "headers": headers,
            "smtp_message_id": params.get("SmtpMessageId"),
            "trigger_type": trigger,
            "task_id": None,
            **content,
        }
        self._record(mail, recipients)
        return {"MessageId": message_id}

    def _do_BatchSendEmail(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("FromEmailAddress") or params.get("ReceiverId") is None:
            raise _Error("MissingParameter.SendParamNecessary", "sender, recipient group and template are required")
        if params.get("Template") is None and not self.allow_simple:
            raise _Error("MissingParameter.SendParamNecessary", "sender, recipient group and template are required")
        address, alias = self._sender(params)
        group = self._group(params)
        task_type = _int(params, "TaskType", missing="MissingParameter.SendParamNecessary")
        if task_type == 2 and not params.get("TimedParam"):
            raise _Error("MissingParameter.TimedParamNecessary", "a timed task needs TimedParam.BeginTime")
        if task_type == 3 and not params.get("CycleParam"):
            raise _Error("MissingParameter.CycleParamNecessary", "a cyclic task needs BeginTime and IntervalTime")
        if task_type not in (1, 2, 3):
            raise _Error("InvalidParameterValue", "TaskType must be 1, 2 or 3")
        if group.status != 3:
            raise _Error("OperationDenied.ReceiverStatusError", "the recipient group is empty or still uploading")
        content = self._content(params)
        begin: float | None = None
        if task_type == 2:
            timed = params["TimedParam"]
            try:
                begin_at = dt.datetime.strptime(str(timed.get("BeginTime")), "%Y-%m-%d %H:%M:%S")
            except (AttributeError, ValueError):
                raise _Error("InvalidParameterValue", "TimedParam.BeginTime must be 'YYYY-MM-DD HH:MM:SS'") from None
            begin = begin_at.replace(tzinfo=BEIJING).timestamp()
            if begin <= self.clock():
                raise _Error("InvalidParameterValue.BeginTimeBeforeNow", "the start time must be later than now")
        task_id = next(self._ids)
        valid = [m for m in group.members if m["Status"] == 1]
        stamp = _beijing_now(self.clock()).strftime("%Y-%m-%d %H:%M:%S")
        task = {
            "TaskId": task_id,
            "FromEmailAddress": params["FromEmailAddress"],
            "ReceiverId": group.id,
            "TaskStatus": 1 if begin is not None else 10,  # 1 pending, 10 done (ListSendTasks)
            "TaskType": task_type,
            "RequestCount": len(valid),
            "SendCount": 0 if begin is not None else len(valid),
            "CacheCount": 0,
            "CreateTime": stamp,
            "UpdateTime": stamp,
            "Subject": content["subject"],
            "Template": params.get("Template"),
            "CycleParam": params.get("CycleParam"),
            "TimedParam": params.get("TimedParam"),
            "ErrMsg": "",
            "ReceiversName": group.name,
        }
        self.tasks.append(task)

        def run() -> None:
            self._run_task(task, valid, content, address, alias, params)

        if begin is None:
            run()
        else:
            self.timed.append((begin, run))
        return {"TaskId": task_id}

    def _run_task(
        self,
        task: dict[str, Any],
        valid: list[dict[str, Any]],
        content: dict[str, Any],
        address: str,
        alias: str | None,
        params: Mapping[str, Any],
    ) -> None:
        task_id = task["TaskId"]
        task.update(TaskStatus=10, SendCount=len(valid))
        for member in valid:
            data = json.loads(member["TemplateData"] or "{}")
            mail = {
                "message_id": self._message_id(),
                "from": address,
                "from_alias": alias,
                "to": [member["Email"]],
                "cc": [],
                "bcc": [],
                "reply_to": params.get("ReplyToAddresses"),
                "attachments": [],
                "headers": {},
                "smtp_message_id": None,
                "trigger_type": None,
                "task_id": task_id,
                **content,
                "template_data": {**content["template_data"], **data},
            }
            self._record(mail, [member["Email"]])

    def _do_ListSendTasks(self, params: dict[str, Any]) -> dict[str, Any]:
        offset, limit = _page(params)
        tasks = [
            t
            for t in self.tasks
            if all(
                params.get(k) is None or t[f] == params[k]
                for k, f in (("Status", "TaskStatus"), ("ReceiverId", "ReceiverId"), ("TaskType", "TaskType"))
            )
        ]
        return {"TotalCount": len(tasks), "Data": tasks[offset : offset + limit]}

    # ------------------------------------------------------------------ status & statistics

    def _date(self, value: Any, code: str = "InvalidParameterValue.WrongDate") -> dt.date:
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise _Error(code, f"{value!r} is not a YYYY-MM-DD date") from None

    def _do_GetSendEmailStatus(self, params: dict[str, Any]) -> dict[str, Any]:
        if "RequestDate" not in params:
            raise _Error("MissingParameter", "RequestDate is required")
        day = self._date(params["RequestDate"])
        today = _beijing_now(self.clock()).date()
        if day < today - dt.timedelta(days=RETENTION_DAYS) or day > today:
            raise _Error("FailedOperation.NotSupportDate", "only mail within the last 30 days can be queried")
        offset, limit = _page(params)
        rows = [
            r
            for r in self.deliveries
            if r["_date"] == day.isoformat()
            and (not params.get("MessageId") or r["MessageId"] == params["MessageId"])
            and (
                not params.get("ToEmailAddress")
                or r["ToEmailAddress"].casefold() == params["ToEmailAddress"].casefold()
            )
        ]
        page = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows[offset : offset + limit]]
        return {"EmailStatusList": page}

    def _do_GetStatisticsReport(self, params: dict[str, Any]) -> dict[str, Any]:
        start = self._date(params.get("StartDate"), "InvalidParameter.InvalidStartTimeFormat")
        end = self._date(params.get("EndDate"), "InvalidParameter.InvalidEndTimeFormat")
        if end < start or (end - start).days > 366:
            raise _Error("InvalidParameterValue.WrongDate", "the date range is not valid")
        keys = (
            "RequestCount",
            "AcceptedCount",
            "DeliveredCount",
            "OpenedCount",
            "ClickedCount",
            "BounceCount",
            "UnsubscribeCount",
        )
        overall: dict[str, int] = dict.fromkeys(keys, 0)
        daily = []
        day = start
        while day <= end:
            rows = [r for r in self.deliveries if r["_date"] == day.isoformat()]
            volume: dict[str, Any] = {
                "SendDate": day.isoformat(),
                "RequestCount": len(rows),
                "AcceptedCount": sum(1 for r in rows if r["SendStatus"] == 0),
                "DeliveredCount": sum(1 for r in rows if r["DeliverStatus"] == 1),
                "OpenedCount": sum(1 for r in rows if r["UserOpened"]),
                "ClickedCount": sum(1 for r in rows if r["UserClicked"]),
                "BounceCount": sum(1 for r in rows if r["DeliverStatus"] == 3),
                "UnsubscribeCount": sum(1 for r in rows if r["UserUnsubscribed"]),
            }
            daily.append(volume)
            for k in keys:
                overall[k] += volume[k]
            day += dt.timedelta(days=1)
        return {"DailyVolumes": daily, "OverallVolume": {"SendDate": "", **overall}}

    # ------------------------------------------------------------------ domains & senders

    def _identity(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        name = params.get("EmailIdentity")
        if not isinstance(name, str) or name not in self.identities:
            raise _Error("InvalidParameterValue.NotExistDomain", "the domain has not been created")
        return name, self.identities[name]

    def _identity_answer(self, name: str, identity: Mapping[str, Any]) -> dict[str, Any]:
        digest = hashlib.sha256(name.encode()).hexdigest()[:32]
        records = [
            ("MX", name, "mxbiz1.qq.com"),
            ("TXT", name, "v=spf1 include:qcloudmail.com ~all"),
            ("TXT", f"qcloud._domainkey.{name}", f"v=DKIM1; k=rsa; p=MIGfMA0G{digest}"),
            ("TXT", f"_dmarc.{name}", "v=DMARC1; p=none"),
        ]
        verified = bool(identity["verified"])
        attributes = [
            {"Type": t, "SendDomain": h, "ExpectedValue": v, "CurrentValue": v if verified else "", "Status": verified}
            for t, h, v in records
        ]
        return {
            "IdentityType": "DOMAIN",
            "VerifiedForSendingStatus": verified,
            "Attributes": attributes,
            "DKIMOption": 0,
        }

    def _do_ListEmailIdentities(self, params: dict[str, Any]) -> dict[str, Any]:
        identities = [
            {
                "IdentityName": d,
                "IdentityType": "DOMAIN",
                "SendingEnabled": bool(i["verified"]),
                "CurrentReputationLevel": 1,
                "DailyQuota": 500,
                "SendIp": [],
                "TagList": [],
                "DKIMOption": 0,
            }
            for d, i in self.identities.items()
        ]
        return {"EmailIdentities": identities, "MaxReputationLevel": 4, "MaxDailyQuota": 500, "Total": len(identities)}

    def _do_GetEmailIdentity(self, params: dict[str, Any]) -> dict[str, Any]:
        name, identity = self._identity(params)
        return {**self._identity_answer(name, identity), "TagList": []}

    def _do_CreateEmailIdentity(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("EmailIdentity")
        if not isinstance(name, str) or not re.fullmatch(r"(?:[a-z0-9-]+\.)+[a-z]{2,}", name.casefold()):
            raise _Error("InvalidParameterValue.InvalidEmailIdentity", "the domain is not valid")
        if name in self.identities:
            raise _Error("InvalidParameterValue.RepeatCreation", "the domain has already been created")
        if len(self.identities) >= 10:
            raise _Error("OperationDenied.ExceedDomainLimit", "at most 10 sender domains")
        self.identities[name] = {"verified": False}
        return self._identity_answer(name, self.identities[name])

    def _do_UpdateEmailIdentity(self, params: dict[str, Any]) -> dict[str, Any]:
        name, identity = self._identity(params)
        if self.auto_verify or identity.get("published"):
            identity["verified"] = True
        return self._identity_answer(name, identity)

    def _do_DeleteEmailIdentity(self, params: dict[str, Any]) -> dict[str, Any]:
        name, _ = self._identity(params)
        if any(a.rsplit("@", 1)[1] == name for a in self.senders):
            raise _Error("OperationDenied.SenderWithDomainIsNotEmpty", "the domain still has sender addresses")
        del self.identities[name]
        return {}

    def _do_ListEmailAddress(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "EmailSenders": [
                {
                    "EmailAddress": a,
                    "EmailSenderName": s["name"],
                    "CreatedTimestamp": s["created"],
                    "SmtpPwdType": 1 if s["password"] else 0,
                }
                for a, s in self.senders.items()
            ]
        }

    def _do_CreateEmailAddress(self, params: dict[str, Any]) -> dict[str, Any]:
        address = params.get("EmailAddress")
        if not isinstance(address, str) or not _EMAIL.match(address):
            raise _Error("InvalidParameterValue.IllegalEmailAddress", "the email address is not valid")
        domain = address.rsplit("@", 1)[1]
        if domain not in self.identities:
            raise _Error("InvalidParameterValue.NotExistDomain", "create the sender domain first")
        if not self.identities[domain]["verified"]:
            raise _Error("OperationDenied.DomainNotVerified", "the domain has not passed verification")
        if address in self.senders:
            raise _Error("InvalidParameterValue.RepeatEmailAddress", "the sender address already exists")
        if sum(1 for a in self.senders if a.endswith("@" + domain)) >= 10:
            raise _Error("OperationDenied.ExceedSenderLimit", "at most 10 sender addresses per domain")
        self.senders[address] = {
            "name": params.get("EmailSenderName", ""),
            "created": int(self.clock()),
            "password": None,
        }
        return {}

    def _sender_entry(self, params: Mapping[str, Any]) -> dict[str, Any]:
        address = params.get("EmailAddress")
        if not isinstance(address, str) or address not in self.senders:
            raise _Error("InvalidParameterValue.NoSuchSender", "you have no such sender address")
        return self.senders[address]

    def _do_DeleteEmailAddress(self, params: dict[str, Any]) -> dict[str, Any]:
        self._sender_entry(params)
        del self.senders[params["EmailAddress"]]
        return {}

    def _do_UpdateEmailSmtpPassWord(self, params: dict[str, Any]) -> dict[str, Any]:
        sender = self._sender_entry(params)
        password = params.get("Password")
        if not isinstance(password, str) or smtp_password_error(password):
            raise _Error("InvalidParameterValue.InvalidSmtpPassWord", "the password does not meet the rules")
        digest = hashlib.sha256(password.encode()).hexdigest()
        if sender["password"] == digest:
            raise _Error("OperationDenied.RepeatPassWord", "the password must differ from the previous one")
        sender["password"] = digest
        return {}

    # ------------------------------------------------------------------ templates

    def _template(self, params: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        template_id = _int(params, "TemplateID")
        if template_id not in self.templates:
            raise _Error("InvalidParameterValue.TemplateNotExist", "the template does not exist")
        return template_id, self.templates[template_id]

    def _do_CreateEmailTemplate(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("TemplateName")
        if not isinstance(name, str) or not name:
            raise _Error("InvalidParameterValue.TemplateNameIsNULL", "the template name is empty")
        if len(name) > 100:
            raise _Error("InvalidParameterValue.TemplateNameIllegal", "the template name is not valid")
        content = params.get("TemplateContent")
        if not isinstance(content, dict) or not (content.get("Html") or content.get("Text")):
            raise _Error("InvalidParameterValue.TemplateContentIsNULL", "the template content is empty")
        decoded = {
            key.lower(): _b64decode(content[key], "InvalidParameterValue.TemplateContentIsWrong").decode()
            for key in ("Html", "Text")
            if content.get(key)
        }
        if len(self.templates) >= 100:
            raise _Error("FailedOperation.ExceedTemplateLimit", "too many templates")
        template_id = max(self.templates, default=0) + 1
        self.templates[template_id] = {
            "name": name,
            "html": decoded.get("html"),
            "text": decoded.get("text"),
            "status": 1 if self.template_review else 0,
            "created": int(self.clock()),
        }
        return {"TemplateID": template_id}

    def _do_ListEmailTemplates(self, params: dict[str, Any]) -> dict[str, Any]:
        offset, limit = _page(params)
        items = sorted(self.templates.items())
        return {
            "TemplatesMetadata": [
                {
                    "CreatedTimestamp": t.get("created", 0),
                    "TemplateName": t["name"],
                    "TemplateStatus": t["status"],
                    "TemplateID": i,
                    "ReviewReason": "",
                }
                for i, t in items[offset : offset + limit]
            ],
            "TotalCount": len(items),
        }

    def _do_GetEmailTemplate(self, params: dict[str, Any]) -> dict[str, Any]:
        _, template = self._template(params)
        content = {
            key: base64.b64encode(template[key.lower()].encode()).decode()
            for key in ("Html", "Text")
            if template.get(key.lower())
        }
        return {"TemplateContent": content, "TemplateStatus": template["status"], "TemplateName": template["name"]}

    def _do_UpdateEmailTemplate(self, params: dict[str, Any]) -> dict[str, Any]:
        _, template = self._template(params)
        content = params.get("TemplateContent")
        if not isinstance(content, dict) or not (content.get("Html") or content.get("Text")):
            raise _Error("InvalidParameterValue.TemplateContentIsNULL", "the template content is empty")
        name = params.get("TemplateName", template["name"])
        if not isinstance(name, str) or not name or len(name) > 100:
            raise _Error("InvalidParameterValue.TemplateNameIllegal", "the template name is not valid")
        decoded = {
            key.lower(): _b64decode(content[key], "InvalidParameterValue.TemplateContentIsWrong").decode()
            for key in ("Html", "Text")
            if content.get(key)
        }
        template.update(
            name=name,
            html=decoded.get("html"),
            text=decoded.get("text"),
            status=1 if self.template_review else 0,
        )
        return {}

    def _do_DeleteEmailTemplate(self, params: dict[str, Any]) -> dict[str, Any]:
        template_id, _ = self._template(params)
        del self.templates[template_id]
        return {}
