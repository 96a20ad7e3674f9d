"""Migration between two backends: plan, split, copy with data, verify, resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mailbridge_local import LocalBackend

import mailbridge
from mailbridge import Feature
from mailbridge.cli import ExitStatus, cli

from .conftest import MakeClient, backend_of


def fill(client: mailbridge.Client, name: str, n: int) -> mailbridge.Group:
    group = client.create_group(name, "customers")
    client.upload(group, ({"email": f"u{i}@example.com", "name": f"U{i}", "plan": "pro"} for i in range(n)))
    return group


def test_plan_splits_or_refuses_and_lists_dropped_data(make_client: MakeClient) -> None:
    source = make_client()
    fill(source, "big", 25)
    target = make_client(max_group_size=10, features=LocalBackend.limits.features - {Feature.TEMPLATE_DATA})
    plan = mailbridge.plan_migration(source, target)
    (group,) = plan.groups
    assert (group.members, group.action, group.targets) == (25, "split", ("big-1", "big-2", "big-3"))
    assert group.dropped_fields == ("data.plan",)
    assert "split into 3 numbered lists" in group.notes[0]
    assert any("template" in s or "sender" in s for s in plan.manual_steps)
    refused = mailbridge.plan_migration(source, target, split=False)
    assert refused.groups[0].action == "refuse"
    with pytest.raises(mailbridge.LimitExceeded, match="the plan refuses: big"):
        mailbridge.migrate(source, target, refused)
    assert list(target.groups()) == [], "a refused plan writes nothing"


def test_migrate_copies_members_with_data_and_verifies(make_client: MakeClient) -> None:
    source, target = make_client(), make_client(max_group_size=10)
    fill(source, "big", 25)
    report = mailbridge.migrate(source, target, mailbridge.plan_migration(source, target))
    assert report.verified
    (result,) = report.groups
    assert result.copied == 25 and result.verification.target_count == 25
    assert [target.refresh_group(n).recipient_count for n in ("big-1", "big-2", "big-3")] == [10, 10, 5]
    member = next(m for m in target.members("big-1") if m.email == "u0@example.com")
    assert (member.recipient.name, member.recipient.data) == ("U0", {"plan": "pro"})


def test_interrupted_migration_resumes_without_duplicates(make_client: MakeClient) -> None:
    """Killed half-way, a second run copies only what is missing and verifies equal."""
    source, target = make_client(), make_client(upload_batch_size=7)
    fill(source, "news", 40)
    plan = mailbridge.plan_migration(source, target)
    backend = backend_of(target)
    real = backend.upload_batch
    calls = 0

    def dies_on_third_call(group: mailbridge.Group, batch: list[mailbridge.Recipient]) -> mailbridge.BatchResult:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt  # the process is killed mid-copy
        return real(group, batch)

    backend.upload_batch = dies_on_third_call  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        mailbridge.migrate(source, target, plan, chunk=10)
    assert target.refresh_group("news").recipient_count == 10  # the first chunk of 10 (calls of 7 + 3)
    backend.upload_batch = real  # type: ignore[method-assign]
    before = len(backend.calls_to("upload_batch"))
    report = mailbridge.migrate(source, target, mailbridge.plan_migration(source, target), chunk=10)
    sent_again = [a for call in backend.calls_to("upload_batch")[before:] for a in call]
    assert len(sent_again) == 30 and not {f"u{i}@example.com" for i in range(10)} & set(sent_again)
    assert report.verified and report.groups[0].verification.target_count == 40
    assert report.plan.groups[0].existing_on_target == 10


def test_verification_reports_exact_differences(make_client: MakeClient) -> None:
    source, target = make_client(), make_client()
    fill(source, "g", 3)
    report = mailbridge.migrate(source, target, mailbridge.plan_migration(source, target))
    assert report.verified
    target.remove("g", ["u1@example.com"])
    target.upload("g", ["stranger@example.com"])
    check = mailbridge.verify_migration(source, target, report.plan.groups[0])
    assert not check.equal
    assert check.missing_on_target == ("u1@example.com",) and check.extra_on_target == ("stranger@example.com",)


def test_cli_migrate_dry_run_and_run(tmp_path: Path) -> None:
    src, dst = f"local://{tmp_path / 'src'}", f"local://{tmp_path / 'dst'}"
    with mailbridge.connect(src) as source:
        fill(source, "vip", 12)
    runner = CliRunner()
    dry = runner.invoke(cli, ["--json", "migrate", "--from", src, "--to", dst, "--dry-run"])
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["groups"][0] == {
        "name": "vip",
        "members": 12,
        "targets": ["vip"],
        "action": "copy",
        "existing_on_target": 0,
        "dropped_fields": [],
        "notes": [],
    }
    with mailbridge.connect(dst) as target:
        assert list(target.groups()) == [], "a dry run writes nothing"
    run = runner.invoke(cli, ["migrate", "--from", src, "--to", dst, "--json"])
    assert run.exit_code == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["verified"] is True and out["groups"][0]["copied"] == 12
    again = runner.invoke(cli, ["--json", "migrate", "--from", src, "--to", dst])
    assert json.loads(again.stdout)["groups"][0]["copied"] == 0
    assert again.exit_code == ExitStatus.SUCCESS
