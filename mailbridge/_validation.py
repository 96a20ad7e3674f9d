"""Checks the core runs before any network call, driven by a backend's declared limits."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

import attrs

from ._exceptions import InvalidAddress, InvalidRequest, LimitExceeded, UnsupportedFeature
from ._limits import Feature, Limits
from ._models import Attachment, Message, Recipient

__all__ = [
    "address_error",
    "check_message",
    "control_char_error",
    "header_name_error",
    "recipient_error",
    "strip_unsupported_recipient_fields",
    "unsupported_fields",
]

log = logging.getLogger("mailbridge")


# C0 controls (tab included), DEL, C1 controls (NEL \x85 among them), the Unicode line and
# paragraph separators, and lone surrogates (unencodable in UTF-8). ``str.splitlines`` breaks
# on \x0b \x0c \x1c-\x1e \x85 U+2028 U+2029 as well as CR/LF: all are in here.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# An RFC 2047 encoded-word: a reader would decode it, so literal text must not look like one.
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")
_SURROGATE = re.compile(r"[\ud800-\udfff\x00]")
# RFC 5322 3.6.8: field-name = 1*ftext; ftext = %d33-57 / %d59-126 (printable ASCII except ':').
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,76}")
# RFC 6838 4.2 restricted-name, for both type and subtype; no parameters.
_RESTRICTED_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_CONTENT_TYPE = re.compile(rf"{_RESTRICTED_NAME}/{_RESTRICTED_NAME}")

# Headers mailbridge (or the provider) writes from the neutral fields; a custom header may not set them.
_NEUTRAL_FIELD = {
    "from": "the sender address and name",
    "sender": "the sender address",
    "to": "the 'to' addresses",
    "cc": "the cc addresses",
    "bcc": "the bcc addresses",
    "reply-to": "the reply-to address and name",
    "subject": "the subject",
}
_RESERVED = {"date", "mime-version", "return-path", "received", "content-transfer-encoding"}
_RESERVED_PREFIXES = ("content-", "resent-", "x-mailbridge-")
# Message-ID may be set (both clouds take it: SmtpMessageId, Headers); RFC 5322 3.6.4 msg-id.
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")


def control_char_error(value: str) -> str | None:
    """Why ``value`` cannot go into a header (a control character or line break), or None."""
    if match := _CONTROL.search(value):
        return f"must not contain a line break or control character (found U+{ord(match.group()):04X})"
    return None


# email-validator's own dot-atom rule and limits (RFC 5322 3.2.3, RFC 5321 4.5.3.1): the local-part check.
_DOT_ATOM = re.compile(r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+(?:\.[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+)*\Z")
_LOCAL_MAX, _ADDRESS_MAX = 64, 254


@lru_cache(maxsize=4096)
def _domain_lengths(domain: str, smtputf8: bool) -> tuple[int, int] | None:
    """What email-validator makes of ``domain`` after a plain local part: the UTF-8 length of the
    normalised domain and of its IDNA ASCII form, or None if the probe address fails.

    The probe is a full :func:`validate_email` of ``a@domain``: for an ASCII address whose local part
    is a dot-atom of at most 64 characters, email-validator's verdict depends only on the domain
    (checked on exactly this text) and on the three lengths it compares with 254, so this verdict
    is reused for every such address at the domain; the lengths are compared per address.
    """
    from email_validator import EmailNotValidError, validate_email  # deferred: ~15 ms of imports (idna)

    try:
        info = validate_email(f"a@{domain}", check_deliverability=False, allow_smtputf8=smtputf8, strict=True)
    except EmailNotValidError:
        return None
    return len(info.domain.encode()), len(info.ascii_domain)


def _local_room(domain: str, smtputf8: bool) -> int:
    """The longest dot-atom local part email-validator accepts before ``@domain`` (-1: none, the
    probe fails): at most 64, and the address within 254 with the domain in both of its forms."""
    lengths = _domain_lengths(domain, smtputf8)
    if lengths is None:
        return -1
    return min(_LOCAL_MAX, _ADDRESS_MAX - 1 - max(lengths))


# One-argument caches (the C lru_cache keys a lone str by itself: no tuple per lookup), per smtputf8.
_ROOM = {
    False: lru_cache(maxsize=4096)(lambda domain: _local_room(domain, False)),
    True: lru_cache(maxsize=4096)(lambda domain: _local_room(domain, True)),
}


def _validator_error(address: str, smtputf8: bool) -> str | None:
    """email-validator's verdict on ``address``: the per-domain cache when it provably applies, else a full run."""
    local, at, domain = address.partition("@")
    if (
        at
        and address.isascii()
        and len(local) <= _ROOM[smtputf8](domain)
        and len(address) <= _ADDRESS_MAX
        and _DOT_ATOM.match(local)
    ):
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=smtputf8, strict=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None  # pragma: no cover - the cached verdict covers every valid address the fast path sees


@lru_cache(maxsize=4096)
def address_error(address: str, smtputf8: bool = False) -> str | None:
    """Why ``address`` is not a valid email address, or None (syntax only, no DNS).

    email-validator's strict rules (local part <= 64 octets, domain rules, no quoted local
    parts or IP literals). Non-ASCII addresses (internationalised local parts or domains)
    pass only with ``smtputf8`` (the backend declares :attr:`Feature.SMTPUTF8`). The domain's
    verdict is cached (a million-row upload holds a few dozen domains); the local part is
    checked for every address.
    """
    return _address_error(address, smtputf8)


def _address_error(address: str, smtputf8: bool) -> str | None:
    """:func:`address_error` without its cache, for uploads: their addresses are unique (a cache
    lookup that always misses costs ~0.3 µs a row and would evict the addresses sends repeat)."""
    if not isinstance(address, str):
        return f"an address must be a string, not {type(address).__name__}"
    if not address:
        return "empty address"
    if _CONTROL.search(address):
        return f"address {control_char_error(address)}"
    if not smtputf8 and not address.isascii():
        return (
            "non-ASCII address (SMTPUTF8/IDN): this provider does not declare support for it; "
            "write the domain in its xn-- form"
        )
    return _validator_error(address, smtputf8)


def _no_control(field_name: str, value: str | None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidRequest(f"{field_name} must be a string, not {type(value).__name__}")
    if problem := control_char_error(value):
        raise InvalidRequest(f"{field_name} {problem}")


def _no_encoded_word(field_name: str, value: str | None) -> None:
    if value and _ENCODED_WORD.search(value):
        raise InvalidRequest(
            f"{field_name} contains an RFC 2047 encoded-word (=?charset?q?...?=); give the plain text, "
            "mailbridge encodes it"
        )


def _display_name(value: str | None) -> str | None:
    """A display name as readers will show it: surrounding whitespace dropped, runs of it made one space."""
    return " ".join(value.split()) or None if isinstance(value, str) else value


def _no_surrogate(field_name: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidRequest(f"{field_name} must be a string, not {type(value).__name__}")
    if _SURROGATE.search(value):
        raise InvalidRequest(f"{field_name} contains a NUL character or an unpaired surrogate (not valid text)")


def header_name_error(name: str) -> str | None:
    """Why ``name`` is not an RFC 5322 field name a caller may set, or None."""
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        return "is not a valid header field name (RFC 5322: 1-76 printable ASCII characters, no ':' or space)"
    lower = name.lower()
    if lower in _NEUTRAL_FIELD:
        return f"is set by mailbridge from {_NEUTRAL_FIELD[lower]}: use that field instead"
    if lower in _RESERVED or lower.startswith(_RESERVED_PREFIXES):
        return "is set by mailbridge or the provider and cannot be a custom header"
    return None


def _check_attachment(index: int, attachment: Attachment) -> None:
    where = f"attachment {index + 1}"
    if not isinstance(attachment, Attachment):
        raise InvalidRequest(f"{where} must be a mailbridge.Attachment, not {type(attachment).__name__}")
    if not isinstance(attachment.filename, str) or not attachment.filename.strip():
        raise InvalidRequest(f"{where} needs a filename")
    _no_control(f"{where} filename", attachment.filename)
    name = attachment.filename.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':  # readers take the quotes for MIME quoting and drop them
        raise InvalidRequest(f"{where} filename must not be wrapped in double quotes")
    if len(attachment.filename) > 255:
        raise InvalidRequest(f"{where} filename is {len(attachment.filename)} characters; at most 255")
    if not isinstance(attachment.content, bytes | bytearray):
        raise InvalidRequest(f"{where} content must be bytes, not {type(attachment.content).__name__}")
    content_type = attachment.content_type
    if not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type):
        raise InvalidRequest(
            f"{where} content type is not TYPE/SUBTYPE (RFC 6838 names, no parameters), e.g. application/pdf"
        )
    if content_type.split("/", 1)[0].lower() in {"multipart", "message"}:
        raise InvalidRequest(f"{where} content type cannot be multipart/* or message/* (a container, not a file)")


#: The field name an inline attachment is reported under (``field 'attachments[inline]'``).
INLINE_FIELD = "attachments[inline]"
# RFC 5322 msg-id: dot-atom-text "@" dot-atom-text, or (as mail clients write) a bare dot-atom-text.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_CONTENT_ID = re.compile(rf"{_ATOM}(?:@{_ATOM})?")


def _is_inline(attachment: object) -> bool:
    return getattr(attachment, "content_id", None) is not None


def _check_content_ids(message: Message) -> None:
    """Inline parts: an id a ``cid:`` URL can name (RFC 2392 / 5322 msg-id, no angle brackets), each once."""
    seen: set[str] = set()
    for index, attachment in enumerate(message.attachments):
        cid = attachment.content_id
        if cid is None:
            continue
        where = f"attachment {index + 1}"
        if not isinstance(cid, str) or not _CONTENT_ID.fullmatch(cid) or len(cid) > 250:
            raise InvalidRequest(
                f"{where} content_id {cid!r} is not a message id (letters, digits, and !#$%&'*+/=?^_`{{|}}~.-, "
                "optionally one @; no spaces or angle brackets; at most 250 characters)"
            )
        if cid.casefold() in seen:
            raise InvalidRequest(f"{where} content_id {cid!r} is used by another attachment of the message")
        seen.add(cid.casefold())
    if seen and message.html is None and not (message.template or message.template_id):
        raise InvalidRequest("inline images (attachments with a content_id) are shown by an html body; give one")


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
        (Feature.TEMPLATE_SEND, "template_id", message.template_id or message.template),
        (Feature.SENDER_NAME, "sender_name", message.sender_name),
        (Feature.CC, "cc", message.cc),
        (Feature.BCC, "bcc", message.bcc),
        (Feature.REPLY_TO, "reply_to", message.reply_to),
        (Feature.REPLY_TO_NAME, "reply_to_name", message.reply_to_name),
        (Feature.HEADERS, "headers", message.headers),
        (Feature.TAGS, "tag", message.tag),
        (Feature.UNSUBSCRIBE, "unsubscribe", message.unsubscribe),
        (Feature.CLICK_TRACKING, "click_tracking", message.click_tracking),
        (Feature.ATTACHMENTS, "attachments", tuple(a for a in message.attachments if not _is_inline(a))),
        (Feature.INLINE_IMAGES, INLINE_FIELD, tuple(a for a in message.attachments if _is_inline(a))),
    ]
    for feature, name, value in checks:
        if value is not None and value not in ((), {}, ""):
            used[feature] = name
    return used


def unsupported_fields(message: Message, limits: Limits) -> tuple[str, ...]:
    """The ``Message`` fields using a feature these limits do not declare (what :func:`check_message` refuses)."""
    return tuple(name for feature, name in _used_features(message).items() if not limits.supports(feature))


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


def _without(message: Message, feature: Feature, name: str) -> Message:
    """``message`` less the field using ``feature`` (of the attachments, only that kind)."""
    if feature in (Feature.ATTACHMENTS, Feature.INLINE_IMAGES):
        keep_inline = feature is Feature.ATTACHMENTS
        return message.evolve(attachments=tuple(a for a in message.attachments if _is_inline(a) is keep_inline))
    return message.evolve(**{name: _EMPTY[name]})


def check_message(
    message: Message, limits: Limits, provider: str, *, ignore_unsupported: bool, group_send: bool = False
) -> Message:
    """Validate a message for a backend; return it, less ignored unsupported fields.

    Raises :class:`InvalidAddress`, :class:`InvalidRequest`, :class:`LimitExceeded` or
    :class:`UnsupportedFeature`. Header text (subject, display names, header values, file names) loses
    surrounding whitespace, and display names runs of whitespace, as every reader would show
    it. The per-send recipient limit is not checked here: the client refuses a ``to`` list
    larger than one call (one shared email is never split).
    """
    for feature, name in _used_features(message).items():
        if limits.supports(feature):
            continue
        if not ignore_unsupported:
            raise UnsupportedFeature(
                f"{provider} does not support {feature.value.replace('_', ' ')} (field '{name}')",
                provider=provider,
            )
        log.warning("%s: ignoring unsupported field '%s'", provider, name)
        message = _without(message, feature, name)

    smtputf8 = limits.supports(Feature.SMTPUTF8)
    addresses = [("sender", message.sender), ("reply_to", message.reply_to or "")]
    addresses += [("to", a) for a in message.to] + [("cc", a) for a in message.cc]
    addresses += [("bcc", a) for a in message.bcc]
    for field_name, address in addresses:
        if field_name == "reply_to" and not address:
            continue
        if not isinstance(address, str):  # (also unhashable for address_error's cache)
            raise InvalidAddress(f"{field_name} address must be a string, not {type(address).__name__}")
        if problem := address_error(address, smtputf8):
            shown = repr(address) if len(repr(address)) <= 320 else repr(address)[:320] + "..."
            raise InvalidAddress(f"{field_name} address {shown} is invalid: {problem}", provider=provider)

    for field_name, value in [
        ("subject", message.subject),
        ("sender_name", message.sender_name),
        ("reply_to_name", message.reply_to_name),
        ("tag", message.tag),
        ("template_id", message.template_id),
        ("template", message.template),
    ]:
        _no_control(field_name, value)
    _no_surrogate("html", message.html)
    _no_surrogate("text", message.text)
    for key, value in message.template_data.items():
        _no_surrogate(f"template_data key {key!r}", key)
        _no_surrogate(f"template_data[{key!r}]", value)
    _check_headers(message, provider)
    for field_name, value in [
        ("subject", message.subject),
        ("sender_name", message.sender_name),
        ("reply_to_name", message.reply_to_name),
    ]:
        _no_encoded_word(field_name, value)
    for index, attachment in enumerate(message.attachments):
        _check_attachment(index, attachment)
    _check_content_ids(message)

    _no_visible_bcc(message)
    if not group_send and not message.to:
        raise InvalidRequest("a message needs at least one 'to' address")
    if not (message.html or message.text or message.template_id or message.template):
        raise InvalidRequest("a message needs an html or text body, or a template_id")
    if (message.template_id or message.template) and (message.html or message.text):
        raise InvalidRequest("give either a body (html/text) or a template_id, not both")
    if not (message.template_id or message.template) and not (message.subject or "").strip():
        raise InvalidRequest("a message without a template needs a subject")

    # What a reader sees anyway: headers do not keep surrounding whitespace (RFC 5322 folding).
    message = message.evolve(
        subject=message.subject.strip() if message.subject else message.subject,
        sender_name=_display_name(message.sender_name),
        reply_to_name=_display_name(message.reply_to_name),
        headers={name: value.strip() for name, value in message.headers.items()},
        attachments=tuple(attrs.evolve(a, filename=a.filename.strip()) for a in message.attachments),
    )
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


def _check_headers(message: Message, provider: str) -> None:
    for name, value in message.headers.items():
        if problem := header_name_error(name):
            raise InvalidRequest(f"header name {name!r} {problem}", provider=provider)
        _no_control(f"header {name!r}", value)
        _no_encoded_word(f"header {name!r}", value)
        if name.lower() == "message-id" and value.strip() and not _MSG_ID.fullmatch(value.strip()):
            raise InvalidRequest(f"header 'Message-ID' must look like <id@domain> (RFC 5322 msg-id), not {value!r}")


def _no_visible_bcc(message: Message) -> None:
    """A bcc address that is also a to/cc address would be both hidden and shown (SES refuses it)."""
    shown = {a.casefold() for a in (*message.to, *message.cc)}
    if both := [a for a in message.bcc if a.casefold() in shown]:
        raise InvalidRequest(f"bcc address {both[0]!r} is also a to/cc address; give each recipient once")


def recipient_error(recipient: Recipient, smtputf8: bool = False) -> str | None:
    """Why the core must reject this recipient before upload (address syntax, unusable text), or None."""
    if problem := _address_error(recipient.email, smtputf8):
        return f"invalid address: {problem}"
    r, data = recipient, recipient.data
    try:  # one scan over all the text in the usual case: every value a string, none unusable
        profile = (r.name or "", r.nickname or "", r.gender or "", r.birthday or "", r.mobile or "")
        text = "".join((*profile, *data.values(), *data))
        if (text.isascii() and "\x00" not in text) or not _SURROGATE.search(text):  # (ASCII has no surrogates)
            return None
    except TypeError:
        pass  # a value that is not text: the loop below names it
    for name, value in [*recipient.profile().items(), *recipient.data.items()]:
        if not isinstance(value, str):
            return f"field {name!r} must be text, not {type(value).__name__}"
        if _SURROGATE.search(value) or _SURROGATE.search(name):
            return f"field {name!r} contains a NUL character or an unpaired surrogate"
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
    if not limits.supports(Feature.PROFILE_FIELDS) and recipient.profile():
        if not ignore_unsupported:
            raise UnsupportedFeature(
                f"{provider} does not support profile fields ({', '.join(recipient.profile())})",
                provider=provider,
            )
        recipient = Recipient(email=recipient.email, data=recipient.data)
    return recipient
