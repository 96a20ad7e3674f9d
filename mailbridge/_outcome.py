"""The one outcome rule: what a failed provider call means for the caller.

Every backend's transport reports a failed call with what it knows, as a :class:`Stage`:

* ``NOT_SENT``: the request never left, or left incomplete (connect refused, DNS, TLS
  handshake, a reset before the request was fully written, a pooled connection found
  closed before writing). The provider cannot have acted on it.
* ``REFUSED``: the provider answered with a parseable error whose code the backend's
  error table declares a refusal: it certainly did not apply the request.
* ``UNKNOWN``: anything else after the request was written: a 5xx without a provider
  code, a gateway page (502/503/504 HTML), a truncated or garbled body, a read timeout,
  the call's deadline, a dropped connection, an error code the table does not declare
  a refusal (``InternalError``).

The core decides, from the stage and whether the operation is idempotent:

======================  ============================  ==================================
stage                   idempotent (reads, deletes)   not idempotent (sends, creates)
======================  ============================  ==================================
NOT_SENT                ProviderUnavailable: retry,   ProviderUnavailable: retry, fail
                        fail over                     over (certainly not sent)
REFUSED                 the table's error             the table's error (not sent)
UNKNOWN                 ProviderUnavailable: retry    OutcomeUnknown(maybe_sent=True):
                                                      never retried, never failed over
======================  ============================  ==================================

Non-idempotent means a repeat could act twice: sends, group sends, creates, uploads to
providers that do not de-duplicate. Each backend declares which of its actions those are.
"""

from __future__ import annotations

import enum
from typing import Any

from ._exceptions import MailbridgeError, OutcomeUnknown, ProviderUnavailable

__all__ = ["GATEWAY_TIMEOUT", "Stage", "answered", "failed", "verdict"]

GATEWAY_TIMEOUT = 504


class Stage(enum.Enum):
    """How far a failed call got, as its transport knows it."""

    NOT_SENT = "not sent"
    REFUSED = "refused"
    UNKNOWN = "unknown"


def verdict(stage: Stage, *, idempotent: bool) -> str:
    """The rule in one word: ``"retry"`` (safe to repeat or fail over), ``"refused"`` or ``"maybe_sent"``."""
    if stage is Stage.NOT_SENT:
        return "retry"
    if stage is Stage.REFUSED:
        return "refused"
    return "retry" if idempotent else "maybe_sent"


def failed(
    stage: Stage,
    text: str,
    *,
    idempotent: bool,
    provider: str,
    operation: str | None = None,
    http_status: int | None = None,
    provider_code: str | None = None,
    provider_message: str | None = None,
    request_id: str | None = None,
    raw: Any = None,
) -> MailbridgeError:
    """The neutral error for a call that got no usable answer (``NOT_SENT`` or ``UNKNOWN``)."""
    details: dict[str, Any] = {
        "provider": provider,
        "operation": operation,
        "http_status": http_status,
        "provider_code": provider_code,
        "provider_message": provider_message,
        "request_id": request_id,
        "raw": raw,
    }
    if stage is Stage.REFUSED:  # pragma: no cover - a programming error in a backend
        raise ValueError("a refusal is built from the error table: use answered()")
    if verdict(stage, idempotent=idempotent) == "maybe_sent":
        return OutcomeUnknown(f"{text}; the request may have been applied", **details)
    if stage is Stage.NOT_SENT:
        text += "; the request was not sent"
    return ProviderUnavailable(text, retryable=True, failover_eligible=True, **details)


def answered(error: MailbridgeError, *, refused: bool, idempotent: bool) -> MailbridgeError:
    """A provider error answer: kept as mapped when it is a refusal or the call is idempotent.

    An error code the table does not declare a refusal (an internal error mid-operation)
    on a non-idempotent call becomes :class:`OutcomeUnknown`, keeping the code. So does
    any code at HTTP 504: a gateway timeout says the request went upstream.
    """
    if idempotent or (refused and error.http_status != GATEWAY_TIMEOUT):
        return error
    unknown = OutcomeUnknown(
        f"{error.message}; the provider did not say it refused, so the request may have been applied",
        provider=error.provider,
        operation=error.operation,
        provider_code=error.provider_code,
        provider_message=error.provider_message,
        request_id=error.request_id,
        http_status=error.http_status,
    )
    unknown.raw = error.raw
    return unknown
