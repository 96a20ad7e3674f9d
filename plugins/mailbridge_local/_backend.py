"""The embedded ``local`` backend: SQLite for state, a Maildir outbox for sent mail.

URL: ``local:///absolute/dir`` or ``local://relative/dir`` (default ``local://.mailbridge``).
The directory holds ``mailbridge.sqlite3`` (groups, members, delivery log, templates,
tags) and ``outbox/`` (a Maildir: one RFC 5322 file per sent message).

Delivery simulation, so that status handling can be exercised offline, with the same domains
and SMTP replies as both emulators: a recipient at ``bounce.example`` is logged
``invalid_address`` (``550 5.1.1``, hard bounce), one at ``spam.example`` ``rejected``
(``554 5.7.1``, hard), one at ``fail.example`` ``failed`` (``421 4.4.0``, soft); everyone
else ``delivered``. There is no DNS offline: a sender domain lists
the records a real provider would want and verifies as soon as it is asked to.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import mailbox
import re
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from types import MappingProxyType
from typing import Self

from mailbridge import (
    AlreadyExists,
    Backend,
    BatchResult,
    ConfigurationError,
    ContentRejected,
    DeliveryEvent,
    DeliveryQuery,
    DeliveryStatus,
    DnsRecord,
    Feature,
    Group,
    GroupNotFound,
    GroupStatus,
    Limits,
    Member,
    Message,
    NotFound,
    Page,
    ProviderURL,
    Recipient,
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
    UrlConfig,
    refine_status,
    render_template,
)

from ._store import DEFAULT_BUSY_TIMEOUT, Store

__all__ = ["LocalBackend"]

_SIMULATED = {
    "bounce.example": (DeliveryStatus.INVALID_ADDRESS, "550 5.1.1 mailbox does not exist (simulated)"),
    "spam.example": (DeliveryStatus.REJECTED, "554 5.7.1 message rejected as spam (simulated)"),
    "fail.example": (DeliveryStatus.FAILED, "421 4.4.0 connection failed (simulated)"),
}


_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


# A batch as stored: [key, email, profile, data] per member, profile and data as json.dumps writes them
# (compact, keys sorted, text as is); json_extract hands the objects back as that same text (tested).
_ENCODE_BATCH = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
# json_extract, not ->/->>: those need SQLite 3.38 (Python 3.11 may link an older one). The scalar
# subquery (the group's last number) is evaluated once, before the first row is written.
_INSERT_BATCH = (
    "INSERT OR IGNORE INTO members (group_id, key, email, profile, data, added_at, seq)"
    " SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
    " json_extract(value, '$[3]'), ?2, (SELECT COALESCE(MAX(seq), 0) FROM members WHERE group_id = ?1) + key + 1"
    " FROM json_each(?3)"
)


class LocalBackend(Backend):
    """Offline backend with generous limits that goes through the same client code as the clouds."""

    name = "local"
    display_name = "mailbridge local"
    delivery_codes = MappingProxyType(
        {
            **{f"recipient @{domain} ({reply[:9]})": status for domain, (status, reply) in _SIMULATED.items()},
            "any other recipient (250 2.0.0)": DeliveryStatus.DELIVERED,
        }
    )
    limits = Limits(
        upload_batch_size=1000,
        recipients_per_send=100,
        remove_batch_size=1000,
        group_name_length=100,
        cc_per_send=100,
        bcc_per_send=100,
        subject_length=998,  # RFC 5322 line length
        sender_name_length=100,
        headers_per_send=50,
        tag_length=128,
        list_page_size=100,
        delivery_page_size=100,
        # Not offered: account quotas, open/click tracking, scheduled group sends (it has no
        # scheduler); SMTPUTF8 addresses (RFC 6532 headers do not parse back with the email
        # package: it reads raw UTF-8 as surrogate escapes).
        features=set(Feature)
        - {
            Feature.ACCOUNT_SUMMARY,
            Feature.CLICK_TRACKING,
            Feature.DELIVERY_ENGAGEMENT,
            Feature.SCHEDULED_SEND,
            Feature.SMTPUTF8,
        },
    )

    def __init__(self, directory: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
        self.directory = directory
        self.store = Store(directory / "mailbridge.sqlite3", busy_timeout=busy_timeout)
        self.outbox_path = directory / "outbox"
        # mailbox.Maildir names files from the time and a class-level counter that threads race on.
        self._outbox_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: ProviderURL) -> Self:
        UrlConfig.read(url, {"busy_timeout"})
        raw = (url.host or "") + (url.path or "") if url.host else (url.path or "")
        if url.username or url.password:
            raise ConfigurationError("the local backend takes no credentials")
        directory = Path(raw or ".mailbridge").expanduser()
        busy_timeout = url.float_param("busy_timeout", DEFAULT_BUSY_TIMEOUT)
        if not 0 <= busy_timeout <= 3600:
            raise ConfigurationError(f"busy_timeout must be 0 to 3600 seconds, not {busy_timeout:g}")
        try:
            return cls(directory.resolve(), busy_timeout=busy_timeout)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigurationError(f"cannot use {directory} for the local backend: {exc}") from exc

    def describe(self) -> str:
        return f"local://{self.directory}"

    @property
    def rate_limit_key(self) -> str:
        return f"local:{self.directory}"

    def close(self) -> None:
        self.store.close()

    def outbox(self) -> mailbox.Maildir:
        """The Maildir every sent message is written to."""
        return mailbox.Maildir(self.outbox_path, create=True)

    # ------------------------------------------------------------------ groups

    def _group_from_row(self, row: sqlite3.Row) -> Group:
        count = self.store.query("SELECT COUNT(*) AS n FROM members WHERE group_id = ?", (row["id"],))[0]["n"]
        return Group(
            id=str(row["id"]),
            name=str(row["name"]),
            provider=self.name,
            description=(row["description"] and str(row["description"])) or None,
            recipient_count=int(count),
            status=GroupStatus.READY if count else GroupStatus.EMPTY,
            created_at=dt.datetime.fromisoformat(str(row["created_at"])),
        )

    def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        """A new group; the local store has no alias, so ``alias`` is ignored."""
        taken = f"a group named {name!r} already exists"
        with self.store.transaction(conflict=taken) as db:  # checked under the write lock: creates may race
            if db.execute("SELECT 1 FROM groups WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(taken, provider=self.name)
            cur = db.execute(
                "INSERT INTO groups (name, description, created_at) VALUES (?, ?, ?)",
                (name, description, _iso(_now())),
            )
            group_id = cur.lastrowid
        return self.get_group(str(group_id))

    def list_groups(self, *, keyword: str | None, cursor: str | None, page_size: int) -> Page[Group]:
        after = int(cursor or 0)
        pattern = f"%{keyword}%" if keyword else "%"
        rows = self.store.query(
            "SELECT * FROM groups WHERE id > ? AND name LIKE ? ORDER BY id LIMIT ?",
            (after, pattern, page_size + 1),
        )
        groups = [self._group_from_row(r) for r in rows[:page_size]]
        return Page(groups, groups[-1].id if len(rows) > page_size else None)

    def get_group(self, group_id: str) -> Group:
        rows = self.store.query("SELECT * FROM groups WHERE id = ?", (group_id,))
        if not rows:
            raise GroupNotFound(f"no group with id {group_id!r}", provider=self.name)
        return self._group_from_row(rows[0])

    def delete_group(self, group: Group) -> None:
        self.get_group(group.id)
        with self.store.transaction() as db:
            db.execute("DELETE FROM members WHERE group_id = ?", (group.id,))
            db.execute("DELETE FROM groups WHERE id = ?", (group.id,))

    # ------------------------------------------------------------------ members

    def upload_batch(self, group: Group, recipients: Sequence[Recipient]) -> BatchResult:
        """One transaction for the whole batch: either every new member is written, or none is.

        The batch goes to SQLite as one JSON array, expanded by ``json_each`` in one ``INSERT OR
        IGNORE ... SELECT`` (the core has removed repeats within the input), numbered after the
        group's last member inside the statement: SQLite writes every row in one step with the GIL
        released, so a pipelined upload checks its next batch meanwhile (``executemany`` takes the
        GIL back for every row, and each statement more is one more wait for it). A group that
        does not exist fails the members' foreign key. The members already in the group are the
        rows it ignored, found only when there are any: the rows it wrote are the ``changes``
        largest rowids (SQLite numbers a new row one past the largest; the write lock is held)."""
        gid, now = group.id, _iso(_now())
        # Encoded before the write lock is taken (other processes wait less): one C call for the batch.
        rows = [(r.email.casefold(), r.email, r.profile(), r.data) for r in recipients]
        encoded = _ENCODE_BATCH(rows)
        try:
            with self.store.transaction() as db:
                before = db.total_changes
                last = db.execute(_INSERT_BATCH, (gid, now, encoded)).lastrowid or 0
                changes = db.total_changes - before
                if changes == len(rows):
                    return BatchResult(accepted=[r.email for r in recipients], request_id=uuid.uuid4().hex)
                written = {
                    row[0]
                    for row in db.execute(
                        "SELECT key FROM members WHERE rowid > ? AND rowid <= ?", (last - changes, last)
                    )
                }
        except NotFound as exc:  # the foreign key: no such group (any more)
            raise GroupNotFound(f"no group with id {gid!r}", provider=self.name) from exc
        accepted: list[str] = []
        existing: list[str] = []
        for k, e, _, _ in rows:
            if k in written:
                written.discard(k)  # (a repeat within the batch, which the core never sends, is existing)
                accepted.append(e)
            else:
                existing.append(e)
        return BatchResult(accepted=accepted, existing=existing, request_id=uuid.uuid4().hex)

    def list_members(self, group: Group, *, cursor: str | None, page_size: int) -> Page[Member]:
        self.get_group(group.id)
        rows = self.store.query(
            "SELECT * FROM members WHERE group_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (group.id, int(cursor or 0), page_size + 1),
        )
        members = [
            Member(
                recipient=Recipient(email=r["email"], data=json.loads(r["data"]), **json.loads(r["profile"])),
                valid=True,
                added_at=dt.datetime.fromisoformat(r["added_at"]),
            )
            for r in rows[:page_size]
        ]
        next_cursor = str(rows[page_size - 1]["seq"]) if len(rows) > page_size else None
        return Page(members, next_cursor)

    def remove_members(self, group: Group, emails: Sequence[str]) -> None:
        self.get_group(group.id)
        with self.store.transaction() as db:
            db.executemany(
                "DELETE FROM members WHERE group_id = ? AND key = ?",
                [(group.id, e.strip().casefold()) for e in emails],
            )

    # ------------------------------------------------------------------ sending

    def _template(self, template_id: str) -> Template:
        rows = self.store.query("SELECT * FROM templates WHERE id = ? OR name = ?", (template_id, template_id))
        if not rows:
            raise TemplateNotFound(f"no template {template_id!r}", provider=self.name)
        r = rows[0]
        return Template(str(r["id"]), r["name"], self.name, r["subject"], r["html"], r["text"])

    def _content(self, message: Message, data: Mapping[str, str]) -> tuple[str, str | None, str | None]:
        """Subject, html and text for one recipient, rendering the template if there is one."""
        if message.template_id:
            template = self._template(message.template_id)
            merged = {**message.template_data, **data}
            subject = render_template(message.subject or template.subject, merged) or ""
            return subject, render_template(template.html, merged, escape=True), render_template(template.text, merged)
        return (
            render_template(message.subject, data) or "",
            render_template(message.html, data, escape=True),
            render_template(message.text, data),
        )

    @staticmethod
    def _build(
        message: Message,
        to: Sequence[str],
        content: tuple[str, str | None, str | None],
        message_id: str,
        batch_id: str | None,
    ) -> EmailMessage:
        """The RFC 5322 message: addresses as structured headers, names as display names.

        Parsing the file back with the ``email`` package gives exactly the caller's
        addresses, display names and custom headers (non-ASCII text as RFC 2047/2231
        encoded words; addresses are ASCII, the core refuses others for this backend).
        """
        subject, html_body, text_body = content
        # A template filled with member data may put a line break into the subject: a header cannot hold one.
        subject = " ".join(_HEADER_BREAKS.sub(" ", subject).split()) if _HEADER_BREAKS.search(subject) else subject
        # The standard-message conversion writes the neutral fields (Message.to_email_message: bodies byte for
        # byte, as Django's SMTP backend does); the outbox adds what a provider would.
        email = Message(
            sender=message.sender,
            sender_name=message.sender_name,
            to=tuple(to),
            cc=message.cc,
            reply_to=message.reply_to,
            reply_to_name=message.reply_to_name,
            subject=subject,
            text=text_body,
            html=html_body,
            tag=message.tag,
            attachments=message.attachments,
            # The caller's Message-ID, if any, is message_id already.
            headers={name: value for name, value in message.headers.items() if name.lower() != "message-id"},
        ).to_email_message()
        email["Date"] = format_datetime(_now())
        email["Message-ID"] = message_id
        if batch_id:
            email["X-Mailbridge-Batch"] = batch_id
        custom = {name.lower() for name in message.headers}
        if message.unsubscribe and "list-unsubscribe" not in custom:
            email["List-Unsubscribe"] = f"<mailto:unsubscribe@mailbridge.local?subject={message_id}>"
        return email

    def _write(self, message: Message, to: Sequence[str], data: Mapping[str, str], batch_id: str | None = None) -> str:
        content = self._content(message, data)
        subject = content[0]
        given = next((v for k, v in message.headers.items() if k.lower() == "message-id" and v), None)
        # The caller's Message-ID, except in a group send (one file per member: ids must differ).
        message_id = given if given and not batch_id else make_msgid(domain="mailbridge.local")
        email = self._build(message, to, content, message_id, batch_id)
        with self._outbox_lock:
            self.outbox().add(email.as_bytes())
        now = _iso(_now())
        rows = []
        for recipient in [*to, *message.cc, *message.bcc]:
            domain = recipient.rsplit("@", 1)[-1].casefold()
            status, detail = _SIMULATED.get(domain, (DeliveryStatus.DELIVERED, "250 2.0.0 OK (local outbox)"))
            rows.append((message_id, recipient, message.sender, subject, message.tag, status.value, detail, now))
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO deliveries (message_id, recipient, sender, subject, tag, status, detail, time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return message_id

    def send(self, message: Message) -> SendReceipt:
        message, suppressed = self._without_suppressed(message)
        message_id = self._write(message, message.to, {})
        return SendReceipt(
            provider=self.name,
            message_ids=(message_id,),
            accepted=(*message.to, *message.cc, *message.bcc),
            request_id=uuid.uuid4().hex,
            extra={"suppressed": list(suppressed)} if suppressed else {},
        )

    def send_to_group(self, group: Group, message: Message) -> SendReceipt:
        group = self.get_group(group.id)
        batch_id = uuid.uuid4().hex
        ids: list[str] = []
        accepted: list[str] = []
        cursor: str | None = None
        while True:
            page = self.list_members(group, cursor=cursor, page_size=500)
            for member in page.items:
                if self._suppressed(member.email):
                    continue  # the clouds drop a blacklisted member of a group send
                data = {**member.recipient.profile(), **member.recipient.data}
                ids.append(self._write(message, [member.email], data, batch_id=batch_id))
                accepted.append(member.email)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return SendReceipt(
            provider=self.name, message_ids=ids, accepted=accepted, request_id=batch_id, batch_id=batch_id
        )

    # ------------------------------------------------------------------ delivery

    def query_deliveries(self, query: DeliveryQuery, *, cursor: str | None, page_size: int) -> Page[DeliveryEvent]:
        sql = "SELECT * FROM deliveries WHERE time >= ? AND time < ? AND id > ?"
        params: list[object] = [_iso(query.start), _iso(query.end), int(cursor or 0)]
        for column, value in [
            ("recipient", query.recipient),
            ("sender", query.sender),
            ("message_id", query.message_id),
            ("status", query.status.value if query.status else None),
            ("tag", query.tag),
        ]:
            if value is not None:
                sql += f" AND {column} = ? COLLATE NOCASE"
                params.append(value)
        rows = self.store.query(sql + " ORDER BY id LIMIT ?", (*params, page_size + 1))
        events = [self._event(r) for r in rows[:page_size]]
        next_cursor = str(rows[page_size - 1]["id"]) if len(rows) > page_size else None
        return Page(events, next_cursor)

    def _event(self, r: sqlite3.Row) -> DeliveryEvent:
        status, bounce_type = refine_status(DeliveryStatus(r["status"]), r["detail"])
        delivered = status is DeliveryStatus.DELIVERED
        return DeliveryEvent(
            provider=self.name,
            recipient=r["recipient"],
            status=status,
            bounce_type=bounce_type,
            reason=None if delivered else r["detail"],
            time=dt.datetime.fromisoformat(r["time"]),
            sender=r["sender"],
            subject=r["subject"],
            message_id=r["message_id"],
            raw_status=r["status"],
            raw_detail=r["detail"],
        )

    def statistics(self, start: str, end: str) -> list[StatisticsRow]:
        rows = self.store.query(
            "SELECT substr(time, 1, 10) AS day, COUNT(*) AS n,"
            " SUM(status = 'delivered') AS ok, SUM(status IN ('invalid_address', 'rejected', 'failed')) AS bad"
            " FROM deliveries WHERE substr(time, 1, 10) BETWEEN ? AND ? GROUP BY day ORDER BY day",
            (start, end),
        )
        return [
            StatisticsRow(date=dt.date.fromisoformat(r["day"]), requested=r["n"], delivered=r["ok"], bounced=r["bad"])
            for r in rows
        ]

    # ------------------------------------------------------------------ templates & tags

    def create_template(self, name: str, *, subject: str, html: str | None = None, text: str | None = None) -> Template:
        taken = f"a template named {name!r} already exists"
        with self.store.transaction(conflict=taken) as db:
            if db.execute("SELECT 1 FROM templates WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(taken, provider=self.name)
            cur = db.execute(
                "INSERT INTO templates (name, subject, html, text) VALUES (?, ?, ?, ?)", (name, subject, html, text)
            )
        return self._template(str(cur.lastrowid))

    def list_templates(self) -> list[Template]:
        return [self._template(str(r["id"])) for r in self.store.query("SELECT id FROM templates ORDER BY id")]

    def get_template(self, template_id: str) -> Template:
        return self._template(template_id)

    def delete_template(self, template: Template) -> None:
        self._template(template.id)
        with self.store.transaction() as db:
            db.execute("DELETE FROM templates WHERE id = ?", (template.id,))

    def list_tags(self) -> list[Tag]:
        return [
            Tag(str(r["id"]), r["name"], r["description"]) for r in self.store.query("SELECT * FROM tags ORDER BY id")
        ]

    def create_tag(self, name: str, description: str | None = None) -> Tag:
        taken = f"a tag named {name!r} already exists"
        with self.store.transaction(conflict=taken) as db:
            if db.execute("SELECT 1 FROM tags WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(taken, provider=self.name)
            cur = db.execute("INSERT INTO tags (name, description) VALUES (?, ?)", (name, description))
        return Tag(str(cur.lastrowid), name, description)

    def rename_tag(self, tag: Tag, new_name: str) -> Tag:
        with self.store.transaction(conflict=f"a tag named {new_name!r} already exists") as db:
            cur = db.execute("UPDATE tags SET name = ? WHERE id = ?", (new_name, tag.id))
        if not cur.rowcount:
            raise NotFound(f"no tag {tag.name!r}", provider=self.name)
        return Tag(tag.id, new_name, tag.description)

    def delete_tag(self, tag: Tag) -> None:
        with self.store.transaction() as db:
            cur = db.execute("DELETE FROM tags WHERE id = ?", (tag.id,))
        if not cur.rowcount:
            raise NotFound(f"no tag {tag.name!r}", provider=self.name)

    # ------------------------------------------------------------------ sender domains

    def _domain(self, name: str) -> SenderDomain:
        rows = self.store.query("SELECT * FROM domains WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no sender domain {name!r}", provider=self.name)
        r = rows[0]
        verified = bool(r["verified"])
        records = (
            DnsRecord("TXT", f"_mailbridge.{name}", f"mailbridge-verification={r['token']}", "ownership", verified),
            DnsRecord("TXT", name, "v=spf1 include:spf.mailbridge.local ~all", "spf", verified),
            DnsRecord("TXT", f"mb._domainkey.{name}", f"v=DKIM1; k=rsa; p={r['token']}", "dkim", verified),
            DnsRecord("MX", name, "mx.mailbridge.local", "mx", verified),
        )
        status = "verified" if verified else "pending"
        return SenderDomain(name=name, provider=self.name, id=name, verified=verified, status=status, records=records)

    def create_domain(self, name: str) -> SenderDomain:
        taken = f"sender domain {name!r} already exists"
        with self.store.transaction(conflict=taken) as db:
            if db.execute("SELECT 1 FROM domains WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(taken, provider=self.name)
            db.execute(
                "INSERT INTO domains (name, token, created_at) VALUES (?, ?, ?)",
                (name, secrets.token_hex(12), _iso(_now())),
            )
        return self._domain(name)

    def list_domains(self) -> list[SenderDomain]:
        return [self._domain(r["name"]) for r in self.store.query("SELECT name FROM domains ORDER BY name")]

    def get_domain(self, name: str) -> SenderDomain:
        return self._domain(name)

    def verify_domain(self, name: str) -> SenderDomain:
        self._domain(name)
        with self.store.transaction() as db:
            db.execute("UPDATE domains SET verified = 1 WHERE name = ?", (name,))
        return self._domain(name)

    def delete_domain(self, name: str) -> None:
        self._domain(name)
        with self.store.transaction() as db:
            db.execute("DELETE FROM domains WHERE name = ?", (name,))

    # ------------------------------------------------------------------ sender addresses

    def _sender(self, row: sqlite3.Row) -> SenderAddress:
        return SenderAddress(
            address=row["address"],
            provider=self.name,
            id=str(row["id"]),
            kind=row["kind"],
            reply_to=row["reply_to"],
            status="reply-to verified" if row["reply_to_verified"] else "active",
        )

    def create_sender(self, address: str, *, kind: str | None = None, reply_to: str | None = None) -> SenderAddress:
        taken = f"sender address {address!r} already exists"
        with self.store.transaction(conflict=taken) as db:
            if db.execute("SELECT 1 FROM senders WHERE address = ?", (address,)).fetchone():
                raise AlreadyExists(taken, provider=self.name)
            cur = db.execute(
                "INSERT INTO senders (address, kind, reply_to) VALUES (?, ?, ?)", (address, kind, reply_to)
            )
        return self._sender(self.store.query("SELECT * FROM senders WHERE id = ?", (cur.lastrowid,))[0])

    def list_senders(self) -> list[SenderAddress]:
        return [self._sender(r) for r in self.store.query("SELECT * FROM senders ORDER BY id")]

    def _require_sender(self, sender: SenderAddress) -> None:
        if not self.store.query("SELECT 1 FROM senders WHERE address = ?", (sender.address,)):
            raise SenderNotFound(f"no sender address {sender.address!r}", provider=self.name)

    def delete_sender(self, sender: SenderAddress) -> None:
        self._require_sender(sender)
        with self.store.transaction() as db:
            db.execute("DELETE FROM senders WHERE address = ?", (sender.address,))

    def set_sender_password(self, sender: SenderAddress, password: Secret) -> None:
        self._require_sender(sender)
        digest = hashlib.sha256(password.reveal().encode()).hexdigest()
        with self.store.transaction() as db:
            db.execute("UPDATE senders SET password_hash = ? WHERE address = ?", (digest, sender.address))

    def verify_reply_to(self, sender: SenderAddress) -> None:
        self._require_sender(sender)
        with self.store.transaction() as db:
            db.execute("UPDATE senders SET reply_to_verified = 1 WHERE address = ?", (sender.address,))

    def update_template(
        self, template: Template, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        self._template(template.id)
        with self.store.transaction() as db:
            db.execute(
                "UPDATE templates SET subject = ?, html = ?, text = ? WHERE id = ?", (subject, html, text, template.id)
            )
        return self._template(template.id)

    # ------------------------------------------------------------------ suppression list

    def _without_suppressed(self, message: Message) -> tuple[Message, tuple[str, ...]]:
        """The message without suppressed recipients (listed in the receipt's ``extra``);
        :class:`ContentRejected` if nobody is left, as the clouds refuse a blacklisted send."""
        everyone = [*message.to, *message.cc, *message.bcc]
        keys = {a.casefold() for a in everyone}
        marks = ",".join("?" * len(keys))
        rows = self.store.query(f"SELECT key FROM suppressions WHERE key IN ({marks})", tuple(keys)) if keys else []
        blocked = {r["key"] for r in rows}
        if not blocked:
            return message, ()
        kept = {
            name: tuple(a for a in getattr(message, name) if a.casefold() not in blocked)
            for name in ("to", "cc", "bcc")
        }
        suppressed = tuple(a for a in everyone if a.casefold() in blocked)
        if not any(kept.values()):
            raise ContentRejected(
                f"every recipient is on the suppression list: {', '.join(suppressed)}", provider=self.name
            )
        return message.evolve(**kept), suppressed

    def _suppressed(self, address: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM suppressions WHERE key = ?", (address.casefold(),)))

    def list_suppressions(self, *, cursor: str | None, page_size: int) -> Page[Suppression]:
        rows = self.store.query(
            "SELECT rowid, * FROM suppressions WHERE rowid > ? ORDER BY rowid LIMIT ?", (int(cursor or 0), page_size)
        )
        items = [
            Suppression(
                address=r["address"],
                reason=r["reason"],
                since=dt.datetime.fromisoformat(r["since"]),
                provider=self.name,
            )
            for r in rows
        ]
        return Page(items, str(rows[-1]["rowid"]) if len(rows) == page_size else None)

    def add_suppressions(self, addresses: Sequence[str], reason: SuppressionReason = SuppressionReason.MANUAL) -> None:
        with self.store.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO suppressions (key, address, reason, since) VALUES (?, ?, ?, ?)",
                [(a.casefold(), a, SuppressionReason(reason).value, _iso(_now())) for a in addresses],
            )

    def remove_suppressions(self, addresses: Sequence[str]) -> None:
        with self.store.transaction() as db:
            db.executemany("DELETE FROM suppressions WHERE key = ?", [(a.casefold(),) for a in addresses])
