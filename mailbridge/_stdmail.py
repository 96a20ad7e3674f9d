"""The standard library's email message <-> the neutral :class:`~mailbridge.Message`.

Lossless for what the neutral model carries: sender and its display name, to/cc/bcc, reply-to
and its name, subject, the text and html alternatives, attachments (filename, content type,
bytes), inline parts (an attachment with a ``content_id``: written as RFC 2387
``multipart/related`` around the body, read from a related part or any part with a ``Content-ID``),
custom headers and the tag (as ``X-Mailbridge-Tag``, as the local outbox writes it).
Whatever a neutral message cannot carry raises :class:`~mailbridge.InvalidRequest` naming it
instead of being dropped: recipient display names, several reply-to addresses, other body
types, repeated headers; and, the other way, template sends and send options that have no place
in a standard message.

Hand-written on top of :mod:`email` (the standard library does the MIME work): the mapping onto
the neutral fields is mailbridge's own.
"""

from __future__ import annotations

import email
import email.charset
import email.message
import email.policy
from collections.abc import Collection
from email.headerregistry import Address
from email.utils import getaddresses

from ._exceptions import InvalidRequest
from ._models import Attachment, Message

__all__ = ["SKIPPED_HEADERS", "TAG_HEADER", "from_email_message", "to_email_message"]

TAG_HEADER = "X-Mailbridge-Tag"
#: Headers ``from_email_message`` leaves out by default: every sender sets its own.
SKIPPED_HEADERS = ("Date", "Message-ID")
#: Headers the neutral fields (or the MIME structure) stand for.
_STRUCTURAL = {
    "from",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    TAG_HEADER.lower(),
}

# Headers folded at RFC 5322's 998-character limit, not 78: CPython's parser reads the whitespace between
# the encoded words of a folded non-ASCII display name back as a space (found by the round-trip property test).
_POLICY = email.policy.default.clone(max_line_length=998)

# Quoted-printable text keeps a body byte for byte (set_content would add a final newline).
_UTF8_QP = email.charset.Charset("utf-8")
_UTF8_QP.body_encoding = email.charset.QP


# --------------------------------------------------------------------------- neutral -> standard


def to_email_message(message: Message) -> email.message.EmailMessage:
    """A standard :class:`email.message.EmailMessage` carrying everything ``message`` says.

    Body line endings are written (and come back) as ``\\n``. ``Bcc`` is written as a header
    (so the conversion is lossless); drop it before handing the result to an SMTP server.
    Raises :class:`InvalidRequest` for a template send, and for ``unsubscribe``,
    ``click_tracking``, ``provider_options`` or ``idempotency_key``: a standard message has no
    place for them.
    """
    if message.template or message.template_id or message.template_data:
        raise InvalidRequest("a template send has no body to put in a standard email message")
    for name in ("unsubscribe", "click_tracking", "idempotency_key"):
        if getattr(message, name) is not None:
            raise InvalidRequest(f"a standard email message cannot carry the send option {name}")
    if message.provider_options:
        raise InvalidRequest("a standard email message cannot carry provider_options")
    for name in message.headers:
        if name.lower() in _STRUCTURAL:
            raise InvalidRequest(f"custom header {name!r} would replace a field the message itself sets")

    out = email.message.EmailMessage(policy=_POLICY)
    out["From"] = _address(message.sender_name, message.sender)
    if message.to:
        out["To"] = ", ".join(message.to)
    if message.cc:
        out["Cc"] = ", ".join(message.cc)
    if message.bcc:
        out["Bcc"] = ", ".join(message.bcc)
    if message.reply_to:
        out["Reply-To"] = _address(message.reply_to_name, message.reply_to)
    if message.subject is not None:
        out["Subject"] = message.subject
    if message.tag:
        out[TAG_HEADER] = message.tag
    for name, value in message.headers.items():
        out[name] = value

    bodies = [
        _text_part(body, sub) for body, sub in ((message.text, "plain"), (message.html, "html")) if body is not None
    ]
    body: email.message.EmailMessage | None
    if len(bodies) == 2:
        body = email.message.EmailMessage(policy=_POLICY)
        body.set_type("multipart/alternative")
        del body["MIME-Version"]
        for part in bodies:
            body.attach(part)
    else:
        body = bodies[0] if bodies else None
    inline = [_attachment_part(a) for a in message.attachments if a.content_id is not None]
    if inline:  # RFC 2387: the body first (the root), then the parts it refers to by cid:
        related = email.message.EmailMessage(policy=_POLICY)
        related.set_type("multipart/related")
        del related["MIME-Version"]
        for part in [body, *inline] if body is not None else inline:
            related.attach(part)
        body = related
    parts = [_attachment_part(a) for a in message.attachments if a.content_id is None]
    if parts:
        out.set_type("multipart/mixed")
        for part in [body, *parts] if body is not None else parts:
            out.attach(part)
    elif body is not None:
        _adopt(out, body)
    return out


def _address(name: str | None, address: str) -> Address:
    # The header registry quotes and encodes the name (formataddr's encoded words add spaces on the way back).
    username, _, domain = address.rpartition("@")
    return Address(display_name=name or "", username=username, domain=domain)


def _text_part(body: str, subtype: str) -> email.message.EmailMessage:
    part = email.message.EmailMessage(policy=_POLICY)
    part.set_payload(body, charset=_UTF8_QP)
    part.replace_header("Content-Type", f'text/{subtype}; charset="utf-8"')
    del part["MIME-Version"]
    return part


def _attachment_part(attachment: Attachment) -> email.message.EmailMessage:
    maintype, _, subtype = attachment.content_type.partition("/")
    if not maintype or not subtype or any(c in attachment.content_type for c in " ;\r\n"):
        raise InvalidRequest(
            f"attachment {attachment.filename!r} has content type {attachment.content_type!r}, not type/subtype"
        )
    part = email.message.EmailMessage(policy=_POLICY)
    if maintype == "message":
        part.set_content(email.message_from_bytes(attachment.content, policy=email.policy.default), subtype=subtype)
        part.set_param("filename", attachment.filename, header="Content-Disposition")
    else:
        part.set_content(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            disposition="attachment" if attachment.content_id is None else "inline",
            filename=attachment.filename,
            cid=None if attachment.content_id is None else f"<{attachment.content_id}>",
        )
    del part["MIME-Version"]
    return part


def _adopt(out: email.message.EmailMessage, body: email.message.EmailMessage) -> None:
    """Make ``out`` the single body part (its content headers and payload)."""
    for name, value in body.items():
        out[name] = value
    out.set_payload(body.get_payload())


# --------------------------------------------------------------------------- standard -> neutral


def from_email_message(msg: email.message.Message, *, skip_headers: Collection[str] = SKIPPED_HEADERS) -> Message:
    """The neutral :class:`Message` a standard (or legacy ``compat32``) email message says.

    Headers named in ``skip_headers`` (default ``Date`` and ``Message-ID``) are left out; every
    other header that no neutral field stands for becomes a custom header. Raises
    :class:`InvalidRequest` naming whatever the neutral model cannot carry.
    """
    if not isinstance(msg, email.message.EmailMessage) or msg.policy != email.policy.default:
        # Re-read a compat32 message (e.g. Django's) so headers come back decoded.
        msg = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(msg, email.message.EmailMessage)
    skipped = {name.lower() for name in skip_headers}

    names = [name.lower() for name in msg]
    for name in set(names):
        if names.count(name) > 1:
            raise InvalidRequest(f"the message has {names.count(name)} {name!r} headers; a neutral message takes one")

    senders = _addresses(msg, "From")
    if len(senders) != 1:
        raise InvalidRequest(f"a neutral message has exactly one sender, not {len(senders)} (From)")
    sender_name, sender = senders[0]
    reply_tos = _addresses(msg, "Reply-To")
    if len(reply_tos) > 1:
        raise InvalidRequest(f"a neutral message has one reply-to address, not {len(reply_tos)} (Reply-To)")
    reply_to_name, reply_to = reply_tos[0] if reply_tos else (None, None)

    headers = {
        name: str(value)
        for name, value in msg.items()
        if name.lower() not in _STRUCTURAL and name.lower() not in skipped
    }
    subject = msg.get("Subject")
    tag = msg.get(TAG_HEADER)
    text, html, attachments = _walk(msg)
    return Message(
        sender=sender,
        sender_name=sender_name,
        to=_plain(msg, "To"),
        cc=_plain(msg, "Cc"),
        bcc=_plain(msg, "Bcc"),
        reply_to=reply_to,
        reply_to_name=reply_to_name,
        subject=None if subject is None else str(subject),
        text=text,
        html=html,
        attachments=attachments,
        headers=headers,
        tag=None if tag is None else str(tag),
    )


def _addresses(msg: email.message.EmailMessage, header: str) -> list[tuple[str | None, str]]:
    """``(display name or None, address)`` for each address in a header."""
    value = msg.get(header)
    if value is None:
        return []
    groups = getattr(value, "addresses", None)
    if groups is None:  # unparsable: fall back to the legacy parser
        return [(name or None, addr) for name, addr in getaddresses([str(value)])]
    return [(a.display_name or None, a.addr_spec) for a in groups]


def _plain(msg: email.message.EmailMessage, header: str) -> tuple[str, ...]:
    found = _addresses(msg, header)
    for name, address in found:
        if name:
            raise InvalidRequest(
                f"a neutral message carries no recipient display names ({header}: {name!r} <{address}>); "
                "give the bare address"
            )
    return tuple(address for _, address in found)


def _walk(msg: email.message.EmailMessage) -> tuple[str | None, str | None, tuple[Attachment, ...]]:
    text: str | None = None
    html: str | None = None
    attachments: list[Attachment] = []

    def visit(part: email.message.EmailMessage, where: str, root: bool = True) -> None:
        nonlocal text, html
        ctype = part.get_content_type()
        if part.is_multipart() and ctype != "message/rfc822":
            if ctype not in ("multipart/mixed", "multipart/alternative", "multipart/related"):
                raise InvalidRequest(f"a neutral message cannot carry a {ctype} part")
            for index, child in enumerate(part.iter_parts()):
                assert isinstance(child, email.message.EmailMessage)
                # In multipart/related the first part is the root (the body); the others are what it refers to.
                visit(child, ctype, root=ctype != "multipart/related" or index == 0)
            return
        disposition = part.get_content_disposition()
        cid = part.get("Content-ID")
        if not root or (cid is not None and disposition != "attachment" and not _is_body(part, ctype, disposition)):
            attachments.append(_inline(part, ctype, cid))
            return
        if disposition != "attachment" and ctype in ("text/plain", "text/html") and part.get_filename() is None:
            body = part.get_content()
            assert isinstance(body, str)
            if ctype == "text/plain":
                if text is not None:
                    raise InvalidRequest("a neutral message has one text/plain body, this one has more")
                text = body
            else:
                if html is not None:
                    raise InvalidRequest("a neutral message has one text/html body, this one has more")
                html = body
            return
        if where == "multipart/alternative" and disposition != "attachment":
            raise InvalidRequest(f"a neutral message has text and html alternatives only, not {ctype}")
        filename = part.get_filename()
        if not filename:
            raise InvalidRequest(f"a {ctype} attachment without a filename: a neutral attachment needs one")
        if ctype == "message/rfc822":
            inner = part.get_payload(0)
            assert isinstance(inner, email.message.Message)
            content = inner.as_bytes()
        else:
            payload = part.get_payload(decode=True)
            content = payload if isinstance(payload, bytes) else b""
        attachments.append(Attachment(filename=filename, content=content, content_type=ctype))

    visit(msg, "")
    return text, html, tuple(attachments)


def _is_body(part: email.message.EmailMessage, ctype: str, disposition: str | None) -> bool:
    return ctype in ("text/plain", "text/html") and disposition is None and part.get_filename() is None


def _inline(part: email.message.EmailMessage, ctype: str, cid: object) -> Attachment:
    """A related (inline) part as an attachment with its ``content_id`` (the Content-ID without ``<>``)."""
    content_id = str(cid).strip().removeprefix("<").removesuffix(">").strip() if cid is not None else ""
    if not content_id:
        raise InvalidRequest(
            f"a related {ctype} part without a Content-ID: a neutral inline part is named by its content id"
        )
    if ctype == "message/rfc822" or part.is_multipart():
        raise InvalidRequest(f"inline part {content_id!r} is a {ctype}: a neutral inline part is one file")
    payload = part.get_payload(decode=True)
    content = payload if isinstance(payload, bytes) else b""
    return Attachment(
        filename=part.get_filename() or content_id, content=content, content_type=ctype, content_id=content_id
    )
