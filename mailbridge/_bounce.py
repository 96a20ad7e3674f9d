"""One reading of SMTP replies, so that the same bounce gets the same neutral status everywhere.

Each backend first maps its provider's own codes (Direct Mail ``Status``, SES
``SendStatus``/``DeliverStatus``) to a :class:`DeliveryStatus`; :func:`refine_status` then reads
the SMTP reply the provider quotes (``550 5.1.1 ...``) with RFC 3463's enhanced status codes:
class 5 is a hard bounce, class 4 a soft one; subject 1 (addressing) and ``5.2.1`` (mailbox
disabled) mean the address cannot receive mail. Hand-written because it is a dozen lines of
RFC 3463 and no maintained library classifies reply text without also doing delivery.
"""

from __future__ import annotations

import re

from ._models import BounceType, DeliveryStatus

__all__ = ["refine_status", "smtp_class"]

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC = re.compile(r"^\s*([245])(\d)(\d)(?!\d)")
# Wording of "no such address" replies that carry no enhanced code (English and Chinese).
_NO_SUCH = re.compile(
    r"no such (user|mailbox|recipient|address)|user unknown|unknown user|does ?n[o']?t exist|not exist|"
    r"mailbox (not found|unavailable)|invalid (recipient|mailbox|address)|用户不存在|地址不存在",
    re.I,
)
_FAILURES = frozenset({DeliveryStatus.INVALID_ADDRESS, DeliveryStatus.REJECTED, DeliveryStatus.FAILED})


def smtp_class(reason: str | None) -> tuple[int, int | None, int | None] | None:
    """``(class, subject, detail)`` of the first SMTP reply code in ``reason``, or None.

    ``550 5.1.1 no such user`` gives ``(5, 1, 1)``; a basic reply code alone (``554 ...``)
    gives ``(5, None, None)``.
    """
    if not reason:
        return None
    if match := _ENHANCED.search(reason):
        return int(match.group(1)), int(match.group(2)), int(match.group(3))
    if match := _BASIC.match(reason):
        return int(match.group(1)), None, None
    return None


def refine_status(status: DeliveryStatus, reason: str | None) -> tuple[DeliveryStatus, BounceType | None]:
    """The neutral status and bounce type for a provider status and the reply it quotes.

    Only failures are refined (a delivered or pending event keeps its status; a pending one
    with a 4xx reply is a soft bounce still being retried):

    * class 5, subject 1 or ``5.2.1``, or "no such user" wording: ``invalid_address``, hard;
    * other class 5: ``rejected`` (the receiving server refused it), hard;
    * class 4: the provider's status (``failed`` when it gave up), soft;
    * no SMTP code: the provider's status, no bounce type.
    """
    code = smtp_class(reason)
    if status not in _FAILURES and status is not DeliveryStatus.PENDING:
        return status, None
    if code is None:
        if status in _FAILURES and reason and _NO_SUCH.search(reason):
            return DeliveryStatus.INVALID_ADDRESS, None
        return status, None
    klass, subject, detail = code
    if klass == 4:
        return status, BounceType.SOFT
    if klass != 5 or status is DeliveryStatus.PENDING:
        return status, None
    if subject == 1 or (subject, detail) == (2, 1) or (subject is None and _NO_SUCH.search(reason or "")):
        return DeliveryStatus.INVALID_ADDRESS, BounceType.HARD
    if status is DeliveryStatus.INVALID_ADDRESS:
        return status, BounceType.HARD
    return DeliveryStatus.REJECTED, BounceType.HARD
