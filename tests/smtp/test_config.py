"""The smtp:// URL: relays, presets (hosts, ports, TLS from reference part 2 section 8), credentials, masking."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from mailbridge_smtp import AliyunSmtpBackend, SmtpBackend, SmtpConfig, TencentSmtpBackend

import mailbridge
from mailbridge import ConfigurationError, Feature, ProviderURL

PASSWORD = "s3cret-Passw0rd"


SEND_ONLY_ABSENT = (
    Feature.BATCH_SEND, Feature.TEMPLATES, Feature.TEMPLATE_SEND, Feature.DOMAINS, Feature.SENDERS,
    Feature.REMOVE_RECIPIENTS, Feature.STATISTICS, Feature.ACCOUNT_SUMMARY, Feature.TAG_MANAGEMENT,
)  # fmt: skip


def config(url: str) -> SmtpConfig:
    return SmtpConfig.from_url(ProviderURL.parse(url))


def test_registered_only_as_an_entry_point() -> None:
    assert mailbridge.available_providers()["smtp"] is SmtpBackend
    assert SmtpBackend.name == "smtp"


@pytest.mark.parametrize(
    ("url", "host", "port", "tls"),
    [
        (f"smtp://u:{PASSWORD}@relay.example.com", "relay.example.com", 587, "starttls"),
        (f"smtp://u:{PASSWORD}@relay.example.com:465", "relay.example.com", 465, "ssl"),
        (f"smtp://u:{PASSWORD}@relay.example.com:2525", "relay.example.com", 2525, "starttls"),
        (f"smtp://u:{PASSWORD}@relay.example.com?tls=ssl", "relay.example.com", 465, "ssl"),
        (f"smtp://u:{PASSWORD}@relay.example.com:25?tls=starttls", "relay.example.com", 25, "starttls"),
        ("smtp://127.0.0.1:2525?tls=none", "127.0.0.1", 2525, "none"),
        ("smtp://localhost?tls=none", "localhost", 25, "none"),
        # Direct Mail (8.1): 465 implicit SSL by default, 25/80 STARTTLS.
        (f"smtp://a%40b.example:{PASSWORD}@?preset=aliyun", "smtpdm.aliyun.com", 465, "ssl"),
        (f"smtp://a@b.example:{PASSWORD}@?preset=aliyun&region=us-east-1", "smtpdm-us-east-1.aliyuncs.com", 465, "ssl"),
        (f"smtp://a@b.example:{PASSWORD}@?preset=aliyun&region=eu-central-1", "smtpdm-eu-central-1.aliyuncs.com", 465,
         "ssl"),
        (f"smtp://a@b.example:{PASSWORD}@?preset=aliyun&region=ap-southeast-1", "smtpdm-ap-southeast-1.aliyuncs.com",
         465, "ssl"),
        (f"smtp://a@b.example:{PASSWORD}@:80?preset=aliyun", "smtpdm.aliyun.com", 80, "starttls"),
        (f"smtp://a@b.example:{PASSWORD}@?preset=aliyun&tls=starttls", "smtpdm.aliyun.com", 25, "starttls"),
        # Tencent SES (8.2): 465 SSL; Guangzhou, Hong Kong, Singapore.
        (f"smtp://a@b.example:{PASSWORD}@?preset=tencent", "gz-smtp.qcloudmail.com", 465, "ssl"),
        (f"smtp://a@b.example:{PASSWORD}@?preset=tencent&region=ap-hongkong", "smtp.qcloudmail.com", 465, "ssl"),
        (f"smtp://a@b.example:{PASSWORD}@?preset=tencent&region=ap-singapore", "sg-smtp.qcloudmail.com", 465, "ssl"),
        # A host with a preset replaces the preset's (a test relay with the cloud's rules).
        (f"smtp://a@b.example:{PASSWORD}@127.0.0.1:1465?preset=tencent", "127.0.0.1", 1465, "ssl"),
    ],
)  # fmt: skip
def test_hosts_ports_and_tls(url: str, host: str, port: int, tls: str) -> None:
    parsed = config(url)
    assert (parsed.host, parsed.port, parsed.tls) == (host, port, tls)


def test_login_is_the_address_either_spelling() -> None:
    assert config(f"smtp://noreply%40mail.example.com:{PASSWORD}@relay.example.com").username == (
        "noreply@mail.example.com"
    )
    parsed = config(f"smtp://noreply@mail.example.com:{PASSWORD}@relay.example.com")
    assert parsed.username == "noreply@mail.example.com"
    assert parsed.password is not None and parsed.password.reveal() == PASSWORD


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBRIDGE_SMTP_USERNAME", "noreply@mail.example.com")
    monkeypatch.setenv("MAILBRIDGE_SMTP_PASSWORD", PASSWORD)
    parsed = config("smtp://?preset=aliyun&region=cn-hangzhou")
    assert parsed.username == "noreply@mail.example.com"
    assert parsed.password is not None and parsed.password.reveal() == PASSWORD


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("smtp://u:p@relay.example.com?tls=none", "not loopback"),
        ("smtp://u:p@relay.example.com?tls=maybe", "tls='maybe'"),
        ("smtp://u:p@relay.example.com?verify=false", "unknown smtp URL parameter"),
        ("smtp://u:p@?preset=gmail", "unknown smtp preset 'gmail'"),
        ("smtp://u:p@?preset=aliyun&region=ap-southeast-2", "region 'ap-southeast-2'"),
        ("smtp://u:p@relay.example.com?region=cn-hangzhou", "needs a preset"),
        ("smtp://?tls=ssl", "needs a host"),
        ("smtp://?preset=tencent", "sender address and its SMTP password"),
        ("smtp://user@relay.example.com", "both a login and a password"),
        ("smtp://u:p@relay.example.com?timeout=0", "timeout"),
        ("smtp://u:p@relay.example.com?ca_file=/no/such/ca.pem", "ca_file"),
    ],
)
def test_bad_urls_are_configuration_errors(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        mailbridge.connect(url)


def test_each_preset_is_its_own_backend_with_its_limits() -> None:
    plain = mailbridge.connect(f"smtp://u:{PASSWORD}@relay.example.com")
    aliyun = mailbridge.connect(f"smtp://a@b.example:{PASSWORD}@?preset=aliyun")
    tencent = mailbridge.connect(f"smtp://a@b.example:{PASSWORD}@?preset=tencent")
    assert (type(plain.backend), type(aliyun.backend), type(tencent.backend)) == (
        SmtpBackend,
        AliyunSmtpBackend,
        TencentSmtpBackend,
    )
    assert {c.provider for c in (plain, aliyun, tencent)} == {"smtp"}
    # Send only: nothing a relay has no call for.
    for client in (plain, aliyun, tencent):
        for feature in SEND_ONLY_ABSENT:
            assert not client.limits.supports(feature)
    assert plain.limits.supports(Feature.CC) and plain.limits.supports(Feature.ATTACHMENTS)
    assert not plain.limits.supports(Feature.TAGS)
    assert aliyun.limits.supports(Feature.TAGS)  # X-AliDM-Trace
    assert (aliyun.limits.recipients_per_send, aliyun.limits.attachments_per_send) == (30, 100)
    # Tencent's relay: no Cc/Bcc (8.2), Reply-To "not used": refused rather than dropped.
    for feature in (Feature.CC, Feature.BCC, Feature.REPLY_TO):
        assert not tencent.limits.supports(feature)
    assert tencent.limits.recipients_per_send == 50
    assert str(tencent.limits.rate_for("send")) == "20/s"


def test_secrets_never_print(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"smtp://noreply%40mail.example.com:{PASSWORD}@?preset=aliyun&region=cn-hangzhou"
    client = mailbridge.connect(url)
    shown = [repr(client), str(client.backend), repr(client.backend), client.backend.describe(),
             repr(client.backend.config), repr(ProviderURL.parse(url)), client.backend.rate_limit_key]  # fmt: skip
    assert (
        repr(client)
        == "<mailbridge.Client smtp://nore***@smtpdm.aliyun.com:465?tls=ssl&preset=aliyun&region=cn-hangzhou>"
    )
    for text in [*shown, caplog.text]:
        assert PASSWORD not in text
        assert "noreply@mail" not in text
    with pytest.raises(ConfigurationError) as info:
        mailbridge.connect(f"smtp://u:{PASSWORD}@relay.example.com?tls=bogus")
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)
