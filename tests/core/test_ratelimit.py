"""The client-side rate limiter."""

from __future__ import annotations

import pytest

import mailbridge
from mailbridge import Rate, RateLimiter

from .conftest import MakeClient, SleepingClock, backend_of


def test_calls_beyond_the_rate_wait() -> None:
    """Five calls at 2 per second are paced one slot (0.52 s) apart: 2.08 s from the first to the last."""
    clock = SleepingClock()
    limiter = RateLimiter(sleep=clock.sleep, clock=clock.time)
    started = clock.now
    for _ in range(5):
        limiter.acquire("k", Rate(2, 1))
    assert clock.slept == pytest.approx([0.52] * 4)
    assert limiter.waited == pytest.approx(clock.now - started) == pytest.approx(4 * 0.52)


def test_no_rate_means_no_wait() -> None:
    limiter = RateLimiter(sleep=lambda s: (_ for _ in ()).throw(AssertionError("slept")))
    for _ in range(100):
        limiter.acquire("k", None)


def test_client_applies_declared_rate_per_operation(make_client: MakeClient) -> None:
    """A declared send rate throttles sends through the client."""
    client = make_client(rates={"send": Rate(3, 1)})
    for _ in range(4):
        client.send(mailbridge.Message(sender="a@example.com", to=["b@example.com"], subject="s", text="t"))
    assert client.rate_limiter.waited > 0
    assert len(backend_of(client).calls_to("send")) == 4


def test_repr_hides_storage_credentials() -> None:
    limiter = RateLimiter("memory://")
    assert repr(limiter) == "RateLimiter(memory://...)"


def test_disabled_limiter_never_waits() -> None:
    limiter = RateLimiter.disabled()
    for _ in range(50):
        limiter.acquire("k", Rate(1, 1))
    assert limiter.waited == 0
