"""A neutral :class:`~mailbridge.Message` as an RFC 5322 message and its SMTP envelope.

Built with the standard library's ``email`` package (``EmailMessage``, ``headerregistry.Address``), never by
string concatenation: display names are encoded (RFC 2047), headers folded, bodies and attachments given a
transfer encoding. Bcc addresses go in the envelope only, never in a header.
"""

from __future__ import annotations

import email.policy
import email.utils
from collections.abc import Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage

from attrs import frozen

from mailbridge import InvalidAddress, InvalidRequest, Message

__all__ = ["RESERVED_HEADERS", "Envelope", "build"]

#: Headers made from the Message's own fields: a custom header may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "from", "to", "cc", "bcc", "reply-to", "subject", "date", "sender", "return-path",
        "mime-version", "content-type", "content-transfer-encoding", "content-disposition",
    }
)  # fmt: skip


@frozen
class Envelope:
    """What one SMTP transaction carries: the reverse path, the recipients (deduplicated) and the bytes."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    message_id: str
    smtputf8: bool = False


def _address(addr_spec: str, display_name: str | None = None) -> Address:
    """An ``Address`` from the parts (the core has checked the syntax, SMTPUTF8 local parts included; the
    ``addr_spec=`` parser would refuse a non-ASCII local part even where SMTPUTF8 allows it)."""
    username, at, domain = addr_spec.rpartition("@")
    try:
        if not at or not username:
            raise ValueError("no local part")
        return Address(display_name=display_name or "", username=username, domain=domain)
    except ValueError as exc:
        raise InvalidAddress(f"address {addr_spec!r} cannot be written in a header: {exc}") from exc


def _unique(addresses: Sequence[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for address in addresses:
        if address.casefold() not in seen:
            seen.add(address.casefold())
            out.append(address)
    return tuple(out)


def build(message: Message, extra_headers: Mapping[str, str], *, domain: str | None = None) -> Envelope:
    """The envelope for ``message``; ``extra_headers`` are the preset's (``X-AliDM-Trace``)."""
    addresses = [message.sender, *message.to, *message.cc, *message.bcc, message.reply_to or ""]
    smtputf8 = not all(a.isascii() for a in addresses)
    # 8bit bodies only with SMTPUTF8 (sent with BODY=8BITMIME); otherwise non-ASCII text is quoted-printable or
    # base64, as a relay without 8BITMIME requires (RFC 6152). Header lines up to RFC 5322's 998 characters are not
    # folded: CPython's folding of encoded-words puts the space between two words outside them, where RFC 2047
    # 6.2 makes it vanish ("a ¡ b" arrived as "a ¡b"; found by tests/smtp/test_roundtrip.py).
    policy = (email.policy.SMTPUTF8 if smtputf8 else email.policy.SMTP.clone(cte_type="7bit")).clone(
        max_line_length=998
    )
    mail = EmailMessage(policy=policy)
    mail["From"] = _address(message.sender, message.sender_name)
    mail["To"] = [_address(a) for a in message.to]
    if message.cc:
        mail["Cc"] = [_address(a) for a in message.cc]
    if message.reply_to:
        mail["Reply-To"] = _address(message.reply_to, message.reply_to_name)
    mail["Subject"] = message.subject or ""
    mail["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    custom = {**message.headers, **extra_headers}
    for name in custom:
        if name.lower() in RESERVED_HEADERS:
            raise InvalidRequest(f"header {name!r} is made from the message's fields; set those instead")
    message_id = next((v for k, v in custom.items() if k.lower() == "message-id"), None)
    if message_id is None:
        message_id = email.utils.make_msgid(domain=domain or message.sender.rpartition("@")[2] or None)
        mail["Message-ID"] = message_id
    for name, value in custom.items():
        mail[name] = value
    if message.text is not None and message.html is not None:
        mail.set_content(message.text, charset="UTF-8")
        mail.add_alternative(message.html, subtype="html", charset="UTF-8")
    elif message.html is not None:
        mail.set_content(message.html, subtype="html", charset="UTF-8")
    else:
        mail.set_content(message.text or "", charset="UTF-8")
    # Inline parts first (RFC 2387 multipart/related around the html body: inside the alternative when there is a
    # text one too, as the email package builds it), then the attachments (multipart/mixed around everything).
    for attachment in sorted(message.attachments, key=lambda a: a.content_id is None):
        maintype, _, subtype = attachment.content_type.partition("/")
        if not maintype or not subtype:
            raise InvalidRequest(f"attachment {attachment.filename!r}: content type {attachment.content_type!r}")
        if attachment.content_id is not None:
            html_part = mail.get_body(("related", "html")) if mail.is_multipart() else mail
            assert isinstance(html_part, EmailMessage)
            html_part.add_related(
                attachment.content,
                maintype=maintype,
                subtype=subtype,
                filename=attachment.filename,
                disposition="inline",  # a filename alone makes the email package write "attachment"
                cid=f"<{attachment.content_id}>",
            )
        else:
            mail.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return Envelope(
        sender=message.sender,
        recipients=_unique([*message.to, *message.cc, *message.bcc]),
        data=mail.as_bytes(),
        message_id=message_id.strip().strip("<>"),
        smtputf8=smtputf8,
    )
