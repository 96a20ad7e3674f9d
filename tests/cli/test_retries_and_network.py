"""One concise stderr line per retry (none with --quiet), and network failures in one neutral sentence."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest
import stamina.instrumentation
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge._http import network_reason
from mailbridge._retry_notes import RetryNote, reason, retry_line
from mailbridge.cli import ExitStatus

from .conftest import Run

LEAKS = ("stamina", "Errno", "urllib3", "HTTPConnectionPool", "ConnectError", "RemoteProtocolError", "Traceback")


@pytest.fixture
def ses() -> Iterator[TencentEmulator]:
    with TencentEmulator(rate=0) as emulator:
        yield emulator


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_retried_read_prints_one_line_per_retry(run: Run, ses: TencentEmulator) -> None:
    ses.inject("reset", action="ListReceivers", times=1)
    result = run("groups", "list", url=ses.url)
    assert result.stderr == "retrying in 0.0 s: provider unavailable (tencent, attempt 2 of 5)\n"
    assert result.stdout.splitlines()[0].split() == ["NAME", "ID", "RECIPIENTS", "STATUS", "DESCRIPTION"]


def test_quiet_prints_no_retry_lines(run: Run, ses: TencentEmulator) -> None:
    ses.inject("reset", action="ListReceivers", times=1)
    assert run("--quiet", "groups", "list", url=ses.url).stderr == ""


def test_a_failure_after_retries_is_the_retry_lines_then_one_neutral_error(run: Run, ses: TencentEmulator) -> None:
    ses.inject("reset", action="ListReceivers", times=None)
    result = run("groups", "list", url=ses.url, expect=ExitStatus.PROVIDER_FAILURE)
    assert result.stderr.splitlines() == [
        "retrying in 0.0 s: provider unavailable (tencent, attempt 2 of 5)",
        "retrying in 0.0 s: provider unavailable (tencent, attempt 3 of 5)",  # the test suite caps stamina at 3
        "mailbridge: error: tencent list_groups: no answer from Tencent SES (the connection was reset)",
    ]
    quiet = run("-q", "groups", "list", url=ses.url, expect=ExitStatus.PROVIDER_FAILURE)
    assert quiet.stderr.splitlines() == result.stderr.splitlines()[-1:]


def test_a_throttle_is_named_as_such(run: Run, ses: TencentEmulator) -> None:
    ses.inject("error", action="ListReceivers", code="RequestLimitExceeded", message="slow down", times=1)
    result = run("groups", "list", url=ses.url)
    assert result.stderr.startswith("retrying in ")
    assert ": rate limited by the provider (tencent, attempt 2 of 5)" in result.stderr


@pytest.mark.parametrize("provider", ["tencent", "aliyun"])
def test_refused_connections_read_the_same_on_both_clouds(provider: str, run: Run) -> None:
    port = _closed_port()
    url = {
        "tencent": f"tencent://AKIDexample:secret@ap-guangzhou?endpoint=http://127.0.0.1:{port}",
        "aliyun": f"aliyun://KEYexample:secret@cn-hangzhou?endpoint=http://127.0.0.1:{port}",
    }[provider]
    result = run("groups", "list", url=url, expect=ExitStatus.PROVIDER_FAILURE)
    *retries, error = result.stderr.splitlines()
    assert len(retries) == 2 and all(line.startswith("retrying in 0.0 s: provider unavailable") for line in retries)
    assert "(the connection was refused); the request was not sent" in error
    assert not any(leak in result.stderr for leak in LEAKS), result.stderr


def test_the_sdk_s_own_network_error_text_is_translated(
    run: Run, ses: TencentEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ClientNetworkError the SDK raised itself (urllib3's words) reads like every other network failure."""
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

    raw = "HTTPSConnectionPool(host='ses.tencentcloudapi.com', port=443): Max retries exceeded (urllib3)"

    def broken(*args: object, **kwargs: object) -> object:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as exc:
            raise TencentCloudSDKException("ClientNetworkError", raw) from exc

    from mailbridge_tencent import _transport

    monkeypatch.setattr(_transport._SesClient, "call_json", broken)
    result = run("groups", "list", url=ses.url, expect=ExitStatus.PROVIDER_FAILURE)
    assert result.stderr.splitlines()[-1] == (
        "mailbridge: error: tencent list_groups: no answer from Tencent SES (the connection was reset)"
    )
    assert not any(leak in result.stderr for leak in LEAKS)


def test_the_retry_line_format() -> None:
    error = mailbridge.ProviderUnavailable("boom", provider="tencent")
    notes = [RetryNote(2.0, 2, 3, reason(error), "tencent", error), RetryNote(0.25, 3, 3, reason(error), None, error)]
    assert [retry_line(n) for n in notes] == [
        "retrying in 2.0 s: provider unavailable (tencent, attempt 2 of 3)",
        "retrying in 0.2 s: provider unavailable (attempt 3 of 3)",
    ]
    assert reason(mailbridge.ResourceBusy("x")) == "the resource is busy"
    assert reason(mailbridge.OutcomeUnknown("x")) == "outcome unknown"


def test_the_cli_leaves_stamina_s_hooks_and_the_logger_as_it_found_them(run: Run, ses: TencentEmulator) -> None:
    ses.inject("reset", action="ListReceivers", times=1)
    run("groups", "list", url=ses.url)  # a retry: mailbridge's hooks are in place from here on
    hooks, filters = stamina.instrumentation.get_on_retry_hooks(), list(logging.getLogger("mailbridge").filters)
    ses.inject("reset", action="ListReceivers", times=1)
    assert run("groups", "list", url=ses.url).stderr.startswith("retrying in ")
    assert stamina.instrumentation.get_on_retry_hooks() is hooks
    assert logging.getLogger("mailbridge").filters == filters


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "the connection was refused"),
        (httpx.ConnectTimeout("timed out"), "connecting timed out"),
        (httpx.ReadTimeout("The read operation timed out"), "the connection timed out"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "the connection closed"),
        (httpx.ReadError("boom"), "the connection broke"),
        (httpx.ProxyError("403 Forbidden"), "the proxy refused the connection"),
        (RuntimeError("anything else"), "a network error"),
    ],
)
def test_network_reason_is_a_few_neutral_words(exc: Exception, expected: str) -> None:
    assert network_reason(exc).startswith(expected)


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        (socket.gaierror(-2, "Name or service not known"), "the host name could not be resolved"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "certificate could not be verified"),
        (ssl.SSLError(1, "wrong version number"), "the TLS handshake failed"),
        (ConnectionResetError(104, "Connection reset by peer"), "the connection was reset"),
    ],
)
def test_network_reason_reads_the_cause(cause: Exception, expected: str) -> None:
    try:
        raise cause
    except OSError as inner:
        try:
            raise httpx.ConnectError(str(inner)) from inner
        except httpx.ConnectError as exc:
            assert expected in network_reason(exc)
