"""SMTP replies -> neutral errors: one :class:`ErrorTable` per step of the dialogue.

An SMTP error reply always means the server did not take what it answered (RFC 5321 4.2.1: 4yz transient,
5yz permanent), so every row is a refusal (``refused=True``): the message was certainly not sent. What a code
means depends on the command it answers (550 to RCPT is a bad mailbox, to DATA a refused message), so each
step has its table: the shared rows plus that step's. Lookup (the core's :class:`ErrorTable` order): the
enhanced status code (RFC 3463, ``5.1.1``) exactly, then by prefix, then the basic reply code, then the step's
fallback for 5yz / 4yz.
"""

from __future__ import annotations

import enum
import re

from mailbridge import (
    AuthenticationError,
    ContentRejected,
    InvalidAddress,
    InvalidRequest,
    LimitExceeded,
    MailbridgeError,
    PermissionDenied,
    ProviderUnavailable,
    RateLimited,
    SenderNotFound,
)
from mailbridge._errors_table import ErrorRule, ErrorTable

__all__ = ["TABLES", "Step", "enhanced_code", "error_for", "reply_text"]


class Step(enum.StrEnum):
    """The command an error reply answered."""

    CONNECT = "connect"  # greeting, EHLO, STARTTLS
    AUTH = "auth"
    MAIL = "mail"  # MAIL FROM
    RCPT = "rcpt"  # RCPT TO, one per recipient
    DATA = "data"  # DATA and the reply to the final "."


_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")

_TRANSIENT = ErrorRule(ProviderUnavailable, retryable=True, failover_eligible=True, source="4yz: transient")
_SHARED_CODES = {
    # RFC 3463 enhanced codes with one meaning whatever the command.
    "5.1.0": ErrorRule(InvalidAddress, source="RFC 3463 X.1.0 other address status"),
    "5.1.1": ErrorRule(InvalidAddress, source="RFC 3463 X.1.1 bad destination mailbox"),
    "5.1.2": ErrorRule(InvalidAddress, source="RFC 3463 X.1.2 bad destination system"),
    "5.1.3": ErrorRule(InvalidAddress, source="RFC 3463 X.1.3 bad destination mailbox syntax"),
    "5.1.6": ErrorRule(InvalidAddress, source="RFC 3463 X.1.6 mailbox moved"),
    "5.1.10": ErrorRule(InvalidAddress, source="RFC 7505 X.1.10 null MX"),
    "5.1.7": ErrorRule(SenderNotFound, source="RFC 3463 X.1.7 bad sender mailbox syntax"),
    "5.1.8": ErrorRule(SenderNotFound, source="RFC 3463 X.1.8 bad sender's system address"),
    "5.2.1": ErrorRule(InvalidAddress, source="RFC 3463 X.2.1 mailbox disabled"),
    "5.2.2": ErrorRule(InvalidAddress, source="RFC 3463 X.2.2 mailbox full"),
    "5.2.3": ErrorRule(LimitExceeded, source="RFC 3463 X.2.3 message length exceeds administrative limit"),
    "5.3.4": ErrorRule(LimitExceeded, source="RFC 3463 X.3.4 message too big for system"),
    "5.5.3": ErrorRule(LimitExceeded, source="RFC 3463 X.5.3 too many recipients"),
    "5.7.1": ErrorRule(ContentRejected, source="RFC 3463 X.7.1 delivery not authorized, message refused"),
    "5.7.8": ErrorRule(AuthenticationError, source="RFC 4954 X.7.8 authentication credentials invalid"),
    "5.7.9": ErrorRule(AuthenticationError, source="RFC 4954 X.7.9 mechanism too weak"),
    "5.7.26": ErrorRule(ContentRejected, source="RFC 7372 X.7.26 multiple authentication checks failed"),
    "4.2.2": ErrorRule(ProviderUnavailable, retryable=True, failover_eligible=False, source="X.2.2 mailbox full"),
    "4.4.5": ErrorRule(RateLimited, source="RFC 3463 X.4.5 mail system congestion"),
}
_SHARED_STATUS = {
    421: ErrorRule(ProviderUnavailable, retryable=True, failover_eligible=True, source="421 service closing"),
    450: ErrorRule(ProviderUnavailable, retryable=True, failover_eligible=False, source="450 mailbox busy"),
    451: ErrorRule(ProviderUnavailable, retryable=True, failover_eligible=True, source="451 local error"),
    452: ErrorRule(ProviderUnavailable, retryable=True, failover_eligible=True, source="452 insufficient storage"),
    454: ErrorRule(ProviderUnavailable, retryable=True, failover_eligible=True, source="454 TLS/AUTH unavailable"),
    500: ErrorRule(InvalidRequest, source="500 syntax error"),
    501: ErrorRule(InvalidRequest, source="501 syntax error in parameters"),
    502: ErrorRule(ProviderUnavailable, retryable=False, failover_eligible=True, source="502 not implemented"),
    503: ErrorRule(ProviderUnavailable, retryable=False, failover_eligible=True, source="503 bad sequence"),
    504: ErrorRule(ProviderUnavailable, retryable=False, failover_eligible=True, source="504 parameter unsupported"),
    530: ErrorRule(AuthenticationError, source="530 authentication required (RFC 4954)"),
    534: ErrorRule(AuthenticationError, source="534 mechanism too weak (RFC 4954)"),
    535: ErrorRule(AuthenticationError, source="535 credentials invalid (RFC 4954)"),
    538: ErrorRule(AuthenticationError, source="538 encryption required for the mechanism (RFC 4954)"),
    552: ErrorRule(LimitExceeded, source="552 exceeded storage allocation / message size"),
    555: ErrorRule(InvalidRequest, source="555 MAIL/RCPT parameters not recognized"),
}
_SERVER_DOWN = ErrorRule(ProviderUnavailable, retryable=False, failover_eligible=True, source="5yz: permanent")


def _table(step: str, permanent: ErrorRule, transient: ErrorRule = _TRANSIENT, **status: ErrorRule) -> ErrorTable:
    return ErrorTable(
        codes=_SHARED_CODES,
        prefixes={"5.1.": ErrorRule(InvalidAddress, source="RFC 3463 X.1.x address status")} if step == "rcpt" else {},
        status={**_SHARED_STATUS, **{int(k.removeprefix("s")): v for k, v in status.items()}},
        unknown=permanent,
        server_error=permanent,
        client_error=transient,
    )


TABLES: dict[Step, ErrorTable] = {
    Step.CONNECT: _table(
        "connect",
        _SERVER_DOWN,
        s554=ErrorRule(ProviderUnavailable, retryable=False, failover_eligible=True, source="554 no service"),
    ),
    Step.AUTH: _table("auth", ErrorRule(AuthenticationError, source="5yz to AUTH")),
    Step.MAIL: _table(
        "mail",
        ErrorRule(PermissionDenied, source="5yz to MAIL FROM: the account may not send"),
        s550=ErrorRule(SenderNotFound, source="550 to MAIL FROM: sender refused"),
        s553=ErrorRule(SenderNotFound, source="553 to MAIL FROM: sender not allowed"),
    ),
    Step.RCPT: _table(
        "rcpt",
        ErrorRule(InvalidAddress, source="5yz to RCPT TO: the server will not take this recipient"),
        s550=ErrorRule(InvalidAddress, source="550 mailbox unavailable"),
        s551=ErrorRule(InvalidAddress, source="551 user not local"),
        s553=ErrorRule(InvalidAddress, source="553 mailbox name not allowed"),
        s554=ErrorRule(ContentRejected, source="554 to RCPT TO: refused (relay or policy)"),
    ),
    Step.DATA: _table(
        "data",
        ErrorRule(ContentRejected, source="5yz to DATA: the message was refused"),
        s550=ErrorRule(ContentRejected, source="550 to DATA: refused"),
        s554=ErrorRule(ContentRejected, source="554 to DATA: transaction failed"),
    ),
}


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 enhanced status code a reply text starts with (``5.1.1``), if any."""
    match = _ENHANCED.match(text)
    return match.group(1) if match else None


def reply_text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply).strip()


def error_for(step: Step, code: int, reply: bytes | str, *, what: str, provider: str = "smtp") -> MailbridgeError:
    """The neutral error for an error reply ``code`` to ``step`` (``what`` says what was refused)."""
    text = reply_text(reply)
    enhanced = enhanced_code(text)
    rule = TABLES[step].rule_for(enhanced, code)
    error = rule.build(
        f"{what}: the server answered {code} {text}".rstrip(),
        provider=provider,
        provider_code=f"{code} {enhanced}" if enhanced else str(code),
        provider_message=text,
    )
    if not rule.refused:  # pragma: no cover - every SMTP row is a refusal
        raise AssertionError(rule)
    return error
