"""The aliyun:// URL, credentials from the environment, regions, and secrets that never show."""

from __future__ import annotations

import logging

import httpx
import pytest
from mailbridge_aliyun import AliyunBackend, AliyunConfig
from mailbridge_aliyun._config import ENDPOINTS

import mailbridge
from mailbridge import ConfigurationError, ProviderURL

KEY, SECRET = "LTAI5tMailbridgeTestKeyId", "mailbridge-test-secret-aliyun"


def config(url: str) -> AliyunConfig:
    return AliyunConfig.from_url(ProviderURL.parse(url))


def test_full_url() -> None:
    c = config(f"aliyun://{KEY}:{SECRET}@ap-southeast-1?endpoint=http://127.0.0.1:9999/&signature=V2&timeout=2.5")
    assert (c.access_key_id, c.secret.reveal(), c.region) == (KEY, SECRET, "ap-southeast-1")
    assert (c.endpoint, c.signature, c.timeout) == ("http://127.0.0.1:9999", "v2", 2.5)


@pytest.mark.parametrize("region", sorted(ENDPOINTS))
def test_region_endpoints(region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each documented region has its endpoint (reference A.2), and V3 is the default."""
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    c = config(f"aliyun://?region={region}")
    assert c.endpoint == ENDPOINTS[region] and c.signature == "v3" and c.timeout == 30.0
    assert c.endpoint == ("https://dm.aliyuncs.com" if region == "cn-hangzhou" else f"https://dm.{region}.aliyuncs.com")


def test_credentials_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    c = config("aliyun://?region=cn-hangzhou")
    assert (c.access_key_id, c.secret.reveal()) == (KEY, SECRET)


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(ConfigurationError) as info:
        mailbridge.connect("aliyun://?region=cn-hangzhou")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in str(info.value) and "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        f"aliyun://{KEY}:{SECRET}@mars-north-1",
        f"aliyun://{KEY}:{SECRET}@cn-hangzhou?signature=v4",
        f"aliyun://{KEY}:{SECRET}@cn-hangzhou?timeout=0",
        f"aliyun://{KEY}:{SECRET}@cn-hangzhou?timeout=soon",
        f"aliyun://{KEY}:{SECRET}@cn-hangzhou?endpoint=ftp://x",
        f"aliyun://{KEY}:{SECRET}@cn-hangzhou?sign=v2",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        mailbridge.connect(url)
    assert SECRET not in str(info.value)


def test_found_through_the_entry_point() -> None:
    assert mailbridge.available_providers()["aliyun"] is AliyunBackend


def test_transport_has_explicit_timeouts_and_tls() -> None:
    backend = AliyunBackend(config(f"aliyun://{KEY}:{SECRET}@cn-hangzhou?timeout=7"))
    timeout = backend.api.client.timeout
    assert (timeout.read, timeout.connect) == (7.0, 7.0)
    assert backend.api.client.headers["user-agent"].startswith("mailbridge/")
    backend.close()


def test_secret_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    """Not in describe(), reprs, the client, errors or logs."""
    caplog.set_level(logging.DEBUG)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    url = f"aliyun://{KEY}:{SECRET}@cn-hangzhou"
    backend = AliyunBackend.from_url(ProviderURL.parse(url), transport=httpx.MockTransport(refuse))
    client = mailbridge.Client(backend, retry=mailbridge.RetryPolicy(attempts=1))
    assert backend.describe() == "aliyun://LTAI***@cn-hangzhou"
    with pytest.raises(mailbridge.ProviderUnavailable) as info:
        client.account()
    texts = [
        backend.describe(),
        repr(backend),
        repr(backend.config),
        repr(backend.api),
        repr(client),
        str(ProviderURL.parse(url)),
        repr(ProviderURL.parse(url)),
        str(info.value),
        repr(info.value),
        str(info.value.context()),
        caplog.text,
        backend.rate_limit_key,
    ]
    for text in texts:
        assert SECRET not in text and KEY not in text, text


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_secret_not_in_logs_on_the_wire(signature: str, caplog: pytest.LogCaptureFixture) -> None:
    """httpx's own request log never sees the secret (V2 shows the key id and signature in the URL, as the SDK does)."""
    from mailbridge_aliyun.emulator import AliyunEmulator

    from .record import scenario_client

    caplog.set_level(logging.DEBUG)
    with AliyunEmulator() as emu, scenario_client(emu.url_with(signature=signature)) as client:
        client.account()
        wrong = emu.url_with(signature=signature).replace(SECRET, "wrong")
        with pytest.raises(mailbridge.AuthenticationError) as info, scenario_client(wrong) as bad:
            bad.account()
    assert "httpx" in caplog.text
    assert SECRET not in caplog.text
    assert SECRET not in str(info.value) + repr(info.value) + str(info.value.raw)
    if signature == "v3":
        assert KEY not in caplog.text and KEY not in str(info.value.raw)
