"""The emulator's Direct Mail account: state and one handler per action.

Handlers take the request's business parameters (strings) and return the JSON body
Direct Mail would return, or raise :class:`DMError` with the documented HTTP status and
code. Where the docs name no code for a rule the emulator enforces, the code used is
marked "emulator-chosen" and follows the gateway's ``Invalid{ParameterName}`` pattern
(the backend then falls back on the HTTP status, as it must for any unknown code).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DMError", "DeliveryRecord", "EmulatorState", "Receiver", "SentMail"]

CST = dt.timezone(dt.timedelta(hours=8))
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_UPLOAD = 500  # seed 000
MAX_TO = 100  # seed 002
MAX_BCC = 2  # seed 002
MAX_SUBJECT = 256  # seed 002
MAX_ALIAS = 14  # seed 002: fewer than 15 characters
MAX_HEADERS = 10  # seed 002: extra headers are ignored
MAX_WINDOW = dt.timedelta(days=30)  # seed 004
DATA_SCHEMA = "UserName,NickName,Gender,Birthday,Mobile"  # QueryReceiverDetail (reference A.1.1)
SCHEMA_KEYS = ("u", "n", "g", "b", "m")

# Simulated outcomes by recipient domain (seed 004 status codes).
OUTCOMES: dict[str, tuple[int, str, str]] = {
    "bounce.example": (2, "SmtpNxBox", "550 5.1.1 mailbox does not exist (emulated)"),
    "spam.example": (3, "SmtpSpamRejected", "554 5.7.1 rejected as spam (emulated)"),
    "fail.example": (4, "SmtpConnectFailed", "421 4.4.0 connection failed (emulated)"),
}
DELIVERED = (0, "SendOk", "250 Send Mail OK")


class DMError(Exception):
    """An error answer: HTTP status, Code, Message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _missing(name: str) -> DMError:
    return DMError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def _invalid(name: str) -> DMError:  # gateway pattern Invalid{ParameterName} (emulator-chosen use)
    return DMError(400, f"Invalid{name}", f"Specified parameter {name} is not valid.")


def _cst(ts: float, fmt: str = "%Y-%m-%dT%H:%MZ") -> str:
    return dt.datetime.fromtimestamp(ts, CST).strftime(fmt)


@dataclass
class MemberRecord:
    email: str
    detail: dict[str, str]
    custom: dict[str, str]
    created: float


@dataclass
class Receiver:
    id: str
    name: str
    alias: str
    desc: str
    created: float
    members: dict[str, MemberRecord] = field(default_factory=dict)  # key: casefolded address


@dataclass
class SentMail:
    action: str
    env_id: str
    sender: str
    to: list[str]
    subject: str
    params: dict[str, str]
    time: float


@dataclass
class DeliveryRecord:
    to: str
    sender: str
    subject: str
    tag: str
    status: int
    classification: str
    message: str
    time: float
    env_id: str

    def as_wire(self) -> dict[str, Any]:
        return {
            "Status": self.status,
            "LastUpdateTime": _cst(self.time),
            "Message": self.message,
            "ToAddress": self.to,
            "UtcLastUpdateTime": str(int(self.time)),
            "AccountName": self.sender,
            "Subject": self.subject,
            "ErrorClassification": self.classification,
        }


@dataclass
class Template:
    id: str
    name: str
    subject: str
    html: str | None
    text: str | None
    status: str = "2"  # approved (the emulator approves at once; the cloud reviews first: "1")
    created: float = 0.0


def _render(text: str | None, data: dict[str, str]) -> str | None:
    if text is None:
        return None
    pattern = r"\{\{\s*(\w+)\s*\}\}|\$\{(\w+)\}|\{(\w+)\}"
    return re.sub(pattern, lambda m: data.get(m.group(1) or m.group(2) or m.group(3) or "", ""), text)


class EmulatorState:
    """One emulated Direct Mail account. Thread-safe: every handler runs under one lock."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_lists: int = 10,
        max_list_size: int = 10_000,
        daily_quota: int = 2000,
        month_quota: int = 60_000,
    ) -> None:
        self.clock = clock
        self.max_lists = max_lists
        self.max_list_size = max_list_size
        self.daily_quota = daily_quota
        self.month_quota = month_quota
        self.lock = threading.RLock()
        self.receivers: dict[str, Receiver] = {}
        self.sent_mail: list[SentMail] = []
        self.deliveries: list[DeliveryRecord] = []
        self.invalid_addresses: set[str] = set()
        self.tags: dict[str, dict[str, str]] = {}
        self.templates: dict[str, Template] = {}
        self.senders: list[dict[str, Any]] = []
        self.domains: list[dict[str, Any]] = []
        self._ids = 100_000
        self._seed()

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    def _seed(self) -> None:
        now = int(self.clock())
        self.domains = [
            {"DomainId": 158910, "DomainName": "mail.example.com", "DomainStatus": "0", "ConfirmStatus": "0",
             "CnameAuthStatus": "0", "MxAuthStatus": "0", "SpfAuthStatus": "0", "IcpStatus": "1",
             "DomainRecord": "0c40d5f125af4e42892a", "CreateTime": _cst(now), "UtcCreateTime": now},
            {"DomainId": 158923, "DomainName": "unverified.example", "DomainStatus": "1", "ConfirmStatus": "1",
             "CnameAuthStatus": "1", "MxAuthStatus": "1", "SpfAuthStatus": "1", "IcpStatus": "0",
             "DomainRecord": "6bd86901b9fe4618a046", "CreateTime": _cst(now), "UtcCreateTime": now},
        ]  # fmt: skip
        self.senders = [
            {"MailAddressId": 237915, "AccountName": "noreply@mail.example.com", "Sendtype": "trigger",
             "AccountStatus": 0, "ReplyAddress": "support@mail.example.com", "ReplyStatus": 0,
             "CreateTime": _cst(now), "DailyCount": -1, "MonthCount": -1, "DailyReqCount": 0,
             "MonthReqCount": 0, "DomainStatus": 0},
            {"MailAddressId": 237916, "AccountName": "news@mail.example.com", "Sendtype": "batch",
             "AccountStatus": 0, "ReplyAddress": "", "ReplyStatus": 1, "CreateTime": _cst(now),
             "DailyCount": -1, "MonthCount": -1, "DailyReqCount": 0, "MonthReqCount": 0, "DomainStatus": 0},
            # the `mailbridge demo` default sender, so that the demo runs on the emulator as typed
            {"MailAddressId": 237917, "AccountName": "hello@demo.example.com", "Sendtype": "batch",
             "AccountStatus": 0, "ReplyAddress": "", "ReplyStatus": 1, "CreateTime": _cst(now),
             "DailyCount": -1, "MonthCount": -1, "DailyReqCount": 0, "MonthReqCount": 0, "DomainStatus": 0},
        ]  # fmt: skip
        self.add_template("welcome", "Welcome {name}", html="<p>Hello {name}</p>", text="Hello {name}")

    # ------------------------------------------------------------------ Python API helpers

    def add_template(self, name: str, subject: str, *, html: str | None = None, text: str | None = None) -> str:
        with self.lock:
            template_id = self._next_id()
            self.templates[template_id] = Template(template_id, name, subject, html, text)
            return template_id

    def add_sender(self, address: str, sendtype: str = "trigger") -> None:
        with self.lock:
            self.senders.append(
                {"MailAddressId": int(self._next_id()), "AccountName": address, "Sendtype": sendtype,
                 "AccountStatus": 0, "ReplyAddress": "", "ReplyStatus": 1, "CreateTime": _cst(self.clock()),
                 "DailyCount": -1, "MonthCount": -1, "DailyReqCount": 0, "MonthReqCount": 0, "DomainStatus": 0}
            )  # fmt: skip

    def dispatch(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            raise DMError(404, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.")
        with self.lock:
            body: dict[str, Any] = handler(params)
        body.setdefault("RequestId", str(uuid.uuid4()).upper())
        return body

    # ------------------------------------------------------------------ paging helpers

    @staticmethod
    def _page(items: list[Any], params: dict[str, str], size_key: str, default: int) -> tuple[list[Any], str | None]:
        try:
            size = int(params.get(size_key) or default)
            start = int(params.get("NextStart") or 0)
        except ValueError as exc:
            raise _invalid("NextStart") from exc
        if size < 1:
            raise _invalid(size_key)
        chunk = items[start : start + size]
        return chunk, (str(start + size) if start + size < len(items) else None)

    @staticmethod
    def _page_no(items: list[Any], params: dict[str, str]) -> dict[str, Any]:
        page_no = int(params.get("PageNo") or 1)
        size = int(params.get("PageSize") or 10)
        return {
            "PageNumber": page_no,
            "PageSize": size,
            "TotalCount": len(items),
            "page": items[(page_no - 1) * size : page_no * size],
        }

    def _receiver(self, params: dict[str, str]) -> Receiver:
        rid = params.get("ReceiverId")
        if not rid:
            raise _missing("ReceiverId")
        if rid not in self.receivers:
            raise DMError(404, "InvalidReceiver.NotFound", "The specified receiver does not exist.")
        return self.receivers[rid]

    # ------------------------------------------------------------------ receivers

    def do_CreateReceiver(self, p: dict[str, str]) -> dict[str, Any]:
        name = p.get("ReceiversName", "")
        if not name:
            raise _missing("ReceiversName")
        if not p.get("ReceiversAlias"):
            raise _missing("ReceiversAlias")
        if len(name) > 30:
            raise DMError(400, "InvalidReceiverName.Malformed", "The specified receiver name is wrongly formed.")
        if any(r.name == name for r in self.receivers.values()):
            # Names "cannot be repeated" (CreateReceiver doc); no dedicated code is documented.
            raise DMError(400, "InvalidReceiverName.Malformed", "The specified receiver name already exists.")
        if len(self.receivers) >= self.max_lists:
            raise DMError(
                400, "InvalidReceiverCount", f"At most {self.max_lists} recipient lists (emulator-chosen code)."
            )
        rid = self._next_id()
        self.receivers[rid] = Receiver(rid, name, p["ReceiversAlias"], p.get("Desc", ""), self.clock())
        return {"ReceiverId": rid}

    def _receiver_wire(self, r: Receiver) -> dict[str, Any]:
        return {
            "ReceiverId": r.id,
            "ReceiversName": r.name,
            "ReceiversAlias": r.alias,
            "Desc": r.desc,
            "Count": str(len(r.members)),
            "ReceiversStatus": "1",  # upload completed: SaveReceiverDetail is synchronous here
            "CreateTime": _cst(r.created),
            "UtcCreateTime": int(r.created),
        }

    def do_QueryReceiverByParam(self, p: dict[str, str]) -> dict[str, Any]:
        keyword = p.get("KeyWord", "").casefold()
        items = [self._receiver_wire(r) for r in self.receivers.values() if keyword in r.name.casefold()]
        chunk, next_start = self._page(items, p, "PageSize", 100)
        body: dict[str, Any] = {"TotalCount": len(items), "PageSize": len(chunk), "data": {"receiver": chunk}}
        if next_start:
            body["NextStart"] = next_start
        return body

    def do_DeleteReceiver(self, p: dict[str, str]) -> dict[str, Any]:
        del self.receivers[self._receiver(p).id]
        return {}

    def do_SaveReceiverDetail(self, p: dict[str, str]) -> dict[str, Any]:
        receiver = self._receiver(p)
        try:
            detail = json.loads(p.get("Detail") or "[]")
            custom = json.loads(p.get("CustomDetail") or "[]")
        except ValueError as exc:
            raise _invalid("Detail") from exc
        if not isinstance(detail, list) or not isinstance(custom, list):
            raise _invalid("Detail")
        if len(detail) > MAX_UPLOAD or len(custom) > MAX_UPLOAD:
            raise DMError(
                400, "InvalidDetail", f"Specified parameter Detail is not valid: at most {MAX_UPLOAD} records."
            )
        custom_by_email = {
            str(c.get("Email", "")).casefold(): {str(k): str(v) for k, v in (c.get("CustomData") or {}).items()}
            for c in custom
            if isinstance(c, dict)
        }
        emails_in_detail = {str(d.get("e", "")).casefold() for d in detail if isinstance(d, dict)}
        rows = [d for d in detail if isinstance(d, dict)]
        rows += [
            {"e": c["Email"]}
            for c in custom
            if isinstance(c, dict) and str(c.get("Email", "")).casefold() not in emails_in_detail
        ]
        failures: list[dict[str, str]] = []
        success = 0
        for row in rows:
            email = str(row.get("e", ""))
            key = email.casefold()
            if not _EMAIL.match(email):
                failures.append({"Email": email, "ErrMessage": "The email address is invalid."})
            elif key in receiver.members:
                failures.append({"Email": email, "ErrMessage": "Duplicate: the address already exists in the list."})
            elif len(receiver.members) >= self.max_list_size:
                failures.append({"Email": email, "ErrMessage": f"The list is full ({self.max_list_size} addresses)."})
            else:
                detail_fields = {k: str(v) for k, v in row.items() if k in SCHEMA_KEYS and v}
                receiver.members[key] = MemberRecord(email, detail_fields, custom_by_email.get(key, {}), self.clock())
                success += 1
        return {"ErrorCount": len(failures), "SuccessCount": success, "Data": {"Detail": failures}}

    def do_QueryReceiverDetail(self, p: dict[str, str]) -> dict[str, Any]:
        receiver = self._receiver(p)
        keyword = p.get("KeyWord", "").casefold()
        members = [m for m in receiver.members.values() if keyword in m.email.casefold()]
        chunk, next_start = self._page(members, p, "PageSize", 10)
        out = []
        for m in chunk:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow([m.detail.get(k, "") for k in SCHEMA_KEYS])
            data = buffer.getvalue() if any(m.detail.get(k) for k in SCHEMA_KEYS) else ""
            out.append({"Email": m.email, "Data": data, "CreateTime": _cst(m.created), "UtcCreateTime": int(m.created)})
        body: dict[str, Any] = {"DataSchema": DATA_SCHEMA, "TotalCount": len(members), "data": {"detail": out}}
        if next_start:
            body["NextStart"] = next_start
        return body

    def do_DeleteReceiverDetail(self, p: dict[str, str]) -> dict[str, Any]:
        receiver = self._receiver(p)
        receiver.members.pop(p.get("Email", "").casefold(), None)
        return {}

    # ------------------------------------------------------------------ sending

    def _sender(self, account: str) -> dict[str, Any]:
        for s in self.senders:
            if s["AccountName"].casefold() == account.casefold():
                if s["AccountStatus"] != 0:
                    raise DMError(
                        400, "InvalidMailAddressStatus.Malformed", "The specified mailAddress status is wrongly formed."
                    )
                return s
        raise DMError(404, "InvalidMailAddress.NotFound", "The specified mail address is not found.")

    def _sent_today(self) -> int:
        today = _cst(self.clock(), "%Y-%m-%d")
        return sum(len(m.to) for m in self.sent_mail if _cst(m.time, "%Y-%m-%d") == today)

    def _check_quota(self, count: int) -> None:
        if self._sent_today() + count > self.daily_quota:
            raise DMError(400, "InvalidSendMail.Spam", "Sendmail rejected by spam filter (daily quota exceeded).")

    def _new_env_id(self) -> str:
        return f"6000{int(self._next_id()):015d}"

    def _record(
        self, env_id: str, action: str, sender: str, to: list[str], subject: str, *, params: dict[str, str]
    ) -> None:
        now = self.clock()
        self.sent_mail.append(SentMail(action, env_id, sender, list(to), subject, dict(params), now))
        for address in to:
            domain = address.rsplit("@", 1)[-1].casefold()
            status, classification, message = OUTCOMES.get(domain, DELIVERED)
            if status == 2:
                self.invalid_addresses.add(address.casefold())
            tag = params.get("TagName", "")
            self.deliveries.append(
                DeliveryRecord(address, sender, subject, tag, status, classification, message, now, env_id)
            )

    def _common_send_checks(self, p: dict[str, str]) -> None:
        if "AddressType" not in p:
            raise _missing("AddressType")
        if p["AddressType"] not in ("0", "1"):
            raise _invalid("AddressType")
        if p.get("ReplyAddress") and not _EMAIL.match(p["ReplyAddress"]):
            raise DMError(400, "InvalidReplyAddress.Malformed", "The specified replyAddress is wrongly formed.")
        if p.get("TagName") and not _TAG.match(p["TagName"]):
            raise _invalid("TagName")
        if p.get("Headers"):
            try:
                headers = json.loads(p["Headers"])
            except ValueError as exc:
                raise _invalid("Headers") from exc
            if not isinstance(headers, dict):
                raise _invalid("Headers")
            p["Headers"] = json.dumps(dict(list(headers.items())[:MAX_HEADERS]), separators=(",", ":"))

    def do_SingleSendMail(self, p: dict[str, str]) -> dict[str, Any]:
        for required in ("AccountName", "ReplyToAddress", "ToAddress"):
            if not p.get(required):
                raise _missing(required)
        self._common_send_checks(p)
        if p["ReplyToAddress"] not in ("true", "false"):
            raise _invalid("ReplyToAddress")
        sender = self._sender(p["AccountName"])["AccountName"]
        to = [a.strip() for a in p["ToAddress"].split(",") if a.strip()]
        if len(to) > MAX_TO or not all(_EMAIL.match(a) for a in to):
            raise DMError(400, "InvalidToAddress", "The specified toAddress is wrongly formed.")
        bcc = [a.strip() for a in p.get("BccAddress", "").split(",") if a.strip()]
        if len(bcc) > MAX_BCC or not all(_EMAIL.match(a) for a in bcc):
            raise _invalid("BccAddress")
        for address in to:
            if address.casefold() in self.invalid_addresses:
                raise DMError(400, "InvalidToAddress.Spam", "Sendmail rejected by invalid address.")
        if len(p.get("FromAlias", "")) > MAX_ALIAS:
            raise DMError(400, "InvalidFromAlias.Malformed", "The specified fromAlias is wrongly formed.")
        subject = p.get("Subject", "")
        if p.get("Template"):
            try:
                template = json.loads(p["Template"])
            except ValueError as exc:
                raise _invalid("Template") from exc
            stored = self.templates.get(str(template.get("TemplateId", "")))
            if stored is None:
                raise DMError(404, "InvalidTemplate.NotFound", "The specified template does not exist.")
            subject = subject or _render(stored.subject, dict(template.get("TemplateData") or {})) or ""
        else:
            if not subject:
                raise _missing("Subject")
            if not (p.get("HtmlBody") or p.get("TextBody")):
                raise DMError(400, "InvalidBody", "The specified textBody or htmlBody is wrongly formed.")
        if len(subject) > MAX_SUBJECT:
            raise DMError(400, "InvalidSubject.Malformed", "The specified subject is wrongly formed.")
        self._check_quota(len(to) + len(bcc))
        env_id = self._new_env_id()
        self._record(env_id, "SingleSendMail", sender, to + bcc, subject, params=p)
        return {"EnvId": env_id}

    def do_BatchSendMail(self, p: dict[str, str]) -> dict[str, Any]:
        for required in ("AccountName", "ReceiversName"):
            if not p.get(required):
                raise _missing(required)
        self._common_send_checks(p)
        account = self._sender(p["AccountName"])
        if account["Sendtype"] != "batch":  # batch mail goes from a "batch" sender address
            raise DMError(
                400, "InvalidMailAddressSendType.Malformed", "The specified mailAddress sendType is wrongly formed."
            )
        sender = account["AccountName"]
        receiver = next((r for r in self.receivers.values() if r.name == p["ReceiversName"]), None)
        if receiver is None:
            raise DMError(404, "InvalidReceiver.NotFound", "The specified receiver does not exist.")
        if not receiver.members:
            raise DMError(400, "InvalidReceiverStatus.Malformed", "The specified receivers status is wrongly formed.")
        if p.get("TemplateName"):
            stored = next((t for t in self.templates.values() if t.name == p["TemplateName"]), None)
            if stored is None:
                raise DMError(404, "InvalidTemplate.NotFound", "The specified template does not exist.")
            subject_template = stored.subject
        elif p.get("TemplateContent"):
            try:
                content = json.loads(p["TemplateContent"])
            except ValueError as exc:
                raise _invalid("TemplateContent") from exc
            subject_template = str(content.get("Subject", ""))
        else:
            raise _missing("TemplateName")
        self._check_quota(len(receiver.members))
        env_id = self._new_env_id()
        names = ("UserName", "NickName", "Gender", "Birthday", "Mobile")
        neutral = ("name", "nickname", "gender", "birthday", "mobile")
        for m in receiver.members.values():
            profile = {n: m.detail.get(k, "") for n, k in zip(names, SCHEMA_KEYS, strict=True)}
            profile.update({n: m.detail.get(k, "") for n, k in zip(neutral, SCHEMA_KEYS, strict=True)})
            data = {**profile, **m.custom}
            self._record(env_id, "BatchSendMail", sender, [m.email], _render(subject_template, data) or "", params=p)
        return {"EnvId": env_id}

    # ------------------------------------------------------------------ delivery & account

    @staticmethod
    def _parse_time(value: str, name: str) -> float:
        try:
            return dt.datetime.strptime(value, "%Y-%m-%d %H:%M").replace(tzinfo=CST).timestamp()
        except ValueError as exc:
            raise DMError(400, f"Invalid{name}.Malformed", f"The specified {name} is wrongly formed.") from exc

    def do_SenderStatisticsDetailByParam(self, p: dict[str, str]) -> dict[str, Any]:
        now = self.clock()
        start = self._parse_time(p["StartTime"], "StartTime") if p.get("StartTime") else now - 86400
        end = self._parse_time(p["EndTime"], "EndTime") if p.get("EndTime") else now + 60
        if end < start or end - start > MAX_WINDOW.total_seconds():
            raise DMError(
                400,
                "InvalidBetweenTime.Malformed",
                "The time range between StartTime and EndTime cannot exceed 30 days.",
            )
        length = p.get("Length") or "100"
        if not length.isdigit() or not 1 <= int(length) <= 100:
            raise _invalid("Length")
        selectors = [k for k in ("AccountName", "TagName", "ToAddress") if p.get(k)]
        if len(selectors) > 1:
            raise DMError(400, "InvalidParameter", "Only one of AccountName, TagName and ToAddress may be given.")
        if p.get("Status") and p["Status"] not in ("0", "2", "3", "4"):
            raise _invalid("Status")
        rows = [
            d
            for d in self.deliveries
            if start <= d.time < end
            and (not p.get("AccountName") or d.sender.casefold() == p["AccountName"].casefold())
            and (not p.get("TagName") or d.tag == p["TagName"])
            and (not p.get("ToAddress") or d.to.casefold() == p["ToAddress"].casefold())
            and (not p.get("Status") or d.status == int(p["Status"]))
        ]
        p.setdefault("Length", length)
        chunk, next_start = self._page(rows, p, "Length", 100)
        body: dict[str, Any] = {"data": {"mailDetail": [d.as_wire() for d in chunk]}}
        if next_start:
            body["NextStart"] = next_start
        return body

    def do_SenderStatisticsByTagNameAndBatchID(self, p: dict[str, str]) -> dict[str, Any]:
        days: list[dt.date] = []
        for name in ("StartTime", "EndTime"):
            if not p.get(name):
                raise _missing(name)
            try:
                days.append(dt.date.fromisoformat(p[name]))
            except ValueError as exc:
                raise DMError(400, f"Invalid{name}.Malformed", f"The specified {name} is wrongly formed.") from exc
        first, last = days
        today = dt.datetime.fromtimestamp(self.clock(), CST).date()
        if last < first or (last - first).days > 30:  # "cannot exceed 31 days" (1.11.1 docstring)
            raise DMError(400, "InvalidBetweenTime.Malformed", "The time span cannot exceed 31 days.")
        if (today - first).days > 90:
            raise DMError(400, "InvalidStartTime.Malformed", "The start time cannot be earlier than 90 days ago.")
        per_day: dict[str, list[DeliveryRecord]] = {}
        for d in self.deliveries:
            when = dt.datetime.fromtimestamp(d.time, CST).date()
            if first <= when <= last and (not p.get("TagName") or d.tag == p["TagName"]):
                per_day.setdefault(when.isoformat(), []).append(d)
        stat = []
        for day, records in sorted(per_day.items()):
            total = len(records)
            ok = sum(r.status == 0 for r in records)
            invalid = sum(r.status == 2 for r in records)
            stat.append(
                {
                    "CreateTime": day,
                    "requestCount": str(total),
                    "successCount": str(ok),
                    "faildCount": str(total - ok - invalid),
                    "unavailableCount": str(invalid),
                    "succeededPercent": f"{100 * ok / total:.2f}%",
                    "unavailablePercent": f"{100 * invalid / total:.2f}%",
                }
            )
        return {"TotalCount": len(stat), "data": {"stat": stat}}

    def do_DescAccountSummary(self, p: dict[str, str]) -> dict[str, Any]:
        sent = self._sent_today()
        return {
            "DailyQuota": self.daily_quota,
            "MonthQuota": self.month_quota,
            "DailyRemainFreeQuota": max(self.daily_quota - sent, 0),
            "RemainFreeQuota": max(self.month_quota - len(self.deliveries), 0),
            "QuotaLevel": 2,
            "MaxQuotaLevel": 10,
            "UserStatus": 0,
            "Domains": len(self.domains),
            "MailAddresses": len(self.senders),
            "Receivers": len(self.receivers),
            "Tags": len(self.tags),
            "Templates": len(self.templates),
            "EnableTimes": 0,
            "DayuStatus": 0,
            "SmsRecord": 0,
            "SmsSign": 0,
            "SmsTemplates": 0,
            "IpChannelType": "normal",
        }

    # ------------------------------------------------------------------ domains, senders, tags

    def do_QueryDomainByParam(self, p: dict[str, str]) -> dict[str, Any]:
        keyword = p.get("KeyWord", "").casefold()
        page = self._page_no([d for d in self.domains if keyword in d["DomainName"].casefold()], p)
        return {**{k: v for k, v in page.items() if k != "page"}, "data": {"domain": page["page"]}}

    def do_DescDomain(self, p: dict[str, str]) -> dict[str, Any]:
        if not p.get("DomainId"):
            raise _missing("DomainId")
        found = next((d for d in self.domains if str(d["DomainId"]) == p["DomainId"]), None)
        if found is None:
            raise DMError(404, "InvalidDomain.NotFound", "The specified domain does not exist (emulator-chosen code).")
        name = found["DomainName"]
        return {
            "DomainId": found["DomainId"],
            "DomainName": name,
            "DomainStatus": found["DomainStatus"],
            "CnameAuthStatus": found["CnameAuthStatus"],
            "CnameConfirmStatus": found["ConfirmStatus"],
            "MxAuthStatus": found["MxAuthStatus"],
            "SpfAuthStatus": found["SpfAuthStatus"],
            "IcpStatus": found["IcpStatus"],
            "DomainType": found["DomainRecord"],
            "CnameRecord": "dmtrace",
            "TraceRecord": "tracedm.aliyuncs.com",
            "MxRecord": "mx01.dm.aliyun.com",
            "SpfRecord": "include:spf1.dm.aliyun.com",
            "DnsMx": "",
            "DnsSpf": "",
            "DnsTxt": "",
            "DefaultDomain": "0",
            "TlDomainName": name,
            "CreateTime": found["CreateTime"],
        }

    def do_QueryMailAddressByParam(self, p: dict[str, str]) -> dict[str, Any]:
        keyword = p.get("KeyWord", "").casefold()
        sendtype = p.get("Sendtype")
        items = [
            s
            for s in self.senders
            if keyword in s["AccountName"].casefold() and (not sendtype or s["Sendtype"] == sendtype)
        ]
        page = self._page_no(items, p)
        return {**{k: v for k, v in page.items() if k != "page"}, "data": {"mailAddress": page["page"]}}

    def do_QueryTagByParam(self, p: dict[str, str]) -> dict[str, Any]:
        keyword = p.get("KeyWord", "").casefold()
        items = [{"TagId": k, **v} for k, v in self.tags.items() if keyword in v["TagName"].casefold()]
        page = self._page_no(items, p)
        return {**{k: v for k, v in page.items() if k != "page"}, "data": {"tag": page["page"]}}

    def _tag_name(self, p: dict[str, str], exclude: str | None = None) -> str:
        name = p.get("TagName", "")
        if not name:
            raise _missing("TagName")
        if not _TAG.match(name):
            raise _invalid("TagName")
        if any(v["TagName"] == name for k, v in self.tags.items() if k != exclude):
            raise DMError(400, "InvalidTagName.Duplicate", "The tag name already exists (emulator-chosen code).")
        return name

    def _tag(self, p: dict[str, str]) -> str:
        tag_id = p.get("TagId", "")
        if not tag_id:
            raise _missing("TagId")
        if tag_id not in self.tags:
            raise DMError(404, "InvalidTag.NotFound", "The specified tag does not exist (emulator-chosen code).")
        return tag_id

    def do_CreateTag(self, p: dict[str, str]) -> dict[str, Any]:
        name = self._tag_name(p)
        tag_id = self._next_id()
        self.tags[tag_id] = {"TagName": name, "TagDescription": p.get("TagDescription", "")}
        return {"TagId": tag_id}

    def do_ModifyTag(self, p: dict[str, str]) -> dict[str, Any]:
        tag_id = self._tag(p)
        self.tags[tag_id] = {
            "TagName": self._tag_name(p, exclude=tag_id),
            "TagDescription": p.get("TagDescription", ""),
        }
        return {}

    def do_DeleteTag(self, p: dict[str, str]) -> dict[str, Any]:
        del self.tags[self._tag(p)]
        return {}

    # ------------------------------------------------------------------ templates

    def _template(self, p: dict[str, str]) -> Template:
        template_id = p.get("TemplateId", "")
        if not template_id:
            raise _missing("TemplateId")
        if template_id not in self.templates:
            raise DMError(404, "InvalidTemplate.NotFound", "The specified template does not exist.")
        return self.templates[template_id]

    def _template_wire(self, t: Template) -> dict[str, Any]:
        return {
            "TemplateId": int(t.id),
            "TemplateName": t.name,
            "TemplateSubject": t.subject,
            "TemplateText": t.html or t.text or "",
            "TemplateStatus": t.status,
            "TemplateType": "0",
            "CreateTime": _cst(t.created or self.clock()),
        }

    def do_CreateTemplate(self, p: dict[str, str]) -> dict[str, Any]:
        name = p.get("TemplateName", "")
        if not name:
            raise _missing("TemplateName")
        if len(name) > 30:
            raise DMError(400, "InvalidTemplateName.Malformed", "The specified template name is wrongly formed.")
        if any(t.name == name for t in self.templates.values()):
            raise DMError(400, "InvalidTemplateName.Malformed", "The template name already exists.")
        if len(p.get("TemplateSubject", "")) > MAX_SUBJECT:
            raise _invalid("TemplateSubject")
        template_id = self._next_id()
        text = p.get("TemplateText", "")
        self.templates[template_id] = Template(
            template_id, name, p.get("TemplateSubject", ""), text, None, created=self.clock()
        )
        return {"TemplateId": int(template_id)}

    def do_DescTemplate(self, p: dict[str, str]) -> dict[str, Any]:
        return self._template_wire(self._template(p))

    def do_QueryTemplateByParam(self, p: dict[str, str]) -> dict[str, Any]:
        keyword = p.get("KeyWord", "").casefold()
        items = [self._template_wire(t) for t in self.templates.values() if keyword in t.name.casefold()]
        page = self._page_no(items, p)
        return {**{k: v for k, v in page.items() if k != "page"}, "data": {"template": page["page"]}}

    def do_DeleteTemplate(self, p: dict[str, str]) -> dict[str, Any]:
        del self.templates[self._template(p).id]
        return {}
