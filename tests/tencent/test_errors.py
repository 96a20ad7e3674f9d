"""The error table: complete against the SDK, deliberate flags, and each mapping end to end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailbridge_tencent._errors import ERRORS, TABLE, UNKNOWN, ErrorRule, error_for_code, rule_for
from mailbridge_tencent.emulator import TencentEmulator
from tencentcloud.ses.v20201002 import errorcodes

import mailbridge

from ._support import connect, emulator

SDK_CODES = sorted({v for k, v in vars(errorcodes).items() if k.isupper() and isinstance(v, str)})

# Reference B.4 "Common" (cloud.tencent.com/document/api/1288/51060) plus the SDK's client-side codes.
COMMON_CODES = [
    "ActionOffline",
    "AuthFailure.InvalidAuthorization",
    "AuthFailure.InvalidSecretId",
    "AuthFailure.MFAFailure",
    "AuthFailure.SecretIdNotFound",
    "AuthFailure.SignatureExpire",
    "AuthFailure.SignatureFailure",
    "AuthFailure.TokenFailure",
    "AuthFailure.UnauthorizedOperation",
    "DryRunOperation",
    "FailedOperation",
    "InternalError",
    "InvalidAction",
    "InvalidParameter",
    "InvalidParameterValue",
    "InvalidRequest",
    "IpInBlacklist",
    "IpNotInWhitelist",
    "LimitExceeded",
    "MissingParameter",
    "NoSuchProduct",
    "NoSuchVersion",
    "RequestLimitExceeded",
    "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
    "RequestLimitExceeded.IPLimitExceeded",
    "RequestLimitExceeded.UinLimitExceeded",
    "RequestSizeLimitExceeded",
    "ResourceInUse",
    "ResourceInsufficient",
    "ResourceNotFound",
    "ResourceUnavailable",
    "ResponseSizeLimitExceeded",
    "ServiceUnavailable",
    "UnauthorizedOperation",
    "UnknownParameter",
    "UnsupportedOperation",
    "UnsupportedProtocol",
    "UnsupportedRegion",
    "ClientNetworkError",
    "ServerNetworkError",
]


def test_sdk_errorcodes_are_all_mapped_explicitly() -> None:
    """An SDK upgrade that adds an error code fails here until the code is in the table."""
    assert len(SDK_CODES) >= 100
    missing = [c for c in SDK_CODES if c not in ERRORS]
    assert missing == []


def test_common_codes_are_all_mapped_explicitly() -> None:
    """Every common Tencent Cloud code from the reference is in the table."""
    assert [c for c in COMMON_CODES if c not in ERRORS] == []


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_table_entry_builds_its_error(code: str) -> None:
    """Each rule builds exactly its class, with both flags set to a definite bool."""
    rule = ERRORS[code]
    assert isinstance(rule, ErrorRule)
    error = error_for_code(code, "boom", provider="tencent", request_id="rid-1")
    assert type(error) is rule.cls
    assert (error.retryable, error.failover_eligible) == rule.flags()
    assert isinstance(error.retryable, bool) and isinstance(error.failover_eligible, bool)
    assert (error.provider_code, error.request_id, error.maybe_sent) == (code, "rid-1", False)


@pytest.mark.parametrize(
    ("code", "cls", "retryable", "failover"),
    [
        ("OperationDenied.ReceiverIsOperating", mailbridge.ResourceBusy, True, False),
        ("OperationDenied.ReceiverNotExist", mailbridge.GroupNotFound, False, False),
        ("RequestLimitExceeded", mailbridge.RateLimited, True, True),
        ("FailedOperation.FrequencyLimit", mailbridge.RateLimited, True, False),
        ("FailedOperation.TemporaryBlocked", mailbridge.RateLimited, True, True),
        ("AuthFailure.SignatureFailure", mailbridge.AuthenticationError, False, True),
        ("AuthFailure.UnauthorizedOperation", mailbridge.PermissionDenied, False, True),
        ("InternalError", mailbridge.ProviderUnavailable, True, True),
        ("FailedOperation.ServiceNotAvailable", mailbridge.ProviderUnavailable, True, True),
        ("FailedOperation", mailbridge.ProviderUnavailable, False, False),
        ("FailedOperation.SomethingNew", mailbridge.ProviderUnavailable, False, False),
        ("FailedOperation.WithOutPermission", mailbridge.PermissionDenied, False, False),
        ("FailedOperation.NoAttachPermission", mailbridge.PermissionDenied, False, False),
        ("OperationDenied.ReceiverStatusError", mailbridge.ResourceBusy, False, False),
        ("OperationDenied.SomethingNew", mailbridge.PermissionDenied, False, False),
        ("AuthFailure.SomethingNew", mailbridge.AuthenticationError, False, True),
        ("ActionOffline", mailbridge.ProviderUnavailable, False, True),
        ("FailedOperation.ExceedSendLimit", mailbridge.QuotaExceeded, False, True),
        ("FailedOperation.EmailAddrInBlacklist", mailbridge.ContentRejected, False, False),
        ("InvalidParameterValue.TemplateDataLenLimit", mailbridge.LimitExceeded, False, False),
        ("LimitExceeded.ReceiverDetailCountLimit", mailbridge.LimitExceeded, False, False),
        ("InvalidParameterValue.RepeatReceiverName", mailbridge.AlreadyExists, False, False),
        ("FailedOperation.InvalidTemplateID", mailbridge.TemplateNotFound, False, False),
        ("UnsupportedRegion", mailbridge.ConfigurationError, False, False),
    ],
)
def test_deliberate_decisions(
    code: str, cls: type[mailbridge.MailbridgeError], retryable: bool, failover: bool
) -> None:
    """The codes whose handling matters most map as decided."""
    error = error_for_code(code, "x", provider="tencent")
    assert (type(error), error.retryable, error.failover_eligible) == (cls, retryable, failover)


def test_temporary_block_says_how_long_to_wait() -> None:
    """FailedOperation.TemporaryBlocked pauses the recipient's ESP for 10 minutes."""
    error = error_for_code("FailedOperation.TemporaryBlocked", "x", provider="tencent")
    assert isinstance(error, mailbridge.RateLimited)
    assert error.retry_after == 600.0


def test_unknown_sub_code_falls_back_to_its_parent() -> None:
    """A newer server's sub-code maps like its family; a wholly unknown code is never retried."""
    assert rule_for("InvalidParameterValue.SomethingNew").cls is mailbridge.InvalidRequest
    assert rule_for("RequestLimitExceeded.Whatever").cls is mailbridge.RateLimited
    assert rule_for("TotallyNew") is UNKNOWN
    assert error_for_code("TotallyNew", "x", provider="tencent").retryable is False


def test_every_decision_is_printed_and_explicit(capsys: pytest.CaptureFixture[str]) -> None:
    """Print every row (code, class, retryable, failover, refused); every code the SDK or the
    common-code page names must have its own row, not a parent's or the unknown fallback."""
    for key, rule in TABLE.rows():
        retryable, failover = rule.flags()
        print(
            f"{key:55} {rule.cls.__name__:20} retryable={retryable!s:5} failover={failover!s:5} refused={rule.refused}"
        )
    printed = capsys.readouterr().out
    undecided = [c for c in [*SDK_CODES, *COMMON_CODES] if c not in TABLE.codes or c not in printed]
    assert undecided == []
    # Only codes that can come mid-operation are not refusals.
    not_refusals = {code for code, rule in TABLE.codes.items() if not rule.refused}
    assert not_refusals == {
        "InternalError",
        "InternalError.QueryDataBaseFailed",
        "ClientNetworkError",
        "ServerNetworkError",
    }


def test_per_message_refusals_harm_no_provider() -> None:
    """No code that is about one message (its content, recipients, template, attachments) fails over."""
    per_message = (
        mailbridge.InvalidRequest,
        mailbridge.ContentRejected,
        mailbridge.NotFound,
        mailbridge.AlreadyExists,
        mailbridge.UnsupportedFeature,
    )
    offenders = [c for c, r in TABLE.codes.items() if issubclass(r.cls, per_message) and r.flags()[1]]
    assert offenders == []
    for code in ("FailedOperation", "FailedOperation.WithOutPermission", "FailedOperation.NoAttachPermission"):
        assert TABLE.rule_for(code).flags() == (False, False), code


def test_maybe_sent_becomes_outcome_unknown() -> None:
    """A transport failure after the request left is OutcomeUnknown, whatever the code."""
    error = error_for_code("ClientNetworkError", "read timed out", provider="tencent", maybe_sent=True)
    assert isinstance(error, mailbridge.OutcomeUnknown)
    assert error.maybe_sent and not error.retryable


@pytest.fixture(scope="module")
def emu() -> Iterator[TencentEmulator]:
    with emulator() as server:
        yield server


#: Raised by the SDK itself, never sent by a server (tested in test_transport.py).
CLIENT_SIDE = {"ClientNetworkError", "ServerNetworkError", "ClientError", "ClientParamsError", "InvalidCredential"}


@pytest.mark.parametrize("code", sorted(set(ERRORS) - CLIENT_SIDE))
def test_each_code_from_the_wire(emu: TencentEmulator, code: str) -> None:
    """Each code, answered by the emulator in the real wire format, raises its mapped class."""
    emu.clear_faults()
    emu.inject("error", "ListReceivers", code=code, message=f"{code} happened", times=None)
    try:
        with connect(emu.url) as client, pytest.raises(ERRORS[code].cls) as info:
            client.backend.list_groups(keyword=None, cursor=None, page_size=10)
    finally:
        emu.clear_faults()
    error = info.value
    assert type(error) is ERRORS[code].cls
    assert error.provider_code == code
    assert error.provider_message == f"{code} happened"
    assert error.request_id
    assert error.raw["Response"]["Error"]["Code"] == code
