"""Cooldown and probes when every provider is cooling down, and shared state that survives a Redis outage."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mailbridge
from mailbridge import FailoverClient, MemoryHealthStore, Message, Rate, RateLimiter, RedisHealthStore

from ..redis_server import RedisProcess
from .conftest import Clock, MakeClient, backend_of, msg


def calls(client: mailbridge.Client) -> int:
    return len(backend_of(client).calls_to("send"))


@pytest.fixture
def pair(make_client: MakeClient) -> tuple[mailbridge.Client, mailbridge.Client]:
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    return make_client(one_try), make_client(one_try)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisProcess]:
    with RedisProcess(tmp_path) as server:
        yield server


def test_every_provider_cooling_down_tries_nothing(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    """Both providers failed: the next ten sends within the cooldown make no provider call at all."""
    primary, secondary = pair
    clock = Clock()
    fo = FailoverClient([primary, secondary], cooldown=30, health=MemoryHealthStore(clock))
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")] * 3
    backend_of(secondary).failures["send"] = [mailbridge.QuotaExceeded("daily")]
    with pytest.raises(mailbridge.ProviderUnavailable, match="every provider failed"):
        fo.send(msg())
    for _ in range(10):
        clock.now += 2
        with pytest.raises(mailbridge.ProviderUnavailable, match="cooling down") as info:
            fo.send(msg(to=["a@example.com", "b@example.com"]))
        assert info.value.maybe_sent is False
        assert [(a.outcome, a.detail) for a in info.value.attempts] == [("skipped", "cooling down after a failure")] * 2
        assert info.value.not_sent == ("a@example.com", "b@example.com") and info.value.partial_result == ()
    assert (calls(primary), calls(secondary)) == (1, 1)
    # The cooldown ends: one probe each, in order; the primary still fails, the secondary answers.
    clock.now = 31
    result = fo.send(msg())
    assert [(a.provider, a.outcome) for a in result.attempts] == [("scripted", "failed"), ("scripted#2", "sent")]
    assert (calls(primary), calls(secondary)) == (2, 2)
    fo.send(msg())
    assert (calls(primary), calls(secondary)) == (2, 3), "the primary cools down again after its failed probe"


class Gate:
    """Holds the primary's probe in flight until released, counting the calls that reach it."""

    def __init__(self, client: mailbridge.Client) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        backend = backend_of(client)
        original = backend.send

        def send(message: Message) -> mailbridge.SendReceipt:
            self.calls += 1
            self.entered.set()
            assert self.release.wait(30)
            return original(message)

        backend.send = send  # type: ignore[method-assign]


def _workers_during_a_probe(
    primary: mailbridge.Client, secondary: mailbridge.Client, stores: list[Any], pass_cooldown: Any
) -> tuple[Gate, list[FailoverClient]]:
    """Four workers (one FailoverClient and store handle each) send while one probes a recovering primary."""
    workers = [FailoverClient([primary, secondary], cooldown=0.3, health=store) for store in stores]
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    workers[0].send(msg())  # the primary fails: every worker sees it cooling down
    gate = Gate(primary)
    pass_cooldown()
    errors: list[BaseException] = []

    def work(fo: FailoverClient) -> None:
        try:
            for _ in range(20):
                fo.send(msg())
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    prober = threading.Thread(target=work, args=(workers[0],))
    prober.start()
    assert gate.entered.wait(10)
    others = [threading.Thread(target=work, args=(fo,)) for fo in workers[1:]]
    for t in others:
        t.start()
    for t in others:
        t.join(30)
    assert gate.calls == 1, "only the probe reaches the recovering primary while it is in flight"
    gate.release.set()
    prober.join(30)
    assert errors == []
    return gate, workers


def test_one_probe_across_workers_memory(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    primary, secondary = pair
    clock = Clock()
    health = MemoryHealthStore(clock)

    def pass_cooldown() -> None:
        clock.now = 1.0

    gate, _ = _workers_during_a_probe(primary, secondary, [health] * 4, pass_cooldown)
    # The first failure and the 60 sends of the other three workers went to the secondary;
    # after the probe all traffic returns to the primary.
    assert calls(secondary) == 61
    assert gate.calls == 1 + 19, "after its probe succeeded the prober's remaining sends went to the primary"


def test_one_probe_across_workers_redis(pair: tuple[mailbridge.Client, mailbridge.Client], redis: RedisProcess) -> None:
    primary, secondary = pair
    stores = [RedisHealthStore(redis.url) for _ in range(4)]
    passed = threading.Event()

    def pass_cooldown() -> None:
        passed.wait(0.4)  # the 0.3 s cooldown ends in Redis (its own key expiry)

    gate, workers = _workers_during_a_probe(primary, secondary, stores, pass_cooldown)
    assert calls(secondary) == 61 and gate.calls == 20
    assert all(fo.healthy() == {"scripted": True, "scripted#2": True} for fo in workers)


def test_probe_that_ends_in_a_per_message_error_releases_its_claim(
    pair: tuple[mailbridge.Client, mailbridge.Client],
) -> None:
    primary, secondary = pair
    clock = Clock()
    health = MemoryHealthStore(clock)
    fo = FailoverClient([primary, secondary], cooldown=30, probe_timeout=30, health=health)
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503"), mailbridge.ContentRejected("spam")]
    fo.send(msg())
    clock.now = 31
    with pytest.raises(mailbridge.ContentRejected):
        fo.send(msg())  # the probe: the provider answered about this message only
    key = backend_of(primary).rate_limit_key
    assert health.claim_probe(key, 1), "the claim was given back at once, not held for probe_timeout"
    health.release_probe(key)
    fo.send(msg())
    assert calls(primary) == 3 and calls(secondary) == 1, "the next send probes the primary at once"
    assert fo.healthy()["scripted"] is True


def test_redis_health_falls_back_to_memory_and_returns(
    pair: tuple[mailbridge.Client, mailbridge.Client], redis: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis down: health lives in memory (one warning); Redis back: failures are shared through it again."""
    primary, secondary = pair
    clock = Clock()
    store = RedisHealthStore(redis.url, retry_interval=1.0, clock=clock)
    fo = FailoverClient([primary, secondary], cooldown=30, health=store)
    key = backend_of(primary).rate_limit_key
    caplog.set_level(logging.WARNING, "mailbridge.state")
    redis.stop()
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    for _ in range(5):
        clock.now += 0.5
        fo.send(msg())
    assert calls(primary) == 1 and calls(secondary) == 5, "the memory fallback kept the cooldown"
    assert caplog.text.count("Redis does not answer") == 1, "one warning per outage"
    assert store.fallback.outages == 1
    redis.start()  # a fresh, empty Redis
    clock.now += 1.5
    assert fo.healthy()["scripted"] is True, "health is read from Redis again"
    assert "Redis answers again" in caplog.text
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    fo.send(msg())
    import redis as redis_lib

    assert redis_lib.Redis.from_url(redis.url).exists(f"mailbridge:health:open:{key}") == 1
    assert caplog.text.count("Redis does not answer") == 1


def test_rate_limiter_survives_redis_outage(redis: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter(redis.url)
    caplog.set_level(logging.WARNING, "mailbridge.state")
    limiter.acquire("acct:send", Rate(100, 1))
    redis.stop()
    for _ in range(5):
        limiter.acquire("acct:send", Rate(100, 1))  # no redis exception escapes
    assert caplog.text.count("Redis does not answer") == 1
    assert limiter.fallback is not None and not limiter.fallback.up


def test_frozen_redis_does_not_block_or_raise(
    pair: tuple[mailbridge.Client, mailbridge.Client], redis: RedisProcess
) -> None:
    """A SIGSTOPped Redis: the short socket timeout ends the call and the send goes on from memory."""
    primary, secondary = pair
    store = RedisHealthStore(redis.url, timeout=0.2)
    fo = FailoverClient([primary, secondary], health=store)
    redis.freeze()
    try:
        result = fo.send(msg())
        assert result.attempts[-1].outcome == "sent" and store.fallback.outages == 1
    finally:
        redis.thaw()


def test_without_the_redis_package_a_configuration_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(mailbridge.ConfigurationError, match=r"mailbridge\[redis\]"):
        RedisHealthStore("redis://127.0.0.1:1/0")
    with pytest.raises(mailbridge.ConfigurationError, match=r"mailbridge\[redis\]"):
        RateLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(mailbridge.ConfigurationError, match=r"mailbridge\[redis\]"):
        mailbridge.RedisIdempotencyStore("redis://127.0.0.1:1/0")
