"""The SMTP relay as a failover target: the Direct Mail API (its emulator) as primary, a relay (aiosmtpd, plain
or with Tencent's relay rules) as secondary, and the other way round. Each message arrives exactly once; a
maybe-sent failure is never failed over."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator

import mailbridge
from mailbridge import Message

from ..failover_modes import Failovers
from ._server import LOGIN, SmtpServer


@pytest.fixture
def emulator(mailbridge_emulator_aliyun: AliyunEmulator) -> AliyunEmulator:
    """The shipped fixture (mailbridge.testing.plugin): Direct Mail's emulator, noreply@mail.example.com (LOGIN)
    a seeded sender."""
    return mailbridge_emulator_aliyun


@pytest.fixture(params=["plain", "tencent"])
def relay(request: pytest.FixtureRequest, make_server: Callable[..., SmtpServer]) -> tuple[SmtpServer, str]:
    server = make_server("ssl")
    return server, server.url() if request.param == "plain" else server.url(preset="tencent")


def message(subject: str) -> Message:
    return Message(sender=LOGIN, to=["ada@example.com"], subject=subject, text="hello")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def api_first(
    failovers: Failovers, emulator: AliyunEmulator, relay_url: str, *, down: bool = False
) -> mailbridge.FailoverClient:
    api = emulator.url
    if down:  # nothing listens where the API should be: connection refused
        api = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{closed_port()}", api)
    # The relay's URL (with its own ?tls=...&ca_file=...) nested in failover://, percent-encoded by failover_url.
    return failovers.connect(mailbridge.failover_url([api, relay_url], cooldown=30, retries=1))


@pytest.mark.parametrize(
    ("kind", "options"),
    [("error", {"status": 503, "code": "ServiceUnavailable"}), ("down", {})],  # a refusal / connection refused
)
def test_certainly_not_sent_on_the_api_fails_over_to_the_relay(
    emulator: AliyunEmulator, relay: tuple[SmtpServer, str], kind: str, options: dict[str, object], failovers: Failovers
) -> None:
    server, url = relay
    if kind != "down":
        emulator.inject(kind, action="SingleSendMail", **options)
    with api_first(failovers, emulator, url, down=kind == "down") as failover:
        result = failover.send(message("via the relay"))
        assert result.provider == "smtp"
        assert [(a.provider, a.outcome) for a in result.attempts] == [("aliyun", "failed"), ("smtp", "sent")]
        # The primary is cooling down: the next send goes straight to the relay.
        again = failover.send(message("second"))
        assert [(a.provider, a.outcome) for a in again.attempts] == [("aliyun", "skipped"), ("smtp", "sent")]
    assert emulator.sent_mail == []
    assert [m["Subject"] for m in server.messages()] == ["via the relay", "second"]
    assert [r.rcpt_tos for r in server.received] == [["ada@example.com"], ["ada@example.com"]]


def test_maybe_sent_on_the_api_is_not_failed_over(
    emulator: AliyunEmulator, relay: tuple[SmtpServer, str], failovers: Failovers
) -> None:
    server, url = relay
    emulator.inject("reset", action="SingleSendMail", apply=True)  # DM took it, then the answer was lost
    with api_first(failovers, emulator, url) as failover, pytest.raises(mailbridge.OutcomeUnknown) as info:
        failover.send(message("maybe sent"))
    assert [(a.provider, a.outcome) for a in info.value.attempts] == [("aliyun", "unknown")]
    assert [m.subject for m in emulator.sent_mail] == ["maybe sent"]
    assert server.received == [] and server.auth_attempts == []


def test_relay_primary_refusing_fails_over_to_the_api(
    emulator: AliyunEmulator, relay: tuple[SmtpServer, str], failovers: Failovers
) -> None:
    server, url = relay
    server.faults.rcpt = {"ada@example.com": "421 4.3.2 Service shutting down"}
    with failovers.connect(mailbridge.failover_url([url, emulator.url], retries=1)) as failover:
        result = failover.send(message("via the API"))
    assert [(a.provider, a.outcome) for a in result.attempts] == [("smtp", "failed"), ("aliyun", "sent")]
    assert server.received == []
    assert [m.subject for m in emulator.sent_mail] == ["via the API"]


def test_relay_primary_dropping_after_data_is_not_failed_over(
    emulator: AliyunEmulator, relay: tuple[SmtpServer, str], failovers: Failovers
) -> None:
    server, url = relay
    server.faults.drop_after_data = True
    with (
        failovers.connect(mailbridge.failover_url([url, emulator.url], retries=3)) as failover,
        pytest.raises(mailbridge.OutcomeUnknown) as info,
    ):
        failover.send(message("maybe sent"))
    assert [(a.provider, a.outcome) for a in info.value.attempts] == [("smtp", "unknown")]
    assert len(server.received) == 1  # it arrived, once
    assert emulator.sent_mail == []
