"""The emulator's Direct Mail account: state and one handler per action.

Handlers take the request's business parameters (strings) and return the JSON body
Direct Mail would return, or raise :class:`DMError` with the documented HTTP status and
code. Where the docs name no code for a rule the emulator enforces, the code used is
marked "emulator-chosen" and follows the gateway's ``Invalid{ParameterName}`` pattern
(the backend then falls back on the HTTP status, as it must for any unknown code).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mailbridge import CHINA_TIME
from mailbridge.testing.emulator import EmulatorError, Rendered

from ._suppression import SuppressionActions

__all__ = [
    "DNS_PURPOSES",
    "DMError",
    "DeliveryRecord",
    "DomainState",
    "EmulatorState",
    "Receiver",
    "SentMail",
    "check_password",
    "render_dm",
    "reply_ticket",
]

CST = CHINA_TIME
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_UPLOAD = 500  # seed 000
MAX_TO = 100  # seed 002
MAX_BCC = 2  # seed 002
MAX_SUBJECT = 256  # seed 002
MAX_ALIAS = 14  # seed 002: fewer than 15 characters
MAX_LIST_ALIAS = 29  # CreateReceiver: ReceiversAlias is "an email address less than 30 characters long"
MAX_INLINE_RECEIVERS = 100  # BatchSendMail Receivers: "cannot exceed 100"
# InvalidReceiverName.Malformed's text (seed 003): an account name, an @ and a domain, each of
# letters, digits, "_", "-" and "." only.
_LIST_ALIAS = re.compile(r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$")
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
_DOMAIN_NAME = re.compile(r"^[A-Za-z0-9.-]{1,50}$")  # seed 003 CreateDomain
MAX_TEMPLATE_NAME = 30  # reference A.5 InvalidTemplateName.Malformed
SENDTYPES = ("batch", "trigger")  # seed 003 CreateMailAddress
# The DNS records a domain needs, in DescDomain order; DomainStatus 0 needs REQUIRED_DNS and
# the tracking CNAME (without it: 4, "available but not configured with a CNAME record").
DNS_PURPOSES = ("ownership", "spf", "dkim", "mx", "tracking", "dmarc")
REQUIRED_DNS = ("ownership", "spf", "dkim", "mx")  # emulator choice; DMARC is recommended, not required
SPF_INCLUDE = "include:spf1.dm.aliyun.com"
DMARC_VALUE = "v=DMARC1;p=none;rua=mailto:dmarc_report@service.aliyun.com"
_DM_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render_dm(text: str | None, data: dict[str, str]) -> str | None:
    """Direct Mail's own template rendering: ``{name}`` is replaced, nothing else is touched."""
    if text is None:
        return None
    return _DM_VARIABLE.sub(lambda m: str(data.get(m.group(1), "")), text)


def reply_ticket(mail_address_id: str, attempt: int) -> str:
    """The ticket the emulator's verification mail carries for a reply-to address (deterministic)."""
    return hashlib.sha256(f"reply-to:{mail_address_id}:{attempt}".encode()).hexdigest()[:32]


def check_password(value: str) -> str | None:
    """The emulator's copy of DM's SMTP password rules (ModifyMailAddress doc), or None when valid."""
    digits = [c for c in value if c.isascii() and c.isdigit()]
    upper = [c for c in value if c.isascii() and c.isupper()]
    lower = [c for c in value if c.isascii() and c.islower()]
    if not 10 <= len(value) <= 20:
        return "length"
    if min(len(digits), len(upper), len(lower)) < 2:
        return "character classes"
    if len(set(digits)) < 2 or len(set(upper + lower)) < 2:
        return "repeated character"
    return None


class _PasswordStore:
    """Salted hashes only: the emulator never keeps an SMTP password in plain text."""

    def __init__(self) -> None:
        self._hashes: dict[str, tuple[bytes, bytes]] = {}

    @staticmethod
    def _digest(salt: bytes, value: str) -> bytes:
        return hashlib.pbkdf2_hmac("sha256", value.encode(), salt, 1000)

    def matches(self, key: str, value: str) -> bool:
        stored = self._hashes.get(key)
        return stored is not None and hmac.compare_digest(stored[1], self._digest(stored[0], value))

    def set(self, key: str, value: str) -> None:
        salt = os.urandom(16)
        self._hashes[key] = (salt, self._digest(salt, value))

    def __contains__(self, key: str) -> bool:
        return key in self._hashes

    def __repr__(self) -> str:
        return f"<passwords: {len(self._hashes)} salted hashes>"


class DMError(EmulatorError):
    """An error answer: HTTP status, Code, Message."""

    status: int

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message, status)


def _missing(name: str) -> DMError:
    return DMError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def _invalid(name: str) -> DMError:  # gateway pattern Invalid{ParameterName} (emulator-chosen use)
    return DMError(400, f"Invalid{name}", f"Specified parameter {name} is not valid.")


def _cst(ts: float, fmt: str = "%Y-%m-%dT%H:%MZ") -> str:
    return dt.datetime.fromtimestamp(ts, CST).strftime(fmt)


def _sender_wire(sender: dict[str, Any]) -> dict[str, Any]:
    """A QueryMailAddressByParam record: every field a string, as in the SDK's model."""
    return {k: str(v) for k, v in sender.items()}


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
    attachments: list[Any] = field(default_factory=list)  # ._attachments.Attached: filename, content, type


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


@dataclass
class DomainState:
    """One sender domain: its records, what "public DNS" holds, and the last check's result."""

    id: int
    name: str
    token: str  # the ownership value (DomainType / DomainRecord)
    created: float
    icp: str = "1"
    status: str = "1"
    auth: dict[str, str] = field(default_factory=lambda: dict.fromkeys(DNS_PURPOSES, "1"))
    published: dict[str, str] = field(default_factory=dict)  # purpose -> value found in "public DNS"

    @property
    def top(self) -> str:
        return ".".join(self.name.split(".")[-2:])

    def _host(self, prefix: str) -> str:
        """A host record as the console shows it: relative to the primary domain."""
        sub = self.name[: -len(self.top) - 1] if self.name != self.top else ""
        return ".".join(p for p in (prefix, sub) if p) or "@"

    @property
    def dkim_key(self) -> str:
        digest = hashlib.sha256(f"dkim:{self.name}:{self.token}".encode()).digest()
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(digest * 4).decode()

    def expected(self) -> dict[str, tuple[str, str, str]]:
        """purpose -> (type, host relative to the primary domain, value)."""
        return {
            "ownership": ("TXT", self._host("aliyundm"), self.token),
            "spf": ("TXT", self._host(""), f"v=spf1 {SPF_INCLUDE} -all"),
            "dkim": ("TXT", self._host("aliyun-cn-hangzhou._domainkey"), self.dkim_key),
            "mx": ("MX", self._host(""), "mx01.dm.aliyun.com"),
            "tracking": ("CNAME", self._host("dmtrace"), "tracedm.aliyuncs.com"),
            "dmarc": ("TXT", self._host("_dmarc"), DMARC_VALUE),
        }

    def check(self) -> str:
        """CheckDomain: compare "public DNS" with the expected records and set the statuses."""
        expected = self.expected()
        for purpose in DNS_PURPOSES:
            self.auth[purpose] = "0" if self.published.get(purpose) == expected[purpose][2] else "1"
        if any(self.auth[p] != "0" for p in REQUIRED_DNS):
            self.status = "1"
        elif self.auth["tracking"] != "0":
            self.status = "4" if self.icp == "1" else "2"
        else:
            self.status = "0" if self.icp == "1" else "3"
        return self.status

    def listing(self) -> dict[str, Any]:
        """A QueryDomainByParam ``data.domain`` record (seed 003 fields)."""
        return {
            "DomainId": str(self.id),
            "DomainName": self.name,
            "DomainStatus": self.status,
            "ConfirmStatus": self.auth["tracking"],
            "CnameAuthStatus": self.auth["ownership"],
            "MxAuthStatus": self.auth["mx"],
            "SpfAuthStatus": self.auth["spf"],
            "IcpStatus": self.icp,
            "DomainRecord": self.token,
            "CreateTime": _cst(self.created),
            "UtcCreateTime": int(self.created),
        }

    def describe(self) -> dict[str, Any]:
        """A DescDomain body: seed 003 fields plus the DKIM/DMARC/SPF-v2 fields of the current SDK models."""
        expected = self.expected()
        return {
            "DomainId": str(self.id),
            "DomainName": self.name,
            "DomainStatus": self.status,
            "CnameAuthStatus": self.auth["ownership"],
            "CnameConfirmStatus": self.auth["tracking"],
            "MxAuthStatus": self.auth["mx"],
            "SpfAuthStatus": self.auth["spf"],
            "DkimAuthStatus": self.auth["dkim"],
            "DmarcAuthStatus": int(self.auth["dmarc"]),
            "IcpStatus": self.icp,
            "DomainType": self.token,
            "HostRecord": expected["ownership"][1],
            "CnameRecord": "dmtrace",
            "TracefRecord": expected["tracking"][2],
            "MxRecord": expected["mx"][2],
            "SpfRecord": SPF_INCLUDE,
            "SpfRecordV2": expected["spf"][2],
            "DkimRR": expected["dkim"][1],
            "DkimPublicKey": expected["dkim"][2],
            "DmarcHostRecord": expected["dmarc"][1],
            "DmarcRecord": DMARC_VALUE,
            "DnsTxt": self.published.get("ownership", ""),
            "DnsSpf": self.published.get("spf", ""),
            "DnsMx": self.published.get("mx", ""),
            "DnsDmarc": self.published.get("dmarc", ""),
            "DefaultDomain": "0",
            "TlDomainName": self.top,
            "CreateTime": _cst(self.created),
        }


class EmulatorState(SuppressionActions):
    """One emulated Direct Mail account. Thread-safe: every handler runs under one lock."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        max_lists: int = 10,
        max_list_size: int = 10_000,
        daily_quota: int = 2000,
        month_quota: int = 60_000,
        max_domains: int = 20,
    ) -> None:
        self.clock = clock
        self.max_domains = max_domains
        self.max_lists = max_lists
        self.max_list_size = max_list_size
        self.daily_quota = daily_quota
        self.month_quota = month_quota
        self.lock = threading.RLock()
        self.receivers: dict[str, Receiver] = {}
        self.sent_mail: list[SentMail] = []
        self.deliveries: list[DeliveryRecord] = []
        # The account's invalid-address list (QueryInvalidAddress): casefolded -> (address, first seen).
        self.invalid_addresses: dict[str, tuple[str, float]] = {}
        self.user_suppressions: dict[int, dict[str, Any]] = {}  # CreateUserSuppression entries by id
        self.eventbridge = False  # GetUser EnableEventbridge
        self.tags: dict[str, dict[str, str]] = {}
        self.templates: dict[str, Template] = {}
        self.senders: list[dict[str, Any]] = []
        self.domains: list[DomainState] = []
        self.passwords = _PasswordStore()  # key: "address:<MailAddressId>" or "domain:<name>"
        self.reply_tickets: dict[str, str] = {}  # ticket -> MailAddressId
        self.reply_mails: list[dict[str, str]] = []  # verification mails "sent" to reply-to addresses
        from ._attachments import AttachmentStore  # (imports this module)

        self.uploads = AttachmentStore(clock)  # OpenPlatform upload grants and the OSS bucket
        self._ids = 100_000
        self._seed()

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    def _seed(self) -> None:
        now = int(self.clock())
        verified = DomainState(158910, "mail.example.com", "0c40d5f125af4e42892a", now)
        verified.published = {p: v for p, (_t, _h, v) in verified.expected().items()}
        verified.check()
        unverified = DomainState(158923, "unverified.example", "6bd86901b9fe4618a046", now, icp="0")
        self.domains = [verified, unverified]
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
    def _page(
        items: list[Any],
        params: dict[str, str],
        size_key: str,
        default: int,
        *,
        scope: str,
        key: Callable[[Any], str] | None = None,
    ) -> tuple[list[Any], str | None]:
        """One page and the next opaque ``NextStart`` token (None at the end).

        Tokens look like the documented one (``90f0243616#40test@example.com``): a digest of the
        listing, ``#``, the position. With ``key`` the listing is ordered by it and the position is
        the next item's key (keyset paging: a token stays valid when items are added or removed);
        without it, the position is the next item's index. ``"0"`` or nothing starts at the top;
        any ``<anything>#<position>`` token is accepted, the digest is not checked.
        """
        try:
            size = int(params.get(size_key) or default)
        except ValueError as exc:
            raise _invalid(size_key) from exc
        if size < 1:
            raise _invalid(size_key)
        token = params.get("NextStart") or "0"
        if key is not None:
            items = sorted(items, key=key)
        if token == "0":
            start = 0
        elif "#" not in token:
            raise _invalid("NextStart")  # emulator-chosen: not a token this API hands out
        else:
            position = token.split("#", 1)[1]
            if key is not None:
                start = next((i for i, item in enumerate(items) if key(item) >= position.casefold()), len(items))
            elif position.isdigit():
                start = int(position)
            else:
                raise _invalid("NextStart")
        chunk = items[start : start + size]
        if start + size >= len(items):
            return chunk, None
        digest = hashlib.sha256(scope.encode()).hexdigest()[:10]
        following = items[start + size]
        return chunk, f"{digest}#{key(following) if key is not None else start + size}"

    @staticmethod
    def _page_no(items: list[Any], params: dict[str, str]) -> dict[str, Any]:
        try:
            page_no = int(params.get("PageNo") or 1)
            size = int(params.get("PageSize") or 10)
        except ValueError as exc:
            raise _invalid("PageNo") from exc
        if page_no < 1 or size < 1:
            raise _invalid("PageNo" if page_no < 1 else "PageSize")
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
        alias = p["ReceiversAlias"]
        if len(alias) > MAX_LIST_ALIAS or not _LIST_ALIAS.match(alias):
            # The documented code for an alias that is not an address (seed 003 CreateReceiver errors).
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
        """Pages with ``NextStart`` (documented in the response) or the deprecated ``PageNo``."""
        keyword = p.get("KeyWord", "").casefold()
        items = [self._receiver_wire(r) for r in self.receivers.values() if keyword in r.name.casefold()]
        if p.get("PageNo") and not p.get("NextStart"):
            try:
                page_no, size = int(p["PageNo"]), int(p.get("PageSize") or 100)
            except ValueError as exc:
                raise _invalid("PageNo") from exc
            if page_no < 1:
                raise _invalid("PageNo")
            p = {**p, "NextStart": f"pageno#{(page_no - 1) * size}"}
        chunk, next_start = self._page(items, p, "PageSize", 100, scope="QueryReceiverByParam")
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
        # Seed 000: every address counts once per call, whether in Detail or CustomDetail; a
        # repeat (within the call, or of a listed address) "returns ErrorCount: 1", and the
        # failure record carries no ErrMessage (as the cloud answers duplicates).
        rows: list[tuple[str, dict[str, str], dict[str, str]]] = []
        for d in detail:
            if isinstance(d, dict):
                fields = {k: str(v) for k, v in d.items() if k in SCHEMA_KEYS and v}
                rows.append((str(d.get("e", "")), fields, {}))
        for c in custom:
            if isinstance(c, dict):
                data = {str(k): str(v) for k, v in (c.get("CustomData") or {}).items()}
                rows.append((str(c.get("Email", "")), {}, data))
        failures: list[dict[str, str]] = []
        success = 0
        for email, detail_fields, custom_data in rows:
            key = email.casefold()
            if not _EMAIL.match(email):
                failures.append({"Email": email, "ErrMessage": "The email address is invalid."})
            elif key in receiver.members:
                failures.append({"Email": email})
            elif len(receiver.members) >= self.max_list_size:
                failures.append({"Email": email, "ErrMessage": f"The list is full ({self.max_list_size} addresses)."})
            else:
                receiver.members[key] = MemberRecord(email, detail_fields, custom_data, self.clock())
                success += 1
        return {"ErrorCount": len(failures), "SuccessCount": success, "Data": {"Detail": failures}}

    def do_QueryReceiverDetail(self, p: dict[str, str]) -> dict[str, Any]:
        receiver = self._receiver(p)
        keyword = p.get("KeyWord", "").casefold()
        members = [m for m in receiver.members.values() if keyword in m.email.casefold()]
        chunk, next_start = self._page(
            members, p, "PageSize", 10, scope=f"receiver:{receiver.id}", key=lambda m: m.email.casefold()
        )
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
        self,
        env_id: str,
        action: str,
        sender: str,
        to: list[str],
        subject: str,
        *,
        params: dict[str, str],
        attachments: list[Any] | None = None,
    ) -> None:
        now = self.clock()
        self.sent_mail.append(SentMail(action, env_id, sender, list(to), subject, dict(params), now, attachments or []))
        for address in to:
            domain = address.rsplit("@", 1)[-1].casefold()
            status, classification, message = OUTCOMES.get(domain, DELIVERED)
            if status == 2:
                self.invalid_addresses.setdefault(address.casefold(), (address, now))
            tag = params.get("TagName", "")
            self.deliveries.append(
                DeliveryRecord(address, sender, subject, tag, status, classification, message, now, env_id)
            )
            self.push_event(self.deliveries[-1])

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
        if p["ReplyToAddress"].lower() not in ("true", "false"):  # the SDK sends Python's "False"
            raise _invalid("ReplyToAddress")
        sender = self._sender(p["AccountName"])["AccountName"]
        to = [a.strip() for a in p["ToAddress"].split(",") if a.strip()]
        if len(to) > MAX_TO or not all(_EMAIL.match(a) for a in to):
            raise DMError(400, "InvalidToAddress", "The specified toAddress is wrongly formed.")
        bcc = [a.strip() for a in p.get("BccAddress", "").split(",") if a.strip()]
        if len(bcc) > MAX_BCC or not all(_EMAIL.match(a) for a in bcc):
            raise _invalid("BccAddress")
        for address in to:
            if self.suppressed(address):
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
            if not subject:  # seed 002 marks Subject required, template or not
                raise _missing("Subject")
        else:
            if not subject:
                raise _missing("Subject")
            if not (p.get("HtmlBody") or p.get("TextBody")):
                raise DMError(400, "InvalidBody", "The specified textBody or htmlBody is wrongly formed.")
        if len(subject) > MAX_SUBJECT:
            raise DMError(400, "InvalidSubject.Malformed", "The specified subject is wrongly formed.")
        attachments = self.uploads.resolve(p)  # Attachments.N.*: uploaded files only (._attachments)
        self._check_quota(len(to) + len(bcc))
        env_id = self._new_env_id()
        self._record(env_id, "SingleSendMail", sender, to + bcc, subject, params=p, attachments=attachments)
        return {"EnvId": env_id}

    def _inline_receivers(self, raw: str) -> list[tuple[str, dict[str, str]]]:
        """BatchSendMail ``Receivers``: ``[{"To": [...], "TemplateData": {...}}]``, at most 100 recipients."""
        try:
            entries = json.loads(raw)
        except ValueError as exc:
            raise _invalid("Receivers") from exc
        if not isinstance(entries, list):
            raise _invalid("Receivers")
        out: list[tuple[str, dict[str, str]]] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise _invalid("Receivers")
            to, data = entry.get("To"), entry.get("TemplateData") or {}
            if not isinstance(to, list) or not isinstance(data, dict):
                raise _invalid("Receivers")
            for address in to:
                if not isinstance(address, str) or not _EMAIL.match(address):
                    raise DMError(400, "InvalidToAddress", "The specified toAddress is wrongly formed.")
                out.append((address, {str(k): str(v) for k, v in data.items()}))
        if not out or len(out) > MAX_INLINE_RECEIVERS:
            raise _invalid("Receivers")
        return out

    def do_BatchSendMail(self, p: dict[str, str]) -> dict[str, Any]:
        """To a stored list (``ReceiversName``) or inline ``Receivers``; the name wins when both come."""
        if not p.get("AccountName"):
            raise _missing("AccountName")
        if not p.get("ReceiversName") and not p.get("Receivers"):
            raise _missing("ReceiversName")
        self._common_send_checks(p)
        account = self._sender(p["AccountName"])
        if account["Sendtype"] != "batch":  # batch mail goes from a "batch" sender address
            raise DMError(
                400, "InvalidMailAddressSendType.Malformed", "The specified mailAddress sendType is wrongly formed."
            )
        sender = account["AccountName"]
        recipients: list[tuple[str, dict[str, str]]]
        if p.get("ReceiversName"):
            receiver = next((r for r in self.receivers.values() if r.name == p["ReceiversName"]), None)
            if receiver is None:
                raise DMError(404, "InvalidReceiver.NotFound", "The specified receiver does not exist.")
            if not receiver.members:
                raise DMError(
                    400, "InvalidReceiverStatus.Malformed", "The specified receivers status is wrongly formed."
                )
            names = ("UserName", "NickName", "Gender", "Birthday", "Mobile")
            neutral = ("name", "nickname", "gender", "birthday", "mobile")
            recipients = []
            for m in receiver.members.values():
                profile = {n: m.detail.get(k, "") for n, k in zip(names, SCHEMA_KEYS, strict=True)}
                profile.update({n: m.detail.get(k, "") for n, k in zip(neutral, SCHEMA_KEYS, strict=True)})
                recipients.append((m.email, {**profile, **m.custom}))
        else:
            recipients = self._inline_receivers(p["Receivers"])
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
            if not isinstance(content, dict):
                raise _invalid("TemplateContent")
            subject_template = str(content.get("Subject", ""))
        else:
            raise _missing("TemplateName")
        self._check_quota(len(recipients))
        env_id = self._new_env_id()
        for address, data in recipients:
            self._record(env_id, "BatchSendMail", sender, [address], render_dm(subject_template, data) or "", params=p)
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
        chunk, next_start = self._page(rows, p, "Length", 100, scope="SenderStatisticsDetailByParam")
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

    def do_GetUser(self, p: dict[str, str]) -> dict[str, Any]:
        """The account's settings (the SDK sends this one as GET)."""
        return {"Data": {"EnableEventbridge": self.eventbridge}}

    def _invalid_window(self, p: dict[str, str]) -> tuple[float, float]:
        """QueryInvalidAddress's StartTime/EndTime (``yyyy-MM-dd``, Beijing days): start no earlier
        than 30 days ago, the span at most 30 days."""
        today = dt.datetime.fromtimestamp(self.clock(), CST).date()
        days: dict[str, dt.date] = {}
        for name, default in (("StartTime", today - dt.timedelta(days=30)), ("EndTime", today)):
            try:
                days[name] = dt.date.fromisoformat(p[name]) if p.get(name) else default
            except ValueError as exc:
                raise DMError(400, f"Invalid{name}.Malformed", f"The specified {name} is wrongly formed.") from exc
        first, last = days["StartTime"], days["EndTime"]
        if (today - first).days > 30:
            raise DMError(400, "InvalidStartTime.Malformed", "The start time cannot be earlier than 30 days ago.")
        if last < first or (last - first).days > 30:
            raise DMError(400, "InvalidBetweenTime.Malformed", "The time span cannot exceed 30 days.")
        start = dt.datetime.combine(first, dt.time(), CST).timestamp()
        return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), CST).timestamp()

    def do_QueryInvalidAddress(self, p: dict[str, str]) -> dict[str, Any]:
        """The account's invalid-address (suppression) list: de-duplicated, timed at the first
        classification as invalid, no reason (reference part 2, section 4.1)."""
        start, end = self._invalid_window(p)
        keyword = p.get("KeyWord", "").casefold()
        rows = [
            (address, when)
            for key, (address, when) in self.invalid_addresses.items()
            if start <= when < end and keyword in key
        ]
        length = p.get("Length") or "100"
        if not length.isdigit() or int(length) < 1:
            raise _invalid("Length")
        chunk, next_start = self._page(
            rows, p, "Length", 100, scope="QueryInvalidAddress", key=lambda r: r[0].casefold()
        )
        records = [
            {"ToAddress": address, "LastUpdateTime": _cst(when), "UtcLastUpdateTime": int(when)}
            for address, when in chunk
        ]
        body: dict[str, Any] = {"TotalCount": len(rows), "data": {"mailDetail": records}}
        if next_start:
            body["NextStart"] = next_start
        return body

    def do_DeleteInvalidAddress(self, p: dict[str, str]) -> dict[str, Any]:
        """Take an address off the invalid-address list (it may be sent to again)."""
        if not p.get("ToAddress"):
            raise _missing("ToAddress")
        self.invalid_addresses.pop(p["ToAddress"].casefold(), None)
        return {}

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

    def publish_dns(self, name: str, purposes: tuple[str, ...] | None = None) -> None:
        """Put a domain's expected records into the emulated public DNS (all, or ``purposes``)."""
        with self.lock:
            found = self._domain_by_name(name)
            for purpose, (_type, _host, value) in found.expected().items():
                if purposes is None or purpose in purposes:
                    found.published[purpose] = value

    def _domain_by_name(self, name: str) -> DomainState:
        found = next((d for d in self.domains if d.name.casefold() == name.casefold()), None)
        if found is None:
            raise DMError(404, "InvalidDomain.NotFound", "The specified domain does not exist (emulator-chosen code).")
        return found

    def _domain(self, p: dict[str, str]) -> DomainState:
        if not p.get("DomainId"):
            raise _missing("DomainId")
        found = next((d for d in self.domains if str(d.id) == p["DomainId"]), None)
        if found is None:
            raise DMError(404, "InvalidDomain.NotFound", "The specified domain does not exist (emulator-chosen code).")
        return found

    def do_CreateDomain(self, p: dict[str, str]) -> dict[str, Any]:
        name = p.get("DomainName", "")
        if not name:
            raise _missing("DomainName")
        if not _DOMAIN_NAME.match(name) or "." not in name.strip("."):
            raise _invalid("DomainName")
        if any(d.name.casefold() == name.casefold() for d in self.domains):
            raise DMError(400, "InvalidDomainName.Duplicate", "The specified domain name already exists.")
        if len(self.domains) >= self.max_domains:
            raise DMError(400, "InvalidDomainNumber.Malformed", "The maximum number of domain names is exceeded.")
        domain_id = int(self._next_id())
        token = hashlib.sha256(f"ownership:{name}:{domain_id}".encode()).hexdigest()[:20]
        self.domains.append(DomainState(domain_id, name.lower(), token, self.clock()))
        return {"DomainId": str(domain_id)}  # a string, as in the SDK's model

    def do_QueryDomainByParam(self, p: dict[str, str]) -> dict[str, Any]:
        keyword = p.get("KeyWord", "").casefold()
        status = p.get("Status")
        items = [
            d.listing()
            for d in self.domains
            if keyword in d.name.casefold() and (not status or (d.status == "0") == (status == "0"))
        ]
        page = self._page_no(items, p)
        return {**{k: v for k, v in page.items() if k != "page"}, "data": {"domain": page["page"]}}

    def do_DescDomain(self, p: dict[str, str]) -> dict[str, Any]:
        return self._domain(p).describe()

    def do_CheckDomain(self, p: dict[str, str]) -> dict[str, Any]:
        return {"DomainStatus": int(self._domain(p).check())}

    def do_DeleteDomain(self, p: dict[str, str]) -> dict[str, Any]:
        found = self._domain(p)
        self.domains.remove(found)
        return {}

    def do_ModifyPWByDomain(self, p: dict[str, str]) -> dict[str, Any]:
        for required in ("DomainName", "Password"):
            if not p.get(required):
                raise _missing(required)
        found = self._domain_by_name(p["DomainName"])
        self._set_password(f"domain:{found.name}", p["Password"])
        return {"Code": "OK", "Success": True}

    def _set_password(self, key: str, value: str) -> None:
        if check_password(value) is not None:
            raise _invalid("Password")
        if self.passwords.matches(key, value):
            raise DMError(400, "InvalidPassword", "The password cannot be the same as the last one (emulator-chosen).")
        self.passwords.set(key, value)

    # ------------------------------------------------------------------ sender addresses

    def _mail_address(self, p: dict[str, str]) -> dict[str, Any]:
        if not p.get("MailAddressId"):
            raise _missing("MailAddressId")
        found = next((s for s in self.senders if str(s["MailAddressId"]) == p["MailAddressId"]), None)
        if found is None:
            raise DMError(404, "InvalidMailAddress.NotFound", "The specified mail address is not found.")
        return found

    def do_CreateMailAddress(self, p: dict[str, str]) -> dict[str, Any]:
        for required in ("AccountName", "Sendtype"):
            if not p.get(required):
                raise _missing(required)
        address, sendtype, reply = p["AccountName"], p["Sendtype"], p.get("ReplyAddress", "")
        if sendtype not in SENDTYPES:
            raise DMError(
                400, "InvalidMailAddressSendType.Malformed", "The specified mailAddress sendType is wrongly formed."
            )
        if not _EMAIL.match(address):
            raise DMError(400, "EmailFormatError", "The Email format is invalid.")
        domain = address.rsplit("@", 1)[1].casefold()
        if not any(d.name == domain for d in self.domains):  # seed 003 spells this one without the dot
            raise DMError(
                400, "InvalidMailAddressDomainMalformed", "The specified mailAddresses domain does not exist."
            )
        if any(s["AccountName"].casefold() == address.casefold() for s in self.senders):
            raise DMError(400, "InvalidMailAddress.Duplicate", "The mail address already exists (emulator-chosen).")
        if reply and not _EMAIL.match(reply):
            raise DMError(400, "InvalidReplyAddress.Malformed", "The specified replyAddress is wrongly formed.")
        mail_address_id = self._next_id()
        self.senders.append(
            {"MailAddressId": int(mail_address_id), "AccountName": address, "Sendtype": sendtype,
             "AccountStatus": 0, "ReplyAddress": reply, "ReplyStatus": 1, "CreateTime": _cst(self.clock()),
             "DailyCount": -1, "MonthCount": -1, "DailyReqCount": 0, "MonthReqCount": 0, "DomainStatus": 0}
        )  # fmt: skip
        return {"MailAddressId": mail_address_id}

    def do_DeleteMailAddress(self, p: dict[str, str]) -> dict[str, Any]:
        self.senders.remove(self._mail_address(p))
        return {}

    def do_ModifyMailAddress(self, p: dict[str, str]) -> dict[str, Any]:
        found = self._mail_address(p)
        if found["AccountStatus"] != 0:
            raise DMError(
                400, "InvalidMailAddressStatus.Malformed", "The specified mailAddresses status is wrongly formed."
            )
        if p.get("ReplyAddress") and not _EMAIL.match(p["ReplyAddress"]):
            raise DMError(400, "InvalidReplyAddress.Malformed", "The specified replyAddress is wrongly formed.")
        if p.get("Password"):
            self._set_password(f"address:{found['MailAddressId']}", p["Password"])
        if p.get("ReplyAddress") and p["ReplyAddress"] != found["ReplyAddress"]:
            found["ReplyAddress"], found["ReplyStatus"] = p["ReplyAddress"], 1
        return {}

    def do_CheckReplyToMailAddress(self, p: dict[str, str]) -> dict[str, Any]:
        found = self._mail_address(p)
        if not found["ReplyAddress"]:
            raise DMError(400, "InvalidReplyAddress.Malformed", "The sender address has no reply-to address.")
        mail_address_id = str(found["MailAddressId"])
        attempt = 1 + sum(1 for m in self.reply_mails if m["mail_address_id"] == mail_address_id)
        ticket = reply_ticket(mail_address_id, attempt)
        self.reply_tickets[ticket] = mail_address_id
        self.reply_mails.append({"mail_address_id": mail_address_id, "to": found["ReplyAddress"], "ticket": ticket})
        return {}

    def do_ApproveReplyMailAddress(self, p: dict[str, str]) -> dict[str, Any]:
        if not p.get("Ticket"):
            raise _missing("Ticket")
        mail_address_id = self.reply_tickets.pop(p["Ticket"], None)
        if mail_address_id is None:
            raise _invalid("Ticket")
        self._mail_address({"MailAddressId": mail_address_id})["ReplyStatus"] = 0
        return {}

    def reply_ticket_for(self, address: str) -> str:
        """The ticket of the latest verification mail sent for a sender's reply-to address."""
        with self.lock:
            sender = next(s for s in self.senders if s["AccountName"].casefold() == address.casefold())
            mails = [m for m in self.reply_mails if m["mail_address_id"] == str(sender["MailAddressId"])]
            if not mails:
                raise LookupError(f"no reply-to verification mail for {address!r}")
            return mails[-1]["ticket"]

    def do_QueryMailAddressByParam(self, p: dict[str, str]) -> dict[str, Any]:
        keyword = p.get("KeyWord", "").casefold()
        sendtype = p.get("Sendtype")
        items = [
            s
            for s in self.senders
            if keyword in s["AccountName"].casefold() and (not sendtype or s["Sendtype"] == sendtype)
        ]
        page = self._page_no([_sender_wire(s) for s in items], p)
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

    def _template_listing(self, t: Template) -> dict[str, Any]:
        """A QueryTemplateByParam ``data.template`` record: id a string, type an int, no subject or text."""
        created = t.created or self.clock()
        return {
            "TemplateId": t.id,
            "TemplateName": t.name,
            "TemplateStatus": t.status,
            "TemplateType": 0,
            "TemplateComment": "",
            "CreateTime": _cst(created),
            "UtcCreatetime": int(created),  # sic, as in the SDK's model
        }

    def _template_description(self, t: Template) -> dict[str, Any]:
        """A DescTemplate body: no TemplateId, the type a string."""
        return {
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
        if len(name) > MAX_TEMPLATE_NAME:
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
        return self._template_description(self._template(p))

    def do_QueryTemplateByParam(self, p: dict[str, str]) -> dict[str, Any]:
        keyword = p.get("KeyWord", "").casefold()
        items = [self._template_listing(t) for t in self.templates.values() if keyword in t.name.casefold()]
        page = self._page_no(items, p)
        return {**{k: v for k, v in page.items() if k != "page"}, "data": {"template": page["page"]}}

    def do_DeleteTemplate(self, p: dict[str, str]) -> dict[str, Any]:
        del self.templates[self._template(p).id]
        return {}

    def do_ModifyTemplate(self, p: dict[str, str]) -> dict[str, Any]:
        found = self._template(p)
        name = p.get("TemplateName") or found.name
        if len(name) > MAX_TEMPLATE_NAME:
            raise DMError(400, "InvalidTemplateName.Malformed", "The specified template name is wrongly formed.")
        if any(t.name == name and t.id != found.id for t in self.templates.values()):
            raise DMError(400, "InvalidTemplateName.Malformed", "The template name already exists.")
        if len(p.get("TemplateSubject", "")) > MAX_SUBJECT:
            raise _invalid("TemplateSubject")
        found.name = name
        if "TemplateSubject" in p:
            found.subject = p["TemplateSubject"]
        if "TemplateText" in p:
            found.html, found.text = p["TemplateText"], None
        return {}

    def render_template(self, template_id: str, data: dict[str, str]) -> Rendered:
        """A stored template as Direct Mail renders it (:func:`render_dm`)."""
        with self.lock:
            found = self.templates[template_id]
            return Rendered(render_dm(found.subject, data), render_dm(found.html, data), render_dm(found.text, data))
