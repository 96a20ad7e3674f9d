"""Migration speed, Direct Mail emulator -> SES emulator, under both clouds' declared rates.

Run: .venv/bin/python benchmarks/bench_migrate.py [--members 4000] [--runs 3] [--upload-delay 1.0]

The Direct Mail emulator enforces its Quota Center table (``quotas=True``: QueryReceiverDetail 2
calls/s), the SES emulator its 20 requests/s and asynchronous imports (``--upload-delay`` seconds
each); both clients pace themselves by their declared rates (no ``rate_limit=off``). A list of
``--members`` members with profile fields is migrated with ``mailbridge.migrate`` (plan, copy,
verify), and the members/s of the whole ``migrate`` call is reported (median of ``--runs``), with
the bound the source's read rate sets (2 calls/s x the page size) and the QueryReceiverDetail calls
made against the pages needed (a throttled call is logged too, so more calls mean throttles).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge


def one_run(members: int, upload_delay: float) -> tuple[float, int]:
    """(seconds of migrate(), QueryReceiverDetail calls it made)."""
    with (
        AliyunEmulator(quotas=True) as dm,
        TencentEmulator(upload_delay=upload_delay) as ses,
        mailbridge.connect(dm.url) as source,
        mailbridge.connect(ses.url) as target,
    ):
        group = source.create_group("bench", "migration benchmark")
        rows = [mailbridge.Recipient(f"m{i}@example.com", name=f"Member {i}") for i in range(members)]
        for start in range(0, members, 500):
            source.backend.upload_batch(group, rows[start : start + 500])
        plan = mailbridge.plan_migration(source, target)
        before = len(dm.calls("QueryReceiverDetail"))
        start = time.perf_counter()
        report = mailbridge.migrate(source, target, plan)
        elapsed = time.perf_counter() - start
        if not report.verified or report.groups[0].copied != members:
            raise SystemExit(f"migration not verified: {report.as_dict()['groups']}")
        reads = len(dm.calls("QueryReceiverDetail")) - before
    return elapsed, reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--upload-delay", type=float, default=1.0)
    args = parser.parse_args()
    runs = []
    for run in range(args.runs):
        elapsed, reads = one_run(args.members, args.upload_delay)
        runs.append(elapsed)
        pages = -(-args.members // 100)
        print(
            f"run {run + 1}: {elapsed:.1f} s = {args.members / elapsed:.0f} members/s "
            f"(QueryReceiverDetail calls {reads}, pages needed {pages})"
        )
    median = statistics.median(runs)
    page = 100  # the Direct Mail backend's QueryReceiverDetail page
    print(
        f"migrate {args.members:,} members DM -> SES under the declared rates: median {median:.1f} s = "
        f"{args.members / median:.0f} members/s; the source's read bound is 2 calls/s x {page} = {2 * page}/s "
        f"(median of {args.runs}; SES import delay {args.upload_delay:g} s; load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
