"""Direct Mail errors drive the core's failover by their flags (emulator primary, local fallback)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator

import mailbridge
from mailbridge import FailoverClient, Message

from ..failover_modes import Failovers
from .record import scenario_client

MESSAGE = Message(sender="noreply@mail.example.com", to="a@example.com", subject="S", text="T")


@pytest.fixture
def pair(emulator: AliyunEmulator, tmp_path: Path, failovers: Failovers) -> Iterator[FailoverClient]:
    """Direct Mail then local, through FailoverClient and through AsyncFailoverClient (tests/failover_modes.py)."""
    members = [scenario_client(emulator.url), mailbridge.connect(f"local://{tmp_path}")]
    with failovers(members) as failover:
        yield failover


@pytest.mark.parametrize(
    ("code", "status"),
    [("ServiceUnavailable", 503), ("Throttling.User", 400), ("InvalidSendMail.Spam", 400), ("Forbidden.RAM", 403)],
)
def test_provider_level_errors_fail_over(
    emulator: AliyunEmulator, pair: FailoverClient, code: str, status: int
) -> None:
    emulator.inject("error", action="SingleSendMail", status=status, code=code)
    result = pair.send(MESSAGE)
    assert result.provider == "local"
    assert [a.outcome for a in result.attempts] == ["failed", "sent"]
    assert emulator.sent_mail == []


def test_message_level_errors_do_not(emulator: AliyunEmulator, pair: FailoverClient) -> None:
    emulator.inject("error", action="SingleSendMail", status=400, code="InvalidToAddress.Spam")
    with pytest.raises(mailbridge.ContentRejected):
        pair.send(MESSAGE)


def test_outcome_unknown_is_never_sent_twice(emulator: AliyunEmulator, pair: FailoverClient) -> None:
    emulator.inject("reset", action="SingleSendMail", apply=True)
    with pytest.raises(mailbridge.OutcomeUnknown):
        pair.send(MESSAGE)
    assert len(emulator.sent_mail) == 1  # it went out once, through Direct Mail only
