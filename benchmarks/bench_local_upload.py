"""A 1,000,000-row CSV uploaded into the local backend through the CLI, end to end.

Run: .venv/bin/python benchmarks/bench_local_upload.py [--rows 1000000] [--runs 3] [--profile FILE]

Generates the CSV once in a temporary directory (``email,name,plan``; 97 domains, as a real list
holds a few dozen providers; a sprinkle of invalid addresses and repeats so that the per-row report
is exercised), then for each run starts a fresh ``mailbridge recipients upload`` subprocess on a
fresh ``local://`` store and measures its wall time and peak RSS (``wait4``). Prints the median
rows/s and peak RSS over ``--runs``. ``--profile FILE`` runs the CLI once more under cProfile and
writes the stats to FILE (read with ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOMAINS = 97


def write_csv(path: Path, rows: int) -> tuple[int, int]:
    """The file; returns (invalid rows, repeated rows) planted in it."""
    invalid = repeated = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("email,name,plan\n")
        lines = []
        for i in range(rows):
            if i % 10_007 == 5:
                email = f"broken{i}@@example{i % DOMAINS}.com"
                invalid += 1
            elif i % 10_009 == 7 and i:
                email = f"user{i - 1}@example{(i - 1) % DOMAINS}.com"
                repeated += 1
            else:
                email = f"user{i}@example{i % DOMAINS}.com"
            lines.append(f"{email},User {i},pro\n")
            if len(lines) >= 10_000:
                out.writelines(lines)
                lines.clear()
        out.writelines(lines)
    return invalid, repeated


def cli() -> list[str]:
    return [str(Path(sys.executable).with_name("mailbridge"))]


def run_upload(
    csv_path: Path, store: Path, profile: Path | None = None
) -> tuple[float, float, float, dict[str, object]]:
    """(wall seconds, CPU seconds, peak RSS MiB, the --json report) of one CLI upload into a fresh store."""
    base = [f"--url=local://{store}"]
    subprocess.run([*cli(), *base, "groups", "create", "bench"], check=True, stdout=subprocess.DEVNULL)
    args = [*base, "--json", "recipients", "upload", "bench", str(csv_path), "--no-progress"]
    args += ["--rejected", str(store / "rejected.csv")]
    if profile is not None:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), cli()[0], *args]
    else:
        command = [*cli(), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 9):  # 9: partial (some rows rejected), as planted
        raise SystemExit(f"upload failed with exit status {code}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mailbridge-bench-") as tmp:
        csv_path = Path(tmp) / "recipients.csv"
        invalid, repeated = write_csv(csv_path, args.rows)
        walls, cpus, rss = [], [], []
        for run in range(args.runs):
            load = os.getloadavg()[0]
            wall, cpu, peak, report = run_upload(csv_path, Path(tmp) / f"store{run}")
            expected = args.rows - invalid - repeated
            if report["accepted"] != expected or len(report["rejected"]) != invalid:  # type: ignore[arg-type]
                raise SystemExit(f"unexpected report: accepted {report['accepted']}, want {expected}")
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
            print(
                f"run {run + 1}: {wall:.2f} s wall ({args.rows / wall:,.0f} rows/s), {cpu:.2f} s CPU "
                f"({args.rows / cpu:,.0f} rows per CPU-second), peak RSS {peak:.1f} MiB (load {load:.1f} before)"
            )
        median, median_cpu = statistics.median(walls), statistics.median(cpus)
        print(
            f"local upload via the CLI, {args.rows:,} rows ({invalid} invalid, {repeated} repeats): "
            f"median {median:.2f} s = {args.rows / median:,.0f} recipients/s; CPU {median_cpu:.2f} s = "
            f"{args.rows / median_cpu:,.0f} recipients per CPU-second; peak RSS {statistics.median(rss):.1f} MiB "
            f"(median of {args.runs}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        if args.profile:
            run_upload(csv_path, Path(tmp) / "profiled", args.profile)
            print(f"cProfile stats written to {args.profile}")


if __name__ == "__main__":
    main()
