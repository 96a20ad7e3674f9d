"""The first attempt of a call runs outside stamina; a retried call continues in stamina's retry context
(:mod:`mailbridge._retrying`). These tests pin that nothing about retrying changed: the calls that reach the
backend (and the requests on the wire), the attempts counted, the backoff stamina schedules, the on-retry hooks,
the policy's deadline, one rate-limit slot per attempt, and an unknown outcome never repeated; sync and async.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import stamina
from mailbridge_aliyun.emulator import AliyunEmulator
from stamina.instrumentation import RetryDetails, get_on_retry_hooks, set_on_retry_hooks

import mailbridge
from mailbridge import Operation, Rate

from .conftest import MakeClient, backend_of, msg

SENDER = "noreply@mail.example.com"


class SlotCounter(mailbridge.RateLimiter):
    """A limiter that never waits and counts the slots reserved per key."""

    def __init__(self) -> None:
        super().__init__(clock=lambda: 0.0, sleep=lambda _: None, margin=0.0)
        self.slots: list[str] = []

    def reserve(self, key: str, rate: Rate) -> Any:
        self.slots.append(key)
        return super().reserve(key, rate)


@pytest.fixture
def hooks() -> Iterator[list[RetryDetails]]:
    """The on-retry hooks see every scheduled retry (only this recorder is installed)."""
    seen: list[RetryDetails] = []
    previous = get_on_retry_hooks()
    set_on_retry_hooks([seen.append])
    yield seen
    set_on_retry_hooks(previous)


@pytest.fixture
def real_waits() -> Iterator[None]:
    """stamina out of test mode: the policy's own attempts, backoff and timeout apply (waits are milliseconds)."""
    with stamina.set_testing(False):
        yield


def policy(**changes: Any) -> mailbridge.RetryPolicy:
    fields: dict[str, Any] = {"attempts": 4, "timeout": 30.0, "wait_initial": 0.001, "wait_max": 1.0, "wait_jitter": 0}
    fields.update(changes)
    return mailbridge.RetryPolicy(**fields)


def test_a_first_failure_is_retried_with_the_policys_backoff_and_hooks(
    make_client: MakeClient, hooks: list[RetryDetails], real_waits: None
) -> None:
    client = make_client({"retry": policy()})
    first, second = mailbridge.ProviderUnavailable("503"), mailbridge.ProviderUnavailable("502")
    backend_of(client).failures["send"] = [first, second]
    result = client.send(msg())
    assert len(backend_of(client).calls_to("send")) == 3 and len(result.receipts) == 1
    # Exactly what stamina schedules when it runs the first attempt itself: retry 1 after wait_initial,
    # retry 2 after twice that, caused by the first and the second failure.
    assert [(d.retry_num, d.caused_by) for d in hooks] == [(1, first), (2, second)]
    assert [d.wait_for for d in hooks] == pytest.approx([0.001, 0.002])
    assert [d.waited_so_far for d in hooks] == pytest.approx([0.0, 0.001])


def test_attempts_count_the_first_one(make_client: MakeClient, hooks: list[RetryDetails], real_waits: None) -> None:
    client = make_client({"retry": policy(attempts=3)})
    failures = [mailbridge.ProviderUnavailable(f"down {i}") for i in range(5)]
    backend_of(client).failures["send"] = list(failures)
    with pytest.raises(mailbridge.ProviderUnavailable) as caught:
        client.send(msg())
    assert caught.value is failures[2]  # the last attempt's error, tagged
    assert caught.value.provider == "scripted" and caught.value.operation == "send"
    assert len(backend_of(client).calls_to("send")) == 3
    assert [d.retry_num for d in hooks] == [1, 2]


def test_one_attempt_means_no_retry(make_client: MakeClient, hooks: list[RetryDetails], real_waits: None) -> None:
    client = make_client({"retry": policy(attempts=1)})
    backend_of(client).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    with pytest.raises(mailbridge.ProviderUnavailable):
        client.send(msg())
    assert len(backend_of(client).calls_to("send")) == 1 and hooks == []


def test_the_test_mode_attempts_still_rule(make_client: MakeClient, hooks: list[RetryDetails]) -> None:
    """Under ``stamina.set_testing`` (this suite's default: at most 3 attempts, no waits) a retry of the fast path
    is stamina's, so the test mode caps it as before."""
    client = make_client({"retry": policy(attempts=10)})
    backend_of(client).failures["send"] = [mailbridge.ProviderUnavailable(str(i)) for i in range(5)]
    with pytest.raises(mailbridge.ProviderUnavailable):
        client.send(msg())
    assert len(backend_of(client).calls_to("send")) == 3
    assert [d.wait_for for d in hooks] == [0.0, 0.0]


def test_stamina_switched_off_means_no_retry(make_client: MakeClient, hooks: list[RetryDetails]) -> None:
    client = make_client({"retry": policy()})
    backend_of(client).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    stamina.set_active(False)
    try:
        with pytest.raises(mailbridge.ProviderUnavailable):
            client.send(msg())
    finally:
        stamina.set_active(True)
    assert len(backend_of(client).calls_to("send")) == 1 and hooks == []


def test_a_retry_after_within_the_deadline_is_the_wait(
    make_client: MakeClient, hooks: list[RetryDetails], real_waits: None
) -> None:
    client = make_client({"retry": policy()})
    backend_of(client).failures["send"] = [mailbridge.RateLimited("throttled", retry_after=0.003)]
    client.send(msg())
    assert len(backend_of(client).calls_to("send")) == 2
    assert [d.wait_for for d in hooks] == pytest.approx([0.003])


def test_a_retry_after_beyond_the_deadline_is_raised_at_once(
    make_client: MakeClient, hooks: list[RetryDetails], real_waits: None
) -> None:
    client = make_client({"retry": policy(timeout=5.0)})
    backend_of(client).failures["send"] = [mailbridge.RateLimited("throttled", retry_after=60)]
    with pytest.raises(mailbridge.RateLimited) as caught:
        client.send(msg())
    assert caught.value.retry_after == 60 and len(backend_of(client).calls_to("send")) == 1 and hooks == []


def test_a_first_attempt_that_used_up_the_timeout_is_not_retried(
    make_client: MakeClient, hooks: list[RetryDetails], real_waits: None
) -> None:
    """stamina's timeout counts from the first attempt, also when that attempt ran outside it."""
    client = make_client({"retry": policy(timeout=0.02)})
    backend = backend_of(client)
    slow = backend.send

    def send(message: mailbridge.Message) -> mailbridge.SendReceipt:
        time.sleep(0.05)  # longer than the whole policy allows
        return slow(message)

    backend.send = send  # type: ignore[method-assign]
    backend.failures["send"] = [mailbridge.ProviderUnavailable("503")]
    with pytest.raises(mailbridge.ProviderUnavailable):
        client.send(msg())
    assert len(backend.calls_to("send")) == 1 and hooks == []


@pytest.mark.parametrize(
    "error",
    [mailbridge.OutcomeUnknown("read timeout"), mailbridge.ContentRejected("spam"), ValueError("a bug")],
    ids=["unknown", "refused", "not-ours"],
)
def test_what_the_rule_refuses_is_raised_from_the_first_attempt(
    make_client: MakeClient, hooks: list[RetryDetails], error: Exception
) -> None:
    client = make_client({"retry": policy()})
    backend_of(client).failures["send"] = [error]
    with pytest.raises(type(error)) as caught:
        client.send(msg())
    assert caught.value is error and len(backend_of(client).calls_to("send")) == 1 and hooks == []


def test_every_attempt_takes_one_rate_limit_slot(make_client: MakeClient, hooks: list[RetryDetails]) -> None:
    limiter = SlotCounter()
    client = make_client({"retry": policy(), "rate_limiter": limiter}, rates={Operation.SEND: Rate(100)})
    backend_of(client).failures["send"] = [mailbridge.ProviderUnavailable("1"), mailbridge.ProviderUnavailable("2")]
    client.send(msg())
    assert len(limiter.slots) == 3 == len(backend_of(client).calls_to("send"))  # the replayed failure takes none
    client.send(msg())
    assert len(limiter.slots) == 4


# --------------------------------------------------------------------------- on the wire, sync and async


@pytest.fixture
def emu() -> Iterator[AliyunEmulator]:
    with AliyunEmulator(daily_quota=1_000_000) as emulator:
        emulator.add_sender(SENDER)
        yield emulator


def mail(i: str) -> mailbridge.Message:
    return mailbridge.Message(sender=SENDER, to=f"u{i}@example.com", subject=f"s{i}", text="t")


def test_on_the_wire_a_refusal_is_sent_again_and_an_unknown_outcome_is_not(
    emu: AliyunEmulator, hooks: list[RetryDetails]
) -> None:
    limiter = SlotCounter()
    with mailbridge.connect(emu.url, retry=policy(), rate_limiter=limiter, template_catalog="off") as client:
        emu.inject("error", action="SingleSendMail", times=2, status=503, code="ServiceUnavailable", message="busy")
        assert client.send(mail("retried")).accepted == ("uretried@example.com",)
        assert len(emu.calls("SingleSendMail")) == 3 and len(limiter.slots) == 3
        assert [d.retry_num for d in hooks] == [1, 2]
        emu.inject("reset", action="SingleSendMail", apply=True)  # applied, then the answer is lost
        with pytest.raises(mailbridge.OutcomeUnknown):
            client.send(mail("lost"))
    assert len(emu.calls("SingleSendMail")) == 4 and len(limiter.slots) == 4 and len(hooks) == 2
    assert sorted(m.subject for m in emu.sent_mail) == ["slost", "sretried"]


def test_async_native_sends_retry_the_same_way(emu: AliyunEmulator, hooks: list[RetryDetails]) -> None:
    limiter = SlotCounter()

    async def scenario() -> None:
        async with mailbridge.connect_async(
            emu.url, retry=policy(), rate_limiter=limiter, template_catalog="off"
        ) as client:
            assert client.native
            emu.inject("error", action="SingleSendMail", times=2, status=400, code="Throttling.User", message="flow")
            assert (await client.send(mail("retried"))).accepted == ("uretried@example.com",)
            assert len(emu.calls("SingleSendMail")) == 3 and len(limiter.slots) == 3
            emu.inject("reset", action="SingleSendMail", apply=True)
            with pytest.raises(mailbridge.OutcomeUnknown) as caught:
                await client.send(mail("lost"))
            assert caught.value.provider == "aliyun" and caught.value.operation == "send"

    asyncio.run(scenario())
    assert len(emu.calls("SingleSendMail")) == 4 and len(limiter.slots) == 4
    assert [d.retry_num for d in hooks] == [1, 2]
    assert sorted(m.subject for m in emu.sent_mail) == ["slost", "sretried"]
