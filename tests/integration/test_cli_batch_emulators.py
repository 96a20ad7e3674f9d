"""``mailbridge send --batch`` against the Direct Mail and Tencent SES emulators.

What each emulator accepted (its sent mail) is the judge of exactly-once delivery: a batch
interrupted by a real SIGINT, a fault proxy that loses the answer to an accepted send (a
"maybe sent" row), a certain refusal, and a process killed with SIGKILL whose results file
lost its last lines: after ``--resume`` every row is delivered once and never twice.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mailbridge_aliyun import AliyunBackend
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent import TencentBackend
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge.cli import ExitStatus, cli

from ..faultproxy import Fault, FaultProxy
from ..redis_server import redis_server

SENDER = "noreply@mail.example.com"
SEND_ACTION = {"aliyun": "SingleSendMail", "tencent": "SendEmail"}
BACKEND: dict[str, Any] = {"aliyun": AliyunBackend, "tencent": TencentBackend}


@dataclass
class Cloud:
    kind: str
    emulator: Any
    proxy: FaultProxy

    @property
    def url(self) -> str:
        """Through the (clean unless told otherwise) fault proxy; the emulators do not enforce the rates."""
        if self.kind == "aliyun":
            return self.proxy.proxied(self.emulator.url_with(timeout="2", rate_limit="off"))
        return self.proxy.proxied(f"{self.emulator.url}&timeout=2&rate_limit=off")

    def delivered(self) -> Counter[str]:
        """Address -> how many messages the emulator accepted for it."""
        self.proxy.wait_idle()
        if self.kind == "aliyun":
            return Counter(a for m in self.emulator.sent_mail if m.action == "SingleSendMail" for a in m.to)
        return Counter(a for m in self.emulator.sent_mail for a in m["to"])

    def subjects(self) -> dict[str, str]:
        if self.kind == "aliyun":
            return {m.to[0]: m.subject for m in self.emulator.sent_mail}
        return {m["to"][0]: m["subject"] for m in self.emulator.sent_mail}

    def refuse_next_send(self) -> None:
        """The provider's own certain refusal of the next send (nothing sent)."""
        if self.kind == "aliyun":
            self.emulator.inject("error", action="SingleSendMail", status=400, code="InvalidToAddress.Spam")
        else:
            self.emulator.inject("error", "SendEmail", code="FailedOperation.RejectedByRecipients")


@pytest.fixture(params=["aliyun", "tencent"])
def cloud(request: pytest.FixtureRequest) -> Iterator[Cloud]:
    kind = request.param
    emulator: Any = AliyunEmulator(daily_quota=1_000_000) if kind == "aliyun" else TencentEmulator(rate=0)
    with emulator:
        if kind == "aliyun":
            emulator.add_sender(SENDER)
        with FaultProxy(emulator.endpoint, flavor=kind, timeout=2, weights={Fault.PASS: 1.0}) as proxy:
            yield Cloud(kind, emulator, proxy)


def invoke(url: str, *args: str, expect: int = 0) -> Any:
    result = CliRunner().invoke(cli, ["--url", url, *args], catch_exceptions=False)
    assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
    return result


def results(path: Path) -> dict[int, dict[str, str]]:
    """Row -> its last line in the results file."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {int(r["row"]): r for r in csv.DictReader(handle)}


def hook_sends(monkeypatch: pytest.MonkeyPatch, kind: str, before: Callable[[str], None]) -> None:
    """Call ``before(address)`` just before each send of the backend leaves."""
    cls = BACKEND[kind]
    original = cls.send

    def send(self: Any, message: mailbridge.Message) -> mailbridge.SendReceipt:
        before(message.to[0])
        return original(self, message)  # type: ignore[no-any-return]

    monkeypatch.setattr(cls, "send", send)


def people(tmp_path: Path, count: int, encoding: str = "utf-8") -> Path:
    path = tmp_path / "people.csv"
    rows = "".join(f"u{i}@example.com;客户{i};A-{i}\n" for i in range(count))
    path.write_bytes(("email;name;order\n" + rows).encode(encoding))
    return path


BODY = ("--from", SENDER, "--subject", "Order {{order}} for {{name}}", "--text", "{{name}}: {{order}} ships")


def test_template_batch_from_a_gbk_file(cloud: Cloud, tmp_path: Path) -> None:
    """``--template NAME`` resolves on each cloud; row columns are its data; subjects rendered per row."""
    with mailbridge.connect(cloud.url) as client:
        template = client.create_template("mb-batch", subject="Order {{order}} for {{name}}", html="<p>{{name}}</p>")
    path = people(tmp_path, 3, "gbk")
    invoke(cloud.url, "send", "--batch", str(path), "--from", SENDER, "--template", "mb-batch")
    assert cloud.subjects() == {f"u{i}@example.com": f"Order A-{i} for 客户{i}" for i in range(3)}
    if cloud.kind == "tencent":
        sent = {m["to"][0]: m for m in cloud.emulator.sent_mail}
        assert {a: (str(m["template_id"]), m["template_data"]["name"]) for a, m in sent.items()} == {
            f"u{i}@example.com": (template.id, f"客户{i}") for i in range(3)
        }
    else:
        calls = {c["ToAddress"]: json.loads(c["Template"]) for c in cloud.emulator.calls("SingleSendMail")}
        assert {a: (t["TemplateId"], t["TemplateData"]["name"]) for a, t in calls.items()} == {
            f"u{i}@example.com": (template.id, f"客户{i}") for i in range(3)
        }
    rows = results(tmp_path / "people.csv.results.csv")
    assert {r["status"] for r in rows.values()} == {"sent"} and {r["provider"] for r in rows.values()} == {cloud.kind}


@pytest.mark.skipif(os.name != "posix", reason="sends itself SIGINT")
def test_ctrl_c_mid_batch_then_resume_delivers_each_row_once(
    cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = people(tmp_path, 40)
    count = 0
    lock = threading.Lock()

    def before(_address: str) -> None:
        nonlocal count
        with lock:
            count += 1
            if count == 6:  # the 6th send is leaving: Ctrl-C now, with calls in flight
                os.kill(os.getpid(), signal.SIGINT)

    hook_sends(monkeypatch, cloud.kind, before)
    first = invoke(cloud.url, "send", "--batch", str(path), *BODY, "--max-in-flight", "3", expect=130)
    assert "interrupted" in first.stderr
    after_first = cloud.delivered()
    rows = results(tmp_path / "people.csv.results.csv")
    assert Counter(r["address"] for r in rows.values() if r["status"] == "sent") == after_first
    assert 6 <= len(after_first) < 40
    monkeypatch.undo()
    invoke(cloud.url, "send", "--batch", str(path), *BODY, "--resume")
    assert cloud.delivered() == Counter(f"u{i}@example.com" for i in range(40))


def test_a_maybe_sent_row_is_not_resent_and_a_refused_row_is(
    cloud: Cloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row 2: the proxy drops the answer after the provider accepted (maybe sent). Row 4: the provider refuses."""
    path = people(tmp_path, 6)
    refuse = {"u3@example.com"}

    def before(address: str) -> None:
        if address == "u1@example.com":
            cloud.proxy.queue(Fault.DROP, action=SEND_ACTION[cloud.kind])
        if address in refuse:
            refuse.clear()
            cloud.refuse_next_send()

    hook_sends(monkeypatch, cloud.kind, before)
    first = invoke(cloud.url, "send", "--batch", str(path), *BODY, "--max-in-flight", "1", expect=8)
    assert "4 sent, 1 maybe sent, 1 not sent" in first.stderr
    rows = results(tmp_path / "people.csv.results.csv")
    assert (rows[2]["status"], rows[2]["error"], rows[2]["maybe_sent"]) == ("maybe_sent", "OutcomeUnknown", "true")
    assert (rows[4]["status"], rows[4]["error"], rows[4]["maybe_sent"]) == ("not_sent", "ContentRejected", "false")
    assert cloud.delivered() == Counter(f"u{i}@example.com" for i in range(6) if i != 3)  # row 2 did arrive
    second = invoke(cloud.url, "send", "--batch", str(path), *BODY, "--resume")
    assert "1 sent, 0 maybe sent, 0 not sent, 5 skipped" in second.stderr
    assert cloud.delivered() == Counter(f"u{i}@example.com" for i in range(6))  # row 2 once, row 4 now once
    assert results(tmp_path / "people.csv.results.csv")[4]["status"] == "sent"


WORKER = "import sys; from mailbridge.cli import main; sys.argv[0] = 'mailbridge'; main()"


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_sigkill_mid_batch_and_lost_results_lines_never_double_send(tmp_path: Path) -> None:
    """A batch process killed with SIGKILL; its results file then loses its last lines too. The resume,
    with the same SQLite idempotency store, delivers every row and none twice: rows the store saw
    finish come back as sent (first receipts), a row caught mid-send comes back maybe sent."""
    path = people(tmp_path, 60)
    store = ("--idempotency", f"sqlite:{tmp_path / 'keys.db'}")
    with AliyunEmulator(daily_quota=1_000_000) as dm:
        dm.add_sender(SENDER)
        dm.inject("delay", action="SingleSendMail", times=None, delay=0.05)
        url = dm.url_with(rate_limit="off", timeout="5")
        args = ["--url", url, "send", "--batch", str(path), *BODY, *store, "--max-in-flight", "2"]
        worker = subprocess.Popen([sys.executable, "-c", WORKER, *args], stderr=subprocess.PIPE, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while len(dm.sent_mail) < 10 and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            worker.kill()
        finally:
            with contextlib.suppress(Exception):
                worker.communicate(timeout=10)
        assert worker.returncode == -signal.SIGKILL
        results_path = tmp_path / "people.csv.results.csv"
        lines = results_path.read_text(encoding="utf-8").splitlines(keepends=True)
        assert len(lines) > 4
        results_path.write_text("".join(lines[:-3]), encoding="utf-8")  # the last three lines are lost too
        dm.clear_faults()
        resumed = CliRunner().invoke(cli, ["--url", url, "send", "--batch", str(path), *BODY, *store, "--resume"])
        assert resumed.exit_code in (0, ExitStatus.OUTCOME_UNKNOWN), resumed.stderr
        delivered = Counter(a for m in dm.sent_mail for a in m.to)
        rows = results(results_path)
    assert max(delivered.values()) == 1  # never twice
    assert sorted(rows) == list(range(1, 61))
    for number, row in rows.items():
        address = f"u{number - 1}@example.com"
        if row["status"] == "sent":
            assert delivered[address] == 1, row
        else:
            assert row["status"] == "maybe_sent" and delivered[address] <= 1, row
    assert sum(1 for r in rows.values() if r["status"] == "maybe_sent") <= 2  # at most the calls in flight


def test_failover_batch_with_the_state_store(tmp_path: Path) -> None:
    """A failover URL (Direct Mail down, SES behind it) with ``state=redis://``: ``--idempotency state``
    keeps the row keys in that Redis, so lines the results file lost are answered, not sent again."""
    path = people(tmp_path, 8)
    with (
        AliyunEmulator(daily_quota=1_000_000) as dm,
        TencentEmulator(rate=0) as ses,
        redis_server(tmp_path) as redis_url,
    ):
        dm.add_sender(SENDER)
        dm.inject("error", action="SingleSendMail", times=None, status=503, code="ServiceUnavailable")
        url = mailbridge.failover_url([dm.url, ses.url], cooldown=60, retries=1, rate_limit="off", state=redis_url)
        invoke(url, "send", "--batch", str(path), *BODY, "--idempotency", "state")
        results_path = tmp_path / "people.csv.results.csv"
        first = results(results_path)
        assert {r["provider"] for r in first.values()} == {"tencent"}
        results_path.write_text("".join(results_path.read_text().splitlines(keepends=True)[:4]))  # rows 4-8 lost
        again = invoke(url, "send", "--batch", str(path), *BODY, "--idempotency", "state", "--resume")
        assert "5 sent, 0 maybe sent, 0 not sent, 3 skipped" in again.stderr
        assert Counter(a for m in ses.sent_mail for a in m["to"]) == Counter(f"u{i}@example.com" for i in range(8))
        assert dm.sent_mail == []
        assert {n: r["message_id"] for n, r in results(results_path).items()} == {
            n: r["message_id"] for n, r in first.items()
        }  # the first receipts, from Redis
