"""Every Tencent Cloud error code, mapped to exactly one neutral error class.

One table, :data:`ERRORS`, holds every code of the SDK's ``tencentcloud/ses/v20201002/errorcodes.py``
plus every common Tencent Cloud API 3.0 code (cloud.tencent.com/document/api/1288/51060) and the
SDK's own client-side codes. A test fails when an SDK upgrade adds a code missing here.

``retryable`` / ``failover_eligible`` default to the neutral class's defaults; a rule overrides
them where the code says more than its class (a per-recipient frequency limit is retryable but
another provider would not help; an offline action will never succeed on a retry).

Decisions worth knowing (issue 9 review):

* Per-message refusals harm no provider: ``FailedOperation`` (unspecified), every unknown
  ``FailedOperation.*`` / ``OperationDenied.*`` sub-code (they fall back on their parent),
  ``FailedOperation.WithOutPermission`` (this account sends templates only: this message's
  shape) and ``FailedOperation.NoAttachPermission`` (this message's attachments) are not
  failover-eligible.
* ``OperationDenied.ReceiverStatusError`` ("the list is empty or not finished uploading") is
  not retryable: an empty list stays empty. The backend tells the two cases apart
  (``send_to_group``) and only a list still importing is retried.
* ``FailedOperation.TemporaryBlocked`` pauses one recipient ESP for 10 minutes: RateLimited
  with ``retry_after`` 600 and failover-eligible. The client never sleeps past its budget: it
  raises at once and the failover moves on.
* ``refused`` (SES certainly did not apply the request) holds for every code but the
  ``InternalError`` family (it can come mid-operation) and the SDK's transport codes; the
  core's rule then makes a send or create ``OutcomeUnknown``.
* The table is one :class:`mailbridge._errors_table.ErrorTable` (shared with every backend).
"""

from __future__ import annotations

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
    OutcomeUnknown,
    PermissionDenied,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
    ResourceBusy,
    SenderNotFound,
    TemplateNotFound,
    UnsupportedFeature,
)
from mailbridge._errors_table import ErrorRule, ErrorTable

__all__ = ["ERRORS", "TABLE", "UNKNOWN", "ErrorRule", "error_for_code", "rule_for"]


_ = ErrorRule
#: Tencent error code -> neutral rule. Keep sorted by code within each block.
ERRORS: dict[str, ErrorRule] = {
    # --- common API 3.0 codes (reference B.4, "Common") --------------------------------------
    "ActionOffline": _(ProviderUnavailable, retryable=False),  # the action was retired: retrying cannot help
    "AuthFailure": _(AuthenticationError),  # parent of unknown AuthFailure.* sub-codes
    "AuthFailure.InvalidAuthorization": _(AuthenticationError),
    "AuthFailure.InvalidSecretId": _(AuthenticationError),
    "AuthFailure.MFAFailure": _(PermissionDenied),
    "AuthFailure.SecretIdNotFound": _(AuthenticationError),
    "AuthFailure.SignatureExpire": _(AuthenticationError),  # clock skew > 5 min: fix the clock
    "AuthFailure.SignatureFailure": _(AuthenticationError),
    "AuthFailure.TokenFailure": _(AuthenticationError),
    "AuthFailure.UnauthorizedOperation": _(PermissionDenied),  # CAM policy denies the action
    "DryRunOperation": _(InvalidRequest),
    "FailedOperation": _(ProviderUnavailable, retryable=False, failover_eligible=False),  # unspecified, per message
    "InternalError": _(ProviderUnavailable, refused=False),  # may come mid-operation
    "InvalidAction": _(ConfigurationError),
    "InvalidParameter": _(InvalidRequest),
    "InvalidParameterValue": _(InvalidRequest),
    "InvalidRequest": _(InvalidRequest),
    "IpInBlacklist": _(PermissionDenied),
    "IpNotInWhitelist": _(PermissionDenied),
    "LimitExceeded": _(QuotaExceeded),  # "超过配额限制": an account quota
    "MissingParameter": _(InvalidRequest),
    "NoSuchProduct": _(ConfigurationError),
    "NoSuchVersion": _(ConfigurationError),
    "RequestLimitExceeded": _(RateLimited),
    "RequestLimitExceeded.GlobalRegionUinLimitExceeded": _(RateLimited),
    "RequestLimitExceeded.IPLimitExceeded": _(RateLimited),
    "RequestLimitExceeded.UinLimitExceeded": _(RateLimited),
    "RequestSizeLimitExceeded": _(LimitExceeded),  # request body > 8 MB
    "ResourceInUse": _(ResourceBusy),
    "ResourceInsufficient": _(QuotaExceeded),
    "ResourceNotFound": _(NotFound),
    "ResourceUnavailable": _(ProviderUnavailable, retryable=False),
    "ResponseSizeLimitExceeded": _(LimitExceeded),
    "ServiceUnavailable": _(ProviderUnavailable),
    "UnauthorizedOperation": _(PermissionDenied),
    "UnknownParameter": _(InvalidRequest),
    "UnsupportedOperation": _(UnsupportedFeature),
    "UnsupportedProtocol": _(ConfigurationError),
    "UnsupportedRegion": _(ConfigurationError),  # e.g. ap-hongkong on an international account
    # --- SDK client-side codes (tencentcloud/common) -------------------------------------------
    "ClientNetworkError": _(ProviderUnavailable, refused=False),  # the core's outcome rule decides
    "ServerNetworkError": _(ProviderUnavailable, refused=False),  # a non-200 answer without Response.Error
    "ClientError": _(ConfigurationError),
    "ClientParamsError": _(ConfigurationError),
    "InvalidCredential": _(ConfigurationError),
    # --- SES: FailedOperation.* -------------------------------------------------------------------
    "FailedOperation.AttachContentToolarge": _(LimitExceeded),
    "FailedOperation.DKIMNotApplied": _(SenderNotFound),
    "FailedOperation.EmailAddrInBlacklist": _(ContentRejected),
    "FailedOperation.EmailContentToolarge": _(LimitExceeded),
    "FailedOperation.ExceedSendLimit": _(QuotaExceeded),  # daily total used up
    "FailedOperation.ExceedTemplateLimit": _(LimitExceeded),
    "FailedOperation.FileURLNotExist": _(InvalidRequest),
    # Too many mails to one address in a short time: waiting helps, another provider would not.
    "FailedOperation.FrequencyLimit": _(RateLimited, failover_eligible=False),
    "FailedOperation.HighRejectionRate": _(PermissionDenied),  # account temporarily blocked
    "FailedOperation.IllegalURL": _(ContentRejected),
    "FailedOperation.IncorrectEmail": _(InvalidAddress),
    "FailedOperation.IncorrectSender": _(InvalidAddress),
    "FailedOperation.InsufficientBalance": _(QuotaExceeded),
    "FailedOperation.InsufficientQuota": _(QuotaExceeded),
    "FailedOperation.InvalidAttachName": _(InvalidRequest),
    "FailedOperation.InvalidLimit": _(InvalidRequest),
    "FailedOperation.InvalidTemplateID": _(TemplateNotFound),
    "FailedOperation.MissingEmailContent": _(InvalidRequest),
    "FailedOperation.NoAttachPermission": _(PermissionDenied, failover_eligible=False),  # this message
    "FailedOperation.NotAuthenticatedSender": _(SenderNotFound),
    "FailedOperation.NotSupportDate": _(LimitExceeded),  # outside the retention window
    "FailedOperation.ProtocolCheckErr": _(InvalidRequest),
    "FailedOperation.ReceiverHasUnsubscribed": _(ContentRejected),
    "FailedOperation.RejectedByRecipients": _(ContentRejected),
    "FailedOperation.SendEmailErr": _(PermissionDenied),  # "contact support": account-level problem
    "FailedOperation.ServiceNotAvailable": _(ProviderUnavailable),  # "temporary, request not applied, retry"
    "FailedOperation.TemplateContentToolarge": _(LimitExceeded),
    # The recipient's ESP is paused for 10 minutes; another provider may deliver now.
    "FailedOperation.TemporaryBlocked": _(RateLimited, retry_after=600.0),
    "FailedOperation.TooManyAttachments": _(LimitExceeded),
    "FailedOperation.TooManyRecipients": _(LimitExceeded),
    "FailedOperation.URLForbidden": _(ContentRejected),
    "FailedOperation.UnsupportMailType": _(InvalidAddress),
    "FailedOperation.WithOutPermission": _(PermissionDenied, failover_eligible=False),  # templates only: this message
    "FailedOperation.WrongContentJson": _(InvalidRequest),
    "InternalError.QueryDataBaseFailed": _(ProviderUnavailable, refused=False),
    # --- SES: InvalidParameter* / MissingParameter.* ------------------------------------------------
    "InvalidParameter.AppIdIsRequired": _(InvalidRequest),
    "InvalidParameter.InvalidEndTimeFormat": _(InvalidRequest),
    "InvalidParameter.InvalidStartTimeFormat": _(InvalidRequest),
    "InvalidParameterValue.AttachContentIsWrong": _(InvalidRequest),
    "InvalidParameterValue.BeginTimeBeforeNow": _(InvalidRequest),
    "InvalidParameterValue.CreatedByOther": _(AlreadyExists),
    "InvalidParameterValue.EmailAddressIsNULL": _(InvalidAddress),
    "InvalidParameterValue.EmailContentIsWrong": _(InvalidRequest),
    "InvalidParameterValue.IllegalEmailAddress": _(InvalidAddress),
    "InvalidParameterValue.IllegalSenderName": _(InvalidRequest),
    "InvalidParameterValue.InValidTemplateData": _(InvalidRequest),
    "InvalidParameterValue.InvalidEmailIdentity": _(InvalidRequest),
    "InvalidParameterValue.InvalidSmtpPassWord": _(InvalidRequest),
    "InvalidParameterValue.NoSuchSender": _(SenderNotFound),
    "InvalidParameterValue.NotExistDomain": _(SenderNotFound),
    "InvalidParameterValue.ReceiverDescIllegal": _(InvalidRequest),
    "InvalidParameterValue.ReceiverEmailInvalid": _(InvalidAddress),
    "InvalidParameterValue.ReceiverNameIllegal": _(InvalidRequest),
    "InvalidParameterValue.RepeatCreation": _(AlreadyExists),
    "InvalidParameterValue.RepeatEmailAddress": _(AlreadyExists),
    "InvalidParameterValue.RepeatReceiverName": _(AlreadyExists),
    "InvalidParameterValue.SubjectLengthError": _(LimitExceeded),
    "InvalidParameterValue.TemplateContentIsNULL": _(InvalidRequest),
    "InvalidParameterValue.TemplateContentIsWrong": _(InvalidRequest),
    "InvalidParameterValue.TemplateDataError": _(InvalidRequest),
    "InvalidParameterValue.TemplateDataInconsistent": _(InvalidRequest),
    "InvalidParameterValue.TemplateDataLenLimit": _(LimitExceeded),  # > 800 bytes per recipient
    "InvalidParameterValue.TemplateNameIllegal": _(InvalidRequest),
    "InvalidParameterValue.TemplateNameIsNULL": _(InvalidRequest),
    "InvalidParameterValue.TemplateNotExist": _(TemplateNotFound),
    "InvalidParameterValue.TemplateNotMatchData": _(InvalidRequest),
    "InvalidParameterValue.WrongDate": _(InvalidRequest),
    "MissingParameter.CycleParamNecessary": _(InvalidRequest),
    "MissingParameter.EmailsNecessary": _(InvalidRequest),
    "MissingParameter.ReceiverIdNecessary": _(InvalidRequest),
    "MissingParameter.SendParamNecessary": _(InvalidRequest),
    "MissingParameter.TimedParamNecessary": _(InvalidRequest),
    # --- SES: LimitExceeded.* / OperationDenied.* ------------------------------------------------
    "LimitExceeded.ExceedReceiverLimit": _(LimitExceeded),  # too many recipient groups
    "LimitExceeded.ReceiverDetailCountLimit": _(LimitExceeded),  # > 50,000 addresses in a group
    "LimitExceeded.ReceiverDetailRequestLimit": _(LimitExceeded),  # > 20,000 addresses in one call
    "OperationDenied": _(PermissionDenied, failover_eligible=False),  # unspecified: unknown sub-codes land here
    "OperationDenied.DomainNotVerified": _(SenderNotFound),
    "OperationDenied.ExceedDomainLimit": _(LimitExceeded),
    "OperationDenied.ExceedSenderLimit": _(LimitExceeded),
    "OperationDenied.NotAllowDelete": _(PermissionDenied, failover_eligible=False),
    "OperationDenied.ReceiverIsOperating": _(ResourceBusy),  # the group is still importing
    "OperationDenied.ReceiverNotExist": _(GroupNotFound),
    # "empty, or not finished importing": an empty list stays empty (send_to_group tells them apart).
    "OperationDenied.ReceiverStatusError": _(ResourceBusy, retryable=False),
    "OperationDenied.RepeatPassWord": _(InvalidRequest),
    "OperationDenied.SendAddressStatusError": _(SenderNotFound),
    "OperationDenied.SenderWithDomainIsNotEmpty": _(InvalidRequest),
    "OperationDenied.TemplateStatusError": _(TemplateNotFound),
}

#: Used for a code in no table (a newer server than this SDK): never retried, never failed over.
UNKNOWN = ErrorRule(ProviderUnavailable, retryable=False, failover_eligible=False, source="not in the table")

TABLE = ErrorTable(
    codes=ERRORS,
    parent_fallback=True,
    # SES answers errors with HTTP 200; a bare status comes from a gateway or proxy in front.
    status={429: _(RateLimited, source="HTTP 429 without Response.Error")},
    unknown=UNKNOWN,
    server_error=_(ProviderUnavailable, refused=False, source="HTTP 5xx without Response.Error"),
    client_error=_(ProviderUnavailable, retryable=False, source="HTTP 4xx without Response.Error"),
)
del _


def rule_for(code: str) -> ErrorRule:
    """The rule for a code; an unknown sub-code falls back to its parent (``A.B`` -> ``A``)."""
    return TABLE.rule_for(code)


def error_for_code(
    code: str,
    message: str,
    *,
    provider: str,
    request_id: str | None = None,
    http_status: int | None = None,
    raw: Any = None,
    maybe_sent: bool = False,
) -> MailbridgeError:
    """Build the neutral error for a Tencent error code.

    ``maybe_sent`` turns transport failures after the request left into :class:`OutcomeUnknown`.
    """
    if maybe_sent:
        return OutcomeUnknown(
            f"no usable answer from Tencent SES after sending ({message}); the request may have been applied",
            provider=provider,
            provider_code=code,
            provider_message=message,
            request_id=request_id,
            http_status=http_status,
            raw=raw,
        )
    return rule_for(code).build(
        message,
        provider=provider,
        provider_code=code,
        provider_message=message,
        request_id=request_id,
        http_status=http_status,
        raw=raw,
    )
