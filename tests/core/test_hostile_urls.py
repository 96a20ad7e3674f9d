"""URLs carrying secrets, however mangled: nothing prints a secret (errors, reprs, logs, CLI).

Secrets are built from segments that each carry a marker (``Qz7``), joined by the characters
that break naive URL parsing (``/ # ? @ : % + & ,``); the assertions look for every segment,
so a secret split by the parser into host, port or path would be caught as well.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mailbridge
from mailbridge import ConfigurationError, MailbridgeError, ProviderURL, failover_url
from mailbridge.cli import ExitStatus, cli

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
DEAD = "http://127.0.0.1:9"  # nothing listens: a connection error, at once

segment = st.text(alphabet="abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=3, max_size=10).map(
    lambda s: "Qz7" + s
)
separator = st.sampled_from(["/", "#", "?", "@", ":", "%", "+", "&", ",", "=", "%2F", " ", ""])


@st.composite
def secrets(draw: st.DrawFn) -> tuple[str, list[str]]:
    parts = draw(st.lists(segment, min_size=1, max_size=4))
    seps = [draw(separator) for _ in parts[1:]]
    text = parts[0] + "".join(s + p for s, p in zip(seps, parts[1:], strict=True))
    return text, parts


def _shapes(provider: str, secret: str) -> list[str]:
    key_id = "AKIDabcd1234" if provider == "tencent" else "LTAIabcd1234"
    region = "ap-guangzhou" if provider == "tencent" else "cn-hangzhou"
    encoded = quote(secret, safe="")
    endpoint = quote(f"http://user:{encoded}@127.0.0.1:9", safe=":/@")  # a URL in a query value, encoded as one
    shapes = [
        f"{provider}://{key_id}:{encoded}@{region}?endpoint={DEAD}&timeout=1",
        f"{provider}://{key_id}:goodSecret99@{region}?endpoint={endpoint}&timeout=1",
        failover_url([f"{provider}://{key_id}:{encoded}@{region}?endpoint={DEAD}", "local:///tmp/mb-hostile"]),
    ]
    # Unencoded, the secret is ambiguous in three cases (documented: percent-encode it): an '@' then a '?'
    # (the '?' starts the query), an '@' with no host after it, and a '&' inside a query.
    if not ("?" in secret and "@" in secret.split("?", 1)[0]):
        shapes.append(f"{provider}://{key_id}:{secret}@{region}?endpoint={DEAD}&timeout=1")
    if "@" not in secret and "&" not in secret:
        shapes.append(f"{provider}://{key_id}:{secret}")  # no '@': the secret used to land in the port
        shapes.append(f"failover://?providers={provider}://{key_id}:{secret}")
    return shapes


def _assert_clean(texts: list[str], parts: list[str]) -> None:
    for text in texts:
        for part in parts:
            assert part not in text, (part, text)


@SETTINGS
@given(provider=st.sampled_from(["aliyun", "tencent"]), secret=secrets())
def test_parsed_urls_and_errors_never_show_the_secret(provider: str, secret: tuple[str, list[str]]) -> None:
    text, parts = secret
    for url in _shapes(provider, text):
        try:
            parsed = ProviderURL.parse(url)
        except ConfigurationError as exc:
            _assert_clean([str(exc), repr(exc)], parts)
            continue
        _assert_clean([str(parsed), repr(parsed), parsed.redacted()], parts)


@SETTINGS
@given(provider=st.sampled_from(["aliyun", "tencent"]), secret=secrets())
def test_clients_and_connection_errors_never_show_the_secret(
    provider: str, secret: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    text, parts = secret
    caplog.set_level(logging.DEBUG)
    for url in _shapes(provider, text):
        outputs: list[str] = []
        try:
            if url.startswith("failover://"):
                failover = mailbridge.connect_failover(url)
                outputs.append(repr(failover))
                failover.close()
                continue
            client = mailbridge.connect(url, retry=mailbridge.RetryPolicy(attempts=1))
        except MailbridgeError as exc:
            outputs += [str(exc), repr(exc), repr(exc.context())]
        else:
            outputs += [repr(client), client.backend.describe(), repr(client.backend)]
            with pytest.raises(MailbridgeError) as info:  # nothing listens: a connection error
                list(client.groups())
            outputs += [str(info.value), repr(info.value), repr(info.value.context())]
            client.close()
        _assert_clean(outputs, parts)
    _assert_clean([caplog.text], parts)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(provider=st.sampled_from(["aliyun", "tencent"]), secret=secrets(), via_env=st.booleans())
def test_cli_never_prints_the_secret(
    provider: str, secret: tuple[str, list[str]], via_env: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    text, parts = secret
    runner = CliRunner()
    for url in _shapes(provider, text):
        if via_env:
            monkeypatch.setenv("MAILBRIDGE_URL", url)
            args = ["groups", "list"]
        else:
            args = ["--url", url, "groups", "list"]
        if url.startswith("failover://"):
            message = ["--from", "a@example.com", "--to", "b@example.com", "--subject", "s", "--text", "t"]
            args = [*args[:-2], "send", *message]
        result = runner.invoke(cli, args)
        assert result.exit_code in {int(s) for s in ExitStatus}, result.output
        assert "Traceback" not in result.output and not isinstance(result.exception, AssertionError)
        errors = [line for line in result.stderr.strip().splitlines() if not line.startswith("retrying in ")]
        assert len(errors) <= 1, result.stderr  # one error line after the one-line retry notes
        _assert_clean([result.stdout, result.stderr], parts)


def test_the_reported_urls() -> None:
    """The exact cases of the issue: no '@', and str() of a failover URL."""
    with pytest.raises(ConfigurationError) as info:
        ProviderURL.parse("tencent://AKIDxxxx:MyRealSecret123")
    assert "MyRealSecret123" not in str(info.value) and "port" in str(info.value)
    url = ProviderURL.parse(
        failover_url(
            ["aliyun://LTAIabcdefgh:AliSecret123@cn-hangzhou", "tencent://AKIDabcdefgh:TcSecret456@ap-guangzhou"]
        )
    )
    assert str(url) == "failover://?providers=aliyun://LTAI***@cn-hangzhou,tencent://AKID***@ap-guangzhou"


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("tencent://AKIDxxxx:ab#cdSecretHash@ap-guangzhou", "contains '#'"),
        ("tencent://AKIDxxxx:ab@cdSecretQ?x@ap-guangzhou", "'?' inside the credentials"),
        ("tencent://AKIDxxxx:abSecretQ?cd@ap-guangzhou", "'?' inside the credentials"),
        ("tencent://AKIDxxxx:abSecretQ?cd", "not a port number"),
        ("tencent://AKIDxxxx:[SecretBracket@ap-guangzhou/x", ""),
    ],
)
def test_unreadable_urls_say_why_without_echoing(url: str, hint: str) -> None:
    try:
        ProviderURL.parse(url)
    except ConfigurationError as exc:
        assert hint in str(exc) and "Secret" not in str(exc) and "percent-encode" in str(exc)
    else:
        assert hint == ""


def test_a_secret_with_a_slash_parses_unencoded() -> None:
    url = ProviderURL.parse("tencent://AKIDabcd:ab/cd+ef@ap-guangzhou")
    assert url.password is not None and url.password.reveal() == "ab/cd+ef"
    assert url.host == "ap-guangzhou" and url.path is None


def test_endpoint_userinfo_is_masked_in_describe_and_repr() -> None:
    for url in (
        "aliyun://LTAIabcd1234:s3cretKey@cn-hangzhou?endpoint=http://proxyuser:EndpointPw77@127.0.0.1:9",
        "tencent://AKIDabcd1234:s3cretKey@ap-guangzhou?endpoint=http://proxyuser:EndpointPw77@127.0.0.1:9",
    ):
        with mailbridge.connect(url) as client:
            for text in (repr(client), client.backend.describe(), repr(client.backend), str(ProviderURL.parse(url))):
                assert "EndpointPw77" not in text and "s3cretKey" not in text
                assert re.search(r"endpoint=http://(prox)?\*\*\*@127\.0\.0\.1:9", text), text


def test_dependency_text_is_scrubbed_in_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    """A credential echoed by a dependency is masked in the neutral error and in mailbridge log lines."""
    mailbridge.Secret("Dependency-Echoed-Key-123")
    error = mailbridge.ProviderUnavailable("urllib3 said: bad auth Dependency-Echoed-Key-123 for host")
    assert "Dependency-Echoed-Key-123" not in str(error) and "***" in str(error)
    assert "Dependency-Echoed-Key-123" not in repr(error)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("mailbridge").warning("retrying after %s", "Dependency-Echoed-Key-123 refused")
    logging.getLogger("mailbridge.aliyun").warning("body: %s", "Dependency%2DEchoed-Key-123")
    assert "Dependency-Echoed-Key-123" not in caplog.text and caplog.text.count("***") >= 1


@SETTINGS
@given(secret=secrets(), via_failover=st.booleans())
def test_a_percent_encoded_secret_arrives_exactly(secret: tuple[str, list[str]], via_failover: bool) -> None:
    """Whatever the secret holds, its percent-encoded form reaches the backend unchanged (failover members too)."""
    text, _ = secret
    url = f"tencent://AKIDabcd1234:{quote(text, safe='')}@ap-guangzhou?endpoint={DEAD}"
    if via_failover:
        failover = mailbridge.connect_failover(failover_url([url, "local:///tmp/mb-hostile"]))
        backend = failover.clients[0].backend
    else:
        client = mailbridge.connect(url)
        backend = client.backend
    assert backend._secret_key.reveal() == text  # type: ignore[attr-defined]
    backend.close()
