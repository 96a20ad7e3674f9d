"""Direct Mail error codes -> neutral errors: one table, walked row by row by a test.

Every code named in the seeds (000-004) and in reference section A.5 has exactly one row.
Codes the table does not know fall back on the HTTP status (:data:`STATUS_FALLBACK`);
the gateway's ``Missing{Parameter}`` family is matched by prefix.

Decisions worth knowing:

* ``InvalidSendMail.Spam`` is :class:`ContentRejected` but ``failover_eligible``: the DM
  docs explain it as "check user status, frequency exceeded, quota", all account-level
  causes another provider does not share. DM has no dedicated quota code (A.5).
* ``InvalidToAddress.Spam`` (the address is on the account's invalid-address list) is
  :class:`ContentRejected`, not failover-eligible: another provider would deliver to a
  dead mailbox.
* ``SignatureNonceUsed`` is retryable (a new request gets a new nonce) and the request
  was certainly not processed; ``InvalidTimeStamp.Expired`` means the local clock is off,
  which failover would not fix.
* ``InvalidReceiverStatus.Malformed`` ("check whether the recipients have been
  uploaded") is :class:`ResourceBusy`.
* ``CheckDomain.Failed`` ("Domain check failed": DM could not run the DNS check, which
  is not the same as records that are missing, reported as DomainStatus 1) is
  :class:`ProviderUnavailable`, retryable; another provider would not verify this
  provider's domain, so it is not failover-eligible.
* The sender-address actions document the ``InvalidMailAddress*`` codes spelled both with
  and without the dot (CreateMailAddress without, the others with); both are rows.
* ``refused`` (the provider certainly did not apply the request) holds for every row but
  ``InternalError`` ("failed due to some unknown error": it can come mid-operation) and an
  unknown code at HTTP 5xx; for those a send or create is ``OutcomeUnknown`` (core rule,
  :mod:`mailbridge._outcome`). ``ServiceUnavailable`` is the gateway's "temporary failure
  of the server", answered instead of forwarding: a refusal.
* ``InvalidReceiverStatus.Malformed`` is not retryable: DM imports synchronously, so the
  list is empty rather than importing, and waiting would not change that.
* The table is one :class:`mailbridge._errors_table.ErrorTable` (shared with every backend).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mailbridge import (
    AlreadyExists,
    AuthenticationError,
    ConfigurationError,
    ContentRejected,
    GroupNotFound,
    InvalidAddress,
    InvalidRequest,
    LimitExceeded,
    MailbridgeError,
    NotFound,
    PermissionDenied,
    ProviderUnavailable,
    RateLimited,
    ResourceBusy,
    SenderNotFound,
    TemplateNotFound,
)
from mailbridge._errors_table import ErrorRule, ErrorTable

__all__ = ["ERROR_TABLE", "PREFIX_TABLE", "STATUS_FALLBACK", "TABLE", "ErrorRule", "error_from_response", "rule_for"]

_GW = "A.5 gateway"
_DM = "A.5 DM"
_S2 = "seed 002"
_S3 = "seed 003"
_EC = "DM error-code page (api-dm-2015-11-23-errorcodes)"
_CD = "CreateDomain doc (current)"

ERROR_TABLE: dict[str, ErrorRule] = {
    # ---- gateway (POP) common errors, reference A.5
    "InvalidApi.NotFound": ErrorRule(ConfigurationError, source=_GW),
    "InvalidAccessKeyId.NotFound": ErrorRule(AuthenticationError, source=_GW),
    "InvalidAccessKeyId.Inactive": ErrorRule(AuthenticationError, source=_GW),
    "InvalidTimeStamp.Format": ErrorRule(InvalidRequest, source=_GW),
    "InvalidTimeStamp.Expired": ErrorRule(AuthenticationError, failover_eligible=False, source=_GW),
    "SignatureNonceUsed": ErrorRule(ProviderUnavailable, retryable=True, failover_eligible=False, source=_GW),
    "InvalidParameter.Format": ErrorRule(InvalidRequest, source=_GW),
    "UnsupportedHTTPMethod": ErrorRule(InvalidRequest, source=_GW),
    "InvalidSignatureMethod": ErrorRule(InvalidRequest, source=_GW),
    "SignatureDoesNotMatch": ErrorRule(AuthenticationError, source=_GW),
    "IncompleteSignature": ErrorRule(AuthenticationError, source=_GW),
    "Throttling": ErrorRule(RateLimited, source=_GW),
    "Throttling.User": ErrorRule(RateLimited, source=_GW),
    "Throttling.Api": ErrorRule(RateLimited, source=_GW),
    "Forbidden.RAM": ErrorRule(PermissionDenied, source=_GW),
    "Forbidden.RiskControl": ErrorRule(PermissionDenied, source=_GW),
    "InvalidAction": ErrorRule(PermissionDenied, source=_GW),
    "ActionUnauthorized": ErrorRule(PermissionDenied, source=_GW),
    "InternalError": ErrorRule(ProviderUnavailable, refused=False, source=_GW),
    "ServiceUnavailable": ErrorRule(ProviderUnavailable, source=_GW),
    # ---- Direct Mail business errors, seeds 002/003 and reference A.5
    "Forbidden": ErrorRule(PermissionDenied, source=_DM),
    "InvalidMailAddress.NotFound": ErrorRule(SenderNotFound, source=_S2),
    "InvalidMailAddressStatus.Malformed": ErrorRule(SenderNotFound, source=_S3),
    "InvalidMailAddressStatusMalformed": ErrorRule(SenderNotFound, source=_S3 + " (spelled without the dot)"),
    "InvalidMailAddressDomain.Malformed": ErrorRule(SenderNotFound, source=_S3),
    "InvalidMailAddressDomainMalformed": ErrorRule(SenderNotFound, source=_S3 + " (spelled without the dot)"),
    "InvalidMailAddressSendType.Malformed": ErrorRule(InvalidRequest, source=_S3),
    "InvalidToAddress": ErrorRule(InvalidAddress, source=_DM),
    "InvalidToAddress.Spam": ErrorRule(ContentRejected, source=_DM),
    "InvalidSendMail.Spam": ErrorRule(ContentRejected, failover_eligible=True, source=_DM),
    "InvalidBody": ErrorRule(InvalidRequest, source=_DM),
    "InvalidSubject.Malformed": ErrorRule(InvalidRequest, source=_DM),
    "InvalidFromAlias.Malformed": ErrorRule(InvalidRequest, source=_DM),
    "InvalidFromALias.Malformed": ErrorRule(InvalidRequest, source=_DM + " (sic)"),
    "InvalidReplyAddress.Malformed": ErrorRule(InvalidAddress, source=_DM),
    "InvalidReplyAddressAlias.Malformed": ErrorRule(InvalidRequest, source=_DM),
    "InvalidReceiverName.Malformed": ErrorRule(InvalidRequest, source=_S2 + ", " + _S3),
    "InvalidReceiverStatus.Malformed": ErrorRule(ResourceBusy, retryable=False, source=_S3),
    "InvalidReceiver.NotFound": ErrorRule(GroupNotFound, source=_DM),
    "InvalidTemplateName.Malformed": ErrorRule(InvalidRequest, source=_DM),
    "InvalidTemplate.NotFound": ErrorRule(TemplateNotFound, source=_DM),
    "InvalidDate.Malformed": ErrorRule(InvalidRequest, source=_DM),
    "InvalidDate.NotFound": ErrorRule(InvalidRequest, source=_DM),
    "InvalidStartTime.Malformed": ErrorRule(InvalidRequest, source=_DM),
    "InvalidEndTime.Malformed": ErrorRule(InvalidRequest, source=_DM),
    "InvalidBetweenTime.Malformed": ErrorRule(LimitExceeded, source=_DM + " (InvalidBetweenTime...: window > 30 days)"),
    "InvalidAddress.NotFound": ErrorRule(NotFound, source=_DM),
    "InvalidAddress.Locked": ErrorRule(InvalidRequest, source=_DM),
    "InvalidAddressNumber.Malformed": ErrorRule(InvalidRequest, source=_DM),
    "EmailFormatError": ErrorRule(InvalidAddress, source=_DM),
    "EmailLengthError": ErrorRule(InvalidAddress, source=_DM),
    "InvalidIP.NotFound": ErrorRule(NotFound, source=_DM),
    # ---- sender domains (issue 6)
    "InvalidDomainName.Duplicate": ErrorRule(AlreadyExists, source=_CD),
    "InvalidDomainNumber.Malformed": ErrorRule(LimitExceeded, source=_CD + ": the maximum number of domains"),
    "CheckDomain.Failed": ErrorRule(
        ProviderUnavailable, retryable=True, failover_eligible=False, source=_EC + ": the check itself failed"
    ),
}

# Families the gateway spells with the parameter name inside the code.
PREFIX_TABLE: dict[str, ErrorRule] = {
    "Missing": ErrorRule(InvalidRequest, source=_GW + " Missing{ParameterName}"),
    "Throttling.": ErrorRule(RateLimited, source=_GW + " Throttling.*"),
    "Forbidden.": ErrorRule(PermissionDenied, source=_GW + " Forbidden.*"),
    "InvalidAccessKeyId.": ErrorRule(AuthenticationError, source=_GW + " InvalidAccessKeyId.*"),
    "InvalidSecurityToken.": ErrorRule(AuthenticationError, source=_GW + " InvalidSecurityToken.* (STS tokens)"),
}

STATUS_FALLBACK: dict[int, ErrorRule] = {
    400: ErrorRule(InvalidRequest),
    401: ErrorRule(AuthenticationError),
    403: ErrorRule(PermissionDenied),
    404: ErrorRule(NotFound),
    409: ErrorRule(AlreadyExists),
    429: ErrorRule(RateLimited),
}


_STRING_TO_SIGN = re.compile(r"(string to sign is:?).*", re.I | re.S)


TABLE = ErrorTable(
    codes=ERROR_TABLE,
    prefixes=PREFIX_TABLE,
    status=STATUS_FALLBACK,
    unknown=ErrorRule(ProviderUnavailable, source="no code, no status"),
    server_error=ErrorRule(ProviderUnavailable, refused=False, source="HTTP 5xx, unknown code"),
    client_error=ErrorRule(InvalidRequest, source="HTTP 4xx, unknown code"),
)


def rule_for(code: str | None, status: int) -> ErrorRule:
    """The rule for a provider code, else its prefix family, else the HTTP status."""
    return TABLE.rule_for(code, status)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("x-acs-retry-after") or headers.get("retry-after")
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds and seconds > 0 else None


def error_from_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str], *, provider: str, operation: str
) -> MailbridgeError:
    """Build the neutral error for a decoded DM error response (``{Code, Message, RequestId, ...}``)."""
    code = str(body.get("Code") or body.get("code") or "") or None
    message = str(body.get("Message") or body.get("message") or "")
    # SignatureDoesNotMatch echoes the server's string to sign, which names the AccessKeyId.
    message = _STRING_TO_SIGN.sub(r"\1 <redacted>", message)
    request_id = body.get("RequestId") or body.get("requestId")
    rule = rule_for(code, status)
    text = message or f"Direct Mail answered HTTP {status}"
    return rule.build(
        text,
        retry_after=_retry_after(headers),
        provider=provider,
        operation=operation,
        provider_code=code,
        provider_message=message,
        request_id=str(request_id) if request_id else None,
        http_status=status,
        raw={**body, "Message": message} if "Message" in body else dict(body),
    )
