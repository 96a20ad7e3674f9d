"""send_many: bounded concurrency, input order, per-message errors, Ctrl-C accounting, failover."""

from __future__ import annotations

import asyncio
import mailbox
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_local import LocalBackend

import mailbridge
from mailbridge import AsyncClient, Message

from .conftest import MakeClient, ScriptedBackend, backend_of


def msg(i: int, **changes: Any) -> Message:
    fields: dict[str, Any] = {"sender": "me@example.com", "to": [f"u{i}@example.com"], "subject": f"m{i}", "text": "x"}
    fields.update(changes)
    return Message(**fields)


class SlowBackend(ScriptedBackend):
    """Sends take a random few milliseconds; records the highest number of sends at once."""

    delay = (0.001, 0.02)

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.rng = random.Random(7)

    def send(self, message: Message) -> mailbridge.SendReceipt:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
            pause = self.rng.uniform(*self.delay)
        try:
            time.sleep(pause)
            return super().send(message)
        finally:
            with self._lock:
                self.active -= 1


def slow_client(tmp_path: Path, name: str = "slow", **limits: Any) -> mailbridge.Client:
    cls = type("Backend", (SlowBackend,), {"limits": LocalBackend.limits.evolve(**limits)})
    return mailbridge.Client(cls(tmp_path / name), retry=mailbridge.RetryPolicy(attempts=1))


def delivered_subjects(client: mailbridge.Client) -> list[str]:
    backend = client.backend
    assert isinstance(backend, LocalBackend)
    box = mailbox.Maildir(backend.outbox_path, create=True)
    return sorted(str(m["Subject"]) for m in box)


def test_outcomes_come_in_input_order_and_each_message_is_sent_once(tmp_path: Path) -> None:
    with slow_client(tmp_path) as client:
        outcomes = list(client.send_many((msg(i) for i in range(60)), max_in_flight=6))
        assert [o.index for o in outcomes] == list(range(60))
        assert all(o.ok for o in outcomes)
        assert [o.message.subject for o in outcomes] == [f"m{i}" for i in range(60)]
        assert delivered_subjects(client) == sorted(f"m{i}" for i in range(60))
        backend = client.backend
        assert isinstance(backend, SlowBackend)
        assert 1 < backend.peak <= 6  # concurrent, and never more than asked


def test_per_message_errors_are_outcomes_and_the_stream_goes_on(make_client: MakeClient) -> None:
    client = make_client(client_options={"retry": mailbridge.RetryPolicy(attempts=1)})
    backend_of(client).failures["send"] = [None, mailbridge.ContentRejected("spam"), None]
    messages = [msg(0), msg(1), msg(2, to=["not an address"]), msg(3)]
    outcomes = list(client.send_many(messages, max_in_flight=1))
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert isinstance(outcomes[1].error, mailbridge.ContentRejected) and not outcomes[1].maybe_sent
    assert isinstance(outcomes[2].error, mailbridge.InvalidAddress)
    # the invalid message never reached the backend: 3 calls for 4 messages
    assert [m.subject for m in backend_of(client).calls_to("send")] == ["m0", "m1", "m3"]


def test_an_unexpected_exception_is_reported_as_maybe_sent(make_client: MakeClient) -> None:
    client = make_client(client_options={"retry": mailbridge.RetryPolicy(attempts=1)})
    backend_of(client).failures["send"] = [RuntimeError("bug after the request left")]
    (outcome,) = client.send_many([msg(0)], max_in_flight=2)
    assert isinstance(outcome.error, mailbridge.OutcomeUnknown) and outcome.maybe_sent


def test_an_unexpected_exception_is_maybe_sent_through_the_async_client_too(make_client: MakeClient) -> None:
    client = make_client(client_options={"retry": mailbridge.RetryPolicy(attempts=1)})
    backend_of(client).failures["send"] = [RuntimeError("bug after the request left")]

    async def run() -> list[mailbridge.SendOutcome]:
        async with AsyncClient(client) as aclient:
            return [o async for o in aclient.send_many([msg(0)], max_in_flight=2)]

    (outcome,) = asyncio.run(run())
    assert isinstance(outcome.error, mailbridge.OutcomeUnknown) and outcome.maybe_sent
    assert isinstance(outcome.error.__cause__, RuntimeError)


def test_input_is_read_lazily_within_a_bounded_window(tmp_path: Path) -> None:
    pulled = 0

    def messages() -> Iterator[Message]:
        nonlocal pulled
        for i in range(1_000_000):
            pulled += 1
            yield msg(i)

    with slow_client(tmp_path) as client:
        stream = client.send_many(messages(), max_in_flight=3)
        first = [next(stream) for _ in range(5)]
        assert [o.index for o in first] == [0, 1, 2, 3, 4]
        assert pulled <= 5 + 4 * 3  # yielded + the window, not a million
        stream.close()  # the caller stops: nothing new starts, started sends finish
        sent = len(delivered_subjects(client))
        assert 5 <= sent <= pulled
        time.sleep(0.05)
        assert len(delivered_subjects(client)) == sent


@pytest.mark.skipif(os.name != "posix", reason="uses SIGALRM-free setitimer/SIGINT")
def test_ctrl_c_accounts_for_every_sent_message(tmp_path: Path) -> None:
    """A real SIGINT mid-run: every delivered message is either yielded or in the interruption's outcomes."""
    with slow_client(tmp_path) as client:
        backend = client.backend
        assert isinstance(backend, SlowBackend)
        backend.delay = (0.005, 0.03)
        seen: list[mailbridge.SendOutcome] = []
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.25)
            signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
            with pytest.raises(mailbridge.SendManyInterrupted) as info:
                for outcome in client.send_many((msg(i) for i in range(100_000)), max_in_flight=4):
                    seen.append(outcome)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGINT, previous)
        accounted = seen + list(info.value.outcomes)
        assert [o.index for o in accounted] == list(range(len(accounted)))
        assert info.value.next_index == len(accounted)
        assert all(o.ok for o in accounted)
        assert delivered_subjects(client) == sorted(f"m{i}" for i in range(len(accounted)))
        assert 0 < len(accounted) < 100_000


def test_failover_send_many_moves_every_message_to_the_healthy_provider(tmp_path: Path) -> None:
    primary = slow_client(tmp_path, "primary")
    secondary = slow_client(tmp_path, "secondary")
    down = primary.backend
    assert isinstance(down, ScriptedBackend)
    down.failures["send"] = [mailbridge.ProviderUnavailable("down")] * 5
    with mailbridge.FailoverClient([primary, secondary], cooldown=60) as failover:
        outcomes = list(failover.send_many((msg(i) for i in range(20)), max_in_flight=4))
    assert all(o.ok for o in outcomes)
    assert [o.index for o in outcomes] == list(range(20))
    assert delivered_subjects(primary) == []
    assert delivered_subjects(secondary) == sorted(f"m{i}" for i in range(20))
    assert all(o.result is not None and o.result.provider == secondary.provider for o in outcomes)


def test_default_in_flight_follows_the_declared_send_rate() -> None:
    from mailbridge._bulk import default_in_flight

    base = LocalBackend.limits
    assert default_in_flight(base.evolve(rates={})) == 4
    assert default_in_flight(base.evolve(rates={"send": mailbridge.Rate(100)})) == 32
    assert default_in_flight(base.evolve(rates={"send": mailbridge.Rate(20)})) == 10
