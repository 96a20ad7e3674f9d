"""Checks the core runs before any network call, driven by a backend's declared limits."""

from __future__ import annotations

import logging
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from ._exceptions import InvalidAddress, InvalidRequest, LimitExceeded, UnsupportedFeature
from ._limits import Feature, Limits
from ._models import Message, Recipient

__all__ = ["address_error", "check_message", "recipient_error", "strip_unsupported_recipient_fields"]

log = logging.getLogger("mailbridge")


@lru_cache(maxsize=4096)
def address_error(address: str) -> str | None:
    """Why ``address`` is not a valid email address, or None (syntax only, no DNS)."""
    if not address:
        return "empty address"
    if any(c in address for c in "\r\n"):
        return "address contains a line break"
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def _no_crlf(field_name: str, value: str | None) -> None:
    if value and ("\r" in value or "\n" in value):
        raise InvalidRequest(f"{field_name} must not contain a line break (CR/LF)")


def _max_len(field_name: str, value: str | None, limit: int | None, provider: str) -> None:
    if value is not None and limit is not None and len(value) > limit:
        raise LimitExceeded(
            f"{field_name} is {len(value)} characters; {provider} allows at most {limit}", provider=provider
        )


def _max_count(field_name: str, count: int, limit: int | None, provider: str) -> None:
    if limit is not None and count > limit:
        raise LimitExceeded(f"{count} {field_name}; {provider} allows at most {limit} per send", provider=provider)


def _used_features(message: Message) -> dict[Feature, str]:
    """Each optional feature the message uses, with the field that uses it."""
    used: dict[Feature, str] = {}
    checks = [
        (Feature.HTML_BODY, "html", message.html),
        (Feature.TEXT_BODY, "text", message.text),
        (Feature.TEMPLATE_SEND, "template_id", message.template_id),
        (Feature.SENDER_NAME, "sender_name", message.sender_name),
        (Feature.CC, "cc", message.cc),
        (Feature.BCC, "bcc", message.bcc),
        (Feature.REPLY_TO, "reply_to", message.reply_to),
        (Feature.REPLY_TO_NAME, "reply_to_name", message.reply_to_name),
        (Feature.HEADERS, "headers", message.headers),
        (Feature.TAGS, "tag", message.tag),
        (Feature.UNSUBSCRIBE, "unsubscribe", message.unsubscribe),
        (Feature.CLICK_TRACKING, "click_tracking", message.click_tracking),
        (Feature.ATTACHMENTS, "attachments", message.attachments),
    ]
    for feature, name, value in checks:
        if value is not None and value not in ((), {}, ""):
            used[feature] = name
    return used


_EMPTY: dict[str, object] = {
    "html": None,
    "text": None,
    "template_id": None,
    "sender_name": None,
    "cc": (),
    "bcc": (),
    "reply_to": None,
    "reply_to_name": None,
    "headers": {},
    "tag": None,
    "unsubscribe": None,
    "click_tracking": None,
    "attachments": (),
}


def check_message(
    message: Message, limits: Limits, provider: str, *, ignore_unsupported: bool, group_send: bool = False
) -> Message:
    """Validate a message for a backend; return it, less ignored unsupported fields.

    Raises :class:`InvalidAddress`, :class:`InvalidRequest`, :class:`LimitExceeded` or
    :class:`UnsupportedFeature`. The per-send recipient limit is not checked here: the
    client splits ``to`` into several calls instead.
    """
    for feature, name in _used_features(message).items():
        if limits.supports(feature):
            continue
        if not ignore_unsupported:
            raise UnsupportedFeature(
                f"{provider} does not support {feature.value.replace('_', ' ')} (Message.{name})",
                provider=provider,
            )
        log.warning("%s: ignoring unsupported Message.%s", provider, name)
        message = message.evolve(**{name: _EMPTY[name]})

    addresses = [("sender", message.sender), ("reply_to", message.reply_to or "")]
    addresses += [("to", a) for a in message.to] + [("cc", a) for a in message.cc]
    addresses += [("bcc", a) for a in message.bcc]
    for field_name, address in addresses:
        if field_name == "reply_to" and not address:
            continue
        if problem := address_error(address):
            raise InvalidAddress(f"{field_name} address {address!r} is invalid: {problem}", provider=provider)

    _no_visible_bcc(message)
    if not group_send and not message.to:
        raise InvalidRequest("a message needs at least one 'to' address")
    if not (message.html or message.text or message.template_id):
        raise InvalidRequest("a message needs an html or text body, or a template_id")
    if message.template_id and (message.html or message.text):
        raise InvalidRequest("give either a body (html/text) or a template_id, not both")
    if not message.template_id and not message.subject:
        raise InvalidRequest("a message without a template needs a subject")

    for field_name, value in [
        ("subject", message.subject),
        ("sender_name", message.sender_name),
        ("reply_to_name", message.reply_to_name),
        ("tag", message.tag),
    ]:
        _no_crlf(field_name, value)
    for name, value in message.headers.items():
        _no_crlf(f"header name {name!r}", name)
        _no_crlf(f"header {name!r}", value)
        if not name or ":" in name or " " in name:
            raise InvalidRequest(f"header name {name!r} is not a valid header field name")

    _max_len("subject", message.subject, limits.subject_length, provider)
    _max_len("sender_name", message.sender_name, limits.sender_name_length, provider)
    _max_len("tag", message.tag, limits.tag_length, provider)
    _max_count("cc addresses", len(message.cc), limits.cc_per_send, provider)
    _max_count("bcc addresses", len(message.bcc), limits.bcc_per_send, provider)
    _max_count("custom headers", len(message.headers), limits.headers_per_send, provider)
    _max_count("attachments", len(message.attachments), limits.attachments_per_send, provider)
    total = sum(len(a.content) for a in message.attachments)
    if limits.attachments_total_bytes is not None and total > limits.attachments_total_bytes:
        raise LimitExceeded(
            f"attachments total {total} bytes; {provider} allows at most {limits.attachments_total_bytes}",
            provider=provider,
        )
    return message


def _no_visible_bcc(message: Message) -> None:
    """A bcc address that is also a to/cc address would be both hidden and shown (SES refuses it)."""
    shown = {a.casefold() for a in (*message.to, *message.cc)}
    if both := [a for a in message.bcc if a.casefold() in shown]:
        raise InvalidRequest(f"bcc address {both[0]!r} is also a to/cc address; give each recipient once")


def recipient_error(recipient: Recipient) -> str | None:
    """Why the core must reject this recipient before upload (address syntax), or None."""
    if problem := address_error(recipient.email):
        return f"invalid address: {problem}"
    return None


def strip_unsupported_recipient_fields(
    recipient: Recipient, limits: Limits, provider: str, *, ignore_unsupported: bool
) -> Recipient:
    """Raise :class:`UnsupportedFeature` (or drop the fields) for data the backend cannot store."""
    if recipient.data and not limits.supports(Feature.TEMPLATE_DATA):
        if not ignore_unsupported:
            raise UnsupportedFeature(
                f"{provider} does not support per-recipient template data (Recipient.data)", provider=provider
            )
        recipient = Recipient(email=recipient.email, data={}, **recipient.profile())
    if recipient.profile() and not limits.supports(Feature.PROFILE_FIELDS):
        if not ignore_unsupported:
            raise UnsupportedFeature(
                f"{provider} does not support profile fields ({', '.join(recipient.profile())})",
                provider=provider,
            )
        recipient = Recipient(email=recipient.email, data=recipient.data)
    return recipient
