"""The exact JSON sent for each operation, and what the backend makes of the answers."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from mailbridge_tencent import _parse as parse
from mailbridge_tencent.emulator import TencentEmulator
from tencentcloud.ses.v20201002 import models

import mailbridge
from mailbridge import Attachment, DeliveryQuery, Group, GroupStatus, Message, Recipient
from mailbridge._reader import ResponseReader

from ._support import FakeClock, connect, emulator, sent

SENDER = "noreply@mail.example.com"


def test_every_field_sent_exists_in_the_sdk_model(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """No field name is invented: each top-level key is an attribute of the SDK's request model."""
    group = client.create_group("fields", "d")
    client.upload(group, [Recipient("a@example.com", name="A")], wait=True)
    client.upload(group, ["plain@example.com"], wait=True)
    client.send(
        Message(
            sender=SENDER,
            sender_name="Team",
            to=["b@example.com"],
            cc=["c@example.com"],
            bcc=["d@example.com"],
            reply_to="r@example.com",
            subject="s",
            html="<b>x</b>",
            headers={"X-A": "1", "Message-ID": "<id@example.com>"},
            unsubscribe=True,
            attachments=[Attachment("a.txt", b"a")],
            provider_options={"trigger_type": "marketing", "header_from": "Team <noreply@mail.example.com>"},
        )
    )
    receipt = client.send_to_group(group, Message(sender=SENDER, to=[], subject="s", template_id="1"))
    client.backend.send_task(str(receipt.receipts[0].batch_id))
    list(client.deliveries(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5), recipient="b@example.com"))
    client.statistics(dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    client.domains()
    client.domain("mail.example.com")
    client.senders()
    list(client.members(group))
    client.delete_group(group)
    actions = {r["action"] for r in emu.requests}
    client.create_template("t", subject="s", text="x")
    client.get_template("1")
    client.templates()
    client.delete_template(mailbridge.Template("1", "welcome", "tencent"))
    actions = {r["action"] for r in emu.requests}
    assert len(actions) == 18
    for request in emu.requests:
        model = getattr(models, f"{request['action']}Request")()
        for key in request["params"]:
            assert hasattr(model, key), f"{request['action']}.{key}"


def test_groups_json(emu: TencentEmulator, client: mailbridge.Client) -> None:
    group = client.create_group("news", "monthly")
    assert group.id == "1001" and group.status is GroupStatus.EMPTY
    assert sent(emu, "CreateReceiver") == [{"ReceiversName": "news", "Desc": "monthly"}]
    client.create_group("bare")
    assert sent(emu, "CreateReceiver")[1] == {"ReceiversName": "bare"}
    found = client.get_group("news")
    assert sent(emu, "ListReceivers")[-1] == {"Offset": 0, "Limit": 100, "KeyWord": "news"}
    assert (found.id, found.recipient_count, found.description) == ("1001", 0, "monthly")
    client.delete_group(found)
    assert sent(emu, "DeleteReceiver") == [{"ReceiverId": 1001}]  # an integer on the wire


def test_group_listing_pages_by_offset(emu: TencentEmulator, client: mailbridge.Client) -> None:
    for i in range(3):
        client.create_group(f"g{i}")
    page = client.backend.list_groups(keyword=None, cursor=None, page_size=2)
    assert [g.name for g in page.items] == ["g0", "g1"] and page.next_cursor == "2"
    last = client.backend.list_groups(keyword=None, cursor=page.next_cursor, page_size=2)
    assert [g.name for g in last.items] == ["g2"] and last.next_cursor is None
    assert sent(emu, "ListReceivers") == [{"Offset": 0, "Limit": 2}, {"Offset": 2, "Limit": 2}]


def test_upload_addresses_only_json(emu: TencentEmulator, client: mailbridge.Client) -> None:
    group = client.create_group("plain")
    report = client.upload(group, ["a@example.com", "b@example.com"])
    assert sent(emu, "CreateReceiverDetail") == [{"ReceiverId": 1001, "Emails": ["a@example.com", "b@example.com"]}]
    assert report.processing and report.accepted == 2


def test_upload_with_data_json(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """Profile fields and data go into TemplateData, a JSON *string*; plain members get '{}'."""
    group = client.create_group("data")
    client.upload(group, [Recipient("a@example.com", name="Ann", data={"city": "Zürich"}), "b@example.com"])
    (body,) = sent(emu, "CreateReceiverDetailWithData")
    assert body == {
        "ReceiverId": 1001,
        "Datas": [
            {"Email": "a@example.com", "TemplateData": '{"name":"Ann","city":"Zürich"}'},
            {"Email": "b@example.com", "TemplateData": "{}"},
        ],
    }
    assert json.loads(body["Datas"][0]["TemplateData"]) == {"name": "Ann", "city": "Zürich"}


def test_upload_45000_is_split_20000_20000_5000(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """A 45,000-address upload is three calls, waiting for each import before the next."""
    group = client.create_group("big")
    report = client.upload(group, (f"user{i}@example.com" for i in range(45_000)), wait=True)
    calls = sent(emu, "CreateReceiverDetail")
    assert [len(c["Emails"]) for c in calls] == [20_000, 20_000, 5_000]
    assert calls[0]["Emails"][0] == "user0@example.com" and calls[2]["Emails"][-1] == "user44999@example.com"
    assert (report.accepted, report.batches, report.processing) == (45_000, 3, False)
    assert report.group.recipient_count == 45_000 and report.group.status is GroupStatus.READY


@pytest.mark.slow
def test_group_size_limit_is_checked_before_sending(
    emu: TencentEmulator, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50,000 per group: the error names the limit and the group's current count; nothing is sent.

    The count reads the 49,999 members (500 pages). Client-side pacing is switched off here (the
    emulator runs with ``rate_limit=0``): the limiter keeps real time, so on the fake clock its
    waits would spin that clock past the emulator's 5-minute signature window."""
    limiter = mailbridge.RateLimiter(sleep=clock.sleep)
    monkeypatch.setattr(limiter, "acquire", lambda key, rate: None)
    with connect(emu.url, sleep=clock.sleep, clock=clock, rate_limiter=limiter) as client:
        _group_size_limit_is_checked_before_sending(emu, client)


def _group_size_limit_is_checked_before_sending(emu: TencentEmulator, client: mailbridge.Client) -> None:
    group = client.create_group("full")
    for start, count in ((0, 20_000), (20_000, 20_000), (40_000, 9_999)):
        client.backend.upload_batch(group, [Recipient(f"u{start + i}@example.com") for i in range(count)])
        emu.finish_uploads()  # imports are asynchronous; the next call would be ReceiverIsOperating
    group = client.get_group("full")
    with pytest.raises(mailbridge.LimitExceeded, match=r"has 49999 recipients and the upload adds 2 .*at most 50000"):
        client.upload(group, ["v1@example.com", "v2@example.com"])
    assert len(sent(emu, "CreateReceiverDetail")) == 3


def test_emulator_enforces_group_size_too(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """Bypassing the core, SES's own LimitExceeded.ReceiverDetailCountLimit comes back as LimitExceeded."""
    group = client.create_group("over")
    backend = client.backend
    for start in (0, 20_000):
        backend.upload_batch(group, [Recipient(f"u{start + i}@example.com") for i in range(20_000)])
        emu.finish_uploads()
    backend.upload_batch(group, [Recipient(f"w{i}@example.com") for i in range(10_000)])
    emu.finish_uploads()
    with pytest.raises(mailbridge.LimitExceeded) as info:
        backend.upload_batch(group, [Recipient("one-too-many@example.com")])
    assert info.value.provider_code == "LimitExceeded.ReceiverDetailCountLimit"
    with pytest.raises(mailbridge.LimitExceeded) as info:
        backend.upload_batch(group, [Recipient(f"x{i}@example.com") for i in range(20_001)])
    assert info.value.provider_code == "LimitExceeded.ReceiverDetailRequestLimit"


def test_async_upload_wait_polls_until_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    """Status 1 -> 2 -> 3: each call reports processing, the core waits (polling ListReceivers with
    backoff) before the next call and, with wait=True, until the last import is done."""
    clock = FakeClock()
    # The rate limiter paces in real time (its slots are not the polling sleeps counted here).
    limiter = mailbridge.RateLimiter()
    with (
        emulator(upload_delay=5.0, clock=clock) as emu,
        connect(emu.url, sleep=clock.sleep, rate_limiter=limiter) as client,
    ):
        monkeypatch.setattr(client.backend, "limits", client.backend.limits.evolve(upload_batch_size=2))
        group = client.create_group("slow")
        assert client.refresh_group(group).status is GroupStatus.EMPTY
        report = client.upload(group, [f"u{i}@example.com" for i in range(5)], wait=True)
        assert [len(c["Emails"]) for c in sent(emu, "CreateReceiverDetail")] == [2, 2, 1]
        assert (report.accepted, report.batches, report.processing) == (5, 3, False)
        assert report.group.status is GroupStatus.READY and report.group.recipient_count == 5
        assert clock.sleeps == [0.5, 1.0, 2.0, 4.0] * 3  # 7.5 s of polling per 5 s import


def test_upload_while_importing_is_resource_busy() -> None:
    """SES refuses changes while a group imports: OperationDenied.ReceiverIsOperating -> ResourceBusy."""
    clock = FakeClock()
    with emulator(upload_delay=5.0, clock=clock) as emu, connect(emu.url, sleep=clock.sleep) as client:
        group = client.create_group("busy")
        assert client.upload(group, ["a@example.com"]).processing
        assert client.refresh_group(group).status is GroupStatus.PROCESSING
        with pytest.raises(mailbridge.ResourceBusy) as info:
            client.backend.upload_batch(group, [Recipient("b@example.com")])
        assert info.value.provider_code == "OperationDenied.ReceiverIsOperating" and info.value.retryable
        ready = client.wait_until_ready(group)
        assert ready.status is GroupStatus.READY and ready.recipient_count == 1
        assert client.upload(ready, ["b@example.com"], wait=True).accepted == 1


def test_wait_times_out_as_resource_busy() -> None:
    clock = FakeClock()
    with emulator(upload_delay=3600.0, clock=clock) as emu, connect(emu.url, sleep=clock.sleep) as client:
        group = client.create_group("stuck")
        client.upload(group, ["a@example.com"])
        with pytest.raises(mailbridge.ResourceBusy, match="still importing"):
            client.wait_until_ready(group, timeout=0.2)


def test_members_keep_status_reason_and_data(emu: TencentEmulator, client: mailbridge.Client) -> None:
    group = client.create_group("m")
    client.backend.upload_batch(
        group, [Recipient("ok@example.com", nickname="Nick", data={"k": "v"}), Recipient("broken@@example")]
    )
    assert client.refresh_group(group).status is GroupStatus.PROCESSING  # the import takes time, as on SES
    emu.finish_uploads()
    members = list(client.members(group))
    assert sent(emu, "ListReceiverDetails") == [{"ReceiverId": 1001, "Offset": 0, "Limit": 100}]
    ok, bad = members
    assert (ok.valid, ok.recipient.nickname, ok.recipient.data, ok.added_at is not None) == (
        True,
        "Nick",
        {"k": "v"},
        True,
    )
    assert (bad.valid, bad.invalid_reason) == (False, "invalid email address format")


def test_repeats_are_existing_members(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """SES counts an address the group has as RepeatCount (the core never repeats one in a call)."""
    group = client.create_group("short")
    client.upload(group, ["a@example.com"], wait=True)
    result = client.backend.upload_batch(group, [Recipient("a@example.com"), Recipient("b@example.com")])
    assert (result.accepted, result.accepted_count, result.existing_count, result.unattributed_rejected) == (
        (),
        1,
        1,
        0,
    )
    assert result.rejected == () and result.note is None


def test_unattributed_shortfall_is_reported(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """SES says how many addresses it skipped but not which: the count stays honest."""
    group = client.create_group("short")
    result = client.backend.upload_batch(group, [Recipient("a@example.com"), Recipient("x" * 250 + "@example.com")])
    assert (result.accepted, result.accepted_count, result.unattributed_rejected) == ((), 1, 1)
    assert result.rejected == () and result.note is not None and "too long: 1" in result.note


def test_unattributed_shortfall_beside_existing_members_is_reported() -> None:
    """ValidCount counts every address stored (repeats too, SES does not de-duplicate): 2 stored of
    which 1 was already there, 1 refused as too long."""
    answer = {"TotalCount": 3, "ValidCount": 2, "RepeatCount": 1, "TooLongCount": 1, "EmptyEmailCount": 0}
    reader = ResponseReader(answer, provider="tencent", action="CreateReceiverDetail")
    result = parse.batch_result(reader, ["a@example.com", "b@example.com", "c@example.com"])
    assert (result.accepted_total, result.existing_total, result.unattributed_rejected) == (1, 1, 1)
    assert result.note is not None and "too long: 1" in result.note


def test_template_send_json(emu: TencentEmulator, client: mailbridge.Client) -> None:
    receipt = client.send(
        Message(
            sender=SENDER,
            sender_name="Mail Team",
            to=["a@example.com"],
            cc=["c@example.com"],
            bcc=["d@example.com"],
            reply_to="help@example.com",
            subject="Welcome",
            template_id="1",
            template_data={"name": "Ann", "code": 42},
            headers={"X-Campaign": "spring", "Message-ID": "<m1@example.com>"},
            unsubscribe=True,
            provider_options={"trigger_type": "transactional"},
        )
    ).receipts[0]
    assert sent(emu, "SendEmail") == [
        {
            "FromEmailAddress": "Mail Team <noreply@mail.example.com>",
            "Subject": "Welcome",
            "ReplyToAddresses": "help@example.com",
            "Template": {"TemplateID": 1, "TemplateData": '{"name":"Ann","code":"42"}'},
            "Unsubscribe": "2",
            "Destination": ["a@example.com"],
            "Cc": ["c@example.com"],
            "Bcc": ["d@example.com"],
            "TriggerType": 1,
            "SmtpMessageId": "<m1@example.com>",
            "SmtpHeaders": '{"X-Campaign": "spring"}',
        }
    ]
    assert receipt.message_ids == (emu.sent_mail[0]["message_id"],)
    assert receipt.accepted == ("a@example.com", "c@example.com", "d@example.com")
    assert receipt.sent_at.tzinfo is not None and receipt.request_id


def test_simple_send_is_base64_with_attachments(emu: TencentEmulator, client: mailbridge.Client) -> None:
    client.send(
        Message(
            sender=SENDER,
            to=["a@example.com"],
            subject="Hi",
            html="<p>Grüße</p>",
            text="Grüße",
            unsubscribe=False,
            attachments=[Attachment("r.pdf", b"%PDF-1.4", "application/pdf")],
        )
    )
    (body,) = sent(emu, "SendEmail")
    assert body["Simple"] == {
        "Html": base64.b64encode("<p>Grüße</p>".encode()).decode(),
        "Text": base64.b64encode("Grüße".encode()).decode(),
    }
    assert body["Attachments"] == [{"FileName": "r.pdf", "Content": base64.b64encode(b"%PDF-1.4").decode()}]
    assert body["Unsubscribe"] == "0"
    assert emu.sent_mail[0]["html"] == "<p>Grüße</p>"
    assert emu.sent_mail[0]["attachments"][0]["content"] == b"%PDF-1.4"


def test_sixty_recipients_are_refused_fifty_are_one_call(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """SES shows every Destination to each recipient: 50 go as one email, 60 never as 50 + 10."""
    to = [f"user{i}@example.com" for i in range(60)]
    with pytest.raises(mailbridge.LimitExceeded, match=r"60 'to' addresses.*one shared email"):
        client.send(Message(sender=SENDER, to=to, cc=["c@example.com"], subject="Hi", template_id="2"))
    assert sent(emu, "SendEmail") == []
    result = client.send(Message(sender=SENDER, to=to[:50], cc=["c@example.com"], subject="Hi", template_id="2"))
    (call,) = sent(emu, "SendEmail")
    assert call["Destination"] == to[:50] and call["Cc"] == ["c@example.com"]
    assert len(result.message_ids) == 1


def test_batch_send_json(emu: TencentEmulator, client: mailbridge.Client) -> None:
    group = client.create_group("batch")
    client.upload(group, [Recipient("a@example.com", data={"name": "Ann"})], wait=True)
    result = client.send_to_group(
        group, Message(sender=SENDER, to=[], subject="News", template_id="2", template_data={"month": "May"})
    )
    assert sent(emu, "BatchSendEmail") == [
        {
            "FromEmailAddress": SENDER,
            "Subject": "News",
            "Template": {"TemplateID": 2, "TemplateData": '{"month":"May"}'},
            "ReceiverId": 1001,
            "TaskType": 1,
        }
    ]
    batch_id = result.receipts[0].batch_id
    assert batch_id == str(emu.tasks[0]["TaskId"])
    assert emu.sent_mail[0]["template_data"] == {"month": "May", "name": "Ann"}
    task = client.backend.send_task(batch_id)
    assert task["TaskStatus"] == 10 and task["SendCount"] == 1
    assert sent(emu, "ListSendTasks") == [{"Offset": 0, "Limit": 100}]
    assert client.backend.send_task("424242") == {}


def test_batch_send_before_import_finishes_is_busy() -> None:
    clock = FakeClock()
    with emulator(upload_delay=60.0, clock=clock) as emu, connect(emu.url) as client:
        group = client.create_group("early")
        client.upload(group, ["a@example.com"])
        with pytest.raises(mailbridge.ResourceBusy) as info:
            client.send_to_group(group, Message(sender=SENDER, to=[], subject="x", template_id="1"))
    assert info.value.provider_code == "OperationDenied.ReceiverStatusError"
    assert info.value.retryable  # still importing: worth a retry


def test_batch_send_to_an_empty_group_is_not_retried_as_busy(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """ReceiverStatusError on an empty list: a clear InvalidRequest (not retryable), not "busy"."""
    group = client.create_group("empty")
    with pytest.raises(mailbridge.InvalidRequest) as info:
        client.send_to_group(group, Message(sender=SENDER, to=[], subject="x", template_id="1"))
    assert info.value.provider_code == "OperationDenied.ReceiverStatusError" and not info.value.retryable
    assert "empty" in info.value.message


def test_delivery_query_json(emu: TencentEmulator, client: mailbridge.Client) -> None:
    result = client.send(Message(sender=SENDER, to=["a@example.com"], subject="x", template_id="1"))
    now = dt.datetime.now(dt.UTC)
    query = DeliveryQuery(start=now, end=now, recipient="a@example.com", message_id=result.message_ids[0])
    page = client.backend.query_deliveries(query, cursor=None, page_size=500)
    assert sent(emu, "GetSendEmailStatus") == [
        {
            "RequestDate": now.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat(),
            "Offset": 0,
            "Limit": 100,
            "MessageId": result.message_ids[0],
            "ToEmailAddress": "a@example.com",
        }
    ]
    (event,) = page.items
    assert (event.recipient, event.status, event.sender) == ("a@example.com", "delivered", SENDER)
    assert page.next_cursor is None


def test_statistics_and_views_json(emu: TencentEmulator, client: mailbridge.Client) -> None:
    rows = client.statistics(dt.date(2026, 3, 1), dt.date(2026, 3, 2))
    assert sent(emu, "GetStatisticsReport") == [{"StartDate": "2026-03-01", "EndDate": "2026-03-02"}]
    assert [r.date for r in rows] == [dt.date(2026, 3, 1), dt.date(2026, 3, 2)]
    assert rows[0].opened == 0 and rows[0].complained is None
    client.domain("mail.example.com")
    assert sent(emu, "GetEmailIdentity") == [{"EmailIdentity": "mail.example.com"}]
    client.domains()
    client.senders()
    assert sent(emu, "ListEmailIdentities") == [{}] and sent(emu, "ListEmailAddress") == [{}]


def test_group_ids_must_be_integers(client: mailbridge.Client) -> None:
    with pytest.raises(mailbridge.InvalidRequest, match="integers"):
        client.delete_group(Group("abc", "x", "tencent"))


def test_templates_json_and_remembered_subject(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """SES templates have no subject: the client's catalog keeps it for sends that give none."""
    template = client.create_template("hello", subject="Hello {{name}}", html="<p>Hi {{name}}</p>", text="Hi")
    assert sent(emu, "CreateEmailTemplate") == [
        {
            "TemplateName": "hello",
            "TemplateContent": {
                "Html": base64.b64encode(b"<p>Hi {{name}}</p>").decode(),
                "Text": base64.b64encode(b"Hi").decode(),
            },
        }
    ]
    assert (template.id, template.status) == ("3", "pending_review")
    fetched = client.get_template(template.id)
    assert sent(emu, "GetEmailTemplate") == [{"TemplateID": 3}]
    assert (fetched.name, fetched.html, fetched.text, fetched.status) == (
        "hello",
        "<p>Hi {{name}}</p>",
        "Hi",
        "approved",
    )
    assert fetched.subject == "Hello {{name}}"  # from the catalog
    assert [t.name for t in client.templates()] == ["welcome", "newsletter", "hello"]
    # get_template looked for a template *named* "3" first, then for the id
    assert sent(emu, "ListEmailTemplates") == [{"Limit": 100, "Offset": 0}] * 2
    client.send(Message(sender=SENDER, to=["a@example.com"], template_id=template.id, template_data={"name": "Ann"}))
    assert sent(emu, "SendEmail")[0]["Subject"] == "Hello Ann"  # rendered by the client
    client.delete_template(template)
    assert sent(emu, "DeleteEmailTemplate") == [{"TemplateID": 3}]
    with pytest.raises(mailbridge.TemplateNotFound):
        client.get_template(template.id)


def test_template_in_review_cannot_be_used() -> None:
    with emulator(template_review=True) as emu, connect(emu.url) as client:
        template = client.create_template("new", subject="S", text="T")
        with pytest.raises(mailbridge.TemplateNotFound) as info:
            client.send(Message(sender=SENDER, to=["a@example.com"], template_id=template.id))
    assert info.value.provider_code == "OperationDenied.TemplateStatusError"
    assert client.backend.limits.supports(mailbridge.Feature.TEMPLATES)


def test_members_follow_pages_of_100(emu: TencentEmulator, client: mailbridge.Client) -> None:
    group = client.create_group("many")
    # by name: a group SES counts empty is not read before the upload (it does not de-duplicate)
    client.upload("many", [f"u{i:03}@example.com" for i in range(150)], wait=True)
    members = list(client.members(group))
    assert [m.email for m in members] == [f"u{i:03}@example.com" for i in range(150)]
    assert sent(emu, "ListReceiverDetails") == [
        {"ReceiverId": 1001, "Offset": 0, "Limit": 100},
        {"ReceiverId": 1001, "Offset": 100, "Limit": 100},
    ]
