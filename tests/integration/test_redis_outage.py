"""Issue 9: shared state in Redis stopped, restarted and frozen while four workers send through failover://.

The workers (threads, each with its own FailoverClient, or AsyncFailoverClient on its own event loop,
and Redis connections, as separate processes would have) send continuously through the Direct Mail
emulator, which answers a few 503s in every phase so that health is written too, with the Tencent
emulator behind it. Redis is stopped, started again on the same port and frozen with SIGSTOP. No exception other than
mailbridge's may reach a worker, every message the emulators accepted must have come back to its
worker as a receipt, and once Redis answers again health is shared through it again.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ..failover_modes import Failovers
from ..redis_server import RedisProcess

SENDER = "noreply@mail.example.com"
WORKERS = 4


@pytest.fixture
def emulators() -> Iterator[tuple[AliyunEmulator, TencentEmulator]]:
    with AliyunEmulator(daily_quota=1_000_000) as ali, TencentEmulator(rate=0) as ten:
        ali.add_sender(SENDER)
        yield ali, ten


class Worker(threading.Thread):
    def __init__(self, number: int, client: Any, stop: threading.Event) -> None:
        super().__init__(name=f"worker-{number}", daemon=True)
        self.number = number
        self.client = client
        self.stop_event = stop
        self.receipts: dict[str, str] = {}  # subject -> provider label that returned the receipt
        self.errors: list[mailbridge.MailbridgeError] = []
        self.foreign: list[BaseException] = []

    def run(self) -> None:
        i = 0
        while not self.stop_event.is_set():
            subject = f"w{self.number}-{i}"
            i += 1
            message = mailbridge.Message(sender=SENDER, to=[f"{subject}@example.com"], subject=subject, text="hi")
            try:
                result = self.client.send(message)
            except mailbridge.MailbridgeError as exc:
                self.errors.append(exc)
            except BaseException as exc:  # anything else is the bug this test looks for
                self.foreign.append(exc)
            else:
                assert result.receipts and result.message_ids
                self.receipts[subject] = result.attempts[-1].provider

    def _fallbacks(self) -> tuple[Any, Any]:
        health = self.client.health
        budget = self.client.clients[0].rate_limiter.fallback
        assert isinstance(health, mailbridge.RedisHealthStore) and budget is not None
        return health.fallback, budget

    def outages(self) -> tuple[int, int]:
        """Outages seen by this worker's health store and rate-limit budget."""
        health, budget = self._fallbacks()
        return health.outages, budget.outages

    def up(self) -> bool:
        return all(f.up for f in self._fallbacks())


def until(condition: Callable[[], bool], pause: threading.Event, limit: float = 30.0) -> None:
    """Wait (bounded) until the workers have noticed a change of Redis's state."""
    for _ in range(int(limit / 0.05)):
        if condition():
            return
        pause.wait(0.05)
    raise AssertionError("the workers did not notice Redis's change of state")


def _subjects(mail: list[Any]) -> collections.Counter[str]:
    return collections.Counter(m.subject if hasattr(m, "subject") else m["subject"] for m in mail)


@pytest.mark.slow
def test_redis_stopped_restarted_and_frozen_during_a_run(
    emulators: tuple[AliyunEmulator, TencentEmulator], tmp_path: Path, failovers: Failovers
) -> None:
    ali, ten = emulators
    server = RedisProcess(tmp_path)
    server.start()
    url = mailbridge.failover_url([ali.url, ten.url], cooldown=0.2, retries=2, state=server.url)
    stop = threading.Event()
    workers = [Worker(n, failovers.connect(url), stop) for n in range(WORKERS)]
    pause = threading.Event()  # waits between phases (never set)

    def phase(seconds: float) -> None:
        ali.inject("error", action="SingleSendMail", times=3, status=503, code="ServiceUnavailable")
        pause.wait(seconds)

    try:
        for w in workers:
            w.start()
        phase(0.6)  # Redis up
        server.stop()
        phase(0.5)  # Redis down: connections refused
        until(lambda: all(w.outages() == (1, 1) for w in workers), pause)
        server.start()
        phase(0.5)  # Redis back (empty); the workers find it within their retry interval
        until(lambda: all(w.up() for w in workers), pause)
        server.freeze()
        phase(0.5)  # Redis frozen: connections accepted, nothing answered
        until(lambda: all(w.outages() == (2, 2) for w in workers), pause)
        server.thaw()
        phase(0.5)
        until(lambda: all(w.up() for w in workers), pause)
        # Health is in Redis again: a failure seen by one worker is visible there.
        direct = redis_lib.Redis.from_url(server.url, socket_timeout=2)
        primary_key = workers[0].client.clients[0].backend.rate_limit_key
        ali.inject("error", action="SingleSendMail", times=None, status=503, code="ServiceUnavailable")
        for _ in range(50):
            if direct.exists(f"mailbridge:health:failed:{primary_key}"):
                break
            pause.wait(0.1)
        in_redis = bool(direct.exists(f"mailbridge:health:failed:{primary_key}"))
        ali.clear_faults()
    finally:
        stop.set()
        for w in workers:
            w.join(30)
        server.stop()
        for w in workers:
            w.client.close()

    assert [exc for w in workers for exc in w.foreign] == []
    assert [exc for w in workers for exc in w.errors] == [], "healthy secondary: every send should succeed"
    delivered = _subjects(ali.sent_mail) + _subjects(ten.sent_mail)
    where = {"aliyun": _subjects(ali.sent_mail), "tencent": _subjects(ten.sent_mail)}
    receipts = {s: p for w in workers for s, p in w.receipts.items()}
    assert len(receipts) > 100, "the workers kept sending through every phase"
    assert set(delivered) == set(receipts), "every accepted send returned its receipt, nothing else was delivered"
    assert all(count == 1 for count in delivered.values()), "nothing delivered twice"
    assert all(where[p][s] == 1 for s, p in receipts.items()), "each receipt names the provider that delivered"
    for w in workers:
        health = w.client.health
        assert isinstance(health, mailbridge.RedisHealthStore)
        assert health.fallback.outages == 2, "one outage for the stop, one for the freeze"
        assert health.fallback.up, "health is shared through Redis again"
        budget = w.client.clients[0].rate_limiter.fallback
        assert budget is not None and budget.outages == 2 and budget.up, "so is the rate-limit budget"
    assert in_redis, "after the outages a worker's failure is written to Redis again"
