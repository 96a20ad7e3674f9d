"""AsyncFailoverClient's own promises, beyond the failover matrix it shares with FailoverClient
(tests/failover_modes.py runs that matrix through both clients).

* A Direct Mail member sends natively: a failover send, a keyed send and ``send_many`` over Direct
  Mail members ask no worker thread for anything (the loop's executor refuses every job).
* Blocking stores (a custom health store, SQLite idempotency keys) are called off the loop, and the
  key still stops a second provider call after a failover.
* ``send_many`` through failover keeps input order, and a cancelled or abandoned run accounts for
  every message against what the emulators kept.
* Members without native sends (Tencent SES) run in the ``send_many`` run's own thread pool.

Judged by the emulators' request logs and sent mail.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun._async_backend import AsyncAliyunBackend
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Message

from .test_async_native import handed_over, run_without_threads, stop_midway

SENDER = "noreply@mail.example.com"


@pytest.fixture
def dms() -> Iterator[tuple[AliyunEmulator, AliyunEmulator]]:
    """Two Direct Mail accounts (two emulators, two access keys: two health keys): both members send natively."""
    with AliyunEmulator() as one, AliyunEmulator(access_key_id="LTAI5tSecondAccount") as two:
        one.add_sender(SENDER)
        two.add_sender(SENDER)
        yield one, two


def mail(i: int | str, **changes: Any) -> Message:
    return Message(sender=SENDER, to=f"u{i}@example.com", subject=f"s{i}", text="t", **changes)


def failover(*urls: str, **options: Any) -> mailbridge.AsyncFailoverClient:
    return mailbridge.connect_failover_async(mailbridge.failover_url(urls, retries=1, rate_limit="off", **options))


def sends(emu: AliyunEmulator) -> list[str]:
    """The subjects of every SingleSendMail the emulator received (refused ones too), in order."""
    return [r["params"]["Subject"] for r in emu.requests if r["action"] == "SingleSendMail"]


def down(emu: AliyunEmulator) -> None:
    emu.inject("error", action="SingleSendMail", times=None, status=503, code="ServiceUnavailable")


# --------------------------------------------------------------------------- native, no worker thread


def test_direct_mail_members_fail_over_on_the_loop_without_a_worker_thread(
    dms: tuple[AliyunEmulator, AliyunEmulator],
) -> None:
    one, two = dms
    down(one)

    async def scenario() -> list[mailbridge.SendOutcome]:
        async with failover(one.url, two.url, cooldown=30) as client:
            assert [m.native for m in client.members] == [True, True]
            for member in client.members:  # the synchronous seam must not be used, in any thread
                member.sync.backend.api.http.send = None
            first = await client.send(mail("a"))
            assert [(a.provider, a.outcome, a.error) for a in first.attempts] == [
                ("aliyun", "failed", "ProviderUnavailable"),
                ("aliyun#2", "sent", None),
            ]
            again = await client.send(mail("b"))  # the primary cools down: skipped, not asked
            assert [(a.provider, a.outcome, a.detail) for a in again.attempts] == [
                ("aliyun", "skipped", "cooling down after a failure"),
                ("aliyun#2", "sent", None),
            ]
            keyed = await client.send(mail("k"), idempotency_key="order-k")
            assert (await client.send(mail("k"), idempotency_key="order-k")).message_ids == keyed.message_ids
            assert client.healthy() == {"aliyun": False, "aliyun#2": True}
            return [o async for o in client.send_many([mail(i) for i in range(12)], max_in_flight=4)]

    outcomes = run_without_threads(scenario)
    assert [o.index for o in outcomes] == list(range(12)) and all(o.ok for o in outcomes)
    assert sends(one) == ["sa"]  # asked once, refused; skipped ever after
    assert sends(two)[:3] == ["sa", "sb", "sk"]  # the replayed key: no second call
    assert sorted(sends(two)[3:]) == sorted(f"s{i}" for i in range(12))  # send_many: concurrent, each once
    assert one.sent_mail == [] and [m.subject for m in two.sent_mail] == sends(two)
    ids = {m.subject: (m.env_id,) for m in two.sent_mail}
    assert [o.result.message_ids for o in outcomes if o.result] == [ids[f"s{i}"] for i in range(12)]


def test_an_unknown_outcome_on_a_native_primary_is_not_failed_over(
    dms: tuple[AliyunEmulator, AliyunEmulator],
) -> None:
    """The primary processed the send and the answer was lost: maybe sent, so the secondary is never asked."""
    one, two = dms
    one.inject("drop", action="SingleSendMail")

    async def scenario() -> mailbridge.MailbridgeError:
        async with failover(one.url, two.url) as client:
            with pytest.raises(mailbridge.MailbridgeError) as caught:
                await client.send(mail("u"))
            assert client.healthy() == {"aliyun": False, "aliyun#2": True}
            return caught.value

    error = run_without_threads(scenario)
    assert type(error) is mailbridge.OutcomeUnknown and error.maybe_sent
    assert [(a.provider, a.outcome) for a in error.attempts] == [("aliyun", "unknown")]
    assert error.maybe_sent_to == ("uu@example.com",) and error.not_sent == ()
    assert [m.subject for m in one.sent_mail] == ["su"]  # delivered once, by the primary
    assert two.requests == []


def test_the_members_connections_close_with_the_client(dms: tuple[AliyunEmulator, AliyunEmulator]) -> None:
    one, two = dms

    async def scenario() -> list[Any]:
        async with failover(one.url, two.url) as client:
            await client.send(mail("c"))
            return [m._async_backend() for m in client.members]

    natives = asyncio.run(scenario())
    assert all(isinstance(n, AsyncAliyunBackend) and n.api.client.is_closed for n in natives)


# --------------------------------------------------------------------------- blocking stores off the loop


class RecordingHealth:
    """A custom (so possibly blocking) health store: memory health, each call's thread recorded."""

    def __init__(self) -> None:
        self.memory = mailbridge.MemoryHealthStore()
        self.threads: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.memory, name)

        def call(*args: Any) -> Any:
            self.threads.append((name, threading.get_ident()))
            return method(*args)

        return call


class RecordingKeys(mailbridge.SQLiteIdempotencyStore):
    """Idempotency keys in SQLite, each call's thread recorded."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: list[tuple[str, int]] = []

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        self.threads.append(("claim", threading.get_ident()))
        return super().claim(key, value, ttl)

    def put(self, key: str, value: str, ttl: float) -> None:
        self.threads.append(("put", threading.get_ident()))
        super().put(key, value, ttl)


def test_blocking_stores_are_called_off_the_loop_and_a_key_stops_a_second_call(
    dms: tuple[AliyunEmulator, AliyunEmulator], tmp_path: Path
) -> None:
    """Health and SQLite keys answer in worker threads; a key replayed after a failover (the primary healthy
    again and first in line) returns the first receipts without any provider call."""
    one, two = dms
    down(one)
    health, keys = RecordingHealth(), RecordingKeys(tmp_path / "keys.db")
    members = [mailbridge.connect(u, retry=mailbridge.RetryPolicy(attempts=1)) for u in (one.url, two.url)]
    sync = mailbridge.FailoverClient(members, cooldown=0, health=health, idempotency=keys)

    async def scenario() -> tuple[int, mailbridge.SendResult, mailbridge.SendResult]:
        async with mailbridge.AsyncFailoverClient(sync) as client:
            first = await client.send(mail("o"), idempotency_key="order-1")
            one.clear_faults()
            assert (await client.send(mail("p"))).attempts[-1].provider == "aliyun"  # healthy again: first in line
            replay = await client.send(mail("o"), idempotency_key="order-1")
            return threading.get_ident(), first, replay

    loop_thread, first, replay = asyncio.run(scenario())
    assert [a.outcome for a in first.attempts] == ["failed", "sent"] and first.attempts[-1].provider == "aliyun#2"
    assert replay.message_ids == first.message_ids
    assert (sends(one), sends(two)) == (["so", "sp"], ["so"])  # the replay asked neither provider
    assert {name for name, _ in health.threads} >= {"is_open", "was_failed", "claim_probe", "mark_failed"}
    assert [name for name, _ in keys.threads] == ["claim", "put", "claim"]
    assert all(thread != loop_thread for _, thread in (*health.threads, *keys.threads))
    keys.close()


# --------------------------------------------------------------------------- send_many


@pytest.mark.parametrize("how", ["cancel", "break"])
def test_stopping_a_failover_send_many_accounts_for_every_message(
    dms: tuple[AliyunEmulator, AliyunEmulator], how: str
) -> None:
    """The primary is down, so every send fails over; stopped mid-stream, every message was yielded,
    finished-and-handed-over, or never started, and the secondary kept exactly the sent ones."""
    one, two = dms
    down(one)
    two.inject("delay", action="SingleSendMail", times=None, delay=0.05)
    total, read = 200, []
    yielded: list[mailbridge.SendOutcome] = []

    def messages() -> Iterator[Message]:
        for i in range(total):
            read.append(i)
            yield mail(i)

    async def scenario() -> mailbridge.AsyncSendMany:
        async with failover(one.url, two.url, cooldown=30) as client:
            stream = client.send_many(messages(), max_in_flight=5)
            await stop_midway(stream, how, yielded)
            return stream

    stream = run_without_threads(scenario)
    handed = handed_over(stream, yielded, read)
    assert stream.interrupted is not None and len(read) <= total
    finished = (*yielded, *stream.interrupted.outcomes)
    assert all(o.result and o.result.attempts[-1].provider == "aliyun#2" for o in finished)
    assert sorted(m.subject for m in two.sent_mail) == sorted(f"s{i}" for i in handed)
    # Only the first five, in flight together before the first refusal came back, asked the primary.
    assert sorted(sends(one)) == [f"s{i}" for i in range(5)] and one.sent_mail == []


def test_members_without_native_sends_use_the_runs_own_threads(tmp_path: Path) -> None:
    """SES first (SDK calls in threads): each of its sends runs in the run's pool; Direct Mail's on the loop."""
    with TencentEmulator(rate=0) as ses, AliyunEmulator() as dm:
        dm.add_sender(SENDER)
        ses.inject("error", "SendEmail", times=3, code="FailedOperation.ServiceNotAvailable")
        where: list[str] = []

        async def scenario() -> list[mailbridge.SendOutcome]:
            async with failover(ses.url, dm.url, cooldown=0) as client:
                assert [m.native for m in client.members] == [False, True]
                backend = client.members[0].sync.backend
                send = backend.send

                def recorded(message: Message) -> Any:
                    where.append(threading.current_thread().name)
                    return send(message)

                backend.send = recorded
                return [o async for o in client.send_many([mail(i) for i in range(10)], max_in_flight=3)]

        outcomes = asyncio.run(scenario())
    assert [o.index for o in outcomes] == list(range(10)) and all(o.ok for o in outcomes)
    assert where and all(name.startswith("mailbridge-send") for name in where)
    by = {
        p: sorted(o.message.subject for o in outcomes if o.result and o.result.provider == p)
        for p in ("tencent", "aliyun")
    }
    assert sorted(m["subject"] for m in ses.sent_mail) == by["tencent"]
    assert sorted(m.subject for m in dm.sent_mail) == by["aliyun"] and by["aliyun"]
