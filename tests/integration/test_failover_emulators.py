"""Issue 5's fault test: 2,000 sends through failover:// while the Direct Mail emulator misbehaves.

The primary (Direct Mail emulator) answers 5xx, resets connections, throttles, times out and sends
malformed bodies by rule; the secondary (Tencent SES emulator) is healthy. Every message must end up
in exactly one emulator's sent mail, or be reported as "outcome unknown" and then be in at most one:
never lost silently, never sent twice. The primary gets its traffic back once it recovers.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ..failover_modes import Failovers
from ..redis_server import redis_server

SENDER = "noreply@mail.example.com"
TOTAL = 2000
COOLDOWN = 0.1

# (first message, kind, options) — each rule holds until the next one starts.
FAULT_RULES: list[tuple[int, str | None, dict[str, Any]]] = [
    (0, None, {}),  # healthy
    (300, "error", {"status": 503, "code": "ServiceUnavailable"}),  # 5xx
    (600, "reset", {}),  # connection reset before processing
    (
        800,
        "error",
        {"status": 400, "code": "Throttling.User", "message": "Request was denied due to user flow control."},
    ),
    (1100, "delay", {"delay": 0.7, "apply": True}),  # processed, but the answer comes after the client's timeout
    (1300, "malformed", {"status": 502}),  # a gateway page instead of JSON
    (1500, "reset", {"apply": True}),  # processed, then the connection drops
    (1700, None, {}),  # recovered
]


@pytest.fixture
def emulators() -> Iterator[tuple[AliyunEmulator, TencentEmulator]]:
    with AliyunEmulator(daily_quota=1_000_000) as ali, TencentEmulator(rate=0) as ten:
        ali.add_sender(SENDER)
        yield ali, ten


ATTACH_EVERY = 20


def _attachment(i: int) -> tuple[mailbridge.Attachment, ...]:
    """Every 20th message carries a small binary file (Direct Mail: uploaded through OpenPlatform + OSS)."""
    if i % ATTACH_EVERY:
        return ()
    return (mailbridge.Attachment(f"receipt-{i}.bin", f"receipt {i}\n".encode() + bytes(range(256))),)


def _files(ali: AliyunEmulator, ten: TencentEmulator, subject: str) -> list[tuple[str, bytes]]:
    """The attachments of the one delivered copy of ``subject``, whichever emulator has it."""
    files = [[(a.filename, a.content) for a in m.attachments] for m in ali.sent_mail if m.subject == subject]
    files += [
        [(a["filename"], a["content"]) for a in m["attachments"]] for m in ten.sent_mail if m["subject"] == subject
    ]
    assert len(files) == 1, subject
    return files[0]


def _subjects(mail: list[Any]) -> collections.Counter[str]:
    return collections.Counter(m.subject if hasattr(m, "subject") else m["subject"] for m in mail)


def test_two_thousand_sends_with_a_misbehaving_primary(
    emulators: tuple[AliyunEmulator, TencentEmulator], failovers: Failovers
) -> None:
    """Through FailoverClient, and through AsyncFailoverClient (its Direct Mail member sends natively)."""
    ali, ten = emulators
    # rate_limit=off: the emulators do not enforce the clouds' rates, and 2,000 sends at SES's 20/s take 100 s.
    url = mailbridge.failover_url(
        [ali.url_with(timeout="0.5"), ten.url], cooldown=COOLDOWN, retries=2, rate_limit="off"
    )
    outcomes: dict[int, tuple[str, str]] = {}  # i -> ("sent", provider) | ("unknown", error)
    rules = iter(FAULT_RULES[1:])
    next_rule = next(rules)
    with failovers.connect(url) as fo:
        for i in range(TOTAL):
            if next_rule is not None and i == next_rule[0]:
                ali.clear_faults()
                if next_rule[1] is not None:
                    ali.inject(next_rule[1], action="SingleSendMail", times=None, **next_rule[2])
                else:
                    time.sleep(COOLDOWN * 1.5)  # let the cooldown pass so the next send probes the primary
                next_rule = next(rules, None)
            message = mailbridge.Message(
                sender=SENDER, to=[f"user{i}@example.com"], subject=f"msg-{i}", text="hi", attachments=_attachment(i)
            )
            try:
                result = fo.send(message)
            except mailbridge.OutcomeUnknown as exc:
                assert [a.outcome for a in exc.attempts][-1] == "unknown"
                outcomes[i] = ("unknown", type(exc).__name__)
                continue
            assert result.attempts[-1].outcome == "sent"
            outcomes[i] = ("sent", result.provider)

    delivered = _subjects(ali.sent_mail) + _subjects(ten.sent_mail)
    where = {"aliyun": _subjects(ali.sent_mail), "tencent": _subjects(ten.sent_mail)}
    lost = [i for i, (kind, _) in outcomes.items() if kind == "sent" and delivered[f"msg-{i}"] == 0]
    duplicated = [i for i in range(TOTAL) if delivered[f"msg-{i}"] > 1]
    misplaced = [i for i, (kind, p) in outcomes.items() if kind == "sent" and where[p][f"msg-{i}"] != 1]
    unknown = [i for i, (kind, _) in outcomes.items() if kind == "unknown"]
    assert len(outcomes) == TOTAL
    assert (lost, duplicated, misplaced) == ([], [], [])
    assert unknown, "the reset/timeout/malformed rules should have produced unknown outcomes"
    assert all(delivered[f"msg-{i}"] <= 1 for i in unknown)
    # Every 20th message carried a file: wherever it arrived, it arrived with those exact bytes.
    for i in range(0, TOTAL, ATTACH_EVERY):
        if outcomes[i][0] == "sent":
            assert _files(ali, ten, f"msg-{i}") == [(a.filename, a.content) for a in _attachment(i)], i
    assert {p for i, (k, p) in outcomes.items() if k == "sent" and i % ATTACH_EVERY == 0} == {"aliyun", "tencent"}
    # Each fault rule moved work to the secondary...
    for start, kind, _ in FAULT_RULES[1:-1]:
        phase = [outcomes[i] for i in range(start, start + 100)]
        assert ("sent", "tencent") in phase, f"no failover during the {kind} phase"
    # ...and once recovered the primary takes the traffic back.
    assert all(outcomes[i] == ("sent", "aliyun") for i in range(1700, TOTAL))
    assert all(outcomes[i] == ("sent", "aliyun") for i in range(0, 300))


WORKER = textwrap.dedent(
    """
    import json, sys, mailbridge
    url, redis_url, worker, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = mailbridge.connect(url, rate_limiter=mailbridge.RateLimiter(redis_url),
                                retry=mailbridge.RetryPolicy(attempts=1))
    sent = 0
    for i in range(count):
        client.send(mailbridge.Message(sender="noreply@mail.example.com", to=[f"w{worker}-{i}@example.com"],
                                       subject=f"w{worker}-{i}", text="hi"))
        sent += 1
    print(json.dumps({"sent": sent}))
    """
)


def test_two_workers_sharing_redis_stay_under_tencents_rate(tmp_path: Path) -> None:
    """Two processes at full speed, one Redis budget: the SES emulator (20 requests/s) never throttles."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    with TencentEmulator(rate=20) as ten, redis_server(tmp_path) as redis_url:
        started = time.monotonic()
        workers = [
            subprocess.Popen(
                [sys.executable, str(script), ten.url, redis_url, str(w), "35"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                # The default 40 ms of jitter per window holds alone, not always under the whole suite on a
                # shared 2-core host (calls arrive up to ~120 ms late): absorb 0.1 s (91% of the rate).
                env={**os.environ, "MAILBRIDGE_RATE_MARGIN": "0.1"},
            )
            for w in range(2)
        ]
        results = [w.communicate(timeout=120) for w in workers]
        elapsed = time.monotonic() - started
        for worker, (out, err) in zip(workers, results, strict=True):
            assert worker.returncode == 0, err
            assert json.loads(out) == {"sent": 35}
        assert ten.server.throttled == 0, f"the emulator throttled {ten.server.throttled} calls"
        assert len(ten.sent_mail) == 70
        assert elapsed >= 3.0, "70 sends at 20/s take more than three seconds"
