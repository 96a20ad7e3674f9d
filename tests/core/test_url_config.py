"""One URL policy for every installed backend: unknown parameters, plain text off loopback, secrets."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import mailbridge
from mailbridge import CORE_URL_PARAMS, ConfigurationError, ProviderURL, UrlConfig
from mailbridge._registry import load_backend_class

SECRET = "Zq9-never-print-this-7Xw"


def base_urls(tmp: Path) -> dict[str, str]:
    """A valid URL per backend, with ``SECRET`` as its secret where it has one."""
    return {
        "local": f"local://{tmp}?busy_timeout=1",
        "aliyun": f"aliyun://LTAI5tExampleKeyId:{SECRET}@cn-hangzhou?signature=v3",
        "tencent": f"tencent://AKIDExampleSecretId0000:{SECRET}@ap-guangzhou?timeout=5",
        "smtp": f"smtp://noreply%40example.com:{SECRET}@smtp.example.com:465?tls=ssl",
    }


#: Plain text to a host that is not loopback, per backend that can speak it.
PLAINTEXT = {
    "aliyun": "endpoint=http://dm.example.com",
    "tencent": "endpoint=http://ses.example.com",
    "smtp": "tls=none",
}
LOOPBACK = {"aliyun": "endpoint=http://127.0.0.1:9", "tencent": "endpoint=http://[::1]:9", "smtp": "tls=none"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection attempt fails the test: configuration is checked before the network."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used while reading a URL")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def build(url: str) -> object:
    parsed = ProviderURL.parse(url)
    return load_backend_class(parsed.provider).from_url(parsed)


def with_param(url: str, param: str) -> str:
    return url + ("&" if "?" in url else "?") + param


def assert_no_secret(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), repr(exc.args)):
        assert SECRET not in text


def test_every_installed_backend_is_covered() -> None:
    assert {"local", "aliyun", "tencent", "smtp"} <= set(mailbridge.available_providers())


@pytest.mark.parametrize("provider", ["local", "aliyun", "tencent", "smtp"])
def test_unknown_parameter_is_refused_the_same_way(provider: str, tmp_path: Path) -> None:
    url = with_param(base_urls(tmp_path)[provider], f"bogus_option={SECRET}")
    with pytest.raises(ConfigurationError) as info:
        build(url)
    message = str(info.value)
    assert message.startswith(f"unknown {provider} URL parameter(s) bogus_option; known: ")
    known = message.split("known: ", 1)[1].split(", ")
    assert set(CORE_URL_PARAMS) <= set(known) and known == sorted(known)
    assert_no_secret(info.value)
    with pytest.raises(ConfigurationError) as via_connect:
        mailbridge.connect(url)
    assert str(via_connect.value) == message


@pytest.mark.parametrize("provider", ["local", "aliyun", "tencent", "smtp"])
@pytest.mark.parametrize("param", sorted(CORE_URL_PARAMS))
def test_core_parameters_are_accepted_by_every_backend(provider: str, param: str, tmp_path: Path) -> None:
    value = "5" if param in {"timeout", "retries"} else "false"
    build(with_param(base_urls(tmp_path)[provider], f"{param}={value}"))


@pytest.mark.parametrize("provider", sorted(PLAINTEXT))
def test_plain_text_off_loopback_is_refused_the_same_way(provider: str, tmp_path: Path) -> None:
    url = base_urls(tmp_path)[provider].replace("?tls=ssl", "?").replace(":465", ":25")
    url = with_param(url, PLAINTEXT[provider])
    with pytest.raises(ConfigurationError) as info:
        build(url)
    assert f"{provider} " in str(info.value)
    assert "is plain text to a host that is not loopback" in str(info.value)
    assert "insecure=true" in str(info.value)
    assert_no_secret(info.value)
    build(with_param(url, "insecure=true"))  # the documented opt-in
    with pytest.raises(ConfigurationError, match="not loopback"):
        build(with_param(url, "insecure=false"))


@pytest.mark.parametrize("provider", sorted(LOOPBACK))
def test_plain_text_to_loopback_needs_no_opt_in(provider: str, tmp_path: Path) -> None:
    url = base_urls(tmp_path)[provider].replace("smtp.example.com:465?tls=ssl", "127.0.0.1:2525?")
    build(with_param(url, LOOPBACK[provider]))


def test_plaintext_endpoint_on_the_wire_keeps_http_only_with_the_opt_in() -> None:
    b = build(f"tencent://AKIDExampleSecretId0000:{SECRET}@ap-guangzhou?endpoint=http://ses.example.com&insecure=1")
    profile = b._client.profile  # type: ignore[attr-defined]
    assert (profile.httpProfile.scheme, profile.httpProfile.endpoint) == ("http", "ses.example.com")
    a = build(f"aliyun://LTAI5tExampleKeyId:{SECRET}@cn-hangzhou?endpoint=http://dm.example.com&insecure=yes")
    assert a.config.endpoint == "http://dm.example.com"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "match"),
    [
        ("flag=maybe", "flag='maybe' must be true or false"),
        ("wait=0", "wait must be a positive number of seconds"),
        ("endpoint=ftp://x.example.com", "endpoint must be an http"),
        ("endpoint=http://", "endpoint must name a host"),
        ("mode=v9", "mode must be one of a, b"),
    ],
)
def test_helper_errors_are_neutral(query: str, match: str) -> None:
    conf = UrlConfig.read(ProviderURL.parse(f"demo://u:{SECRET}@h?{query}"), {"flag", "wait", "endpoint", "mode"})
    with pytest.raises(ConfigurationError, match=match) as info:
        conf.flag("flag")
        conf.seconds("wait", 1.0)
        conf.endpoint()
        conf.choice("mode", ("a", "b"), "a")
    assert_no_secret(info.value)


def test_credentials_fall_back_to_the_declared_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_USER", "envuser")
    monkeypatch.setenv("DEMO_SECRET", SECRET)
    user, secret = UrlConfig.read(ProviderURL.parse("demo://h")).credentials("DEMO_USER", "DEMO_SECRET")
    assert user == "envuser" and secret is not None and secret.reveal() == SECRET and SECRET not in repr(secret)
    user, secret = UrlConfig.read(ProviderURL.parse("demo://me:pw@h")).credentials("DEMO_USER", "DEMO_SECRET")
    assert user == "me" and secret is not None and secret.reveal() == "pw"


def test_region_from_host_or_parameter_but_not_two() -> None:
    assert UrlConfig.read(ProviderURL.parse("demo://r1"), {"region"}).region("r0") == "r1"
    assert UrlConfig.read(ProviderURL.parse("demo://?region=r2"), {"region"}).region("r0") == "r2"
    assert UrlConfig.read(ProviderURL.parse("demo://"), {"region"}).region("r0") == "r0"
    with pytest.raises(ConfigurationError, match="region given twice"):
        UrlConfig.read(ProviderURL.parse("demo://r1?region=r2"), {"region"}).region("r0")
    with pytest.raises(ConfigurationError, match="unknown demo region 'r9'; known: r0, r1"):
        UrlConfig.read(ProviderURL.parse("demo://r9"), {"region"}).region("r0", {"r0": 1, "r1": 2})
