"""Issue 9: 1,000 messages with idempotency keys, each sent twice by two processes sharing Redis.

Both processes send the same 1,000 keyed messages at once through ``failover://`` (the Direct
Mail emulator first, the Tencent SES emulator behind it) with ``idempotency=state`` (Redis), and
again with one SQLite file. Whoever
claims a key first sends it; the other gets the first receipts back, or ``OutcomeUnknown``
while the first is still in flight. Counted at the emulators: exactly 1,000 delivered.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ..failover_modes import worker_env
from ..redis_server import redis_server

SENDER = "noreply@mail.example.com"
TOTAL = 1000

WORKER = textwrap.dedent(
    """
    import json, sys, mailbridge
    from tests.failover_modes import AsyncDriven  # async: the same client's sends through AsyncFailoverClient
    url, total, order, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    keys = list(range(total)) if order == "up" else list(reversed(range(total)))
    out = {"sent": {}, "unknown": []}
    client = mailbridge.connect_failover(url)
    with (AsyncDriven(client) if mode == "async" else client) as fo:
        for i in keys:
            message = mailbridge.Message(sender="noreply@mail.example.com", to=[f"user{i}@example.com"],
                                         subject=f"msg-{i}", text="hi", idempotency_key=f"order-{i}")
            try:
                result = fo.send(message)
            except mailbridge.OutcomeUnknown:
                out["unknown"].append(i)
            else:
                out["sent"][str(i)] = list(result.message_ids)
    print(json.dumps(out))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("store", "total", "mode"),
    [("state", TOTAL, "sync"), ("sqlite", 300, "sync"), ("state", 300, "async"), ("sqlite", 300, "async")],
)
def test_thousand_keyed_messages_sent_twice_from_two_processes(
    tmp_path: Path, store: str, total: int, mode: str
) -> None:
    """``idempotency=state`` (the Redis of ``state=``), or an SQLite file both processes open (fewer
    messages: every claim is a synchronous SQLite commit); each process with a FailoverClient, or with an
    AsyncFailoverClient (the stores called off its loop, Direct Mail sending natively)."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    with (
        AliyunEmulator(daily_quota=1_000_000) as ali,
        TencentEmulator(rate=0) as ten,
        redis_server(tmp_path) as redis_url,
    ):
        ali.add_sender(SENDER)
        # A few 503s on the primary: those keys fail over (certainly not sent first, so no key is blocked).
        ali.inject("error", action="SingleSendMail", times=20, status=503, code="ServiceUnavailable")
        url = mailbridge.failover_url(
            [ali.url, ten.url],
            cooldown=0.05,
            retries=1,
            rate_limit="off",
            state=redis_url,
            idempotency="state" if store == "state" else f"sqlite:///{tmp_path}/keys.db",
        )
        workers = [
            subprocess.Popen(
                [sys.executable, str(script), url, str(total), order, mode],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=worker_env(),
            )
            for order in ("up", "down")
        ]
        outputs = [w.communicate(timeout=300) for w in workers]
        delivered = collections.Counter(m.subject for m in ali.sent_mail) + collections.Counter(
            m["subject"] for m in ten.sent_mail
        )
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-2000:]
    results = [json.loads(out) for out, _ in outputs]
    assert sorted(delivered) == sorted(f"msg-{i}" for i in range(total)), "every message delivered"
    assert sum(delivered.values()) == total, "exactly one delivery per key: no key sent twice"
    for i in range(total):
        answers = [r["sent"][str(i)] for r in results if str(i) in r["sent"]]
        assert answers, f"message {i}: neither process got its receipt"
        assert all(a == answers[0] for a in answers), f"message {i}: the second send returned other receipts"
    # The two passes cross in the middle, so both replays and in-flight refusals happen.
    assert sum(len(r["sent"]) for r in results) > total
