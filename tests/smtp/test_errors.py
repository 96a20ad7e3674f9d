"""SMTP replies -> neutral errors: the table row by row, then every fault end to end against a real server.

The outcome rule: a failure before the message's terminating "." left is "certainly not sent" (retry, fail
over); an error reply is a refusal; a drop, timeout or garbled reply after the "." is OutcomeUnknown.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from mailbridge_smtp._errors import TABLES, Step, enhanced_code, error_for

import mailbridge
from mailbridge import (
    AuthenticationError,
    ContentRejected,
    InvalidAddress,
    InvalidRequest,
    LimitExceeded,
    Message,
    OutcomeUnknown,
    PermissionDenied,
    ProviderUnavailable,
    RateLimited,
    RejectedAddress,
    SenderNotFound,
)

from ._server import LOGIN, PASSWORD, SmtpServer

MESSAGE = Message(sender=LOGIN, to=["ada@example.com"], subject="s", text="t")


# --------------------------------------------------------------------------- the table


@pytest.mark.parametrize(
    ("step", "code", "reply", "cls", "retryable", "failover"),
    [
        (Step.RCPT, 550, "5.1.1 No such user", InvalidAddress, False, False),
        (Step.RCPT, 550, "Mailbox unavailable", InvalidAddress, False, False),
        (Step.RCPT, 553, "5.1.3 Bad address syntax", InvalidAddress, False, False),
        (Step.RCPT, 554, "5.7.1 Relay access denied", ContentRejected, False, False),
        (Step.RCPT, 554, "Rejected", ContentRejected, False, False),
        (Step.RCPT, 599, "whatever", InvalidAddress, False, False),  # a 5yz to RCPT: this recipient, permanently
        (Step.RCPT, 421, "4.3.2 Service shutting down", ProviderUnavailable, True, True),
        (Step.RCPT, 451, "4.3.0 Local error", ProviderUnavailable, True, True),
        (Step.RCPT, 450, "4.2.1 Mailbox busy", ProviderUnavailable, True, False),  # that mailbox, not the relay
        (Step.RCPT, 452, "4.5.3 Too many recipients", ProviderUnavailable, True, True),
        (Step.RCPT, 451, "4.4.5 Congestion, slow down", RateLimited, True, True),
        (Step.RCPT, 499, "no idea", ProviderUnavailable, True, True),
        (Step.MAIL, 550, "5.7.1 Sender not allowed", ContentRejected, False, False),
        (Step.MAIL, 550, "Sender rejected", SenderNotFound, False, False),
        (Step.MAIL, 553, "5.1.8 Bad sender domain", SenderNotFound, False, False),
        (Step.MAIL, 552, "5.3.4 Message size exceeds fixed limit", LimitExceeded, False, False),
        (Step.MAIL, 554, "Account suspended", PermissionDenied, False, True),
        (Step.MAIL, 501, "Syntax error", InvalidRequest, False, False),
        (Step.AUTH, 535, "5.7.8 Authentication credentials invalid", AuthenticationError, False, True),
        (Step.AUTH, 530, "5.7.0 Authentication required", AuthenticationError, False, True),
        (Step.AUTH, 534, "Mechanism too weak", AuthenticationError, False, True),
        (Step.AUTH, 454, "4.7.0 Temporary authentication failure", ProviderUnavailable, True, True),
        (Step.AUTH, 550, "nope", AuthenticationError, False, True),
        (Step.DATA, 554, "5.7.1 Spam detected", ContentRejected, False, False),
        (Step.DATA, 550, "Content rejected", ContentRejected, False, False),
        (Step.DATA, 552, "5.2.3 Message too long", LimitExceeded, False, False),
        (Step.DATA, 451, "4.3.0 Try again later", ProviderUnavailable, True, True),
        (Step.CONNECT, 554, "No SMTP service here", ProviderUnavailable, False, True),
        (Step.CONNECT, 421, "Too busy", ProviderUnavailable, True, True),
        (Step.CONNECT, 502, "EHLO not implemented", ProviderUnavailable, False, True),
    ],
)
def test_rows(step: Step, code: int, reply: str, cls: type, retryable: bool, failover: bool) -> None:
    error = error_for(step, code, reply, what="x")
    assert type(error) is cls
    assert (error.retryable, error.failover_eligible, error.maybe_sent) == (retryable, failover, False)
    assert error.provider_code == (f"{code} {enhanced_code(reply)}" if enhanced_code(reply) else str(code))
    assert reply in str(error)


def test_every_row_is_a_refusal() -> None:
    """An SMTP error reply means the server did not take what it answered: never 'maybe sent'."""
    for table in TABLES.values():
        assert all(rule.refused for _, rule in table.rows())


def test_enhanced_codes_are_read_only_at_the_start() -> None:
    assert enhanced_code("5.1.1 <a@b>: Recipient address rejected") == "5.1.1"
    assert enhanced_code("Requested action 5.1.1 not taken") is None
    assert enhanced_code("2.0.0 Ok") == "2.0.0"


# --------------------------------------------------------------------------- faults against the server


@pytest.fixture
def send(server: SmtpServer) -> Callable[..., mailbridge.SendResult]:
    def send(message: Message = MESSAGE, attempts: int = 1, **params: str) -> mailbridge.SendResult:
        with mailbridge.connect(server.url(**params), retry=mailbridge.RetryPolicy(attempts=attempts)) as client:
            return client.send(message)

    return send


def test_drop_after_data_is_outcome_unknown_and_not_retried(server: SmtpServer, send: Callable[..., object]) -> None:
    server.faults.drop_after_data = True
    with pytest.raises(OutcomeUnknown) as info:
        send(attempts=3)
    assert info.value.maybe_sent and not info.value.retryable
    assert len(server.received) == 1  # it did arrive, once: the retry policy never repeated it
    assert info.value.not_sent == ()


def test_no_reply_to_the_final_dot_within_the_deadline_is_outcome_unknown(
    server: SmtpServer, send: Callable[..., object]
) -> None:
    server.faults.data_delay = 3.0
    with pytest.raises(OutcomeUnknown, match="deadline"):
        send(attempts=3, timeout="0.5")
    assert len(server.received) == 1


def test_slow_server_before_data_is_certainly_not_sent(server: SmtpServer, send: Callable[..., object]) -> None:
    server.faults.rcpt_delay = 3.0
    with pytest.raises(ProviderUnavailable, match="deadline") as info:
        send(timeout="0.5")
    assert not info.value.maybe_sent and info.value.retryable and info.value.failover_eligible
    assert server.received == []


def test_garbled_reply_to_the_final_dot_is_outcome_unknown(server: SmtpServer, send: Callable[..., object]) -> None:
    server.faults.data = "OK thanks"  # no reply code at all
    with pytest.raises(OutcomeUnknown):
        send()


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        ("421 4.7.0 Too many connections, closing", ProviderUnavailable),
        ("451 4.3.0 Temporary local problem", ProviderUnavailable),
        ("451 4.4.5 Too much mail, slow down", RateLimited),
    ],
)
def test_4xx_on_rcpt_is_retryable_and_not_sent(
    server: SmtpServer, send: Callable[..., object], reply: str, cls: type
) -> None:
    server.faults.rcpt = {"ada@example.com": reply}
    with pytest.raises(cls) as info:
        send()
    assert info.value.retryable and info.value.failover_eligible and not info.value.maybe_sent
    assert info.value.not_sent == ("ada@example.com",)
    assert server.received == []


def test_transient_rcpt_refusal_is_retried_by_the_client(server: SmtpServer, send: Callable[..., object]) -> None:
    server.faults.rcpt = {"ada@example.com": "451 4.3.0 Try again"}
    with pytest.raises(ProviderUnavailable):
        send(attempts=3)
    # stamina's test mode (tests/conftest.py) allows 3 attempts: three sessions, nothing delivered.
    assert len(server.auth_attempts) == 3
    assert server.received == []


def test_550_on_one_recipient_is_reported_exactly(server: SmtpServer, send: Callable[..., object]) -> None:
    server.faults.rcpt = {"bad@example.com": "550 5.1.1 <bad@example.com>: Recipient address rejected"}
    result = send(Message(sender=LOGIN, to=["ada@example.com", "bad@example.com"], cc="carol@example.com",
                          subject="s", text="t"))  # fmt: skip
    assert isinstance(result, mailbridge.SendResult)
    [receipt] = result.receipts
    assert receipt.accepted == ("ada@example.com", "carol@example.com")
    assert receipt.extra["refused"] == (
        RejectedAddress("bad@example.com", "550 5.1.1 <bad@example.com>: Recipient address rejected", "550"),
    )
    [received] = server.received
    assert received.rcpt_tos == ["ada@example.com", "carol@example.com"]
    assert [a.addr_spec for a in received.message["To"].addresses] == ["ada@example.com", "bad@example.com"]


def test_every_recipient_refused_is_an_error_naming_each(server: SmtpServer, send: Callable[..., object]) -> None:
    server.faults.rcpt = {"a@example.com": "550 5.1.1 No such user", "b@example.com": "550 5.1.1 No such user"}
    with pytest.raises(InvalidAddress) as info:
        send(Message(sender=LOGIN, to=["a@example.com", "b@example.com"], subject="s", text="t"))
    assert info.value.raw == {"refused": {"a@example.com": "550 5.1.1 No such user",
                                          "b@example.com": "550 5.1.1 No such user"}}  # fmt: skip
    assert info.value.not_sent == ("a@example.com", "b@example.com")
    assert server.received == []


def test_a_transient_refusal_among_permanent_ones_makes_the_error_retryable(
    server: SmtpServer, send: Callable[..., object]
) -> None:
    server.faults.rcpt = {"a@example.com": "550 5.1.1 No such user", "b@example.com": "452 4.2.2 Over quota"}
    with pytest.raises(ProviderUnavailable) as info:
        send(Message(sender=LOGIN, to=["a@example.com", "b@example.com"], subject="s", text="t"))
    assert info.value.retryable


def test_authentication_failure(server: SmtpServer, send: Callable[..., object]) -> None:
    with pytest.raises(AuthenticationError) as info:
        send(password="wrong-password")
    assert info.value.provider_code == "535 5.7.8"
    assert info.value.failover_eligible and not info.value.maybe_sent
    assert PASSWORD not in str(info.value) and "wrong-password" not in str(info.value)
    assert server.received == []


@pytest.mark.parametrize(
    ("where", "reply", "cls"),
    [
        ("mail", "550 5.1.8 Sender domain not verified", SenderNotFound),
        ("data", "554 5.7.1 Message rejected as spam", ContentRejected),
        ("data", "452 4.3.1 Insufficient system storage", ProviderUnavailable),
    ],
)
def test_refusals_of_sender_and_message(
    server: SmtpServer, send: Callable[..., object], where: str, reply: str, cls: type
) -> None:
    setattr(server.faults, where, reply)
    with pytest.raises(cls) as info:
        send()
    assert not info.value.maybe_sent
    assert info.value.not_sent == ("ada@example.com",)


def test_untrusted_certificate_is_not_sent_and_not_retried(server: SmtpServer) -> None:
    url = server.url().split("&ca_file=")[0]  # the system store does not know the throwaway CA
    with mailbridge.connect(url) as client, pytest.raises(ProviderUnavailable, match="not trusted") as info:
        client.send(MESSAGE)
    assert (info.value.retryable, info.value.failover_eligible, info.value.maybe_sent) == (False, True, False)
    assert server.auth_attempts == []


def test_missing_starttls_fails_closed(make_server: Callable[..., SmtpServer]) -> None:
    plain = make_server("none")
    url = plain.url(tls="starttls")  # a stripped STARTTLS must not turn into plain text
    with mailbridge.connect(url) as client, pytest.raises(ProviderUnavailable, match="STARTTLS") as info:
        client.send(MESSAGE)
    assert not info.value.retryable and not info.value.maybe_sent
    assert plain.auth_attempts == [] and plain.received == []


def test_connection_refused_is_retryable_not_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"smtp://u:p@127.0.0.1:{port}?tls=none"
    with (
        mailbridge.connect(url, retry=mailbridge.RetryPolicy(attempts=1)) as client,
        pytest.raises(ProviderUnavailable, match="not sent") as info,
    ):
        client.send(MESSAGE)
    assert info.value.retryable and info.value.failover_eligible and not info.value.maybe_sent
