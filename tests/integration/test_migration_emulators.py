"""Issue 5's migration test: 12,000 members with template data, Direct Mail -> SES -> Direct Mail.

Both emulators run side by side; an interrupted migration (the CLI process killed half-way) resumed
gives the same result, without duplicates and without re-uploading what was already there.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

MEMBERS = 12_000


def off(url: str) -> str:
    """The emulators do not enforce the clouds' rates: skip them (Direct Mail lists 200 members/s)."""
    return url + ("&" if "?" in url else "?") + "rate_limit=off"


def seed_direct_mail(emu: AliyunEmulator, stack: contextlib.ExitStack) -> mailbridge.Client:
    """A 12,000-member list with profile fields and template data (set up through the backend directly:
    the account's list size is raised in the emulator, above the 10,000 the client would enforce)."""
    client = stack.enter_context(mailbridge.connect(off(emu.url)))
    group = client.create_group("customers", "round trip")
    # Template data for the even members only: an address goes in Detail xor CustomDetail (seed 000), so DM
    # lists the profile of the odd ones and neither profile nor data of the even ones.
    rows = [
        mailbridge.Recipient(
            f"c{i}@example.com", name=f"Customer {i}", data={"plan": "pro", "n": str(i)} if i % 2 == 0 else {}
        )
        for i in range(MEMBERS)
    ]
    for start in range(0, MEMBERS, 500):
        client.backend.upload_batch(group, rows[start : start + 500])
    assert client.refresh_group("customers").recipient_count == MEMBERS
    return client


def snapshot(client: mailbridge.Client, names: list[str]) -> dict[str, tuple[str | None, dict[str, str]]]:
    out: dict[str, tuple[str | None, dict[str, str]]] = {}
    for name in names:
        for m in client.members(name):
            out[m.recipient.key] = (m.recipient.name, dict(m.recipient.data))
    return out


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    """Closes every client a test opens."""
    with contextlib.ExitStack() as clients:
        yield clients


@pytest.fixture
def clouds() -> Iterator[tuple[AliyunEmulator, TencentEmulator, AliyunEmulator]]:
    with (
        AliyunEmulator(max_list_size=20_000) as source,
        TencentEmulator(rate=0, upload_delay=0.1) as ses,  # imports asynchronous as on SES, but short
        AliyunEmulator() as back,
    ):
        yield source, ses, back


def test_round_trip_direct_mail_ses_direct_mail(
    clouds: tuple[AliyunEmulator, TencentEmulator, AliyunEmulator], stack: contextlib.ExitStack
) -> None:
    source_emu, ses_emu, back_emu = clouds
    source = seed_direct_mail(source_emu, stack)
    ses = stack.enter_context(mailbridge.connect(off(ses_emu.url)))
    back = stack.enter_context(mailbridge.connect(off(back_emu.url)))

    plan = mailbridge.plan_migration(source, ses)
    assert [(g.name, g.members, g.action, g.targets) for g in plan.groups] == [
        ("customers", MEMBERS, "copy", ("customers",))
    ]
    # Direct Mail stores template data (CustomDetail) but QueryReceiverDetail never returns it: the plan says so.
    assert plan.groups[0].dropped_fields == ("template data (aliyun does not return it when listing members)",)
    there = mailbridge.migrate(source, ses, plan)
    assert there.verified and there.groups[0].verification.target_count == MEMBERS

    plan_back = mailbridge.plan_migration(ses, back)
    (group_back,) = plan_back.groups
    assert group_back.action == "split" and group_back.targets == ("customers-1", "customers-2")
    returned = mailbridge.migrate(ses, back, plan_back)
    assert returned.verified
    assert [back.refresh_group(n).recipient_count for n in group_back.targets] == [10_000, 2_000]

    original = snapshot(source, ["customers"])
    assert original["c7@example.com"] == ("Customer 7", {})  # profile fields come back (Detail)
    assert original["c8@example.com"] == (None, {})  # CustomDetail (profile in CustomData): DM lists neither
    assert snapshot(ses, ["customers"]) == original
    assert snapshot(back, list(group_back.targets)) == original
    # What Direct Mail was given on the way back is what SES held (its stored CustomDetail, read from the emulator).
    assert source_emu.lists and len(back_emu.lists) == 2


def test_template_data_survives_ses_to_direct_mail(
    clouds: tuple[AliyunEmulator, TencentEmulator, AliyunEmulator], stack: contextlib.ExitStack
) -> None:
    """Template data read from SES reaches Direct Mail's CustomDetail (which DM can store but not list)."""
    _, ses_emu, back_emu = clouds
    ses = stack.enter_context(mailbridge.connect(off(ses_emu.url)))
    group = ses.create_group("vip")
    ses.upload(group, [{"email": f"v{i}@example.com", "name": f"V{i}", "plan": "pro"} for i in range(50)], wait=True)
    back = stack.enter_context(mailbridge.connect(off(back_emu.url)))
    report = mailbridge.migrate(ses, back, mailbridge.plan_migration(ses, back))
    assert report.verified and report.plan.groups[0].dropped_fields == ()
    (stored,) = [r for r in back_emu.lists.values() if r.name == "vip"]
    member = stored.members["v3@example.com"]
    # Detail xor CustomDetail (seed 000): with template data, the profile travels in CustomData too
    assert member.custom == {"name": "V3", "plan": "pro"} and member.detail == {}


def test_killed_migration_resumes_to_the_same_result(
    clouds: tuple[AliyunEmulator, TencentEmulator, AliyunEmulator], stack: contextlib.ExitStack
) -> None:
    source_emu, ses_emu, _ = clouds
    seed_direct_mail(source_emu, stack)
    ses_emu.upload_delay = 1.0  # each import stays "uploading" for a second: time to kill the process
    src_url, dst_url = off(source_emu.url), off(ses_emu.url)
    command = [
        sys.executable,
        "-c",
        "from mailbridge.cli import main; main()",
        "--json",
        "migrate",
        "--from",
        src_url,
        "--to",
        dst_url,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def uploads() -> list[dict[str, object]]:
        return [r for r in ses_emu.requests if str(r["action"]).startswith("CreateReceiverDetail")]

    deadline = time.monotonic() + 60
    while not uploads() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    first_run = sum(len(r["params"].get("Emails") or r["params"].get("Datas") or []) for r in uploads())
    assert 0 < first_run < MEMBERS, "the process was not killed half-way"

    ses_emu.upload_delay = 0.0
    resumed = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["verified"] is True
    (group,) = report["groups"]
    assert group["verification"]["target_count"] == MEMBERS and group["verification"]["duplicates_on_target"] == []
    total_sent = sum(len(r["params"].get("Emails") or r["params"].get("Datas") or []) for r in uploads())
    assert total_sent == MEMBERS, "addresses already on the target were uploaded again"
    assert group["skipped_existing"] == first_run and group["copied"] == MEMBERS - first_run
