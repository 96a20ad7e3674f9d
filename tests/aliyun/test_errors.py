"""The error table, row by row, through the real backend (httpx.MockTransport answers each code)."""

from __future__ import annotations

import json

import httpx
import pytest
from mailbridge_aliyun import AliyunBackend
from mailbridge_aliyun._errors import ERROR_TABLE, PREFIX_TABLE

import mailbridge
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

URL = "aliyun://LTAI5tMailbridgeTestKeyId:mailbridge-test-secret-aliyun@cn-hangzhou"

# code -> (class, retryable, failover_eligible), written out independently of the table.
EXPECTED: dict[str, tuple[type[MailbridgeError], bool, bool]] = {
    "InvalidApi.NotFound": (ConfigurationError, False, False),
    "InvalidAccessKeyId.NotFound": (AuthenticationError, False, True),
    "InvalidAccessKeyId.Inactive": (AuthenticationError, False, True),
    "InvalidTimeStamp.Format": (InvalidRequest, False, False),
    "InvalidTimeStamp.Expired": (AuthenticationError, False, False),
    "SignatureNonceUsed": (ProviderUnavailable, True, False),
    "InvalidParameter.Format": (InvalidRequest, False, False),
    "UnsupportedHTTPMethod": (InvalidRequest, False, False),
    "InvalidSignatureMethod": (InvalidRequest, False, False),
    "SignatureDoesNotMatch": (AuthenticationError, False, True),
    "IncompleteSignature": (AuthenticationError, False, True),
    "Throttling": (RateLimited, True, True),
    "Throttling.User": (RateLimited, True, True),
    "Throttling.Api": (RateLimited, True, True),
    "Forbidden.RAM": (PermissionDenied, False, True),
    "Forbidden.RiskControl": (PermissionDenied, False, True),
    "InvalidAction": (PermissionDenied, False, True),
    "ActionUnauthorized": (PermissionDenied, False, True),
    "InternalError": (ProviderUnavailable, True, True),
    "ServiceUnavailable": (ProviderUnavailable, True, True),
    "Forbidden": (PermissionDenied, False, True),
    "InvalidMailAddress.NotFound": (SenderNotFound, False, False),
    "InvalidMailAddressStatus.Malformed": (SenderNotFound, False, False),
    "InvalidMailAddressStatusMalformed": (SenderNotFound, False, False),
    "InvalidMailAddressDomain.Malformed": (SenderNotFound, False, False),
    "InvalidMailAddressDomainMalformed": (SenderNotFound, False, False),
    "InvalidMailAddressSendType.Malformed": (InvalidRequest, False, False),
    "InvalidToAddress": (InvalidAddress, False, False),
    "InvalidToAddress.Spam": (ContentRejected, False, False),
    "InvalidSendMail.Spam": (ContentRejected, False, True),
    "InvalidBody": (InvalidRequest, False, False),
    "InvalidSubject.Malformed": (InvalidRequest, False, False),
    "InvalidFromAlias.Malformed": (InvalidRequest, False, False),
    "InvalidFromALias.Malformed": (InvalidRequest, False, False),
    "InvalidReplyAddress.Malformed": (InvalidAddress, False, False),
    "InvalidReplyAddressAlias.Malformed": (InvalidRequest, False, False),
    "InvalidReceiverName.Malformed": (InvalidRequest, False, False),
    "InvalidReceiverStatus.Malformed": (ResourceBusy, True, False),
    "InvalidReceiver.NotFound": (GroupNotFound, False, False),
    "InvalidTemplateName.Malformed": (InvalidRequest, False, False),
    "InvalidTemplate.NotFound": (TemplateNotFound, False, False),
    "InvalidDate.Malformed": (InvalidRequest, False, False),
    "InvalidDate.NotFound": (InvalidRequest, False, False),
    "InvalidStartTime.Malformed": (InvalidRequest, False, False),
    "InvalidEndTime.Malformed": (InvalidRequest, False, False),
    "InvalidBetweenTime.Malformed": (LimitExceeded, False, False),
    "InvalidAddress.NotFound": (NotFound, False, False),
    "InvalidAddress.Locked": (InvalidRequest, False, False),
    "InvalidAddressNumber.Malformed": (InvalidRequest, False, False),
    "EmailFormatError": (InvalidAddress, False, False),
    "EmailLengthError": (InvalidAddress, False, False),
    "InvalidIP.NotFound": (NotFound, False, False),
    "InvalidDomainName.Duplicate": (AlreadyExists, False, False),
    "InvalidDomainNumber.Malformed": (LimitExceeded, False, False),
    "CheckDomain.Failed": (ProviderUnavailable, True, False),
}

# Every code named in issue 3, the seeds and reference A.5 (prefix families checked below).
REQUIRED_CODES = set(EXPECTED)


def _backend(status: int, body: bytes, headers: dict[str, str] | None = None) -> AliyunBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers or {"content-type": "application/json"})

    return AliyunBackend.from_url(mailbridge.ProviderURL.parse(URL), transport=httpx.MockTransport(handler))


def _error_body(code: str) -> bytes:
    return json.dumps({"Code": code, "Message": f"message for {code}", "RequestId": "REQ-1", "HostId": "dm"}).encode()


def test_table_covers_every_code_and_nothing_else() -> None:
    """The table and the expectations list the same codes."""
    assert set(ERROR_TABLE) == REQUIRED_CODES


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_code_maps_to_one_neutral_class(code: str) -> None:
    """Each code becomes exactly its class, with deliberate flags and the context attached."""
    cls, retryable, failover = EXPECTED[code]
    status = 503 if cls is ProviderUnavailable else 404 if code.endswith("NotFound") else 400
    backend = _backend(status, _error_body(code))
    with pytest.raises(MailbridgeError) as info:
        backend.account_summary()
    exc = info.value
    assert type(exc) is cls
    assert (exc.retryable, exc.failover_eligible, exc.maybe_sent) == (retryable, failover, False)
    assert (exc.provider, exc.provider_code, exc.request_id, exc.http_status) == ("aliyun", code, "REQ-1", status)
    assert exc.operation == "account"
    assert exc.provider_message == f"message for {code}"


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("MissingReceiverId", InvalidRequest),
        ("Throttling.Tenant", RateLimited),
        ("Forbidden.AccessKeyDisabled", PermissionDenied),
        ("InvalidAccessKeyId.Expired", AuthenticationError),
    ],
)
def test_prefix_families(code: str, cls: type[MailbridgeError]) -> None:
    """Gateway families spelled with a parameter inside the code match by prefix."""
    assert set(PREFIX_TABLE) == {"Missing", "Throttling.", "Forbidden.", "InvalidAccessKeyId."}
    with pytest.raises(cls):
        _backend(400, _error_body(code)).account_summary()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequest),
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (409, AlreadyExists),
        (429, RateLimited),
        (418, InvalidRequest),
        (500, ProviderUnavailable),
        (502, ProviderUnavailable),
        (503, ProviderUnavailable),
    ],
)
def test_unknown_codes_fall_back_on_http_status(status: int, cls: type[MailbridgeError]) -> None:
    """A code nobody documented is classified by its HTTP status."""
    with pytest.raises(MailbridgeError) as info:
        _backend(status, _error_body("Something.Undocumented")).list_tags()
    assert type(info.value) is cls


def test_throttling_carries_retry_after() -> None:
    """x-acs-retry-after (what the SDK reads) becomes RateLimited.retry_after."""
    backend = _backend(
        400, _error_body("Throttling.User"), {"content-type": "application/json", "x-acs-retry-after": "3"}
    )
    with pytest.raises(RateLimited) as info:
        backend.list_tags()
    assert info.value.retry_after == 3.0


def test_signature_mismatch_hides_the_string_to_sign() -> None:
    """The server's string to sign (which names the AccessKeyId) is cut from message and raw."""
    body = json.dumps(
        {
            "Code": "SignatureDoesNotMatch",
            "Message": "Specified signature is not matched with our calculation. server string to sign is:"
            "POST&%2F&AccessKeyId%3DLTAI5tMailbridgeTestKeyId%26Action",
            "RequestId": "R",
        }
    ).encode()
    with pytest.raises(AuthenticationError) as info:
        _backend(400, body).list_tags()
    text = str(info.value) + repr(info.value) + json.dumps(info.value.raw) + json.dumps(info.value.context())
    assert "LTAI5tMailbridgeTestKeyId" not in text
    assert "string to sign is: <redacted>" in text


# The codes the domain, sender-address and template actions document (seed 003 sections 2-3, the
# current CreateDomain page, the DM error-code page, reference A.5): each has its row.
SETUP_CODES = {
    "InvalidDomainName.Duplicate": AlreadyExists,
    "InvalidDomainNumber.Malformed": LimitExceeded,
    "CheckDomain.Failed": ProviderUnavailable,
    "InvalidMailAddressSendType.Malformed": InvalidRequest,
    "InvalidMailAddressDomainMalformed": SenderNotFound,
    "InvalidMailAddressDomain.Malformed": SenderNotFound,
    "InvalidMailAddressStatusMalformed": SenderNotFound,
    "InvalidMailAddressStatus.Malformed": SenderNotFound,
    "InvalidMailAddress.NotFound": SenderNotFound,
    "InvalidReplyAddress.Malformed": InvalidAddress,
    "InvalidTemplateName.Malformed": InvalidRequest,
    "InvalidTemplate.NotFound": TemplateNotFound,
    "EmailFormatError": InvalidAddress,
}


@pytest.mark.parametrize("code", sorted(SETUP_CODES))
def test_setup_action_codes_have_one_row_each(code: str) -> None:
    assert ERROR_TABLE[code].cls is SETUP_CODES[code]
    with pytest.raises(SETUP_CODES[code]) as info:
        _backend(400, _error_body(code)).list_domains()
    assert type(info.value) is SETUP_CODES[code] and info.value.operation == "domains"
