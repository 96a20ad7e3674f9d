"""Connection URLs and secret redaction."""

from __future__ import annotations

import logging

import pytest

import mailbridge
from mailbridge import ProviderURL, Secret


def test_parse_credentials_region_and_params() -> None:
    url = ProviderURL.parse("aliyun://LTAI5tABCDEFGH:s3cr%2Ft@cn-hangzhou?endpoint=http://127.0.0.1:8080&signature=v2")
    assert url.provider == "aliyun"
    assert url.username == "LTAI5tABCDEFGH"
    assert isinstance(url.password, Secret) and url.password.reveal() == "s3cr/t"
    assert url.host == "cn-hangzhou"
    assert url.params == {"endpoint": "http://127.0.0.1:8080", "signature": "v2"}


def test_redaction_never_shows_a_secret() -> None:
    url = ProviderURL.parse("aliyun://LTAI5tABCDEFGH:topsecret@cn-hangzhou?token=tok123&region=x")
    for text in (str(url), repr(url), url.redacted(), f"{url.password}", repr(url.password)):
        assert "topsecret" not in text and "tok123" not in text and "LTAI5tABCDEFGH" not in text
    assert str(url) == "aliyun://LTAI***@cn-hangzhou?token=***&region=x"


def test_local_paths_keep_their_case() -> None:
    assert ProviderURL.parse("local://My/Dir").host == "My"
    assert ProviderURL.parse("local:///tmp/Abs").path == "/tmp/Abs"


@pytest.mark.parametrize("bad", ["", "aliyun", "://x", "1x://y", "aliyun://h:notaport"])
def test_bad_urls_are_configuration_errors(bad: str) -> None:
    with pytest.raises(mailbridge.ConfigurationError):
        ProviderURL.parse(bad)


def test_bad_url_error_does_not_echo_the_secret() -> None:
    with pytest.raises(mailbridge.ConfigurationError) as info:
        ProviderURL.parse("aliyun:/user:supersecret@host")
    assert "supersecret" not in str(info.value)


def test_typed_params() -> None:
    url = ProviderURL.parse("x://?wait=yes&timeout=2.5&bad=maybe")
    assert url.bool_param("wait") is True and url.bool_param("missing", True) is True
    assert url.float_param("timeout", 1.0) == 2.5
    with pytest.raises(mailbridge.ConfigurationError, match="bad='maybe'"):
        url.bool_param("bad")


def test_default_url_is_local(tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a URL or MAILBRIDGE_URL the client uses the local backend in ./.mailbridge/."""
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    with mailbridge.connect() as client:
        assert client.provider == "local"
        assert client.backend.describe().endswith("/.mailbridge")
    monkeypatch.setenv("MAILBRIDGE_URL", "local://elsewhere")
    with mailbridge.connect() as client:
        assert client.backend.describe().endswith("/elsewhere")


def test_backend_errors_do_not_echo_url_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """A URL with a secret the backend refuses is reported without the secret."""
    caplog.set_level(logging.DEBUG)
    with pytest.raises(mailbridge.ConfigurationError) as info:
        mailbridge.connect("local://someone:hunter2@dir")
    assert "hunter2" not in str(info.value) and "hunter2" not in repr(info.value)
    assert "hunter2" not in caplog.text


def test_rate_limit_off_is_taken_by_the_client(tmp_path: object) -> None:
    with mailbridge.connect(f"local://{tmp_path}?rate_limit=off") as client:
        assert client.rate_limiter.enabled is False
    with mailbridge.connect(f"local://{tmp_path}") as client:
        assert client.rate_limiter.enabled is True
