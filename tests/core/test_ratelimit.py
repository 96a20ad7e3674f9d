"""The client-side rate limiter."""

from __future__ import annotations

import mailbridge
from mailbridge import Rate, RateLimiter

from .conftest import MakeClient, backend_of


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_calls_beyond_the_rate_wait() -> None:
    """Five calls at 2 per second: the limiter waits before the third and the fifth."""
    limiter = RateLimiter()
    started = limiter._clock()
    for _ in range(5):
        limiter.acquire("k", Rate(2, 1))
    assert limiter.waited > 0
    assert limiter._clock() - started >= 1.9


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
