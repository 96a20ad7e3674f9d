"""Issue 11 on the Tencent wire: the transactional channel, timed group sends, declared name length."""

from __future__ import annotations

import datetime as dt

import pytest
from mailbridge_tencent._parse import BEIJING
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Feature, Message, Recipient

from ._support import FakeClock, connect, emulator, sent

SENDER = "noreply@mail.example.com"


def test_single_sends_are_transactional_unless_marketing_is_asked(
    emu: TencentEmulator, client: mailbridge.Client
) -> None:
    """SendEmail carries TriggerType=1 (the fast channel) by default; trigger_type=marketing gives 0."""
    client.send(Message(sender=SENDER, to=["a@example.com"], subject="Code", text="123456"))
    client.send(
        Message(
            sender=SENDER,
            to=["a@example.com"],
            subject="News",
            text="sale",
            provider_options={"trigger_type": "marketing"},
        )
    )
    assert [c["TriggerType"] for c in sent(emu, "SendEmail")] == [1, 0]


def test_scheduled_group_send_is_a_timed_task_sent_at_its_time() -> None:
    """schedule= gives TaskType 2 + TimedParam.BeginTime (Beijing time); nothing goes out before it."""
    clock = FakeClock()
    with emulator(clock=clock, upload_delay=0) as emu, connect(emu.url, sleep=clock.sleep) as client:
        group = client.create_group("timed")
        client.upload(group, [Recipient("a@example.com")], wait=True)
        when = dt.datetime.fromtimestamp(clock.now, dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=2)
        message = Message(sender=SENDER, to=[], subject="Later", template_id="2")
        result = client.send_to_group(group, message, schedule=when)
        (call,) = sent(emu, "BatchSendEmail")
        assert (call["TaskType"], call["TimedParam"]) == (
            2,
            {"BeginTime": when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")},
        )
        assert emu.sent_mail == []  # a timed batch does not go out at once
        task = client.backend.send_task(result.receipts[0].batch_id or "")
        assert (task["TaskStatus"], task["SendCount"]) == (1, 0)
        clock.now += 180  # past BeginTime (and within the 5-minute signature skew)
        task = client.backend.send_task(result.receipts[0].batch_id or "")
        assert (task["TaskStatus"], task["SendCount"]) == (10, 1)
        assert [m["to"] for m in emu.sent_mail] == [["a@example.com"]]


def test_task_type_in_provider_options_is_not_overridden(emu: TencentEmulator, client: mailbridge.Client) -> None:
    group = client.create_group("cyclic")
    client.upload(group, [Recipient("a@example.com")], wait=True)
    begin = (dt.datetime.now(BEIJING) + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    options = {"params": {"TaskType": 2, "TimedParam": {"BeginTime": begin}}}
    client.send_to_group(group, Message(sender=SENDER, to=[], subject="S", template_id="2", provider_options=options))
    (call,) = sent(emu, "BatchSendEmail")
    assert (call["TaskType"], call["TimedParam"]) == (2, {"BeginTime": begin})


def test_schedule_in_the_past_and_on_backends_without_it_fail_before_any_call(
    emu: TencentEmulator, client: mailbridge.Client, tmp_path: object
) -> None:
    group = client.create_group("past")
    message = Message(sender=SENDER, to=[], subject="S", template_id="2")
    with pytest.raises(mailbridge.InvalidRequest, match="not in the future"):
        client.send_to_group(group, message, schedule=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    assert sent(emu, "BatchSendEmail") == []
    from mailbridge_aliyun import AliyunBackend
    from mailbridge_local import LocalBackend

    assert not AliyunBackend.limits.supports(Feature.SCHEDULED_SEND)
    assert not LocalBackend.limits.supports(Feature.SCHEDULED_SEND)
    with mailbridge.connect(f"local://{tmp_path}") as local:
        local.create_group("g")
        with pytest.raises(mailbridge.UnsupportedFeature, match="scheduled send"):
            local.send_to_group("g", message, schedule=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))


def test_group_name_length_is_declared_and_checked_before_the_call(
    emu: TencentEmulator, client: mailbridge.Client
) -> None:
    assert client.limits.group_name_length == 200
    with pytest.raises(mailbridge.LimitExceeded, match="10000 characters"):
        client.create_group("x" * 10_000)
    assert sent(emu, "CreateReceiver") == []


def test_bcc_repeating_destination_is_refused_before_the_call(emu: TencentEmulator, client: mailbridge.Client) -> None:
    with pytest.raises(mailbridge.InvalidRequest, match="also a to/cc address"):
        client.send(Message(sender=SENDER, to=["a@example.com"], bcc=["a@example.com"], subject="S", text="T"))
    assert sent(emu, "SendEmail") == []


def test_uploads_never_send_ses_an_address_the_group_has(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """SES does not de-duplicate against members (seed 001): the core reads the group and reports them existing."""
    assert client.limits.dedups_members is False
    client.create_group("dedup")
    client.upload("dedup", ["a@example.com", "b@example.com"], wait=True)
    report = client.upload("dedup", ["A@example.com", "c@example.com"], wait=True)
    assert (report.accepted, report.existing) == (1, 1)
    assert sent(emu, "CreateReceiverDetail")[-1]["Emails"] == ["c@example.com"]
