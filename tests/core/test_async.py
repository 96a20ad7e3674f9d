"""``mailbridge.connect_async``: the async client passes the same cross-backend contract as the sync one (local and
the Tencent SES emulator), runs every provider call off the event loop, and raises the same neutral errors.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import AsyncClient, Message
from mailbridge.testing import BackendContract

from ..tencent._support import FakeClock

SENDER = "noreply@mail.example.com"


class BlockingFacade:
    """The contract suite's synchronous calls, each run as a coroutine of the async client on one event loop.

    An async iterator is drained on the loop and handed back as an iterator, so ``list(client.groups())`` works.
    A call the async client does not offer (domains, senders, suppressions ...) goes to its ``sync`` client.
    """

    def __init__(self, client: AsyncClient, runner: asyncio.Runner) -> None:
        self._client, self._runner = client, runner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name, None)
        if attr is None:
            return getattr(self._client.sync, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **k: self._runner.run(attr(*a, **k))
        if callable(attr) and name in {"groups", "members", "deliveries", "send_many"}:

            def drain(*a: Any, **k: Any) -> Iterator[Any]:
                async def collect() -> list[Any]:
                    return [item async for item in attr(*a, **k)]

                return iter(self._runner.run(collect()))

            return drain
        return attr


@pytest.fixture
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


class TestAsyncLocalContract(BackendContract):
    @pytest.fixture
    def client(self, tmp_path: Path, runner: asyncio.Runner) -> Iterator[Any]:
        client = mailbridge.connect_async(f"local://{tmp_path}")
        yield BlockingFacade(client, runner)
        runner.run(client.aclose())


class TestAsyncTencentContract(BackendContract):
    @pytest.fixture
    def client(self, runner: asyncio.Runner) -> Iterator[Any]:
        clock = FakeClock()
        with TencentEmulator(port=0, rate=0, clock=clock) as emu:
            client = mailbridge.connect_async(emu.url, sleep=clock.sleep, clock=clock)
            yield BlockingFacade(client, runner)
            runner.run(client.aclose())


class TestAsyncAliyunContract(BackendContract):
    """Direct Mail through the native async backend (the emulator; what it does not offer in threads)."""

    batch_sender = "news@mail.example.com"  # the emulator's seeded batch sender

    @pytest.fixture
    def client(self, runner: asyncio.Runner) -> Iterator[Any]:
        with AliyunEmulator() as emu:
            client = mailbridge.connect_async(
                emu.url, rate_limiter=mailbridge.RateLimiter.disabled(), retry=mailbridge.RetryPolicy(attempts=1)
            )
            assert client.native
            yield BlockingFacade(client, runner)
            runner.run(client.aclose())

    def _spy(self, client: Any, method: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
        """Sends and group sends go through the native async backend, not ``backend.send``: spy on that one."""
        if method not in {"send", "send_to_group"}:
            return super()._spy(client, method, monkeypatch)
        calls: list[Any] = []
        native = client._async_backend(bind=False)
        original = getattr(native, method)

        async def spy(*args: Any) -> Any:
            calls.append(args)
            return await original(*args)

        monkeypatch.setattr(native, method, spy)
        monkeypatch.setattr(client.backend, method, None)  # the threaded path must not be taken
        return calls


# --------------------------------------------------------------------------- asyncio behaviour


def test_calls_run_off_the_event_loop(tmp_path: Path) -> None:
    """A send waits for the loop to make progress: it deadlocks (and the wait fails) if it ran on the loop thread."""

    async def scenario() -> None:
        async with mailbridge.connect_async(f"local://{tmp_path}") as client:
            loop_thread = threading.get_ident()
            proceed = threading.Event()
            seen: list[int] = []
            original = client.backend.send

            def blocking_send(message: Message) -> Any:
                seen.append(threading.get_ident())
                assert proceed.wait(10), "the event loop was blocked by the send"
                return original(message)

            client.backend.send = blocking_send
            message = Message(sender=SENDER, to="ann@example.com", subject="s", text="t")
            task = asyncio.create_task(client.send(message))
            while not seen:  # the loop keeps running while the send is in its worker thread
                await asyncio.sleep(0.01)
            proceed.set()
            result = await task
            assert result.accepted == ("ann@example.com",)
            assert seen[0] != loop_thread

    asyncio.run(scenario())


def test_send_many_is_an_async_iterator_in_input_order(tmp_path: Path) -> None:
    async def scenario() -> list[mailbridge.SendOutcome]:
        async with mailbridge.connect_async(f"local://{tmp_path}") as client:
            messages = [
                Message(sender=SENDER, to=address, subject=f"m{i}", text="t")
                for i, address in enumerate(["a@example.com", "not-an-address", "c@example.com"])
            ]
            stream = client.send_many(messages)
            assert isinstance(stream, AsyncIterator)
            return [outcome async for outcome in stream]

    outcomes = asyncio.run(scenario())
    assert [o.index for o in outcomes] == [0, 1, 2]
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, mailbridge.InvalidAddress)
    assert outcomes[2].result is not None and outcomes[2].result.accepted == ("c@example.com",)


def test_leaving_send_many_early_stops_reading_messages(tmp_path: Path) -> None:
    read: list[int] = []

    def messages() -> Iterator[Message]:
        for i in range(1000):
            read.append(i)
            yield Message(sender=SENDER, to=f"u{i}@example.com", subject="s", text="t")

    async def scenario() -> int:
        async with mailbridge.connect_async(f"local://{tmp_path}") as client:
            async for outcome in client.send_many(messages(), max_in_flight=2):
                assert outcome.ok
                break
            return sum(1 for _ in client.sync.backend.outbox())

    sent = asyncio.run(scenario())
    assert len(read) < 1000
    assert sent <= len(read)


def test_the_same_neutral_errors_and_paged_iteration(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with mailbridge.connect_async(f"local://{tmp_path}") as client:
            with pytest.raises(mailbridge.GroupNotFound):
                await client.get_group("nope")
            with pytest.raises(mailbridge.InvalidRequest, match="at least one 'to'"):
                await client.send(Message(sender=SENDER, to=(), subject="s", text="t"))
            group = await client.create_group("async-group")
            report = await client.upload(group, (f"user{i}@example.com" for i in range(250)))
            assert report.accepted == 250
            assert [g.name async for g in client.groups()] == ["async-group"]
            members = [m.email async for m in client.members(group)]  # three pages of 100
            assert sorted(members) == sorted(f"user{i}@example.com" for i in range(250))
            assert (await client.remove(group, ["user0@example.com"])).removed == ("user0@example.com",)
            await client.delete_group(group)
            with pytest.raises(mailbridge.GroupNotFound):
                await client.refresh_group(group)

    asyncio.run(scenario())


def test_connect_async_takes_the_same_urls_and_refuses_the_same() -> None:
    with pytest.raises(mailbridge.ConfigurationError, match="connect_failover"):
        mailbridge.connect_async("failover://?providers=local://a")
    with pytest.raises(mailbridge.ProviderNotInstalled):
        mailbridge.connect_async("nosuchprovider://x")


def test_async_failover_moves_on_after_a_refusal() -> None:
    async def scenario(ali: AliyunEmulator, ten: TencentEmulator) -> list[mailbridge.SendOutcome]:
        url = mailbridge.failover_url([ali.url, ten.url], rate_limit="off")
        async with mailbridge.connect_failover_async(url) as client:
            first = await client.send(Message(sender=SENDER, to="ann@example.com", subject="one", text="t"))
            assert first.provider == "tencent"
            assert [a.outcome for a in first.attempts] == ["failed", "sent"]
            assert client.healthy() == {"aliyun": False, "tencent": True}
            messages = [Message(sender=SENDER, to=f"u{i}@example.com", subject=f"m{i}", text="t") for i in range(3)]
            return [o async for o in client.send_many(messages)]

    with AliyunEmulator() as ali, TencentEmulator(rate=0) as ten:
        ali.add_sender(SENDER)
        # A throttling refusal: certainly not sent, so the send moves on.
        ali.inject("error", action="SingleSendMail", times=None, status=400, code="Throttling.User", message="flow")
        outcomes = asyncio.run(scenario(ali, ten))
        assert [o.ok for o in outcomes] == [True, True, True]
        assert sorted(m["subject"] for m in ten.sent_mail) == ["m0", "m1", "m2", "one"]
        assert ali.sent_mail == []


def test_threaded_send_many_keeps_max_in_flight_sends_at_once(tmp_path: Path) -> None:
    """A backend without native sends: each send in the run's own pool of max_in_flight threads (asyncio's default
    executor has only cpus + 4): ten sends wait for each other at a barrier and all pass it."""
    barrier = threading.Barrier(10, timeout=20)

    async def scenario() -> list[mailbridge.SendOutcome]:
        async with mailbridge.connect_async(f"local://{tmp_path}") as client:
            assert not client.native
            original = client.backend.send

            def meeting(message: Message) -> Any:
                barrier.wait()  # BrokenBarrierError (a failed outcome) unless ten sends run at once
                return original(message)

            client.backend.send = meeting
            messages = [Message(sender=SENDER, to=f"u{i}@example.com", subject="s", text="t") for i in range(10)]
            return [o async for o in client.send_many(messages, max_in_flight=10)]

    outcomes = asyncio.run(scenario())
    assert [o.ok for o in outcomes] == [True] * 10


def test_an_input_that_raises_ends_send_many_after_the_messages_read_before(tmp_path: Path) -> None:
    def messages() -> Iterator[Message]:
        for i in range(3):
            yield Message(sender=SENDER, to=f"u{i}@example.com", subject="s", text="t")
        raise ValueError("the input broke")

    async def scenario() -> tuple[list[mailbridge.SendOutcome], mailbridge.AsyncSendMany, int]:
        async with mailbridge.connect_async(f"local://{tmp_path}") as client:
            stream = client.send_many(messages(), max_in_flight=2)
            got: list[mailbridge.SendOutcome] = []
            with pytest.raises(ValueError, match="the input broke"):
                async for outcome in stream:
                    got.append(outcome)
            return got, stream, sum(1 for _ in client.sync.backend.outbox())

    got, stream, sent = asyncio.run(scenario())
    assert [o.index for o in got] == [0, 1, 2] and all(o.ok for o in got)  # then the input's own error
    assert stream.in_flight == 0 and stream.interrupted is None
    assert sent == 3


def test_paged_listings_hop_a_page_at_a_time_and_fetch_no_page_not_asked_for(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[str], list[Any], list[str]]:
        async with mailbridge.connect_async(f"local://{tmp_path}") as client:
            group = await client.create_group("paged")
            await client.upload(group, (f"user{i:03}@example.com" for i in range(250)))
            calls: list[Any] = []
            original = client.backend.list_members

            def counting(*args: Any, **kwargs: Any) -> Any:
                calls.append(kwargs.get("cursor"))
                return original(*args, **kwargs)

            client.backend.list_members = counting
            first: list[str] = []
            async for member in client.members(group):
                first.append(member.email)
                break
            pages_for_one = list(calls)
            every = [m.email async for m in client.members(group)]
            return first, pages_for_one, every

    first, pages_for_one, every = asyncio.run(scenario())
    assert len(first) == 1 and pages_for_one == [None]  # one page for one member: no read-ahead page
    assert sorted(every) == [f"user{i:03}@example.com" for i in range(250)]
