"""migrate --setup between two backends: plan, create, DNS records, verify on a second run."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

import mailbridge
from mailbridge.cli import ExitStatus, cli

from .conftest import MakeClient


def seed(source: mailbridge.Client) -> None:
    source.create_domain("mail.example.com")
    source.create_sender("news@mail.example.com", kind="batch", reply_to="help@example.com")
    source.create_sender("alerts@mail.example.com", kind="transactional")
    source.create_template("welcome", subject="Hi {{name}}", text="Dear {{name}}")
    source.create_template("receipt", subject="Order {{order}}", html="<p>{{order}}</p>")
    source.create_template("css", subject="News", html="<style>p { color: red }</style><p>{{name}}</p>")


def test_plan_lists_every_object_and_writes_nothing(make_client: MakeClient) -> None:
    source, target = make_client(), make_client()
    seed(source)
    plan = mailbridge.plan_setup(source, target)
    assert [(i.kind, i.name, i.action) for i in plan.items] == [
        ("domain", "mail.example.com", "create"),
        ("sender", "news@mail.example.com", "create"),
        ("sender", "alerts@mail.example.com", "create"),
        ("template", "welcome", "create"),
        ("template", "receipt", "create"),
        ("template", "css", "create"),
    ]
    assert target.domains() == [] and target.senders() == [] and target.templates() == []


def test_apply_creates_then_is_idempotent(make_client: MakeClient) -> None:
    source, target = make_client(), make_client()
    seed(source)
    first = mailbridge.apply_setup(source, target)
    assert {i.name: i.action for i in first.items} == {
        "mail.example.com": "verified",  # the local backend verifies at once (no DNS offline)
        "news@mail.example.com": "created",
        "alerts@mail.example.com": "created",
        "welcome": "created",
        "receipt": "created",
        "css": "created",
    }
    assert first.complete
    sender = target.sender("news@mail.example.com")
    assert (sender.kind, sender.reply_to) == ("batch", "help@example.com")
    data = {"name": "Ada", "order": "42"}
    for t in source.templates():
        on_target = next(x for x in target.templates() if x.name == t.name)
        for a, b in ((t.subject, on_target.subject), (t.text, on_target.text), (t.html, on_target.html)):
            assert mailbridge.render_template(a, data) == mailbridge.render_template(b, data)
    second = mailbridge.apply_setup(source, target)
    assert {(i.kind, i.action) for i in second.items} == {
        ("domain", "verified"),
        ("sender", "exists"),
        ("template", "same"),
    }


def test_cli_migrate_setup_dry_run_and_run(tmp_path: Path) -> None:
    src, dst = f"local://{tmp_path / 'src'}", f"local://{tmp_path / 'dst'}"
    with mailbridge.connect(src) as source:
        seed(source)
    runner = CliRunner()
    dry = runner.invoke(cli, ["--json", "migrate", "--setup", "--dry-run", "--from", src, "--to", dst])
    assert dry.exit_code == 0, dry.stderr
    assert len(json.loads(dry.stdout)["setup"]["items"]) == 6
    run = runner.invoke(cli, ["migrate", "--setup", "--from", src, "--to", dst])
    assert run.exit_code == ExitStatus.SUCCESS, run.stderr
    assert "mail.example.com" in run.stdout and "verified" in run.stdout
