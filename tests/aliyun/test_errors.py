"""The error table, row by row, through the real backend (httpx.MockTransport answers each code)."""

from __future__ import annotations

import json

import httpx
import pytest
from mailbridge_aliyun import AliyunBackend
from mailbridge_aliyun._errors import ERROR_TABLE, PREFIX_TABLE, TABLE, rule_for

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

# code -> (class, retryable, failover_eligible, refused), written out independently of the table.
EXPECTED: dict[str, tuple[type[MailbridgeError], bool, bool, bool]] = {
    "InvalidApi.NotFound": (ConfigurationError, False, False, True),
    "InvalidAccessKeyId.NotFound": (AuthenticationError, False, True, True),
    "InvalidAccessKeyId.Inactive": (AuthenticationError, False, True, True),
    "InvalidTimeStamp.Format": (InvalidRequest, False, False, True),
    "InvalidTimeStamp.Expired": (AuthenticationError, False, False, True),
    "SignatureNonceUsed": (ProviderUnavailable, True, False, True),
    "InvalidParameter.Format": (InvalidRequest, False, False, True),
    "UnsupportedHTTPMethod": (InvalidRequest, False, False, True),
    "InvalidSignatureMethod": (InvalidRequest, False, False, True),
    "SignatureDoesNotMatch": (AuthenticationError, False, True, True),
    "IncompleteSignature": (AuthenticationError, False, True, True),
    "Throttling": (RateLimited, True, True, True),
    "Throttling.User": (RateLimited, True, True, True),
    "Throttling.Api": (RateLimited, True, True, True),
    "Forbidden.RAM": (PermissionDenied, False, True, True),
    "Forbidden.RiskControl": (PermissionDenied, False, True, True),
    "InvalidAction": (PermissionDenied, False, True, True),
    "ActionUnauthorized": (PermissionDenied, False, True, True),
    "InternalError": (ProviderUnavailable, True, True, False),
    "ServiceUnavailable": (ProviderUnavailable, True, True, True),
    "Forbidden": (PermissionDenied, False, True, True),
    "InvalidMailAddress.NotFound": (SenderNotFound, False, False, True),
    "InvalidMailAddressStatus.Malformed": (SenderNotFound, False, False, True),
    "InvalidMailAddressStatusMalformed": (SenderNotFound, False, False, True),
    "InvalidMailAddressDomain.Malformed": (SenderNotFound, False, False, True),
    "InvalidMailAddressDomainMalformed": (SenderNotFound, False, False, True),
    "InvalidMailAddressSendType.Malformed": (InvalidRequest, False, False, True),
    "InvalidToAddress": (InvalidAddress, False, False, True),
    "InvalidToAddress.Spam": (ContentRejected, False, False, True),
    "InvalidSendMail.Spam": (ContentRejected, False, True, True),
    "InvalidBody": (InvalidRequest, False, False, True),
    "InvalidSubject.Malformed": (InvalidRequest, False, False, True),
    "InvalidFromAlias.Malformed": (InvalidRequest, False, False, True),
    "InvalidFromALias.Malformed": (InvalidRequest, False, False, True),
    "InvalidReplyAddress.Malformed": (InvalidAddress, False, False, True),
    "InvalidReplyAddressAlias.Malformed": (InvalidRequest, False, False, True),
    "InvalidReceiverName.Malformed": (InvalidRequest, False, False, True),
    "InvalidReceiverStatus.Malformed": (ResourceBusy, False, False, True),
    "InvalidReceiver.NotFound": (GroupNotFound, False, False, True),
    "InvalidTemplateName.Malformed": (InvalidRequest, False, False, True),
    "InvalidTemplate.NotFound": (TemplateNotFound, False, False, True),
    "InvalidDate.Malformed": (InvalidRequest, False, False, True),
    "InvalidDate.NotFound": (InvalidRequest, False, False, True),
    "InvalidStartTime.Malformed": (InvalidRequest, False, False, True),
    "InvalidEndTime.Malformed": (InvalidRequest, False, False, True),
    "InvalidBetweenTime.Malformed": (LimitExceeded, False, False, True),
    "InvalidAddress.NotFound": (NotFound, False, False, True),
    "InvalidAddress.Locked": (InvalidRequest, False, False, True),
    "InvalidAddressNumber.Malformed": (InvalidRequest, False, False, True),
    "EmailFormatError": (InvalidAddress, False, False, True),
    "EmailLengthError": (InvalidAddress, False, False, True),
    "InvalidIP.NotFound": (NotFound, False, False, True),
    "InvalidDomainName.Duplicate": (AlreadyExists, False, False, True),
    "InvalidDomainNumber.Malformed": (LimitExceeded, False, False, True),
    "CheckDomain.Failed": (ProviderUnavailable, True, False, True),
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
    cls, retryable, failover, refused = EXPECTED[code]
    assert rule_for(code, 400).refused is refused
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
        ("InvalidSecurityToken.Expired", AuthenticationError),
    ],
)
def test_prefix_families(code: str, cls: type[MailbridgeError]) -> None:
    """Gateway families spelled with a parameter inside the code match by prefix."""
    assert set(PREFIX_TABLE) == {"Missing", "Throttling.", "Forbidden.", "InvalidAccessKeyId.", "InvalidSecurityToken."}
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


def test_every_decision_is_printed_and_explicit(capsys: pytest.CaptureFixture[str]) -> None:
    """Print every row (code, class, retryable, failover, refused); each must match EXPECTED exactly.

    A row nobody wrote an expectation for (a new code, a changed flag) fails here.
    """
    undecided = []
    for key, rule in TABLE.rows():
        retryable, failover = rule.flags()
        print(
            f"{key:45} {rule.cls.__name__:20} retryable={retryable!s:5} failover={failover!s:5} refused={rule.refused}"
        )
        if key in ERROR_TABLE and EXPECTED.get(key) != (rule.cls, retryable, failover, rule.refused):
            undecided.append(key)
    assert undecided == []
    printed = capsys.readouterr().out
    assert all(code in printed for code in EXPECTED)
    assert "<5xx, unknown code>" in printed and "refused=False" in printed


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (404, "InvalidAccessKeyId.NotFound", AuthenticationError),
        (400, "Throttling.User", RateLimited),
        (503, "ServiceUnavailable", ProviderUnavailable),
    ],
)
def test_xml_error_bodies_keep_their_code_at_any_status(status: int, code: str, cls: type[MailbridgeError]) -> None:
    """DM answers XML (its default Format): the code is read from <Error><Code>, whatever the status."""
    body = (
        "<?xml version='1.0' encoding='UTF-8'?><Error><RequestId>REQ-X</RequestId><HostId>dm.aliyuncs.com</HostId>"
        f"<Code>{code}</Code><Message>m</Message><Recommend><![CDATA[https://api.aliyun.com]]></Recommend></Error>"
    ).encode()
    backend = _backend(status, body, {"content-type": "text/xml;charset=utf-8"})
    with pytest.raises(MailbridgeError) as info:
        backend.list_tags()
    assert type(info.value) is cls
    assert (info.value.provider_code, info.value.request_id, info.value.http_status) == (code, "REQ-X", status)


def test_xml_success_body_is_a_success() -> None:
    """An XML answer of an action without data (DeleteReceiver) is a success, not a garbled body."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["x-acs-action"])
        body = b"<?xml version='1.0'?><DeleteReceiverResponse><RequestId>R1</RequestId></DeleteReceiverResponse>"
        return httpx.Response(200, content=body, headers={"content-type": "text/xml;charset=utf-8"})

    backend = AliyunBackend.from_url(mailbridge.ProviderURL.parse(URL), transport=httpx.MockTransport(handler))
    client = mailbridge.Client(backend, sleep=lambda _: None)
    client.delete_group(mailbridge.Group(id="7", name="g", provider="aliyun"))
    assert seen == ["DeleteReceiver"]


@pytest.mark.parametrize("status", [500, 502, 504])
def test_internal_errors_and_gateway_timeouts_are_not_refusals_for_a_send(status: int) -> None:
    """InternalError (any status) and any code at 504 may come after DM acted: a send is maybe sent."""
    message = mailbridge.Message(sender="s@example.net", to="a@example.com", subject="S", text="T")
    code = "ServiceUnavailable" if status == 504 else "InternalError"
    with pytest.raises(mailbridge.OutcomeUnknown) as info:
        _backend(status, _error_body(code)).send(message)
    assert info.value.provider_code == code and info.value.maybe_sent
    with pytest.raises(ProviderUnavailable):  # the same answer on a read: retry is safe
        _backend(status, _error_body(code)).list_tags()
