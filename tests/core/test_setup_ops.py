"""Sender domains, sender addresses and templates through the client (local backend) and the CLI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

import mailbridge
from mailbridge.cli import ExitStatus, cli

from .conftest import MakeClient


def test_domain_lifecycle(make_client: MakeClient) -> None:
    client = make_client()
    created = client.create_domain("Mail.Example.com")
    assert created.name == "mail.example.com" and created.verified is False
    assert {r.purpose for r in created.records} >= {"ownership", "spf", "dkim"}
    assert [d.name for d in client.domains()] == ["mail.example.com"]
    verified = client.verify_domain("mail.example.com")
    assert verified.verified and all(r.verified for r in verified.records)
    client.delete_domain("mail.example.com")
    with pytest.raises(mailbridge.NotFound):
        client.domain("mail.example.com")
    with pytest.raises(mailbridge.InvalidRequest, match="not a domain name"):
        client.create_domain("not a domain")


def test_sender_lifecycle_and_password_never_leaks(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client()
    sender = client.create_sender("news@mail.example.com", kind="batch", reply_to="help@example.com")
    assert (sender.address, sender.kind, sender.reply_to) == ("news@mail.example.com", "batch", "help@example.com")
    client.set_sender_password("news@mail.example.com", "Sup3r-Secret-pw")
    client.verify_reply_to("news@mail.example.com")
    assert client.sender("news@mail.example.com").status == "reply-to verified"
    assert "Sup3r-Secret-pw" not in caplog.text
    db = (Path(client.backend.describe().removeprefix("local://")) / "mailbridge.sqlite3").read_bytes()
    assert b"Sup3r-Secret-pw" not in db
    with pytest.raises(mailbridge.InvalidRequest, match="kind"):
        client.create_sender("x@example.com", kind="bulk")
    client.delete_sender("news@mail.example.com")
    with pytest.raises(mailbridge.SenderNotFound):
        client.set_sender_password("news@mail.example.com", "x")


def test_template_crud(make_client: MakeClient) -> None:
    client = make_client()
    t = client.create_template("welcome", subject="Hi {{name}}", text="Dear {{name}}")
    assert client.get_template(t.id).text == "Dear {{name}}"
    updated = client.update_template(t.id, subject="Hello {{name}}", html="<p>{{name}}</p>")
    assert (updated.subject, updated.html, updated.text) == ("Hello {{name}}", "<p>{{name}}</p>", None)
    with pytest.raises(mailbridge.InvalidRequest, match="cannot be expressed"):
        client.update_template(t.id, subject="s", text="{{name|upper}}")
    client.delete_template(t.id)
    assert client.templates() == []


def test_unsupported_setup_operations_are_declared(make_client: MakeClient) -> None:
    from mailbridge_local import LocalBackend

    client = make_client(features=LocalBackend.limits.features - {mailbridge.Feature.DOMAINS})
    with pytest.raises(mailbridge.UnsupportedFeature, match="domains"):
        client.create_domain("mail.example.com")


def test_cli_domains_show_prints_a_pasteable_table(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--url", f"local://{tmp_path}"]
    added = runner.invoke(cli, [*base, "--json", "domains", "add", "mail.example.com"])
    assert added.exit_code == 0, added.stderr
    records = json.loads(added.stdout)["records"]
    shown = runner.invoke(cli, [*base, "domains", "show", "mail.example.com"])
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["TYPE", "HOST", "VALUE", "PURPOSE", "VERIFIED"]
    assert any(r["host"] in line and r["value"].split()[0] in line for r in records for line in lines[1:])
    verified = runner.invoke(cli, [*base, "--json", "domains", "verify", "mail.example.com"])
    assert json.loads(verified.stdout)["verified"] is True
    sender = runner.invoke(cli, [*base, "--json", "senders", "add", "news@mail.example.com", "--kind", "batch"])
    assert json.loads(sender.stdout)["kind"] == "batch"
    pw = runner.invoke(cli, [*base, "senders", "password", "news@mail.example.com"], input="pw-One-2\npw-One-2\n")
    assert pw.exit_code == 0 and "pw-One-2" not in pw.stdout + pw.stderr.replace("pw-One-2\n", "")
    missing = runner.invoke(cli, [*base, "senders", "remove", "nobody@example.com"])
    assert missing.exit_code == ExitStatus.NOT_FOUND
