"""Sustained send rate against each cloud's emulator, with an emulated round-trip time.

Run: .venv/bin/python benchmarks/bench_send_rate.py [--rtt 0.05] [--seconds 10] [--runs 3]

Each emulator enforces the cloud's documented rate (Direct Mail SingleSendMail 100 calls/s,
Tencent SES 20 requests/s) and answers every call after ``--rtt`` seconds. Side by side in one
run: a plain loop over ``send()`` (what a user writes without ``send_many``) and
``send_many()`` with the real client-side rate limiter. Prints medians over ``--runs`` and the
ratio to the declared rate, plus the throttle errors the emulator returned (must be 0).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge


def messages(sender: str, count: int, tag: str) -> Iterator[mailbridge.Message]:
    for i in range(count):
        yield mailbridge.Message(
            sender=sender, to=[f"user{i}@example.com"], subject=f"{tag} {i}", text="hello", html="<p>hello</p>"
        )


def measure(
    client: mailbridge.Client, sender: str, count: int, concurrent: bool
) -> tuple[float, int, int]:
    """(messages per second, sent, throttled) for ``count`` messages."""
    start = time.perf_counter()
    sent = throttled = 0
    if concurrent:
        for outcome in client.send_many(messages(sender, count, "many")):
            sent += outcome.ok
            throttled += isinstance(outcome.error, mailbridge.RateLimited)
    else:
        for message in messages(sender, count, "loop"):
            try:
                client.send(message)
                sent += 1
            except mailbridge.RateLimited:
                throttled += 1
    return count / (time.perf_counter() - start), sent, throttled


def run_cloud(name: str, make: Callable[[], Any], url_of: Callable[[Any], str], sender: str, args: Any) -> None:
    with make() as emulator:
        client = mailbridge.connect(url_of(emulator), retry=mailbridge.RetryPolicy(attempts=1))
        rate = client.limits.rate_for(mailbridge.Operation.SEND)
        assert rate is not None
        declared = rate.calls / rate.per
        many_count = int(declared * args.seconds)
        loop_count = max(20, int(many_count / 10))
        loops, manys, throttles = [], [], 0
        for _ in range(args.runs):
            per_s, _sent, thr = measure(client, sender, loop_count, concurrent=False)
            loops.append(per_s)
            throttles += thr
            time.sleep(1.1)  # let the emulator's window drain between runs
            per_s, _sent, thr = measure(client, sender, many_count, concurrent=True)
            manys.append(per_s)
            throttles += thr
            time.sleep(1.1)
        client.close()
    loop, many = statistics.median(loops), statistics.median(manys)
    print(
        f"{name:8} declared {declared:5.0f}/s | loop over send(): {loop:6.1f}/s ({loop / declared:4.0%}) | "
        f"send_many: {many:6.1f}/s ({many / declared:4.0%}, {many / loop:4.1f}x the loop) | "
        f"throttled by the emulator: {throttles}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rtt", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"sustained sends, {args.rtt * 1000:.0f} ms emulated RTT, medians of {args.runs} runs")

    def aliyun() -> AliyunEmulator:
        emulator = AliyunEmulator(rate=100, daily_quota=10**9)
        emulator.inject("delay", delay=args.rtt, times=None)
        emulator.add_sender("news@mail.example.com")
        return emulator

    def tencent() -> TencentEmulator:
        emulator = TencentEmulator(rate=20)
        emulator.inject("delay", delay=args.rtt, times=None)
        return emulator

    run_cloud("aliyun", aliyun, lambda e: e.url, "news@mail.example.com", args)
    run_cloud("tencent", tencent, lambda e: e.url, "noreply@mail.example.com", args)


if __name__ == "__main__":
    main()
