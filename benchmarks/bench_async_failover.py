"""AsyncFailoverClient's send_many: native (members awaited) vs the threaded way it used to run.

Run: .venv/bin/python benchmarks/bench_async_failover.py [--sends 300] [--in-flight 16] [--rtt 0.05] [--runs 3]

A ``failover://`` client over two Direct Mail emulators in another process sends ``--sends`` messages
with ``--in-flight`` at once, each emulator answering after ``--rtt`` seconds. The primary refuses every
send with a 503, so after each cooldown one probe fails and the rest fail over (``--healthy`` keeps it
healthy). Side by side, alternating within each run: ``AsyncFailoverClient.send_many`` (the members'
native sends on the loop) and the same run with each send in a worker thread of its own pool
(``FailoverClient.send`` through ``ThreadSends``: the implementation before the native one). Prints
medians of sends/s, the client's CPU seconds and the most client worker threads alive, and checks
that every message was delivered once.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from multiprocessing import Event, Process, Queue

from mailbridge_aliyun.emulator import AliyunEmulator

import mailbridge
from mailbridge._abulk import AsyncSendMany, ThreadSends

SENDER = "news@mail.example.com"


def mail(tag: str, i: int) -> mailbridge.Message:
    return mailbridge.Message(sender=SENDER, to=[f"u{i}@example.com"], subject=f"{tag}-{i}", text="hello")


async def run(client: mailbridge.AsyncFailoverClient, tag: str, args: argparse.Namespace, native: bool) -> int:
    """Send ``args.sends`` messages; the most threads alive during the run."""
    messages = (mail(tag, i) for i in range(args.sends))
    if native:
        stream = client.send_many(messages, max_in_flight=args.in_flight)
    else:
        threads = ThreadSends(args.in_flight)
        send: Callable[[mailbridge.Message], Awaitable[mailbridge.SendResult]] = lambda m: threads.run(  # noqa: E731
            client.sync.send, m
        )
        stream = AsyncSendMany(send, messages, max_in_flight=args.in_flight, on_close=threads.close)
    peak = 0
    async with stream:
        async for outcome in stream:
            assert outcome.ok, outcome.error
            peak = max(peak, client_threads())
    return peak


def client_threads() -> int:
    """Worker threads of the client (the emulators' server threads in this process aside)."""
    return sum(t.name.startswith(("mailbridge-send", "asyncio_")) for t in threading.enumerate())


def emulators(args: argparse.Namespace, urls: Queue, stop: Event, delivered: Queue) -> None:  # type: ignore[type-arg]
    """Both Direct Mail emulators, in their own process (in the client's process their threads would share
    its GIL and starve a single event-loop thread): the primary refuses sends unless ``--healthy``."""
    with (
        AliyunEmulator(daily_quota=10**9) as one,
        AliyunEmulator(access_key_id="LTAI5tBench", daily_quota=10**9) as two,
    ):
        for emulator in (one, two):
            emulator.add_sender(SENDER)
            emulator.inject("delay", delay=args.rtt, times=None)
        if not args.healthy:
            one.inject("error", action="SingleSendMail", times=None, status=503, code="ServiceUnavailable")
        urls.put((one.url, two.url))
        stop.wait()
        delivered.put([m.subject for m in (*one.sent_mail, *two.sent_mail)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--rtt", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--healthy", action="store_true", help="keep the primary healthy (no failover)")
    args = parser.parse_args()
    results: dict[bool, list[tuple[float, float, int]]] = {True: [], False: []}
    urls, delivered, stop = Queue(), Queue(), Event()  # type: ignore[var-annotated]
    server = Process(target=emulators, args=(args, urls, stop, delivered), daemon=True)
    server.start()
    one, two = urls.get(timeout=60)
    url = mailbridge.failover_url([one, two], retries=1, rate_limit="off", cooldown=0.5)

    async def main_loop() -> None:
        async with mailbridge.connect_failover_async(url) as client:
            for r in range(args.runs):
                for native in (True, False) if r % 2 == 0 else (False, True):
                    wall, cpu = time.perf_counter(), time.process_time()
                    peak = await run(client, f"r{r}-{native}", args, native)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    results[native].append((args.sends / wall, cpu, peak))
                    await asyncio.sleep(0.6)  # the primary's cooldown ends: each run starts alike

    asyncio.run(main_loop())
    stop.set()
    subjects = delivered.get(timeout=60)
    server.join(10)
    assert len(subjects) == len(set(subjects)) == 2 * args.runs * args.sends, "every message delivered once"
    print(
        f"{args.sends} sends, {args.in_flight} in flight, {args.rtt * 1000:.0f} ms RTT, "
        f"{'healthy primary' if args.healthy else 'primary refusing (503): sends fail over'}, medians of {args.runs} "
        "(client CPU only: the emulators run in another process)"
    )
    for native, name in ((True, "native AsyncFailoverClient"), (False, "threads (FailoverClient.send)")):
        rates, cpus, peaks = zip(*results[native], strict=True)
        print(
            f"  {name:30} {statistics.median(rates):7.1f} sends/s  {statistics.median(cpus):5.2f} s CPU  "
            f"{max(peaks):3d} worker threads at most"
        )


if __name__ == "__main__":
    main()
