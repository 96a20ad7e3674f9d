"""Direct Mail's native asyncio sends: on the event loop (no worker thread), the same outcome rule under
faults (judged by the fault proxy), the same pacing and retries, and send_many cancellation accounting
for every message.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mailbridge_aliyun._async_backend import AsyncAliyunBackend
from mailbridge_aliyun.emulator import AliyunEmulator

import mailbridge
from mailbridge import Message
from mailbridge._ahttp import AsyncGuardedHTTP

from ..faultproxy import NOT_FORWARDED, Fault, FaultSpec, proxied_url
from .test_fault_proxy import CLEAN, FOCUS_TIMEOUT, ONE_FAULT, Rig, delivered, message, rig, unique

SENDER = "noreply@mail.example.com"


class NoThreads(concurrent.futures.ThreadPoolExecutor):
    """A default executor that refuses work: any ``asyncio.to_thread`` / ``run_in_executor`` fails the test,
    except the client's final synchronous ``close`` (run inline here: it releases the sync side)."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.refused: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        inner = fn.args[0] if isinstance(fn, functools.partial) and fn.args else fn  # to_thread's wrapper
        name = getattr(inner, "__qualname__", repr(inner))
        if name == "Client.close":
            done: concurrent.futures.Future[Any] = concurrent.futures.Future()
            done.set_result(fn(*args, **kwargs))
            return done
        self.refused.append(name)
        raise AssertionError(f"a worker thread was asked to run {name}")


def run_without_threads(coro_fn: Callable[[], Any]) -> Any:
    """Run ``coro_fn()`` on a loop whose default executor refuses every job."""
    executor = NoThreads()

    async def main() -> Any:
        asyncio.get_running_loop().set_default_executor(executor)
        return await coro_fn()

    with asyncio.Runner() as runner:
        result = runner.run(main())
    assert executor.refused == []
    return result


def async_client(
    url: str, *, retries: int = 1, limiter: mailbridge.RateLimiter | None = None
) -> mailbridge.AsyncClient:
    return mailbridge.connect_async(
        url,
        retry=mailbridge.RetryPolicy(attempts=retries, wait_initial=0.01, wait_jitter=0.01),
        rate_limiter=limiter or mailbridge.RateLimiter.disabled(),
        template_catalog="off",
    )


@pytest.fixture
def emu() -> Iterator[AliyunEmulator]:
    with AliyunEmulator(daily_quota=10_000_000) as emulator:
        emulator.add_sender(SENDER)
        yield emulator


def mail(i: int | str) -> Message:
    return Message(sender=SENDER, to=f"u{i}@example.com", subject=f"s{i}", text="t")


# --------------------------------------------------------------------------- on the loop, not in threads


def test_sends_and_send_many_run_on_the_loop_over_the_async_http_client(
    emu: AliyunEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    carried: list[str] = []
    peak = now = 0
    original = AsyncGuardedHTTP.send

    async def counting(self: AsyncGuardedHTTP, request: Any, **kw: Any) -> Any:
        nonlocal peak, now
        carried.append(request.headers["x-acs-action"])
        now += 1
        peak = max(peak, now)
        try:
            return await original(self, request, **kw)
        finally:
            now -= 1

    monkeypatch.setattr(AsyncGuardedHTTP, "send", counting)

    async def scenario() -> list[mailbridge.SendOutcome]:
        async with async_client(emu.url) as client:
            assert client.native
            client.sync.backend.api.http.send = None  # the synchronous seam must not be used
            one = await client.send(mail("one"))
            assert one.accepted == ("uone@example.com",)
            return [o async for o in client.send_many([mail(i) for i in range(24)], max_in_flight=6)]

    outcomes = run_without_threads(scenario)
    assert [o.index for o in outcomes] == list(range(24)) and all(o.ok for o in outcomes)
    assert carried == ["SingleSendMail"] * 25
    assert sorted(m.subject for m in emu.sent_mail) == sorted(["sone", *(f"s{i}" for i in range(24))])
    assert [o.result.message_ids for o in outcomes if o.result] == [
        (m.env_id,) for s in (f"s{i}" for i in range(24)) for m in emu.sent_mail if m.subject == s
    ]
    assert 1 < peak <= 6  # several calls in flight at once, never more than asked


def test_the_wire_is_the_synchronous_clients(emu: AliyunEmulator) -> None:
    """The same signed request either way: the emulator checks the signature and keeps the same fields."""

    async def native() -> None:
        async with async_client(emu.url) as client:
            await client.send(
                mail("a").evolve(html="<b>h</b>", tag="t1", reply_to="r@example.com", bcc=["b@example.com"])
            )

    run_without_threads(native)
    with mailbridge.connect(emu.url + "&rate_limit=off") as sync:
        sync.send(mail("a").evolve(html="<b>h</b>", tag="t1", reply_to="r@example.com", bcc=["b@example.com"]))
    first, second = emu.sent_mail
    assert first.params == second.params and "HtmlBody" in first.params
    assert (first.action, first.to, first.subject) == (second.action, second.to, second.subject)


def test_bad_input_is_refused_before_any_call_with_the_same_error(emu: AliyunEmulator) -> None:
    async def scenario() -> None:
        async with async_client(emu.url) as client:
            with pytest.raises(mailbridge.InvalidAddress):
                await client.send(mail("x").evolve(to=["not-an-address"]))
            with pytest.raises(mailbridge.UnsupportedFeature, match="cc"):
                await client.send(mail("x").evolve(cc=["c@example.com"]))
            with pytest.raises(mailbridge.InvalidRequest, match="tag"):
                await client.send(mail("x").evolve(tag="bad tag!"))

    run_without_threads(scenario)
    assert emu.sent_mail == []


# --------------------------------------------------------------------------- pacing and retries


def test_pacing_reserves_one_slot_per_send_and_awaits_it(emu: AliyunEmulator) -> None:
    """Direct Mail declares 100 sends/s: ten sends at once take ten evenly spaced slots, awaited on the loop."""
    frozen = time.time()
    limiter = mailbridge.RateLimiter(clock=lambda: frozen, margin=0.0)  # the slots, not the clock, advance

    async def scenario() -> list[mailbridge.SendOutcome]:
        async with async_client(emu.url, limiter=limiter) as client:
            return [o async for o in client.send_many([mail(i) for i in range(10)], max_in_flight=10)]

    outcomes = run_without_threads(scenario)
    assert all(o.ok for o in outcomes)
    interval = limiter.interval(mailbridge.Rate(100))
    assert limiter.waited == pytest.approx(sum(i * interval for i in range(10)))


def test_a_refusal_is_retried_and_an_unknown_outcome_is_not(emu: AliyunEmulator) -> None:
    async def scenario() -> None:
        async with async_client(emu.url, retries=3) as client:
            emu.inject("error", action="SingleSendMail", times=2, status=400, code="Throttling.User", message="flow")
            result = await client.send(mail("retried"))
            assert result.accepted == ("uretried@example.com",)
            emu.inject("reset", action="SingleSendMail", apply=True)  # applied, then the answer is lost
            with pytest.raises(mailbridge.OutcomeUnknown) as caught:
                await client.send(mail("lost"))
            assert caught.value.maybe_sent_to == ("ulost@example.com",) and caught.value.not_sent == ()
            emu.inject(
                "error", action="SingleSendMail", status=400, code="InvalidSendMail.Spam", message="quota used up"
            )
            with pytest.raises(mailbridge.QuotaExceeded):
                await client.send(mail("quota"))

    run_without_threads(scenario)
    assert sorted(m.subject for m in emu.sent_mail) == ["slost", "sretried"]


# --------------------------------------------------------------------------- the outcome rule under faults


@pytest.fixture(scope="module")
def clean() -> Iterator[Rig]:
    with rig(weights=CLEAN, timeout=FOCUS_TIMEOUT) as r:
        yield r


@pytest.fixture
def fresh(clean: Rig) -> Iterator[Rig]:
    yield clean
    for proxy in clean.proxies.values():
        proxy.clear()


@pytest.mark.parametrize(("spec", "expected", "count"), ONE_FAULT, ids=[s.label() for s, _, _ in ONE_FAULT])
def test_one_fault_gives_the_same_neutral_class_natively(
    fresh: Rig, spec: FaultSpec, expected: type[mailbridge.MailbridgeError] | None, count: int
) -> None:
    """The sync table (tests/integration/test_fault_proxy.py), through the native async seam."""
    proxy = fresh.proxies["aliyun"]
    before = len(proxy.log)
    subject = unique(f"async-{spec.label()}")
    proxy.queue(spec)

    async def scenario() -> tuple[str, mailbridge.MailbridgeError | None]:
        async with async_client(fresh.url("aliyun"), retries=1 if spec.kind is Fault.THROTTLE else 3) as client:
            assert client.native
            try:
                await client.send(message(subject))
            except mailbridge.MailbridgeError as exc:
                return type(exc).__name__, exc
            return "receipt", None

    got, error = run_without_threads(scenario)
    requests = proxy.log[before:]
    seen = (got, [i.spec.label() for i in requests], delivered(fresh, subject))
    want = (expected.__name__ if expected else "receipt", [spec.label()], {"aliyun": count, "tencent": 0})
    assert seen == want, f"{spec.label()}: got {seen}; error: {error}"
    if error is not None:
        assert error.maybe_sent is (expected is mailbridge.OutcomeUnknown)
    assert requests[0].forwarded is (spec.kind not in NOT_FORWARDED)


def test_a_refused_connection_is_not_sent_and_retried(fresh: Rig) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on: nothing can have left
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"

    async def scenario() -> mailbridge.MailbridgeError:
        async with async_client(proxied_url(fresh.url("aliyun"), closed), retries=2) as client:
            with pytest.raises(mailbridge.ProviderUnavailable) as caught:
                await client.send(message("refused"))
            return caught.value

    error = run_without_threads(scenario)
    assert not error.maybe_sent and error.retryable and error.failover_eligible
    assert error.not_sent == ("refused@example.com",) and error.maybe_sent_to == ()
    assert "not sent" in str(error)


def test_a_kept_alive_connection_closed_while_idle_is_not_an_unknown_outcome() -> None:
    """The stale-connection guard of the sync seam holds on the async one too."""
    with rig(weights=CLEAN, idle_close=0.3, timeout=FOCUS_TIMEOUT) as r:
        subjects = [unique(f"async-idle-{n}") for n in range(3)]

        async def scenario() -> None:
            async with async_client(r.url("aliyun")) as client:
                await client.send(message(subjects[0]))
                await client.send(message(subjects[1]))  # at once: on the same, pooled connection
                await asyncio.sleep(0.9)  # the proxy has closed the pooled connection by now
                await client.send(message(subjects[2]))

        run_without_threads(scenario)
        assert [delivered(r, s) for s in subjects] == [{"aliyun": 1, "tencent": 0}] * 3
        first, again, last = (i.connection for i in r.proxies["aliyun"].log)
        assert first == again != last


# --------------------------------------------------------------------------- cancellation


async def stop_midway(stream: mailbridge.AsyncSendMany, how: str, yielded: list[mailbridge.SendOutcome]) -> None:
    """Read ``stream`` into ``yielded`` and stop after 7 outcomes: ``how`` "cancel" (the reading task) or "break"."""

    async def consume() -> None:
        async with stream:
            async for outcome in stream:
                yielded.append(outcome)
                if how == "break" and len(yielded) == 7:
                    break

    task = asyncio.create_task(consume())
    if how == "cancel":
        while len(yielded) < 7:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        await task
    assert stream.in_flight == 0


def handed_over(stream: mailbridge.AsyncSendMany, yielded: list[mailbridge.SendOutcome], read: list[int]) -> list[int]:
    """The indexes a stopped run handed over (yielded, then ``interrupted``), checked to be a prefix of the
    input, each once, in order, with everything after it never started; every handed-over outcome a receipt."""
    interrupted = stream.interrupted
    assert interrupted is not None
    handed = [o.index for o in yielded] + [o.index for o in interrupted.outcomes]
    assert handed == list(range(interrupted.next_index))  # a prefix, each message once, in order
    assert interrupted.next_index < len(read)  # stopped reading: the rest never started
    assert all(o.ok for o in (*yielded, *interrupted.outcomes))
    return handed


@pytest.mark.parametrize("how", ["cancel", "break"])
def test_stopping_send_many_accounts_for_every_message(emu: AliyunEmulator, how: str) -> None:
    """Cancelled (or left) mid-stream: every message was yielded, finished-and-handed-over, or never started,
    and what the emulator kept is exactly the sent ones: no send is cut off mid-way."""
    emu.inject("delay", action="SingleSendMail", times=None, delay=0.05)
    total = 200
    read: list[int] = []

    def messages() -> Iterator[Message]:
        for i in range(total):
            read.append(i)
            yield mail(i)

    yielded: list[mailbridge.SendOutcome] = []

    async def scenario() -> mailbridge.AsyncSendMany:
        async with async_client(emu.url) as client:
            stream = client.send_many(messages(), max_in_flight=5)
            await stop_midway(stream, how, yielded)
            return stream

    handed = handed_over(run_without_threads(scenario), yielded, read)
    assert len(read) <= total
    assert sorted(m.subject for m in emu.sent_mail) == sorted(f"s{i}" for i in handed)


def test_the_async_backend_is_closed_with_the_client(emu: AliyunEmulator) -> None:
    async def scenario() -> AsyncAliyunBackend:
        client = async_client(emu.url)
        await client.send(mail("c"))
        native = client._async_backend()
        assert isinstance(native, AsyncAliyunBackend)
        await client.aclose()
        return native

    native = asyncio.run(scenario())
    assert native.api.client.is_closed


def test_a_second_event_loop_is_refused_before_any_call(emu: AliyunEmulator) -> None:
    """The native connections belong to the loop that first sent: another loop gets a neutral error, nothing sent."""
    client = async_client(emu.url)
    with asyncio.Runner() as first:
        assert first.run(client.send(mail("first"))).accepted == ("ufirst@example.com",)
        with pytest.raises(mailbridge.ConfigurationError, match="another event loop"):
            asyncio.run(client.send(mail("second")))
        first.run(client.aclose())
    assert [m.subject for m in emu.sent_mail] == ["sfirst"]
