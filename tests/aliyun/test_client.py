"""The backend through mailbridge.connect() against the emulator: splitting, state, round trips."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator

import mailbridge
from mailbridge import Client, DeliveryStatus, InvalidRequest, LimitExceeded, Message, Recipient

from .record import scenario_client

SENDER = "noreply@mail.example.com"


def test_upload_of_1200_is_split_500_500_200(client: Client, emulator: AliyunEmulator) -> None:
    """The core chunks by the declared limit; each call's Detail has exactly its share."""
    client.create_group("big")
    rows = [{"email": f"user{i}@example.com", "name": f"User {i}", "tier": str(i % 3)} for i in range(1200)]
    report = client.upload("big", rows)
    calls = emulator.calls("SaveReceiverDetail")
    assert ["Detail" in c for c in calls] == [False, False, False]  # each address once: CustomDetail only
    assert [len(json.loads(c["CustomDetail"])) for c in calls] == [500, 500, 200]
    assert json.loads(calls[0]["CustomDetail"])[0] == {
        "Email": "user0@example.com",
        "CustomData": {"name": "User 0", "tier": "0"},
    }
    assert json.loads(calls[2]["CustomDetail"])[-1] == {
        "Email": "user1199@example.com",
        "CustomData": {"name": "User 1199", "tier": "2"},
    }
    assert (report.accepted, report.batches, report.rejected, report.duplicates) == (1200, 3, (), ())
    assert client.refresh_group("big").recipient_count == 1200
    assert len(list(client.members("big"))) == 1200


def test_upload_reports_duplicates_and_rejections(client: Client, emulator: AliyunEmulator) -> None:
    client.create_group("dups")
    client.upload("dups", ["a@example.com"])
    report = client.upload("dups", ["a@example.com", "b@example.com", "B@example.com", "not-an-address"])
    assert (report.accepted, report.existing) == (1, 1)  # a@ was listed already
    assert report.duplicates == ("B@example.com",)  # repeated in the input
    assert [r.email for r in report.rejected] == ["not-an-address"]


def test_send_of_100_is_one_call_and_150_is_refused(client: Client, emulator: AliyunEmulator) -> None:
    """ToAddress carries at most 100 addresses: 100 go as one shared email, 150 are refused before any call."""
    to = [f"r{i}@example.com" for i in range(150)]
    result = client.send(Message(sender=SENDER, to=to[:100], bcc=["audit@example.com"], subject="Hi", text="Hello"))
    (call,) = emulator.calls("SingleSendMail")
    assert call["ToAddress"].split(",") == to[:100] and call["BccAddress"] == "audit@example.com"
    assert result.message_ids == tuple(m.env_id for m in emulator.sent_mail) and len(result.accepted) == 101
    with pytest.raises(LimitExceeded, match="150 'to' addresses"):
        client.send(Message(sender=SENDER, to=to, subject="Hi", text="Hello"))
    assert len(emulator.calls("SingleSendMail")) == 1


def test_a_send_shows_up_in_delivery_queries(client: Client) -> None:
    client.send(
        Message(sender=SENDER, to=["ok@example.com", "x@bounce.example", "y@spam.example"], subject="S", text="T")
    )
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    events = {e.recipient: e for e in client.deliveries(start)}
    assert events["ok@example.com"].status is DeliveryStatus.DELIVERED
    assert events["x@bounce.example"].status is DeliveryStatus.INVALID_ADDRESS
    assert events["y@spam.example"].status is DeliveryStatus.REJECTED
    assert [e.recipient for e in client.deliveries(start, sender=SENDER, status="rejected")] == ["y@spam.example"]


def test_delivery_windows_longer_than_30_days_are_split(client: Client, emulator: AliyunEmulator) -> None:
    end = dt.datetime.now(dt.UTC)
    list(client.deliveries(end - dt.timedelta(days=65), end))
    calls = emulator.calls("SenderStatisticsDetailByParam")
    assert len(calls) == 3
    for call in calls:
        start_at = dt.datetime.strptime(call["StartTime"], "%Y-%m-%d %H:%M")
        end_at = dt.datetime.strptime(call["EndTime"], "%Y-%m-%d %H:%M")
        assert end_at - start_at <= dt.timedelta(days=30)


def test_paging_follows_next_start(client: Client, emulator: AliyunEmulator) -> None:
    client.create_group("paged")
    client.upload("paged", [f"p{i}@example.com" for i in range(250)])
    members = [m.email for m in client.members("paged")]
    assert sorted(members) == sorted(f"p{i}@example.com" for i in range(250))
    tokens = [c.get("NextStart") for c in emulator.calls("QueryReceiverDetail")]
    # The opaque tokens Direct Mail hands out (digest#position, like the documented example), echoed back.
    assert tokens[0] is None and len(tokens) == 3
    assert all("#" in str(t) for t in tokens[1:])


def test_send_to_group_uses_member_data(client: Client, emulator: AliyunEmulator) -> None:
    client.create_group("batch")
    client.upload("batch", [Recipient("ada@example.com", name="Ada"), Recipient("bob@example.com", name="Bob")])
    result = client.send_to_group("batch", Message(sender="news@mail.example.com", to=(), template_id="100001"))
    assert sorted(m.subject for m in emulator.sent_mail) == ["Welcome Ada", "Welcome Bob"]
    assert {m.env_id for m in emulator.sent_mail} == set(result.message_ids)


def test_unsupported_features_are_refused_before_any_call(client: Client, emulator: AliyunEmulator) -> None:
    with pytest.raises(mailbridge.UnsupportedFeature):
        client.send(Message(sender=SENDER, to="a@example.com", cc="c@example.com", subject="S", text="T"))
    with pytest.raises(mailbridge.LimitExceeded):
        client.send(
            Message(sender=SENDER, to="a@example.com", bcc=["1@x.com", "2@x.com", "3@x.com"], subject="S", text="T")
        )
    with pytest.raises(mailbridge.LimitExceeded):
        client.send(Message(sender=SENDER, to="a@example.com", subject="S" * 257, text="T"))
    with pytest.raises(mailbridge.LimitExceeded):
        client.create_group("x" * 31)
    assert emulator.requests == []


def test_v2_signatures_work_end_to_end(emulator: AliyunEmulator) -> None:
    with scenario_client(emulator.url_with(signature="v2")) as client:
        client.create_group("v2")
        client.send(Message(sender=SENDER, to="a@example.com", subject="S", text="T"))
    assert {r["signature"] for r in emulator.requests} == {"v2"}


def test_templates_round_trip_and_group_send(client: Client, emulator: AliyunEmulator) -> None:
    """{{var}} is stored as DM's {var} and read back as {{var}}; a group send names the template."""
    template = client.create_template("promo", subject="Hi {{name}}", text="Plan {{plan}}\nbye <3")
    stored = emulator.state.templates[template.id]
    assert (stored.subject, stored.html) == ("Hi {name}", "Plan {plan}<br>bye &lt;3")
    assert client.get_template(template.id).subject == "Hi {{name}}"
    client.create_group("promo-list")
    client.upload("promo-list", [Recipient("ada@example.com", name="Ada", data={"plan": "pro"})])
    client.send_to_group("promo-list", Message(sender="news@mail.example.com", to=(), template_id=template.id))
    assert emulator.calls("BatchSendMail")[0]["TemplateName"] == "promo"
    assert emulator.sent_mail[0].subject == "Hi Ada"
    client.delete_template(template)
    assert template.id not in emulator.state.templates


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_unicode_and_reserved_characters_sign_correctly(emulator: AliyunEmulator, signature: str) -> None:
    """Spaces, '+', '*', '~', '&', '=' and CJK in form values verify on both schemes."""
    subject = "主题 a+b*c~d&e=f 100% <ok>"
    with scenario_client(emulator.url_with(signature=signature)) as client:
        client.send(
            Message(sender=SENDER, to="a@example.com", subject=subject, html="<p>你好 & +</p>", sender_name="小红")
        )
    assert emulator.sent_mail[0].subject == subject
    assert emulator.sent_mail[0].params["HtmlBody"] == "<p>你好 & +</p>"


def test_remove_from_a_big_list_looks_up_each_address(client: Client, emulator: AliyunEmulator) -> None:
    """Three addresses out of 1,000 members: a KeyWord look-up each, not ten pages of the list."""
    client.create_group("big-remove")
    client.upload("big-remove", [f"m{i}@example.com" for i in range(1000)])
    before = len(emulator.calls("QueryReceiverDetail"))
    report = client.remove("big-remove", ["m7@example.com", "M70@example.com", "nobody@example.com"])
    lookups = emulator.calls("QueryReceiverDetail")[before:]
    assert [c["KeyWord"] for c in lookups] == ["m7@example.com", "M70@example.com", "nobody@example.com"]
    assert (report.removed, report.not_members) == (("m7@example.com", "m70@example.com"), ("nobody@example.com",))
    assert [c["Email"] for c in emulator.calls("DeleteReceiverDetail")] == ["m7@example.com", "m70@example.com"]
    assert client.refresh_group("big-remove").recipient_count == 998


def test_create_group_alias_through_the_client(client: Client, emulator: AliyunEmulator) -> None:
    """The neutral ``alias=`` reaches ReceiversAlias; without it an address is derived from the name."""
    derived = client.create_group("Spring sale!")
    chosen = client.create_group("vip", alias="vip@mail.example.com")
    aliases = {r.name: r.alias for r in emulator.lists.values()}
    assert aliases == {"Spring sale!": "Spring-sale@list.invalid", "vip": "vip@mail.example.com"}
    assert (derived.extra["alias"], chosen.extra["alias"]) == ("Spring-sale@list.invalid", "vip@mail.example.com")
    with pytest.raises(InvalidRequest, match="list alias"):
        client.create_group("bad", alias="not an address")
    assert [c["ReceiversName"] for c in emulator.calls("CreateReceiver")] == ["Spring sale!", "vip"]
