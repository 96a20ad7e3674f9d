"""Even pacing: evenly spaced slots below the declared rate, reserved atomically in memory and in Redis."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import mailbridge
from mailbridge import Rate, RateLimiter

from ..redis_server import RedisProcess, redis_server
from .conftest import SleepingClock


def paced(clock: SleepingClock, **options: float) -> RateLimiter:
    return RateLimiter(sleep=clock.sleep, clock=clock.time, **options)


def test_calls_are_let_through_at_evenly_spaced_slots() -> None:
    """100/s with the default 40 ms margin: one call every 10.4 ms, the first at once."""
    clock = SleepingClock()
    limiter = paced(clock)
    start = clock.now
    passed = []
    for _ in range(10):
        limiter.acquire("acct:send", Rate(100, 1))
        passed.append(clock.now - start)
    assert passed == pytest.approx([k * 0.0104 for k in range(10)])
    assert limiter.waited == pytest.approx(9 * 0.0104)


def test_no_burst_after_an_idle_spell() -> None:
    """Idle time earns no credit: after a pause the calls are spaced again from the first."""
    clock = SleepingClock()
    limiter = paced(clock)
    limiter.acquire("k", Rate(20, 1))
    clock.now += 30.0  # idle
    limiter.acquire("k", Rate(20, 1))
    assert clock.slept == []
    limiter.acquire("k", Rate(20, 1))
    assert clock.slept == [pytest.approx(1.04 / 20)]


def test_keys_are_paced_independently() -> None:
    clock = SleepingClock()
    limiter = paced(clock)
    for key in ("a:send", "b:send", "a:list_members"):
        limiter.acquire(key, Rate(2, 1))
    assert clock.slept == []
    limiter.acquire("a:send", Rate(2, 1))
    assert clock.slept == [pytest.approx(0.52)]


def test_sustained_rate_is_96_percent_and_no_window_holds_one_too_many() -> None:
    """1,000 calls at 100/s: >= 95% of the rate, and arrivals jittered by up to the margin
    never put 101 calls in any one-second window of the provider."""
    clock = SleepingClock()
    limiter = paced(clock)
    slots = []
    for _ in range(1000):
        limiter.acquire("k", Rate(100, 1))
        slots.append(clock.now)
    achieved = (len(slots) - 1) / (slots[-1] - slots[0])
    assert 95.0 <= achieved < 100.0
    # The worst jitter: a call 40 ms late, the one a window later on time.
    for i in range(len(slots) - 100):
        assert (slots[i + 100]) - (slots[i] + 0.04) >= 1.0 - 1e-9


@pytest.mark.parametrize(("margin", "interval"), [(0.0, 0.05), (0.04, 0.052), (0.2, 0.06)])
def test_margin_is_the_jitter_absorbed_per_window(margin: float, interval: float) -> None:
    assert RateLimiter(margin=margin).interval(Rate(20, 1)) == pytest.approx(interval)
    assert RateLimiter(margin=margin).interval(Rate(10, 60)) == pytest.approx((60 + margin) / 10)


def test_bad_settings_are_configuration_errors() -> None:
    with pytest.raises(mailbridge.ConfigurationError, match="margin"):
        RateLimiter(margin=-0.1)
    with pytest.raises(mailbridge.ConfigurationError, match="memcached://"):
        RateLimiter("memcached://localhost:11211")


def test_threads_never_share_or_crowd_a_slot() -> None:
    """16 threads reserving at one frozen instant get 16 x 25 distinct slots exactly one interval apart."""
    clock = SleepingClock()
    limiter = paced(clock)
    rate = Rate(100, 1)
    slots: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    def worker() -> None:
        barrier.wait()
        for _ in range(25):
            slot = limiter.reserve("k", rate)
            with lock:
                slots.append(slot.at)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    assert slots == pytest.approx([clock.now + k * limiter.interval(rate) for k in range(400)])


RESERVER = textwrap.dedent(
    """
    import json, sys, threading
    import mailbridge

    url, count = sys.argv[1], int(sys.argv[2])
    limiter = mailbridge.RateLimiter(url)
    slots = []
    def work():
        for _ in range(count):
            slots.append(limiter.reserve("acct:send", mailbridge.Rate(100, 1)).at)
    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert limiter.fallback.up
    print(json.dumps(slots))
    """
)


def test_processes_and_threads_sharing_redis_never_get_slots_closer_than_the_interval(tmp_path: Path) -> None:
    """3 processes x 4 threads x 30 reservations through one Redis: 360 distinct slots, each at
    least one interval (10.4 ms, on Redis's clock) after the one before."""
    script = tmp_path / "reserver.py"
    script.write_text(RESERVER)
    with redis_server(tmp_path) as url:
        procs = [
            subprocess.Popen([sys.executable, str(script), url, "30"], stdout=subprocess.PIPE, text=True)
            for _ in range(3)
        ]
        outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    slots = sorted(s for out in outs for s in json.loads(out))
    assert len(slots) == 360
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= 0.0104 - 1e-6, f"two slots {min(gaps) * 1000:.3f} ms apart"


def test_redis_slots_follow_on_from_each_other_across_limiters(tmp_path: Path) -> None:
    """Two limiters (two workers) on one Redis continue one sequence of slots; the key expires when idle."""
    import redis as redis_lib

    with redis_server(tmp_path) as url:
        first, second = RateLimiter(url), RateLimiter(url)
        a = first.reserve("acct:send", Rate(2, 1))
        b = second.reserve("acct:send", Rate(2, 1))
        assert b.at - a.at == pytest.approx(0.52)
        assert b.wait > 0.5
        ttl = redis_lib.Redis.from_url(url).pttl("mailbridge:pace:acct:send")
        assert 1000 < ttl <= 1000 + 1040 + 5, "the slot expires soon after it is no longer needed"


def test_redis_outage_paces_in_memory_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "mailbridge.state")
    clock = SleepingClock()
    with RedisProcess(tmp_path) as redis:
        limiter = RateLimiter(redis.url, sleep=clock.sleep, clock=clock.time, timeout=0.2)
        assert limiter.reserve("k", Rate(10, 1)).wait == 0
        redis.stop()
        waits = [limiter.reserve("k", Rate(10, 1)).wait for _ in range(3)]
        assert waits == pytest.approx([0.0, 0.104, 0.208]), "paced in memory during the outage"
        assert caplog.text.count("Redis does not answer") == 1
        assert limiter.fallback is not None and not limiter.fallback.up


def test_the_margin_comes_from_the_environment_when_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBRIDGE_RATE_MARGIN", "0.1")
    assert RateLimiter().interval(Rate(20, 1)) == pytest.approx(0.055)
    assert RateLimiter(margin=0.0).interval(Rate(20, 1)) == pytest.approx(0.05), "an explicit margin wins"
    monkeypatch.setenv("MAILBRIDGE_RATE_MARGIN", "soon")
    with pytest.raises(mailbridge.ConfigurationError, match="MAILBRIDGE_RATE_MARGIN"):
        RateLimiter()
