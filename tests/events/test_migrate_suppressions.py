"""Migration DM -> SES carries the suppression list; the next send to a suppressed address is refused on SES."""

from __future__ import annotations

import json

from click.testing import CliRunner
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import ContentRejected, Message
from mailbridge.cli import cli


def msg(to: str, sender: str) -> Message:
    return Message(sender=sender, to=[to], subject="Hi", text="Hello", html="<p>Hello</p>")


def test_dm_to_ses_carries_suppressions() -> None:
    with AliyunEmulator() as dm, TencentEmulator(rate=0) as ses:
        source = mailbridge.connect(dm.url)
        target = mailbridge.connect(ses.url)
        group = source.create_group("customers")
        source.upload(group, ["a@example.com", "gone@bounce.example", "manual@example.com"])
        source.send(msg("gone@bounce.example", "noreply@mail.example.com"))  # hard bounce -> invalid list
        source.suppress(["manual@example.com", "complained@example.com"])
        target.suppress(["complained@example.com"])  # already there: not copied again

        plan = mailbridge.plan_migration(source, target)
        assert plan.suppressions is not None
        assert plan.as_dict()["suppressions"] == {
            "source": 3,
            "already_on_target": 1,
            "to_copy": 2,
            "by_reason": {"bounce": 1, "manual": 2},
            "notes": [],
        }
        report = mailbridge.migrate(source, target, plan)
        assert report.verified
        assert report.suppressions is not None and report.suppressions.as_dict() == {
            "copied": 2, "missing_on_target": [], "equal": True,
        }  # fmt: skip
        on_target = {s.address for s in target.suppressions()}
        assert on_target == {"gone@bounce.example", "manual@example.com", "complained@example.com"}
        created = [c["params"]["Emails"] for c in ses.requests if c["action"] == "CreateCustomBlacklist"]
        assert sorted(created[-1]) == ["gone@bounce.example", "manual@example.com"]

        for address in ("gone@bounce.example", "manual@example.com"):
            try:
                target.send(msg(address, "noreply@mail.example.com"))
            except ContentRejected:
                continue
            raise AssertionError(f"SES sent to suppressed {address}")
        assert target.send(msg("a@example.com", "noreply@mail.example.com")).accepted == ("a@example.com",)

        again = mailbridge.plan_migration(source, target)  # a rerun has nothing left to copy
        assert again.suppressions is not None and again.suppressions.to_copy == ()
        source.close()
        target.close()


def test_migrate_cli_reports_suppressions() -> None:
    with AliyunEmulator() as dm, TencentEmulator(rate=0) as ses:
        with mailbridge.connect(dm.url) as source:
            source.create_group("news")
            source.suppress(["x@example.com"])
        result = CliRunner().invoke(
            cli, ["--json", "migrate", "--from", dm.url, "--to", ses.url], catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["plan"]["suppressions"]["to_copy"] == 1
        assert data["suppressions"] == {"copied": 1, "missing_on_target": [], "equal": True}


def test_local_to_local_plan_counts(tmp_path: object) -> None:
    with mailbridge.connect(f"local://{tmp_path}/a") as a, mailbridge.connect(f"local://{tmp_path}/b") as b:
        a.suppress(["p@example.com", "q@example.com"])
        b.suppress(["q@example.com"])
        plan = mailbridge.plan_migration(a, b)
        assert plan.suppressions is not None and plan.suppressions.to_copy == ("p@example.com",)
        assert mailbridge.plan_migration(a, b, suppressions=False).suppressions is None
