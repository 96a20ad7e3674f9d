"""The neutral error hierarchy and its flags."""

from __future__ import annotations

import pytest

import mailbridge as mb


@pytest.mark.parametrize(
    ("cls", "retryable", "failover"),
    [
        (mb.ConfigurationError, False, False),
        (mb.ProviderNotInstalled, False, False),
        (mb.UnsupportedFeature, False, False),
        (mb.InvalidRequest, False, False),
        (mb.InvalidAddress, False, False),
        (mb.LimitExceeded, False, False),
        (mb.GroupNotFound, False, False),
        (mb.TemplateNotFound, False, False),
        (mb.SenderNotFound, False, False),
        (mb.AlreadyExists, False, False),
        (mb.AuthenticationError, False, True),
        (mb.PermissionDenied, False, True),
        (mb.RateLimited, True, True),
        (mb.QuotaExceeded, False, True),
        (mb.ContentRejected, False, False),
        (mb.ResourceBusy, True, False),
        (mb.ProviderUnavailable, True, True),
        (mb.OutcomeUnknown, False, False),
    ],
)
def test_flags(cls: type[mb.MailbridgeError], retryable: bool, failover: bool) -> None:
    """Each class's default flags are deliberate; only OutcomeUnknown is maybe-sent."""
    err = cls("x")
    assert isinstance(err, mb.MailbridgeError)
    assert (err.retryable, err.failover_eligible) == (retryable, failover)
    assert err.maybe_sent is (cls is mb.OutcomeUnknown)


def test_builtin_bases_keep_existing_except_blocks_working() -> None:
    assert issubclass(mb.InvalidAddress, ValueError)
    assert issubclass(mb.UnsupportedFeature, ValueError)
    assert issubclass(mb.GroupNotFound, LookupError)


def test_configuration_errors_are_apart() -> None:
    """Nothing that catches provider trouble catches a configuration error."""
    provider_trouble = (mb.ProviderUnavailable, mb.RateLimited, mb.AuthenticationError, mb.InvalidRequest)
    assert not issubclass(mb.ConfigurationError, provider_trouble)


def test_context_and_message() -> None:
    from mailbridge_aliyun import AliyunBackend  # the backend raising it is loaded: its secret_fields are known

    assert {"AccessKeyId", "Signature"} <= AliyunBackend.secret_fields
    err = mb.RateLimited(
        "too many requests",
        provider="aliyun",
        operation="send",
        provider_code="Throttling.User",
        request_id="R1",
        http_status=400,
        retry_after=2.0,
        raw={"Code": "Throttling.User", "AccessKeyId": "LTAI-secret-id", "nested": [{"Signature": "abc"}]},
    )
    assert str(err) == "aliyun send (Throttling.User, HTTP 400, request R1): too many requests"
    assert err.retry_after == 2.0
    assert err.raw == {"Code": "Throttling.User", "AccessKeyId": "***", "nested": [{"Signature": "***"}]}
    assert err.context()["error"] == "RateLimited"
    overridden = mb.InvalidRequest("busy", retryable=True)
    assert overridden.retryable and not mb.InvalidRequest("x").retryable
