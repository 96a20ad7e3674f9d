"""Issue 9 across processes: four worker processes sharing ``state=redis://`` through failover://.

* No stampede: while the providers keep failing (both at once, then only the primary), the
  workers together try each at most once per cooldown, and sends are refused without trying
  any while every provider cools down; once they recover the traffic comes back.
* Redis stopped, restarted and frozen under the workers: no exception other than mailbridge's,
  and every message the emulators accepted came back to its worker as a receipt.
"""

from __future__ import annotations

import collections
import itertools
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ..failover_modes import MODES, worker_env
from ..redis_server import RedisProcess

SENDER = "noreply@mail.example.com"
WORKERS = 4
COOLDOWN = 0.5

WORKER = textwrap.dedent(
    """
    import json, pathlib, sys, mailbridge
    from tests.failover_modes import AsyncDriven  # async: the same client's sends through AsyncFailoverClient
    url, worker, stop, mode = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), sys.argv[4]
    sends = []
    client = mailbridge.connect_failover(url)
    with (AsyncDriven(client) if mode == "async" else client) as fo:
        pathlib.Path(f"{stop}.ready{worker}").touch()
        i = 0
        while not stop.exists():
            subject = f"w{worker}-{i}"
            i += 1
            message = mailbridge.Message(sender="noreply@mail.example.com", to=[f"{subject}@example.com"],
                                         subject=subject, text="hi")
            entry = {"subject": subject}
            try:
                result = fo.send(message)
            except mailbridge.MailbridgeError as exc:
                entry["error"] = type(exc).__name__
                attempts = exc.attempts
            except BaseException as exc:
                entry["foreign"] = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
                attempts = ()
            else:
                entry["provider"] = result.attempts[-1].provider
                entry["ids"] = list(result.message_ids)
                attempts = result.attempts
            entry["attempts"] = [[a.provider, a.outcome, a.time.timestamp()] for a in attempts]
            sends.append(entry)
    print(json.dumps(sends))
    """
)


@pytest.fixture
def emulators() -> Iterator[tuple[AliyunEmulator, TencentEmulator]]:
    with AliyunEmulator(daily_quota=1_000_000) as ali, TencentEmulator(rate=0) as ten:
        ali.add_sender(SENDER)
        yield ali, ten


class Workers:
    def __init__(self, tmp_path: Path, url: str, mode: str = "sync") -> None:
        script = tmp_path / "worker.py"
        script.write_text(WORKER)
        self.stop_file = tmp_path / "stop"
        self.procs = [
            subprocess.Popen(
                [sys.executable, str(script), url, str(n), str(self.stop_file), mode],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=worker_env(),
            )
            for n in range(WORKERS)
        ]
        ready = [Path(f"{self.stop_file}.ready{n}") for n in range(WORKERS)]
        for _ in range(1200):  # starting four interpreters on a busy machine takes a while
            if all(r.exists() for r in ready) or any(p.poll() is not None for p in self.procs):
                break
            _wait(0.05)

    def finish(self) -> list[dict[str, Any]]:
        self.stop_file.touch()
        outputs = [p.communicate(timeout=120) for p in self.procs]
        for proc, (_out, err) in zip(self.procs, outputs, strict=True):
            assert proc.returncode == 0, err[-3000:]
        return [entry for out, _ in outputs for entry in json.loads(out)]


def _subjects(mail: list[Any]) -> collections.Counter[str]:
    return collections.Counter(m.subject if hasattr(m, "subject") else m["subject"] for m in mail)


def _check_receipts(sends: list[dict[str, Any]], ali: AliyunEmulator, ten: TencentEmulator) -> None:
    assert [s["foreign"] for s in sends if "foreign" in s] == [], "only mailbridge errors may reach a worker"
    delivered = _subjects(ali.sent_mail) + _subjects(ten.sent_mail)
    where = {"aliyun": _subjects(ali.sent_mail), "tencent": _subjects(ten.sent_mail)}
    ok = {s["subject"]: s["provider"] for s in sends if "provider" in s}
    assert all(n == 1 for n in delivered.values()), "nothing delivered twice"
    assert set(delivered) <= set(ok), "every delivered message came back to its worker as a receipt"
    assert all(where[p][subject] == 1 for subject, p in ok.items()), "each receipt names where it was delivered"


def _wait(seconds: float) -> None:
    threading.Event().wait(seconds)


def _failed_tries(sends: list[dict[str, Any]], provider: str) -> list[float]:
    return sorted(when for s in sends for p, outcome, when in s["attempts"] if p == provider and outcome == "failed")


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_workers_probe_failing_providers_once_per_cooldown(
    emulators: tuple[AliyunEmulator, TencentEmulator], tmp_path: Path, mode: str
) -> None:
    """Both providers down, then the secondary back, then the primary: never a stampede onto either
    (workers with a FailoverClient each, or an AsyncFailoverClient each: its health calls off the loop)."""
    ali, ten = emulators
    with RedisProcess(tmp_path) as redis:
        url = mailbridge.failover_url([ali.url, ten.url], cooldown=COOLDOWN, retries=1, state=redis.url)
        workers = Workers(tmp_path, url, mode)
        ali.inject("error", action="SingleSendMail", times=None, status=503, code="ServiceUnavailable")
        ten.inject("error", action="SendEmail", times=None, code="FailedOperation.ServiceNotAvailable")
        _wait(3.0)  # about six cooldowns with every provider down
        ten.clear_faults()
        _wait(1.0)  # the secondary's next probe succeeds: it takes the traffic
        ali.clear_faults()
        _wait(1.5)  # the primary's next probe succeeds: the traffic returns to it
        sends = workers.finish()
    _check_receipts(sends, ali, ten)
    errors = [s for s in sends if "error" in s]
    assert {s["error"] for s in errors} == {"ProviderUnavailable"}, "only 'certainly not sent' while all were down"
    idle = [s for s in errors if all(outcome == "skipped" for _p, outcome, _t in s["attempts"])]
    assert idle, "while every provider cooled down, sends were refused without trying any"
    for provider in ("aliyun", "tencent"):
        failed = _failed_tries(sends, provider)
        assert len(failed) >= 3, f"{provider} was probed again after its cooldowns"
        # At the start every worker may find the provider healthy at once; after that the shared cooldown
        # holds: two failed tries are at least one cooldown apart, whichever workers made them.
        gaps = [b - a for a, b in itertools.pairwise(failed[WORKERS:])]
        assert all(gap >= COOLDOWN * 0.9 for gap in gaps), f"{provider} probed closer than the cooldown: {gaps}"
    last = {s["subject"].split("-")[0]: s for s in sends if "provider" in s}
    assert {s["provider"] for s in last.values()} == {"aliyun"}, "after recovery every worker sends to the primary"


@pytest.mark.slow
def test_redis_outages_under_worker_processes(
    emulators: tuple[AliyunEmulator, TencentEmulator], tmp_path: Path
) -> None:
    ali, ten = emulators
    redis = RedisProcess(tmp_path)
    redis.start()
    try:
        url = mailbridge.failover_url([ali.url, ten.url], cooldown=0.2, retries=2, state=redis.url)
        workers = Workers(tmp_path, url)
        for action in (redis.stop, redis.start, redis.freeze, redis.thaw):
            ali.inject("error", action="SingleSendMail", times=3, status=503, code="ServiceUnavailable")
            _wait(1.2)
            action()
        _wait(1.2)
        sends = workers.finish()
    finally:
        redis.stop()
    _check_receipts(sends, ali, ten)
    assert [s for s in sends if "error" in s] == []
    assert len(sends) > 100
