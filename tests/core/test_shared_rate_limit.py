"""Two worker processes sharing one Redis budget stay under the declared rate together."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ..redis_server import redis_server

WORKER = textwrap.dedent(
    """
    import json, sys, time
    import mailbridge
    from mailbridge_local import LocalBackend

    class Account(LocalBackend):
        limits = LocalBackend.limits.evolve(rates={"send": mailbridge.Rate(20, 1)})

        @property
        def rate_limit_key(self):
            return "shared-account"  # both workers use the same provider account

    times = []

    class RecordingLimiter(mailbridge.RateLimiter):
        def acquire(self, key, rate):
            super().acquire(key, rate)
            times.append(time.time())  # the moment a call was let through

    redis_url, directory, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = mailbridge.Client(Account(__import__("pathlib").Path(directory)),
                               rate_limiter=RecordingLimiter(redis_url))
    for i in range(count):
        client.send(mailbridge.Message(sender="me@example.com", to=[f"u{i}@example.com"], subject="s", text="t"))
    print(json.dumps(times))
    """
)


def test_two_workers_share_a_redis_rate_budget(tmp_path: Path) -> None:
    """60 sends from two processes at a shared 20/s: no one-second window holds more than 20."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    with redis_server(tmp_path) as url:
        workers = [
            subprocess.Popen(
                [sys.executable, str(script), url, str(tmp_path / f"w{i}"), "30"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        outputs = [w.communicate(timeout=60) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    times = sorted(t for out, _ in outputs for t in json.loads(out))
    assert len(times) == 60
    # Timestamps are taken just after each call is let through, so allow 20 ms of measurement jitter.
    busiest = max(sum(1 for t in times if start <= t < start + 0.98) for start in times)
    assert busiest <= 20, f"{busiest} sends within one second"
    assert times[-1] - times[0] >= 2.0, "60 sends at 20/s take at least two seconds"
