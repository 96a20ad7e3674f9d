"""Issue 9: Tencent ``FailedOperation.TemporaryBlocked`` (recipient ESP paused 10 minutes) on the primary.

The failover send must reach the secondary at once instead of sleeping the 600 s retry-after, and
the primary must not be retried for it. Whether the primary then cools down for the 600 s or keeps
taking other messages follows the Tencent table's ``failover_eligible`` for the code (today:
provider-wide); both branches are checked. The health store's clock is injected, so the test moves
time instead of waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ..failover_modes import Failovers

SENDER = "noreply@mail.example.com"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def emulators() -> Iterator[tuple[TencentEmulator, AliyunEmulator]]:
    with TencentEmulator(rate=0) as ten, AliyunEmulator(daily_quota=1_000_000) as ali:
        ali.add_sender(SENDER)
        yield ten, ali


def _send_with_watchdog(fo: mailbridge.FailoverClient, message: mailbridge.Message) -> mailbridge.SendResult:
    """Send in a thread; a send still sleeping after 30 s (the old 600 s wait) fails the test, not the suite."""
    box: list[mailbridge.SendResult | BaseException] = []

    def run() -> None:
        try:
            box.append(fo.send(message))
        except BaseException as exc:  # handed to the test thread
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    assert box, "the failover send slept through the retry-after instead of moving on"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]


def test_temporary_blocked_primary_fails_over_at_once(
    emulators: tuple[TencentEmulator, AliyunEmulator], failovers: Failovers
) -> None:
    ten, ali = emulators
    clock = Clock()
    members = [mailbridge.connect(url, retry=mailbridge.RetryPolicy(attempts=5)) for url in (ten.url, ali.url)]
    fo = failovers(members, cooldown=30, health=mailbridge.MemoryHealthStore(clock))
    ten.inject("error", action="SendEmail", times=None, code="FailedOperation.TemporaryBlocked")

    def message(n: int) -> mailbridge.Message:
        return mailbridge.Message(sender=SENDER, to=[f"user{n}@example.com"], subject=f"msg-{n}", text="hi")

    # What the Tencent table says about this code decides what failover does with the provider.
    with pytest.raises(mailbridge.RateLimited) as info:
        members[0].send(message(-1))
    assert info.value.retry_after == 600 and info.value.maybe_sent is False
    provider_wide = info.value.failover_eligible
    assert ten.faults_served == 1, "the 600 s retry-after is not slept through nor retried"

    result = _send_with_watchdog(fo, message(0))
    assert [(a.provider, a.outcome, a.error) for a in result.attempts] == [
        ("tencent", "failed", "RateLimited"),
        ("aliyun", "sent", None),
    ]
    assert [m.subject for m in ali.sent_mail] == ["msg-0"] and ten.sent_mail == []
    assert ten.faults_served == 2, "the primary was asked once for this message, not retried"
    clock.now = 599
    _send_with_watchdog(fo, message(1))
    assert [m.subject for m in ali.sent_mail] == ["msg-0", "msg-1"]
    if provider_wide:  # failover-eligible: the primary is not tried again for the 600 s it asked for
        assert ten.faults_served == 2
        ten.clear_faults()
        clock.now = 601  # then one probe, which succeeds: the primary takes traffic again
        assert _send_with_watchdog(fo, message(2)).attempts[-1].provider == "tencent"
        assert [m["subject"] for m in ten.sent_mail] == ["msg-2"]
    else:  # a per-message throttle: the primary stays healthy and is asked again for the next message
        assert ten.faults_served == 3 and fo.healthy()["tencent"] is True
    fo.close()
