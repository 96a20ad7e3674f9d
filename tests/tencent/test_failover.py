"""The error flags of the tencent backend drive failover as intended (tencent emulator -> local)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Message

from ..failover_modes import Failovers
from ._support import connect

MESSAGE = Message(sender="noreply@mail.example.com", to=["ann@example.com"], subject="Hi", text="Hi")


_OPEN: list[mailbridge.FailoverClient] = []


@pytest.fixture(autouse=True)
def _close_pairs() -> Iterator[None]:
    """Clients keep keep-alive connections open: close every pair a test built."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def pair(emu: TencentEmulator, tmp_path: Path, failovers: Failovers) -> mailbridge.FailoverClient:
    """SES then local, in the test run's mode (FailoverClient or AsyncFailoverClient: tests/failover_modes.py)."""
    client = failovers([connect(emu.url), connect(f"local://{tmp_path}")])
    _OPEN.append(client)
    return client


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        ("error", {"code": "FailedOperation.ServiceNotAvailable"}),  # "request not applied, retry"
        ("error", {"code": "RequestLimitExceeded"}),
        ("error", {"code": "FailedOperation.ExceedSendLimit"}),
        ("error", {"code": "AuthFailure.SignatureFailure"}),
    ],
)
def test_unhealthy_tencent_fails_over_to_local(
    emu: TencentEmulator, tmp_path: Path, fault: str, options: dict[str, object], failovers: Failovers
) -> None:
    emu.inject(fault, "SendEmail", times=None, **options)
    result = pair(emu, tmp_path, failovers).send(MESSAGE)
    assert result.provider == "local"
    assert emu.sent_mail == []


@pytest.mark.parametrize(
    ("kind", "options"), [("malformed", {}), ("status", {"status": 502}), ("status", {"status": 504})]
)
def test_unknown_outcome_is_never_failed_over(
    emu: TencentEmulator, tmp_path: Path, kind: str, options: dict[str, object], failovers: Failovers
) -> None:
    """A garbled answer or a gateway page after the request was written: maybe sent, not failed over."""
    emu.inject(kind, "SendEmail", times=None, **options)
    with pytest.raises(mailbridge.OutcomeUnknown):
        pair(emu, tmp_path, failovers).send(MESSAGE)
    outbox = tmp_path / "outbox"
    assert not outbox.exists() or not any(p.is_file() for p in outbox.rglob("*"))  # local sent nothing


def test_message_problems_are_not_failed_over(emu: TencentEmulator, tmp_path: Path, failovers: Failovers) -> None:
    emu.inject("error", "SendEmail", code="FailedOperation.EmailAddrInBlacklist", times=None)
    with pytest.raises(mailbridge.ContentRejected):
        pair(emu, tmp_path, failovers).send(MESSAGE)
