"""Suppressions on the local backend, the upload option and the CLI (list/add/remove/export, webhooks serve)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import mailbridge
from mailbridge import ContentRejected, InvalidAddress, Message, SuppressionReason
from mailbridge.cli import cli

from .conftest import SECRET


@pytest.fixture
def client(tmp_path: Path) -> mailbridge.Client:
    return mailbridge.connect(f"local://{tmp_path / 'data'}")


def msg(*to: str) -> Message:
    return Message(sender="me@example.com", to=to, subject="Hi", text="Hello")


def test_suppress_list_unsuppress(client: mailbridge.Client) -> None:
    assert client.suppress(["A@example.com", "a@example.com", "b@example.com"]) == ["A@example.com", "b@example.com"]
    listed = list(client.suppressions())
    assert [(s.address, s.reason, s.scope) for s in listed] == [
        ("A@example.com", SuppressionReason.MANUAL, "account"),
        ("b@example.com", SuppressionReason.MANUAL, "account"),
    ]
    assert all(s.since is not None for s in listed)
    client.unsuppress(["a@EXAMPLE.com", "never@example.com"])
    assert [s.address for s in client.suppressions()] == ["b@example.com"]


def test_bad_address_refused_before_any_change(client: mailbridge.Client) -> None:
    with pytest.raises(InvalidAddress):
        client.suppress(["ok@example.com", "not an address"])
    assert list(client.suppressions()) == []


def test_local_send_refuses_suppressed_recipients(client: mailbridge.Client) -> None:
    client.suppress(["gone@example.com"])
    with pytest.raises(ContentRejected):
        client.send(msg("gone@example.com"))
    result = client.send(msg("gone@example.com", "here@example.com"))
    (receipt,) = result.receipts
    assert receipt.accepted == ("here@example.com",)
    assert receipt.extra["suppressed"] == ["gone@example.com"]
    delivered = [e.recipient for e in client.deliveries(receipt.sent_at - dt.timedelta(minutes=1))]
    assert delivered == ["here@example.com"]


def test_upload_skip_suppressed(client: mailbridge.Client) -> None:
    group = client.create_group("news")
    client.suppress(["b@example.com"])
    report = client.upload(group, ["a@example.com", "B@example.com", "c@example.com"], skip_suppressed=True)
    assert [(r.email, r.code) for r in report.rejected] == [("B@example.com", "suppressed")]
    assert sorted(m.email for m in client.members(group)) == ["a@example.com", "c@example.com"]


def _cli(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--url", f"local://{tmp_path / 'data'}", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_cli_suppressions(tmp_path: Path) -> None:
    assert _cli(tmp_path, "suppressions", "add", "x@example.com", "y@example.com")[0] == 0
    code, out, _ = _cli(tmp_path, "suppressions", "add", "--file", "-", stdin="email\nz@example.com\n")
    assert code == 0
    code, out, _ = _cli(tmp_path, "--json", "suppressions", "list")
    assert [s["address"] for s in json.loads(out)] == ["x@example.com", "y@example.com", "z@example.com"]
    assert _cli(tmp_path, "suppressions", "remove", "y@example.com", "--yes")[0] == 0
    code, out, _ = _cli(tmp_path, "suppressions", "export")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["address"], r["reason"], r["scope"]) for r in rows] == [
        ("x@example.com", "manual", "account"),
        ("z@example.com", "manual", "account"),
    ]
    code, _, err = _cli(tmp_path, "suppressions", "add", "bad address")
    assert code != 0 and "Traceback" not in err


def test_cli_webhooks_serve(tmp_path: Path) -> None:
    """`mailbridge webhooks serve` in a real process: events in, JSON lines out, store on disk."""
    env = {**os.environ, "MAILBRIDGE_WEBHOOK_SECRET": SECRET}
    store = tmp_path / "events.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from mailbridge.cli import main; main()", "--url", f"local://{tmp_path / 'data'}",
         "webhooks", "serve", "--provider", "tencent", "--port", "0", "--store", str(store),
         "--tencent-app-id", "251200670", "--auto-suppress"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None and proc.stdout is not None
        line = proc.stderr.readline()
        port = int(line.rsplit(":", 1)[1].split("/", 1)[0])
        url = f"http://127.0.0.1:{port}/tencent/{SECRET}"
        body = {"event": "bounce", "eventid": 3, "email": "b@example.com", "bulkId": "m", "timestamp": 1,
                "reason": "550 5.1.1 no such user", "username": "251200670"}  # fmt: skip
        assert httpx.post(url, content=json.dumps(body)).json() == {"received": 1, "duplicates": 0}
        assert httpx.post(url, content=json.dumps(body)).json() == {"received": 0, "duplicates": 1}
        assert httpx.post(url, content=json.dumps({**body, "username": "1"})).status_code == 401
        assert httpx.post(f"http://127.0.0.1:{port}/tencent/guess", content="{}").status_code == 401
        event = json.loads(proc.stdout.readline())
        assert event["status"] == "invalid_address" and event["bounce_type"] == "hard"
    finally:
        proc.terminate()
        _, rest = proc.communicate(timeout=10)
    assert SECRET not in line + rest
    assert [s.address for s in mailbridge.connect(f"local://{tmp_path / 'data'}").suppressions()] == ["b@example.com"]
    assert len(list(mailbridge.SQLiteEventStore(store).events())) == 1


def test_local_group_send_skips_suppressed_members(client: mailbridge.Client) -> None:
    group = client.create_group("news")
    client.upload(group, ["a@example.com", "b@example.com"])
    client.suppress(["b@example.com"])
    result = client.send_to_group(group, Message(sender="me@example.com", to=(), subject="Hi", text="Hello {{name}}"))
    assert result.accepted == ("a@example.com",)
