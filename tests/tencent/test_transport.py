"""Transport: TC3 signing vectors, the SDK's Content-Type trap, retries off, timeouts, resets, secrets."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import socket
from collections.abc import Iterator

import pytest
from mailbridge_tencent import TencentBackend
from mailbridge_tencent.emulator import TEST_SECRET_ID, TEST_SECRET_KEY, TencentEmulator, tc3_signature
from tencentcloud.common.retry import NoopRetryer
from tencentcloud.common.sign import Sign
from tencentcloud.ses.v20201002 import models

import mailbridge
from mailbridge import Message

from ._support import connect, emulator

# Published TC3 example (reference B.2): CVM DescribeInstances, X-TC-Timestamp 1551113065.
PAYLOAD = rb'{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}'
HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "Host": "cvm.tencentcloudapi.com",
    "X-TC-Action": "DescribeInstances",
}
VECTORS = [
    # (secret key, signed headers, hashed canonical request, signature)
    (
        "Gu5t9xGARNpq86cd98joQYCN3*******",
        ["content-type", "host"],
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
        "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c",
    ),
    (
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        ["content-type", "host"],
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031",
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
    ),
    (
        "*" * 32,
        ["content-type", "host", "x-tc-action"],
        "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84",
        "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f",
    ),
]


def test_published_payload_hash() -> None:
    """The literal payload of the published example hashes as documented."""
    assert hashlib.sha256(PAYLOAD).hexdigest() == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"


@pytest.mark.parametrize(("key", "signed", "hashed", "signature"), VECTORS)
def test_sdk_signer_matches_published_vectors(key: str, signed: list[str], hashed: str, signature: str) -> None:
    """tencentcloud.common.sign still computes the published TC3 signatures (an SDK upgrade can't break it)."""
    string_to_sign = f"TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n{hashed}"
    assert Sign.sign_tc3(key, "2019-02-25", "cvm", string_to_sign) == signature


@pytest.mark.parametrize(("key", "signed", "hashed", "signature"), VECTORS)
def test_emulator_verifier_matches_published_vectors(key: str, signed: list[str], hashed: str, signature: str) -> None:
    """The emulator's independent TC3 implementation agrees with the published vectors too."""
    computed = tc3_signature(
        key,
        method="POST",
        path="/",
        query="",
        headers=HEADERS,
        signed_headers=signed,
        payload=PAYLOAD,
        timestamp=1551113065,
        service="cvm",
    )
    assert computed == signature


_OPEN: list[TencentBackend] = []


@pytest.fixture(autouse=True)
def _close_backends() -> Iterator[None]:
    """Backends keep their keep-alive connections: close every one a test opened."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def backend_for(url: str) -> TencentBackend:
    backend = mailbridge.connect(url).backend
    assert isinstance(backend, TencentBackend)
    _OPEN.append(backend)
    return backend


def message(**changes: object) -> Message:
    fields: dict[str, object] = {
        "sender": "noreply@mail.example.com",
        "to": ["alice@example.com"],
        "subject": "Hi",
        "template_id": "1",
    }
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the SDK trap


def test_sdk_alone_misses_an_error_behind_a_charset(emu: TencentEmulator) -> None:
    """Documents the trap: the SDK's typed path returns an empty model for an error under '; charset=utf-8'."""
    emu.inject(
        "error",
        "DeleteReceiver",
        code="OperationDenied.ReceiverNotExist",
        content_type="application/json; charset=utf-8",
    )
    backend = backend_for(emu.url)
    request = models.DeleteReceiverRequest()
    request.ReceiverId = 1
    response = backend._client.DeleteReceiver(request)  # no exception: the SDK took the error for success
    assert response.RequestId  # ... and handed back a "successful" response model


def test_backend_detects_an_error_behind_a_charset(emu: TencentEmulator) -> None:
    """The backend checks Response.Error itself, whatever the Content-Type."""
    emu.inject(
        "error", "SendEmail", code="FailedOperation.ExceedSendLimit", content_type="application/json; charset=utf-8"
    )
    with connect(emu.url) as client, pytest.raises(mailbridge.QuotaExceeded) as info:
        client.send(message())
    assert info.value.provider_code == "FailedOperation.ExceedSendLimit"
    assert emu.sent_mail == []


def test_success_behind_a_charset_still_parses(emu: TencentEmulator) -> None:
    """A good answer under '; charset=utf-8' is read normally."""
    emu.inject("content_type", "CreateReceiver")
    with connect(emu.url) as client:
        assert client.create_group("charset").id.isdigit()


# --------------------------------------------------------------------------- wire basics


def test_sdk_retryer_is_off_and_language_english(emu: TencentEmulator) -> None:
    """One backend call is one HTTP request: the SDK never retries; errors come back in English."""
    backend = backend_for(emu.url)
    assert isinstance(backend._client.profile.retryer, NoopRetryer)
    assert backend._client.profile.language == "en-US"
    emu.inject("status", "ListReceivers", status=503, times=2)
    for _ in range(2):  # each call consumes exactly one fault
        with pytest.raises(mailbridge.ProviderUnavailable):
            backend.list_groups(keyword=None, cursor=None, page_size=10)
    backend.list_groups(keyword=None, cursor=None, page_size=10)
    headers = emu.requests[-1]["headers"]
    assert headers["X-TC-Language"] == "en-US"
    assert headers["X-TC-Version"] == "2020-10-02"
    assert headers["X-TC-Region"] == "ap-guangzhou"
    assert headers["Content-Type"] == "application/json"


def test_server_error_is_provider_unavailable(emu: TencentEmulator) -> None:
    """A 5xx is retryable and failover-eligible, with a bounded message."""
    emu.inject("status", "ListReceivers", status=502)
    with pytest.raises(mailbridge.ProviderUnavailable) as info:
        backend_for(emu.url).list_groups(keyword=None, cursor=None, page_size=10)
    error = info.value
    assert error.retryable and error.failover_eligible and not error.maybe_sent
    assert (error.provider_code, error.http_status) == ("ServerNetworkError", 502)
    assert error.message.startswith("HTTP 502 from Tencent SES") and len(error.message) < 300


def test_client_retries_a_server_error(emu: TencentEmulator) -> None:
    """The core (not the SDK) retries a retryable failure and then succeeds."""
    emu.inject("status", "CreateReceiver", status=503)
    with mailbridge.connect(emu.url, sleep=lambda _: None) as client:
        assert client.create_group("after-503").name == "after-503"


def test_connection_refused_is_provider_unavailable() -> None:
    """Nothing listening: ProviderUnavailable, and a send is certainly not sent."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"tencent://{TEST_SECRET_ID}:{TEST_SECRET_KEY}@ap-guangzhou?endpoint=http://127.0.0.1:{port}&timeout=2"
    backend = backend_for(url)
    with pytest.raises(mailbridge.ProviderUnavailable) as info:
        backend.send(message())
    assert not info.value.maybe_sent and info.value.retryable


@pytest.mark.parametrize("kind", ["delay", "reset", "malformed"])
def test_send_without_an_answer_is_outcome_unknown(emu: TencentEmulator, kind: str) -> None:
    """Read timeout, reset after sending, or a garbled body: the send may have happened."""
    emu.inject(kind, "SendEmail", delay=1.0)
    backend = backend_for(emu.url + "&timeout=0.3")
    with pytest.raises(mailbridge.OutcomeUnknown) as info:
        backend.send(message())
    assert info.value.maybe_sent and not info.value.retryable


@pytest.mark.parametrize("kind", ["delay", "reset", "malformed"])
def test_read_without_an_answer_is_provider_unavailable(emu: TencentEmulator, kind: str) -> None:
    """The same failures on a read are plain ProviderUnavailable (safe to retry)."""
    emu.inject(kind, "ListReceivers", delay=1.0)
    backend = backend_for(emu.url + "&timeout=0.3")
    with pytest.raises(mailbridge.ProviderUnavailable) as info:
        backend.list_groups(keyword=None, cursor=None, page_size=10)
    assert info.value.retryable and not info.value.maybe_sent


def test_client_never_retries_an_unknown_outcome(emu: TencentEmulator) -> None:
    """OutcomeUnknown reaches the caller after exactly one attempt, with the addresses not marked unsent."""
    emu.inject("malformed", "SendEmail", times=None)
    with mailbridge.connect(emu.url, sleep=lambda _: None) as client, pytest.raises(mailbridge.OutcomeUnknown) as info:
        client.send(message())
    assert emu.faults_served == 1  # one attempt, although RateLimited etc. would have been retried
    assert info.value.not_sent == ()


# --------------------------------------------------------------------------- authentication & rate


def test_wrong_key_fails_the_signature(emu: TencentEmulator) -> None:
    url = emu.url.replace(TEST_SECRET_KEY, "wrong-key")
    with pytest.raises(mailbridge.AuthenticationError) as info:
        backend_for(url).list_groups(keyword=None, cursor=None, page_size=10)
    assert info.value.provider_code == "AuthFailure.SignatureFailure"
    assert info.value.failover_eligible


def test_unknown_secret_id(emu: TencentEmulator) -> None:
    url = emu.url.replace(TEST_SECRET_ID, "AKIDsomeoneelse")
    with pytest.raises(mailbridge.AuthenticationError) as info:
        backend_for(url).list_groups(keyword=None, cursor=None, page_size=10)
    assert info.value.provider_code == "AuthFailure.SecretIdNotFound"


def test_clock_skew_expires_the_signature() -> None:
    import time

    with emulator(clock=lambda: time.time() + 600) as server, pytest.raises(mailbridge.AuthenticationError) as info:
        backend_for(server.url).list_groups(keyword=None, cursor=None, page_size=10)
    assert info.value.provider_code == "AuthFailure.SignatureExpire"


def test_emulator_rate_limit_is_rate_limited() -> None:
    """Past the configured calls per second the emulator answers RequestLimitExceeded."""
    with emulator(rate=2) as server:
        backend = backend_for(server.url)
        backend.list_groups(keyword=None, cursor=None, page_size=10)
        backend.list_groups(keyword=None, cursor=None, page_size=10)
        with pytest.raises(mailbridge.RateLimited) as info:
            backend.list_groups(keyword=None, cursor=None, page_size=10)
    assert info.value.provider_code == "RequestLimitExceeded"


# --------------------------------------------------------------------------- secrets


def test_no_secret_in_reprs_errors_or_logs(emu: TencentEmulator, caplog: pytest.LogCaptureFixture) -> None:
    """Neither the SecretKey nor the full SecretId shows in any repr, error or log line."""
    caplog.set_level(logging.DEBUG)
    emu.inject("error", "SendEmail", code="AuthFailure.SignatureFailure")
    with connect(emu.url) as client:
        texts = [repr(client), str(client.backend), client.backend.describe(), repr(client.backend)]
        client.create_group("secrets")
        with pytest.raises(mailbridge.AuthenticationError) as info:
            client.send(message())
        texts += [str(info.value), repr(info.value), str(info.value.context()), str(info.value.raw)]
        bad = mailbridge.connect(emu.url.replace(TEST_SECRET_KEY, "other-secret-key"))
        with bad, pytest.raises(mailbridge.AuthenticationError) as info2:
            bad.backend.list_groups(keyword=None, cursor=None, page_size=10)
        texts += [str(info2.value), repr(info2.value), repr(bad)]
    texts.append(caplog.text)
    assert client.backend.describe() == f"tencent://AKID***@ap-guangzhou?endpoint={emu.endpoint}"
    assert any("SendRequest" in r.getMessage() for r in caplog.records), "the SDK debug log was not captured"
    for text in texts:
        assert TEST_SECRET_KEY not in text
        assert "other-secret-key" not in text
        assert TEST_SECRET_ID not in text
    assert "Authorization: ***" in caplog.text


def test_delivery_window_uses_beijing_days() -> None:
    """GetSendEmailStatus takes one Beijing-time day: a UTC day spans two of them."""
    client = mailbridge.connect(f"tencent://{TEST_SECRET_ID}:{TEST_SECRET_KEY}@ap-guangzhou")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    windows = client.delivery_windows(start, start + dt.timedelta(days=1))
    assert [w[0].isoformat() for w in windows] == ["2026-01-01T00:00:00+00:00", "2026-01-01T16:00:00+00:00"]


@pytest.mark.parametrize(
    "body",
    ['{"Result": 1}', "[1, 2]", '{"Response": "nope"}', '{"Response": {"RequestId": "r1"}}', "<html>oops</html>"],
)
def test_unexpected_bodies_never_pass_as_success(emu: TencentEmulator, body: str) -> None:
    """JSON of the wrong shape, or a success without its MessageId, is an unknown outcome for a send."""
    emu.inject("malformed", "SendEmail", body=body)
    with pytest.raises(mailbridge.OutcomeUnknown):
        backend_for(emu.url).send(message())


@pytest.mark.parametrize("body", ['{"Result": 1}', '{"Response": {"RequestId": "r1"}}'])
def test_unexpected_bodies_on_create_group(emu: TencentEmulator, body: str) -> None:
    emu.inject("malformed", "CreateReceiver", body=body)
    with pytest.raises(mailbridge.OutcomeUnknown):
        backend_for(emu.url).create_group("x")


def test_unexpected_body_on_a_read_is_provider_unavailable(emu: TencentEmulator) -> None:
    emu.inject("malformed", "ListReceivers", body='{"Result": 1}')
    with pytest.raises(mailbridge.ProviderUnavailable):
        backend_for(emu.url).list_groups(keyword=None, cursor=None, page_size=10)
