"""The neutral error hierarchy.

Every backend translates its provider's errors into exactly one of these classes, so
callers (and failover) decide what to do from the class and two flags, never from a
provider-specific exception::

    MailbridgeError
    ├── ConfigurationError            bad URL, missing credentials (never retried, never failed over)
    │   └── ProviderNotInstalled      no plugin registered under that name
    ├── UnsupportedFeature            the backend declared it cannot do this (also ValueError)
    ├── InvalidRequest                the input is wrong for this call (also ValueError)
    │   ├── InvalidAddress            an address the provider (or the core) will not take
    │   └── LimitExceeded             a declared limit cannot be met (size, count, window)
    ├── NotFound                      (also LookupError)
    │   ├── GroupNotFound
    │   ├── TemplateNotFound
    │   └── SenderNotFound
    ├── AlreadyExists                 a name that must be unique is taken
    ├── AuthenticationError           credentials rejected           failover_eligible
    ├── PermissionDenied              credentials lack a permission  failover_eligible
    ├── RateLimited                   throttled; see retry_after     retryable, failover_eligible
    ├── QuotaExceeded                 daily/monthly quota used up    failover_eligible
    ├── ContentRejected               spam / blacklist, per message
    ├── ResourceBusy                  the resource is mid-operation (an upload)  retryable
    ├── ProviderUnavailable           not applied (refused, never left) or a failed read   retryable, failover_eligible
    └── OutcomeUnknown                a send/create was written, no trustworthy answer: maybe sent

``retryable`` means the same call may succeed later; ``failover_eligible`` means the
provider as a whole is unhealthy, so another provider should take the work. Both are
class defaults that a backend may override per instance. ``maybe_sent`` is true only
for :class:`OutcomeUnknown`: every other error raised by a send means the provider
certainly did not accept the message. Which failure becomes which is one rule, written
once in :mod:`mailbridge._outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._scrub import is_secret_field, scrub_text

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "ConfigurationError",
    "ContentRejected",
    "GroupNotFound",
    "InvalidAddress",
    "InvalidRequest",
    "LimitExceeded",
    "MailbridgeError",
    "NotFound",
    "OutcomeUnknown",
    "PermissionDenied",
    "ProviderNotInstalled",
    "ProviderUnavailable",
    "QuotaExceeded",
    "RateLimited",
    "ResourceBusy",
    "SenderNotFound",
    "TemplateNotFound",
    "UnsupportedFeature",
]


def scrub(raw: Any) -> Any:
    """Return a copy of a decoded provider response with secret values masked: fields that a
    loaded backend declares secret (``Backend.secret_fields``) and every registered secret value."""
    if isinstance(raw, Mapping):
        return {k: ("***" if is_secret_field(k) else scrub(v)) for k, v in raw.items()}
    if isinstance(raw, list | tuple):
        return [scrub(v) for v in raw]
    if isinstance(raw, str):
        return scrub_text(raw)
    return raw


class MailbridgeError(Exception):
    """Base of every error mailbridge raises.

    **Attributes:** ``provider``, ``operation``, ``provider_code``, ``provider_message``,
    ``request_id``, ``http_status``, ``raw`` (the decoded provider response, scrubbed of
    secrets), ``retryable``, ``failover_eligible``, ``partial_result`` (what completed
    before the failure: an ``UploadReport`` for uploads, a tuple of ``SendReceipt`` for
    split sends) and ``not_sent`` (addresses certainly not sent or uploaded by the
    failed call and the ones after it), ``maybe_sent_to`` (addresses a send may have
    reached: the ones of an attempt whose outcome is unknown).
    """

    retryable: bool = False
    failover_eligible: bool = False
    maybe_sent: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        operation: str | None = None,
        provider_code: str | None = None,
        provider_message: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        raw: Any = None,
        retryable: bool | None = None,
        failover_eligible: bool | None = None,
        partial_result: Any = None,
    ) -> None:
        message = scrub_text(str(message))  # dependency text may echo a credential
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.operation = operation
        self.provider_code = provider_code
        self.provider_message = scrub_text(provider_message) if provider_message else provider_message
        self.request_id = request_id
        self.http_status = http_status
        self.raw = scrub(raw)
        if retryable is not None:
            self.retryable = retryable
        if failover_eligible is not None:
            self.failover_eligible = failover_eligible
        self.partial_result = partial_result
        self.not_sent: tuple[str, ...] = ()
        self.maybe_sent_to: tuple[str, ...] = ()
        self.attempts: tuple[Any, ...] = ()  # failover: every provider tried (mailbridge.Attempt)

    def __str__(self) -> str:
        where = ""
        if self.provider:
            where = f"{self.provider}"
            if self.operation:
                where += f" {self.operation}"
            details = [
                part
                for part in (
                    self.provider_code,
                    f"HTTP {self.http_status}" if self.http_status else None,
                    f"request {self.request_id}" if self.request_id else None,
                )
                if part
            ]
            if details:
                where += f" ({', '.join(details)})"
            where += ": "
        return scrub_text(f"{where}{self.message}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def context(self) -> dict[str, Any]:
        """The error as a JSON-ready dict (what ``mailbridge --json`` prints on failure)."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "provider": self.provider,
            "operation": self.operation,
            "provider_code": self.provider_code,
            "provider_message": self.provider_message,
            "request_id": self.request_id,
            "http_status": self.http_status,
            "retryable": self.retryable,
            "failover_eligible": self.failover_eligible,
            "maybe_sent": self.maybe_sent,
        }


class ConfigurationError(MailbridgeError):
    """The client cannot be built or used as configured: bad URL, missing credentials."""


class ProviderNotInstalled(ConfigurationError):
    """No backend is registered under the requested provider name."""


class UnsupportedFeature(MailbridgeError, ValueError):
    """The backend declared that it cannot do this (see its ``Limits.features``)."""


class InvalidRequest(MailbridgeError, ValueError):
    """The request is malformed or breaks a rule of the provider."""


class InvalidAddress(InvalidRequest):
    """An email address the provider (or the core's syntax check) does not accept."""


class LimitExceeded(InvalidRequest):
    """A declared limit (group size, recipients per send, query window ...) cannot be met."""


class NotFound(MailbridgeError, LookupError):
    """The named resource does not exist on the provider."""


class GroupNotFound(NotFound):
    """No recipient group with that id or name."""


class TemplateNotFound(NotFound):
    """No template with that id."""


class SenderNotFound(NotFound):
    """The sender address or domain is not registered/verified with the provider."""


class AlreadyExists(MailbridgeError):
    """A resource with that unique name already exists."""


class AuthenticationError(MailbridgeError):
    """The provider rejected the credentials or the request signature."""

    failover_eligible = True


class PermissionDenied(MailbridgeError):
    """The credentials are valid but lack a permission, or the account is suspended."""

    failover_eligible = True


class RateLimited(MailbridgeError):
    """The provider throttled the call; ``retry_after`` (seconds) when it said how long."""

    retryable = True
    failover_eligible = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class QuotaExceeded(MailbridgeError):
    """A daily or monthly sending quota is used up."""

    failover_eligible = True


class ContentRejected(MailbridgeError):
    """The provider refused this message's content or recipients (spam, blacklist)."""


class ResourceBusy(MailbridgeError):
    """The resource is being processed (for example a group still importing); retry later."""

    retryable = True


class ProviderUnavailable(MailbridgeError):
    """The provider is unavailable and did not apply the request (connection refused, a
    refusal such as ``ServiceUnavailable``), or an idempotent call (a read, a delete) failed
    in any way. A send or create that may have been applied is :class:`OutcomeUnknown` instead."""

    retryable = True
    failover_eligible = True


class OutcomeUnknown(MailbridgeError):
    """A non-idempotent request (send, create) was written and no trustworthy answer came
    back: a timeout or the call's deadline, a reset, a gateway page (502/503/504), a garbled
    body, an error code that is not a refusal (``InternalError``).

    The provider may or may not have accepted it. Neither retries nor failover repeat a
    send that ended like this.
    """

    maybe_sent = True
