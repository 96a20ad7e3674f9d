"""Provider-neutral data: what goes in (recipients, messages) and what comes back."""

from __future__ import annotations

import datetime as dt
import email.message
import enum
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Generic, TypeVar

import attrs
from attrs import field, frozen

__all__ = [
    "AccountSummary",
    "Attachment",
    "Attempt",
    "BatchResult",
    "BounceType",
    "DeliveryEvent",
    "DeliveryQuery",
    "DeliveryStatus",
    "DnsRecord",
    "Group",
    "GroupStatus",
    "Member",
    "Message",
    "Page",
    "Recipient",
    "RejectedAddress",
    "RemoveReport",
    "SendReceipt",
    "SendResult",
    "SenderAddress",
    "SenderDomain",
    "StatisticsRow",
    "Suppression",
    "SuppressionReason",
    "Tag",
    "Template",
    "UploadReport",
]

T = TypeVar("T")


def _addresses(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Accept one address, a comma-free iterable of addresses, or None."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value.strip(),) if value.strip() else ()
    return tuple(v.strip() for v in value if v and v.strip())


def _strip(value: str) -> str:
    return str(value).strip()


def _tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


def _str_map(value: Mapping[str, Any] | None) -> dict[str, str]:
    if not value:
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _any_map(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- recipients


@frozen
class Recipient:
    """One address to upload into a group, with optional profile fields and template data.

    Profile fields are the ones both clouds know of; ``data`` is per-recipient template data
    (``{{name}}`` in a template is filled from ``data["name"]``).
    """

    email: str = field(converter=_strip)
    name: str | None = None
    nickname: str | None = None
    gender: str | None = None
    birthday: str | None = None  # ISO date, YYYY-MM-DD
    mobile: str | None = None
    data: dict[str, str] = field(factory=dict, converter=_str_map, hash=False)

    PROFILE_FIELDS = ("name", "nickname", "gender", "birthday", "mobile")

    @property
    def key(self) -> str:
        """Identity used for de-duplication: the address, case-folded."""
        return self.email.casefold()

    def profile(self) -> dict[str, str]:
        """The profile fields that are set."""
        profile = {}  # (spelled out: this runs several times per row of an upload)
        if self.name:
            profile["name"] = self.name
        if self.nickname:
            profile["nickname"] = self.nickname
        if self.gender:
            profile["gender"] = self.gender
        if self.birthday:
            profile["birthday"] = self.birthday
        if self.mobile:
            profile["mobile"] = self.mobile
        return profile

    @classmethod
    def coerce(cls, value: Recipient | str | Mapping[str, Any]) -> Recipient:
        """Build a Recipient from an address, a mapping (CSV row) or a Recipient.

        In a mapping, ``email`` and the profile field names are taken as such; every other
        non-empty column becomes template data (``data`` may also hold a mapping of it).
        Keys must be strings; values strings, ``None`` (empty) or numbers (written with
        ``str``). Anything else raises :class:`TypeError` or :class:`ValueError` saying why,
        which an upload reports as a rejected row.
        """
        if isinstance(value, Recipient):
            return value
        if isinstance(value, str):
            return cls(email=value)
        if type(value) is dict and (plan := _row_plan(tuple(value))) is not None:
            try:
                return _from_plan(cls, plan, (*value.values(), ""))
            except TypeError:
                pass  # a value that is not text: the general path below takes numbers or says why not
        if not isinstance(value, Mapping):
            hint = ""
            if isinstance(value, list | tuple):
                hint = " (a csv.reader row has no column names: use csv.DictReader or mailbridge.read_recipients_csv)"
            raise TypeError(f"expected a Recipient, an address string or a mapping, not {type(value).__name__}{hint}")
        row: dict[str, Any] = {}
        for k, v in value.items():
            if k is None:  # csv.DictReader puts fields beyond the header under None
                if v and any(str(x).strip() for x in (v if isinstance(v, list | tuple) else [v])):
                    raise ValueError("the row has more fields than the header")
                continue
            if not isinstance(k, str):
                raise TypeError(f"column names must be strings, not {type(k).__name__}")
            key = _column(k)
            row[key] = v if key == "data" or v is None or type(v) is str else _text(key, v)
        email = row.pop("email", None) or row.pop("address", None) or ""
        profile = {f: (row.pop(f, None) or None) for f in cls.PROFILE_FIELDS}
        data = row.pop("data", None)
        extra = {k: v for k, v in row.items() if v not in (None, "")}
        if data is not None:
            if not isinstance(data, Mapping):
                raise TypeError(f"'data' must be a mapping of template data, not {type(data).__name__}")
            for k, v in data.items():
                if not isinstance(k, str):
                    raise TypeError(f"template data keys must be strings, not {type(k).__name__}")
                extra[k] = _text(k, v) or ""
        return cls(email=email, data=extra, **profile)


_KNOWN_COLUMNS = frozenset({"email", "address", "data", *Recipient.PROFILE_FIELDS})


@lru_cache(maxsize=1024)
def _column(name: str) -> str:
    """A column name as :meth:`Recipient.coerce` files it (cached: a CSV repeats its header on every row)."""
    key = name.strip()
    return key.lower() if key.lower() in _KNOWN_COLUMNS else key


# Where each column of a row goes: (index of email, indices of the profile fields in field order,
# template data columns); -1 for a column the row lacks (it indexes the empty text after the values).
_RowPlan = tuple[int, tuple[int, int, int, int, int], tuple[tuple[str, int], ...]]


@lru_cache(maxsize=256)
def _row_plan(columns: tuple[Any, ...]) -> _RowPlan | None:
    """How :meth:`Recipient.coerce` files a dict with these keys, worked out once per header.

    None for anything but plain distinct string columns without ``data`` and with at most one of
    ``email``/``address``: the general path handles those."""
    if not all(type(c) is str for c in columns):
        return None
    names = [_column(c) for c in columns]
    if len(set(names)) != len(names) or "data" in names or {"email", "address"} <= set(names):
        return None
    email = next((i for i, n in enumerate(names) if n in ("email", "address")), -1)
    a, b, c, d, e = (names.index(f) if f in names else -1 for f in Recipient.PROFILE_FIELDS)
    extra = tuple((n, i) for i, n in enumerate(names) if n not in _KNOWN_COLUMNS)
    return email, (a, b, c, d, e), extra


def _from_plan(cls: type[Recipient], plan: _RowPlan, values: tuple[Any, ...]) -> Recipient:
    """The general path's result for a row of text values followed by one empty text (TypeError if
    one is not text). Spelled out, positional and without comprehensions: this runs once per row."""
    "".join(values)  # TypeError unless every value is text
    email, (name, nickname, gender, birthday, mobile), extra = plan
    data = {}
    for column, i in extra:
        if value := values[i]:
            data[column] = value
    return cls(
        values[email],
        values[name] or None,
        values[nickname] or None,
        values[gender] or None,
        values[birthday] or None,
        values[mobile] or None,
        data,
    )


def _text(field_name: str, value: Any) -> str | None:
    """A CSV/mapping value as text: strings as they are, numbers written out, None as empty."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"field {field_name!r} must be text or a number, not {type(value).__name__}")


class GroupStatus(enum.StrEnum):
    """Where a group's (possibly asynchronous) import stands."""

    EMPTY = "empty"
    PROCESSING = "processing"
    READY = "ready"
    UNKNOWN = "unknown"


@frozen
class Group:
    """A provider-side recipient group (Direct Mail "receiver list", SES "receiver")."""

    id: str
    name: str
    provider: str
    description: str | None = None
    recipient_count: int | None = None
    status: GroupStatus = GroupStatus.UNKNOWN
    created_at: dt.datetime | None = field(default=None, converter=_utc)
    extra: dict[str, Any] = field(factory=dict, converter=_any_map, hash=False, eq=False)


@frozen
class Member:
    """A recipient as a provider lists it back from a group."""

    recipient: Recipient
    valid: bool | None = None
    invalid_reason: str | None = None
    added_at: dt.datetime | None = field(default=None, converter=_utc)

    @property
    def email(self) -> str:
        return self.recipient.email


@frozen
class RejectedAddress:
    """An address that was not added, and why. ``row`` is its 1-based position in the input."""

    email: str
    reason: str
    code: str | None = None
    row: int | None = None


@frozen
class BatchResult:
    """What a backend reports for one upload call (the core merges these into a report).

    The core sends only valid, unique addresses, so each one is ``accepted`` (new in the
    group), ``existing`` (the group already had it) or ``rejected``. A provider that answers
    with counts only (SES) sets ``accepted_count``, ``existing_count`` and
    ``unattributed_rejected`` instead of naming addresses it cannot name, and says why in ``note``.
    """

    accepted: tuple[str, ...] = field(default=(), converter=_tuple)
    rejected: tuple[RejectedAddress, ...] = field(default=(), converter=_tuple)
    existing: tuple[str, ...] = field(default=(), converter=_tuple)
    processing: bool = False
    request_id: str | None = None
    accepted_count: int | None = None  # when the provider gives a count but not the addresses
    existing_count: int | None = None  # likewise for addresses already in the group
    unattributed_rejected: int = 0  # refused addresses the provider did not name
    note: str | None = None

    @property
    def accepted_total(self) -> int:
        return self.accepted_count if self.accepted_count is not None else len(self.accepted)

    @property
    def existing_total(self) -> int:
        return self.existing_count if self.existing_count is not None else len(self.existing)


@frozen
class UploadReport:
    """The exact outcome of one upload, however many provider calls it took.

    Every input row lands in exactly one category (``rows`` = ``accepted`` + ``existing`` +
    ``len(duplicates)`` + ``len(rejected)`` + ``unattributed_rejected`` + ``not_sent``), the
    same on every backend for the same input and group:

    * ``accepted``: addresses new to the group that the provider took;
    * ``existing``: addresses the group already had (each counted once, however often repeated);
    * ``duplicates``: rows repeating an address of an earlier row (skipped, never sent);
    * ``rejected``: refused rows with row number, address, reason and code (``invalid``:
      the core's checks; ``provider``: refused by the provider; ``limit``: no room left);
    * ``unattributed_rejected``: addresses a count-only provider refused without naming them
      (``notes`` says what it reported);
    * ``not_sent``: rows read but never offered to the provider because the upload stopped.

    ``groups`` names every list filled when the upload was split (``split=True``);
    ``processing`` is true while the provider is still importing asynchronously.
    """

    group: Group
    accepted: int = 0
    rejected: tuple[RejectedAddress, ...] = ()
    duplicates: tuple[str, ...] = ()
    existing: int = 0
    batches: int = 0
    processing: bool = False
    request_ids: tuple[str, ...] = ()
    unattributed_rejected: int = 0
    notes: tuple[str, ...] = ()
    rows: int = 0
    not_sent: int = 0
    groups: tuple[Group, ...] = ()

    @property
    def ok(self) -> bool:
        """True when nothing was rejected."""
        return not self.rejected and not self.unattributed_rejected

    def counts(self) -> dict[str, int]:
        """The neutral categories as numbers (what a cross-backend comparison compares)."""
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "existing": self.existing,
            "duplicates": len(self.duplicates),
            "rejected": len(self.rejected),
            "unattributed": self.unattributed_rejected,
            "not_sent": self.not_sent,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group.name,
            "group_id": self.group.id,
            "provider": self.group.provider,
            "rows": self.rows,
            "accepted": self.accepted,
            "existing": self.existing,
            "duplicates": list(self.duplicates),
            "rejected": [attrs.asdict(r) for r in self.rejected],
            "unattributed_rejected": self.unattributed_rejected,
            "not_sent": self.not_sent,
            "batches": self.batches,
            "processing": self.processing,
            "groups": [g.name for g in self.groups] or [self.group.name],
            "notes": list(self.notes),
        }


@frozen
class RemoveReport:
    """The exact outcome of removing addresses from a group.

    ``removed``: members that were in the group and are gone; ``not_members``: addresses the
    group did not have (nothing to remove); ``duplicates``: repeats in the input;
    ``rejected``: entries that are not addresses (never sent to the provider).
    """

    group: Group
    removed: tuple[str, ...] = field(default=(), converter=_tuple)
    not_members: tuple[str, ...] = field(default=(), converter=_tuple)
    duplicates: tuple[str, ...] = field(default=(), converter=_tuple)
    rejected: tuple[RejectedAddress, ...] = field(default=(), converter=_tuple)
    request_ids: tuple[str, ...] = field(default=(), converter=_tuple)

    def counts(self) -> dict[str, int]:
        return {
            "removed": len(self.removed),
            "not_members": len(self.not_members),
            "duplicates": len(self.duplicates),
            "rejected": len(self.rejected),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group.name,
            "group_id": self.group.id,
            "provider": self.group.provider,
            "removed": list(self.removed),
            "not_members": list(self.not_members),
            "duplicates": list(self.duplicates),
            "rejected": [attrs.asdict(r) for r in self.rejected],
        }


# --------------------------------------------------------------------------- sending


def _template_name(value: str | Template | None) -> str | None:
    """``Message.template``: a template's name (a :class:`Template` stands for its name)."""
    if value is None:
        return None
    name = value.name if isinstance(value, Template) else str(value)
    return name.strip() or None


@frozen
class Attachment:
    """A file attached to a message.

    ``content_id`` *(optional)* makes it an inline part (an image the HTML body shows as
    ``<img src="cid:logo">``): ``Content-Disposition: inline`` with ``Content-ID: <logo>``, sent
    only by backends declaring ``Feature.INLINE_IMAGES``. Give the id without angle brackets.
    """

    filename: str
    content: bytes = field(repr=lambda b: f"<{len(b)} bytes>")
    content_type: str = "application/octet-stream"
    content_id: str | None = None

    @property
    def inline(self) -> bool:
        """Whether this is an inline part (it has a ``content_id``)."""
        return self.content_id is not None


@frozen
class Message:
    """One email to send.

    Give either a body (``html`` and/or ``text``) or a stored template plus
    ``template_data``: ``template`` names it (its neutral identity, the same on every
    provider, so such a send can fail over), ``template_id`` is one provider's own id.
    A template send without ``subject`` takes the template's. Everything the neutral fields cannot say goes in
    ``provider_options`` (passed to the backend untouched, like anymail's ``esp_extra``).
    ``idempotency_key`` *(optional)*: a send with a key already used returns the first
    receipts instead of sending again (see ``Client.send``); never sent to the provider.
    """

    sender: str
    to: tuple[str, ...] = field(converter=_addresses)
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    sender_name: str | None = None
    cc: tuple[str, ...] = field(default=(), converter=_addresses)
    bcc: tuple[str, ...] = field(default=(), converter=_addresses)
    reply_to: str | None = None
    reply_to_name: str | None = None
    template_id: str | None = None
    template_data: dict[str, str] = field(factory=dict, converter=_str_map, hash=False)
    template: str | None = field(default=None, converter=_template_name)
    tag: str | None = None
    headers: dict[str, str] = field(factory=dict, converter=_str_map, hash=False)
    unsubscribe: bool | None = None  # None: the provider's default
    click_tracking: bool | None = None
    attachments: tuple[Attachment, ...] = field(default=(), converter=_tuple)
    provider_options: dict[str, Any] = field(factory=dict, converter=_any_map, hash=False)
    idempotency_key: str | None = None

    def evolve(self, **changes: Any) -> Message:
        return attrs.evolve(self, **changes)

    @classmethod
    def from_email_message(cls, msg: email.message.Message) -> Message:
        """The neutral message a standard-library email message says (see ``mailbridge._stdmail``).

        Raises :class:`~mailbridge.InvalidRequest` naming anything the neutral model cannot
        carry (recipient display names, inline images, other body types, repeated headers).
        """
        from ._stdmail import from_email_message

        return from_email_message(msg)

    def to_email_message(self) -> email.message.EmailMessage:
        """This message as a standard-library :class:`email.message.EmailMessage` (lossless).

        ``Bcc`` is written as a header. Raises :class:`~mailbridge.InvalidRequest` for a
        template send or send options a standard message has no place for.
        """
        from ._stdmail import to_email_message

        return to_email_message(self)


@frozen
class SendReceipt:
    """What one provider call accepted. ``sent_at`` is kept because some status queries need it."""

    provider: str
    message_ids: tuple[str, ...] = field(default=(), converter=_tuple)
    accepted: tuple[str, ...] = field(default=(), converter=_tuple)
    request_id: str | None = None
    sent_at: dt.datetime = field(factory=_utc_now, converter=_utc)
    batch_id: str | None = None  # a group send's task id
    extra: dict[str, Any] = field(factory=dict, converter=_any_map, hash=False, eq=False)


@frozen
class Attempt:
    """One try of a provider during a failover send: what happened, when.

    ``outcome`` is one of:

    * ``"sent"``: the provider accepted the message (``detail`` ``"dropped: tag, cc"`` when it went out
      without fields that provider ignores, ``ignore_unsupported_features``);
    * ``"failed"``: the provider certainly did not send it (``error`` names the neutral error class);
    * ``"unknown"``: the request may have been applied (``OutcomeUnknown``: maybe sent; failover stops
      there unless the client is at-least-once);
    * ``"skipped"``: not contacted, ``detail`` says why: ``"cannot carry: tag, cc"`` (the fields its
      declared features lack), ``"cooling down after a failure"`` or ``"another worker is probing it"``.
    """

    provider: str
    outcome: str  # "sent" | "failed" | "unknown" | "skipped" (see the class docstring for detail values)
    time: dt.datetime = field(factory=_utc_now, converter=_utc)
    error: str | None = None  # the neutral error class name
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "outcome": self.outcome,
            "time": self.time.isoformat(),
            "error": self.error,
            "detail": self.detail,
        }


@frozen
class SendResult:
    """Every receipt of one logical send (a send larger than the per-send limit is split).

    ``attempts`` lists the providers tried when the send went through a failover client.
    """

    receipts: tuple[SendReceipt, ...] = field(converter=_tuple)
    attempts: tuple[Attempt, ...] = field(default=(), converter=_tuple)

    @property
    def provider(self) -> str:
        """The provider that took the (last part of the) message."""
        return self.receipts[-1].provider if self.receipts else ""

    @property
    def message_ids(self) -> tuple[str, ...]:
        return tuple(m for r in self.receipts for m in r.message_ids)

    @property
    def accepted(self) -> tuple[str, ...]:
        return tuple(a for r in self.receipts for a in r.accepted)

    @property
    def request_ids(self) -> tuple[str, ...]:
        return tuple(r.request_id for r in self.receipts if r.request_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "message_ids": list(self.message_ids),
            "accepted": list(self.accepted),
            "request_ids": list(self.request_ids),
            "calls": len(self.receipts),
            "batch_ids": [r.batch_id for r in self.receipts if r.batch_id],
            "sent_at": [r.sent_at.isoformat() for r in self.receipts],
            "attempts": [a.as_dict() for a in self.attempts],
        }


# --------------------------------------------------------------------------- delivery


class DeliveryStatus(enum.StrEnum):
    """The neutral fate of one message to one recipient; every backend maps its codes onto it.

    The same fate gives the same status on every backend (``docs/semantics.md`` has the
    table of each cloud's raw codes):

    * ``pending``: accepted, not yet delivered (queued, sending, deferred by the receiving server);
    * ``delivered``: the receiving server accepted it;
    * ``invalid_address``: the address cannot receive mail (no such mailbox or domain,
      SMTP ``5.1.x``, or the provider's address check refused it);
    * ``rejected``: refused for other reasons by the receiving server (spam, policy,
      ``5.7.x``) or dropped by the provider (blacklist, suppression, reputation);
    * ``failed``: any other failure (provider error, quota, timeouts, deferrals given up);
    * ``opened``/``clicked``/``unsubscribed``/``complained``: engagement after delivery. Events
      keep ``status=delivered`` and set the flag; filtering by these statuses matches the
      flags, on backends declaring ``Feature.DELIVERY_ENGAGEMENT`` only;
    * ``unknown``: a pushed event of a type mailbridge does not know (kept with its raw body).
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    INVALID_ADDRESS = "invalid_address"
    REJECTED = "rejected"
    FAILED = "failed"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"
    UNKNOWN = "unknown"


#: Statuses that are engagement flags on a delivered event, not a fate of their own.
ENGAGEMENT_STATUSES = frozenset(
    {DeliveryStatus.OPENED, DeliveryStatus.CLICKED, DeliveryStatus.UNSUBSCRIBED, DeliveryStatus.COMPLAINED}
)


class BounceType(enum.StrEnum):
    """Whether a bounce is permanent (``hard``: do not retry the address) or temporary (``soft``)."""

    HARD = "hard"
    SOFT = "soft"


@frozen
class DeliveryQuery:
    """One window (already within the backend's limits) and optional filters."""

    start: dt.datetime = field(converter=_utc)
    end: dt.datetime = field(converter=_utc)
    recipient: str | None = None
    sender: str | None = None
    message_id: str | None = None
    status: DeliveryStatus | None = None
    tag: str | None = None


def _bounce(value: BounceType | str | None) -> BounceType | None:
    return None if value is None else BounceType(value)


@frozen
class DeliveryEvent:
    """One message to one recipient, as the provider's delivery log reports it.

    ``status`` is the neutral delivery outcome (:class:`DeliveryStatus`); ``bounce_type`` is
    ``hard``/``soft`` when the receiving server bounced the message (None otherwise);
    ``reason`` is the provider's own text for a failure or deferral (the SMTP reply where
    there is one). ``opened``/``clicked``/``unsubscribed``/``complained`` are engagement flags
    where the provider reports them (None: unknown). ``raw_status`` and ``raw_detail`` keep the
    provider's own status codes and classification.
    """

    provider: str
    recipient: str
    status: DeliveryStatus
    time: dt.datetime | None = field(default=None, converter=_utc)
    sender: str | None = None
    subject: str | None = None
    message_id: str | None = None
    raw_status: str | None = None
    raw_detail: str | None = None
    opened: bool | None = None
    clicked: bool | None = None
    unsubscribed: bool | None = None
    complained: bool | None = None
    bounce_type: BounceType | None = field(default=None, converter=_bounce)
    reason: str | None = None
    # Pushed events (webhooks) also carry these; ``raw`` is the provider's whole event.
    tag: str | None = None
    url: str | None = None  # the clicked link of a click event
    event_id: str | None = None  # the provider's key for de-duplicating redelivered events
    raw: dict[str, Any] = field(factory=dict, converter=_any_map, eq=False, hash=False, repr=False)

    def has(self, status: DeliveryStatus) -> bool:
        """Whether this event matches a status filter (engagement statuses match their flag)."""
        if status in ENGAGEMENT_STATUSES:
            return bool(getattr(self, str(status)))
        return self.status == status

    def as_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self)
        d["status"] = self.status.value
        d["bounce_type"] = self.bounce_type.value if self.bounce_type else None
        d["time"] = self.time.isoformat() if self.time else None
        return d


class SuppressionReason(enum.StrEnum):
    """Why an address is on a suppression list."""

    BOUNCE = "bounce"  # hard bounces (a provider's invalid-address or bounce blacklist)
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    MANUAL = "manual"  # added by the account (suppress(), a custom blacklist)


def _reason(value: SuppressionReason | str) -> SuppressionReason:
    return SuppressionReason(value)


@frozen
class Suppression:
    """One address the provider will not send to.

    ``scope`` is ``account`` for the account's own list and ``shared`` for a list the
    provider keeps for all its users (Tencent's hard-bounce blacklist, Direct Mail's global
    invalid-address library); ``since`` is when it was listed, where the provider says.
    """

    address: str = field(converter=_strip)
    reason: SuppressionReason = field(converter=_reason)
    since: dt.datetime | None = field(default=None, converter=_utc)
    scope: str = "account"
    provider: str = ""
    detail: str | None = None  # the provider's own text (ISP description, block reason)

    @property
    def key(self) -> str:
        return self.address.casefold()

    def as_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "reason": self.reason.value,
            "since": self.since.isoformat() if self.since else None,
            "scope": self.scope,
            "provider": self.provider,
            "detail": self.detail,
        }


@frozen
class Page(Generic[T]):
    """One page of a listing; ``next_cursor`` is None on the last page."""

    items: tuple[T, ...] = field(converter=_tuple)
    next_cursor: str | None = None


# --------------------------------------------------------------------------- account & setup


@frozen
class AccountSummary:
    """Quota and standing of the account behind a backend."""

    provider: str
    daily_quota: int | None = None
    daily_remaining: int | None = None
    monthly_quota: int | None = None
    monthly_remaining: int | None = None
    status: str | None = None
    extra: dict[str, Any] = field(factory=dict, converter=_any_map, hash=False, eq=False)


@frozen
class StatisticsRow:
    """Volumes for one day."""

    date: dt.date
    requested: int = 0
    delivered: int = 0
    bounced: int = 0
    opened: int | None = None
    clicked: int | None = None
    unsubscribed: int | None = None
    complained: int | None = None


@frozen
class DnsRecord:
    """A DNS record a sender domain needs, and whether the provider has seen it."""

    type: str  # TXT, MX, CNAME ...
    host: str
    value: str
    purpose: str  # ownership, spf, dkim, dmarc, mx, tracking
    verified: bool | None = None


@frozen
class SenderDomain:
    """A sending domain and the DNS records it needs."""

    name: str
    provider: str
    id: str | None = None
    verified: bool | None = None
    status: str | None = None
    records: tuple[DnsRecord, ...] = field(default=(), converter=_tuple)


@frozen
class SenderAddress:
    """A registered sender address."""

    address: str
    provider: str
    id: str | None = None
    kind: str | None = None  # transactional / batch, where the cloud distinguishes
    reply_to: str | None = None
    status: str | None = None


@frozen
class Tag:
    """A send tag (Direct Mail)."""

    id: str
    name: str
    description: str | None = None


#: The parts of a neutral template, in the order digests and reports use.
TEMPLATE_PARTS = ("subject", "html", "text")


@frozen
class Template:
    """A stored template. Variables are written ``{{name}}`` in the neutral syntax.

    A template's neutral identity is its ``name``; ``id`` is the provider's own. ``missing``
    names parts the provider cannot store and mailbridge's template catalog holds no record
    of (for example the subject of a template made in the Tencent console): they are
    unknown, not empty.
    """

    id: str
    name: str
    provider: str
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    status: str | None = None
    missing: tuple[str, ...] = field(default=(), converter=_tuple)

    def parts(self) -> dict[str, str | None]:
        """``{"subject": ..., "html": ..., "text": ...}``."""
        return {"subject": self.subject, "html": self.html, "text": self.text}

    def with_parts(self, parts: Mapping[str, str | None], missing: Iterable[str] = ()) -> Template:
        """A copy with these parts replaced and ``missing`` set."""
        return attrs.evolve(
            self,
            subject=parts.get("subject", self.subject),
            html=parts.get("html", self.html),
            text=parts.get("text", self.text),
            missing=tuple(missing),
        )
