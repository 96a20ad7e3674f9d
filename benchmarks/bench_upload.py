"""Upload throughput and memory on the local backend.

Run: .venv/bin/python benchmarks/bench_upload.py [ROWS]

Prints the median of 3 runs for streaming ROWS recipients (default 100,000) through the client, the
per-recipient cost split (address validation vs everything else), and the peak traced memory of a
streamed upload against the same rows materialised as a list first.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator

import mailbridge
from mailbridge._validation import address_error


def rows(n: int) -> Iterator[dict[str, str]]:
    for i in range(n):
        yield {"email": f"user{i}@example{i % 97}.com", "name": f"User {i}", "plan": "pro"}


def timed_upload(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, mailbridge.connect(f"local://{tmp}") as client:
        group = client.create_group("bench")
        start = time.perf_counter()
        report = client.upload(group, rows(n))
        elapsed = time.perf_counter() - start
        assert report.accepted == n
        return elapsed


def peak_memory(n: int, materialise: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp, mailbridge.connect(f"local://{tmp}") as client:
        group = client.create_group("bench")
        tracemalloc.start()
        source = [mailbridge.Recipient.coerce(r) for r in rows(n)] if materialise else rows(n)
        client.upload(group, source)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = [timed_upload(n) for _ in range(3)]
    median = statistics.median(runs)
    print(f"upload {n:,} rows (local): median {median:.2f}s over 3 runs = {n / median:,.0f} recipients/s")

    sample = [f"probe{i}@example.com" for i in range(20_000)]
    address_error.cache_clear()
    start = time.perf_counter()
    for a in sample:
        address_error(a)
    per_address = (time.perf_counter() - start) / len(sample)
    share = per_address * n / median
    print(f"address syntax check: {per_address * 1e6:.1f} µs/address = {share:.0%} of the upload time")

    m = min(n, 50_000)
    streamed, listed = peak_memory(m, False), peak_memory(m, True)
    print(
        f"peak traced memory for {m:,} rows: streamed {streamed / 1e6:.1f} MB, "
        f"materialised list {listed / 1e6:.1f} MB (ratio {listed / streamed:.1f}x)"
    )


if __name__ == "__main__":
    main()
