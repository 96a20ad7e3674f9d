"""Exact wire parameters and parsed results of every operation (httpx.MockTransport, no server)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from mailbridge_aliyun import AliyunBackend
from mailbridge_aliyun._signing import authorization_v3, sha256_hex, sign_v2

import mailbridge
from mailbridge import (
    BounceType,
    DeliveryQuery,
    DeliveryStatus,
    Group,
    GroupStatus,
    InvalidRequest,
    Message,
    OutcomeUnknown,
    ProviderUnavailable,
    Recipient,
    Tag,
)

KEY, SECRET = "LTAI5tMailbridgeTestKeyId", "mailbridge-test-secret-aliyun"
GROUP = Group(id="34642", name="news", provider="aliyun")


class Wire:
    """A MockTransport that records requests and answers per action."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answers = answers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        action = request.headers.get("x-acs-action") or request.url.params.get("Action")
        answer = self.answers.get(action, {"RequestId": "REQ"})
        if callable(answer):
            answer = answer(request)
        return httpx.Response(200, json={"RequestId": "REQ", **answer})

    def params(self, index: int = -1) -> dict[str, str]:
        return dict(parse_qsl(self.requests[index].content.decode(), keep_blank_values=True))

    def actions(self) -> list[str]:
        return [r.headers["x-acs-action"] for r in self.requests]


def backend(wire: Wire, **params: str) -> AliyunBackend:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = mailbridge.ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@cn-hangzhou?{query}")
    return AliyunBackend.from_url(url, transport=httpx.MockTransport(wire))


# --------------------------------------------------------------------------- signing on the wire


def test_v3_request_shape() -> None:
    """V3: POST / with no query, x-acs-* headers, a body hash and a verifiable Authorization."""
    wire = Wire()
    backend(wire).delete_group(GROUP)
    request = wire.requests[0]
    assert request.method == "POST" and request.url.path == "/" and request.url.query == b""
    assert str(request.url).startswith("https://dm.aliyuncs.com/")
    h = request.headers
    assert (h["x-acs-action"], h["x-acs-version"]) == ("DeleteReceiver", "2015-11-23")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", h["x-acs-date"])
    assert re.fullmatch(r"[0-9a-f]{32}", h["x-acs-signature-nonce"])
    assert h["x-acs-content-sha256"] == sha256_hex(request.content)
    assert h["content-type"] == "application/x-www-form-urlencoded"
    assert h["user-agent"].startswith("mailbridge/")
    assert h["host"] == "dm.aliyuncs.com"
    signed = {k: v for k, v in h.items() if k in ("host", "content-type") or k.startswith("x-acs-")}
    assert h["authorization"] == authorization_v3(
        "POST", "/", {}, signed, request.content, access_key_id=KEY, secret=SECRET
    )
    assert h["authorization"].startswith(
        f"ACS3-HMAC-SHA256 Credential={KEY},SignedHeaders=content-type;host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature="
    )
    assert SECRET not in str(request.url) + str(request.headers) + request.content.decode()
    assert wire.params() == {"ReceiverId": "34642"}


def test_v2_request_shape() -> None:
    """V2: common parameters in the query, business ones in the body, HMAC-SHA1 over both."""
    wire = Wire()
    backend(wire, signature="v2").delete_group(GROUP)
    request = wire.requests[0]
    query = dict(request.url.params)
    assert "authorization" not in request.headers
    assert {
        k: query[k] for k in ("Action", "Format", "Version", "AccessKeyId", "SignatureMethod", "SignatureVersion")
    } == {
        "Action": "DeleteReceiver",
        "Format": "JSON",
        "Version": "2015-11-23",
        "AccessKeyId": KEY,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", query["Timestamp"])
    signature = query.pop("Signature")
    assert signature == sign_v2("POST", {**query, **wire.params()}, SECRET)


def test_nonces_differ_per_request() -> None:
    wire = Wire()
    b = backend(wire)
    b.delete_group(GROUP)
    b.delete_group(GROUP)
    assert wire.requests[0].headers["x-acs-signature-nonce"] != wire.requests[1].headers["x-acs-signature-nonce"]


# --------------------------------------------------------------------------- groups & members


def test_create_group_checks_the_name_then_creates() -> None:
    wire = Wire({"QueryReceiverByParam": {"data": {"receiver": []}}, "CreateReceiver": {"ReceiverId": "7312e0"}})
    group = backend(wire).create_group("VIP customers!", "the best")
    assert wire.actions() == ["QueryReceiverByParam", "CreateReceiver"]
    assert wire.params(0) == {"KeyWord": "VIP customers!", "PageSize": "100"}
    assert wire.params(1) == {
        "ReceiversName": "VIP customers!",
        "ReceiversAlias": "VIP-customers@list.invalid",  # DM wants an address under 30 characters
        "Desc": "the best",
    }
    assert (group.id, group.name, group.status, group.recipient_count) == (
        "7312e0",
        "VIP customers!",
        GroupStatus.EMPTY,
        0,
    )


@pytest.mark.parametrize(
    ("name", "alias"),
    [
        ("news", "news@list.invalid"),
        ("a very long list name indeed, 30", "a-very-long-list@list.invalid"),
        ("über.", "ber@list.invalid"),
        ("!!!", "list@list.invalid"),
    ],
)
def test_the_default_list_alias_is_an_address_under_30_characters(name: str, alias: str) -> None:
    from mailbridge_aliyun._backend import check_list_alias, list_alias

    assert list_alias(name) == alias
    assert len(alias) < 30
    assert check_list_alias(alias) == alias


def test_create_group_sends_the_alias_given() -> None:
    wire = Wire({"QueryReceiverByParam": {"data": {"receiver": []}}, "CreateReceiver": {"ReceiverId": "9"}})
    group = backend(wire).create_group("vip", alias="vip@mail.example.com")
    assert wire.params(1)["ReceiversAlias"] == "vip@mail.example.com"
    assert group.extra["alias"] == "vip@mail.example.com"


@pytest.mark.parametrize("alias", ["vip", "vip@", "@example.com", "v i p@example.com", "x" * 18 + "@example.com"])
def test_create_group_refuses_an_alias_direct_mail_would_refuse_before_any_call(alias: str) -> None:
    wire = Wire({})
    with pytest.raises(mailbridge.InvalidRequest, match="list alias"):
        backend(wire).create_group("vip", alias=alias)
    assert wire.actions() == []


def test_create_group_refuses_a_taken_name() -> None:
    taken = {"data": {"receiver": [{"ReceiverId": "1", "ReceiversName": "news", "Count": "3", "ReceiversStatus": "1"}]}}
    wire = Wire({"QueryReceiverByParam": taken})
    with pytest.raises(mailbridge.AlreadyExists):
        backend(wire).create_group("news")
    assert wire.actions() == ["QueryReceiverByParam"]


def test_list_groups_parses_and_pages() -> None:
    record = {
        "ReceiverId": "1453", "ReceiversName": "news", "ReceiversAlias": "news", "Desc": "d", "Count": "2",
        "ReceiversStatus": "1", "CreateTime": "2019-09-29T13:28Z", "UtcCreateTime": 1569734892,
    }  # fmt: skip
    uploading = {**record, "ReceiverId": "1454", "ReceiversName": "new", "ReceiversStatus": "0"}
    wire = Wire({"QueryReceiverByParam": {"NextStart": "tok2", "data": {"receiver": [record, uploading]}}})
    page = backend(wire).list_groups(keyword="ne", cursor="tok1", page_size=2)
    assert wire.params() == {"KeyWord": "ne", "PageSize": "2", "NextStart": "tok1"}
    assert page.next_cursor == "tok2"
    first, second = page.items
    assert (first.id, first.name, first.recipient_count, first.status) == ("1453", "news", 2, GroupStatus.READY)
    assert first.created_at == dt.datetime(2019, 9, 29, 5, 28, 12, tzinfo=dt.UTC)
    assert second.status is GroupStatus.PROCESSING


def test_last_page_has_no_cursor() -> None:
    wire = Wire({"QueryReceiverByParam": {"NextStart": "x", "data": {"receiver": []}}})
    assert backend(wire).list_groups(keyword=None, cursor=None, page_size=100).next_cursor is None


def test_upload_batch_detail_and_custom_detail() -> None:
    failures = {
        "ErrorCount": 2,
        "SuccessCount": 1,
        "Data": {
            "Detail": [
                {"Email": "bob@example.com", "ErrMessage": "Duplicate: the address already exists in the list."},
                {"Email": "carol@example.com", "ErrMessage": "mailbox blocked"},
            ]
        },
    }
    wire = Wire({"SaveReceiverDetail": failures})
    result = backend(wire).upload_batch(
        GROUP,
        [
            Recipient("ada@example.com", name="Ada", nickname="ada", gender="f", birthday="1815-12-10", mobile="100"),
            Recipient("Bob@example.com", data={"plan": "pro", "名字": "鲍勃"}),
            Recipient("carol@example.com"),
        ],
    )
    params = wire.params()
    assert params["ReceiverId"] == "34642"
    # Each address once per call: Detail xor CustomDetail (seed 000 counts a repeat as an error).
    assert params["Detail"] == (
        '[{"b":"1815-12-10","e":"ada@example.com","g":"f","m":"100","n":"ada","u":"Ada"},{"e":"carol@example.com"}]'
    )
    assert params["CustomDetail"] == '[{"Email":"Bob@example.com","CustomData":{"plan":"pro","名字":"鲍勃"}}]'
    assert result.accepted == ("ada@example.com",)
    assert result.existing == ("Bob@example.com",)
    assert [(r.email, r.reason) for r in result.rejected] == [("carol@example.com", "mailbox blocked")]
    assert result.request_id == "REQ"


def test_upload_with_only_template_data_sends_no_detail_and_keeps_profile_in_custom_data() -> None:
    wire = Wire({"SaveReceiverDetail": {"ErrorCount": 0, "SuccessCount": 1}})
    backend(wire).upload_batch(GROUP, [Recipient("a@example.com", name="A", data={"plan": "pro"})])
    assert wire.params() == {
        "ReceiverId": "34642",
        "CustomDetail": '[{"Email":"a@example.com","CustomData":{"name":"A","plan":"pro"}}]',
    }


def test_duplicate_answer_without_message_is_existing_not_rejected() -> None:
    """Seed 000: a duplicate "returns ErrorCount: 1", with no ErrMessage: the address is already there."""
    wire = Wire(
        {"SaveReceiverDetail": {"ErrorCount": 1, "SuccessCount": 1, "Data": {"Detail": [{"Email": "a@x.com"}]}}}
    )
    result = backend(wire).upload_batch(GROUP, [Recipient("a@x.com"), Recipient("b@x.com")])
    assert (result.accepted, result.existing, result.rejected) == (("b@x.com",), ("a@x.com",), ())


def test_failures_counted_but_not_named_are_unattributed() -> None:
    wire = Wire({"SaveReceiverDetail": {"ErrorCount": 1, "SuccessCount": 1}})
    result = backend(wire).upload_batch(GROUP, [Recipient("a@x.com"), Recipient("b@x.com")])
    assert (result.accepted_total, result.existing_total, result.unattributed_rejected) == (1, 0, 1)
    assert result.note and "named 0" in result.note


def test_upload_without_template_data_sends_no_custom_detail() -> None:
    wire = Wire({"SaveReceiverDetail": {"ErrorCount": 0, "SuccessCount": 1}})
    backend(wire).upload_batch(GROUP, [Recipient("a@example.com")])
    assert wire.params() == {"ReceiverId": "34642", "Detail": '[{"e":"a@example.com"}]'}


def test_list_members_reads_data_by_schema() -> None:
    body = {
        "DataSchema": "UserName,NickName,Gender,Birthday,Mobile",
        "NextStart": "90f0243616#40test@example.com",
        "data": {
            "detail": [
                {"Email": "ada@example.com", "Data": "Ada,ada,f,1815-12-10,100", "UtcCreateTime": 1569734892},
                {"Email": "bob@example.com", "Data": ""},
            ]
        },
    }
    wire = Wire({"QueryReceiverDetail": body})
    page = backend(wire).list_members(GROUP, cursor=None, page_size=2)
    assert wire.params() == {"ReceiverId": "34642", "PageSize": "2"}
    assert page.next_cursor == "90f0243616#40test@example.com"
    ada, bob = page.items
    assert ada.recipient == Recipient(
        "ada@example.com", name="Ada", nickname="ada", gender="f", birthday="1815-12-10", mobile="100"
    )
    assert bob.recipient == Recipient("bob@example.com")


def test_remove_members_one_call_per_address() -> None:
    wire = Wire()
    backend(wire).remove_members(GROUP, ["a@example.com", "b@example.com"])
    assert [wire.params(i) for i in range(2)] == [
        {"ReceiverId": "34642", "Email": "a@example.com"},
        {"ReceiverId": "34642", "Email": "b@example.com"},
    ]


# --------------------------------------------------------------------------- sending


def test_send_every_parameter() -> None:
    """Neutral fields map onto seed 002's parameters; provider_options add and override the rest."""
    wire = Wire({"SingleSendMail": {"EnvId": "600000xxxxxxxxxx642"}})
    receipt = backend(wire).send(
        Message(
            sender="test@example.net",
            to=["a@example.com", "b@example.com"],
            subject="Hello, 世界",
            html="<p>Hi</p>",
            text="Hi",
            sender_name="小红",
            reply_to="reply@example.net",
            reply_to_name="Support",
            bcc=["1@example.com", "2@example.com"],
            tag="spring_sale-1",
            headers={"Message-ID": "", "X-User-UID1": "UID-1-000001"},
            unsubscribe=True,
            click_tracking=False,
            provider_options={
                "UnSubscribeFilterLevel": "mailfrom_domain",
                "IpPoolId": "e4xxxxxe",
                "DomainAuth": True,
                "AddressType": 0,
            },
        )
    )
    assert wire.params() == {
        "AccountName": "test@example.net",
        "AddressType": "0",
        "TagName": "spring_sale-1",
        "ReplyAddress": "reply@example.net",
        "ReplyAddressAlias": "Support",
        "ClickTrace": "0",
        "UnSubscribeLinkType": "default",
        "Headers": '{"Message-ID":"","X-User-UID1":"UID-1-000001"}',
        "ReplyToAddress": "false",
        "ToAddress": "a@example.com,b@example.com",
        "Subject": "Hello, 世界",
        "FromAlias": "小红",
        "BccAddress": "1@example.com,2@example.com",
        "HtmlBody": "<p>Hi</p>",
        "TextBody": "Hi",
        "UnSubscribeFilterLevel": "mailfrom_domain",
        "IpPoolId": "e4xxxxxe",
        "DomainAuth": "true",
    }
    assert receipt.message_ids == ("600000xxxxxxxxxx642",)
    assert receipt.accepted == ("a@example.com", "b@example.com", "1@example.com", "2@example.com")
    assert receipt.request_id == "REQ"


def test_send_minimal_and_template() -> None:
    wire = Wire({"SingleSendMail": {"EnvId": "1"}})
    b = backend(wire)
    b.send(Message(sender="s@example.net", to="a@example.com", subject="S", text="T"))
    assert wire.params() == {
        "AccountName": "s@example.net",
        "AddressType": "1",
        "ReplyToAddress": "false",
        "ToAddress": "a@example.com",
        "Subject": "S",
        "TextBody": "T",
    }
    wire.answers["DescTemplate"] = {"TemplateName": "t", "TemplateSubject": "Hi {name}", "TemplateText": "<p>x</p>"}
    message = Message(sender="s@example.net", to="a@example.com", template_id="123", template_data={"name": "Tom"})
    calls = len(wire.requests)
    with pytest.raises(InvalidRequest, match="need a subject"):  # seed 002: Subject is required, template or not
        b.send(message)
    assert len(wire.requests) == calls
    mailbridge.Client(b).send(message)  # the client fills it: the template's subject, rendered
    assert wire.params()["Template"] == '{"TemplateId":"123","TemplateData":{"name":"Tom"}}'
    assert "HtmlBody" not in wire.params() and wire.params()["Subject"] == "Hi Tom"


def test_structured_provider_options_go_out_as_json() -> None:
    """A dict/list option is a JSON string on the wire, never a Python repr."""
    wire = Wire({"SingleSendMail": {"EnvId": "1"}})
    backend(wire).send(
        Message(
            sender="s@example.net",
            to="a@example.com",
            subject="S",
            text="T",
            provider_options={"Headers": {"X-User-UID1": "UID-1"}, "IpPoolId": "p1"},
        )
    )
    assert wire.params()["Headers"] == '{"X-User-UID1":"UID-1"}'
    assert wire.params()["IpPoolId"] == "p1"


def test_paging_follows_next_start_past_a_short_page() -> None:
    """A page shorter than asked with a NextStart is not the end: the token is followed until DM gives none."""
    row = {"Email": "a@example.com", "Data": ""}
    pages = iter(
        [
            {"NextStart": "t1", "data": {"detail": [row]}},
            {"NextStart": "t2", "data": {"detail": [{**row, "Email": "b@example.com"}]}},
            {"data": {"detail": [{**row, "Email": "c@example.com"}]}},
        ]
    )
    wire = Wire({"QueryReceiverDetail": lambda request: next(pages)})
    client = mailbridge.Client(backend(wire))
    assert [m.email for m in client.members(GROUP)] == ["a@example.com", "b@example.com", "c@example.com"]
    assert [wire.params(i).get("NextStart") for i in range(3)] == [None, "t1", "t2"]


def test_daily_quota_refusal_is_quota_exceeded() -> None:
    """InvalidSendMail.Spam with its quota text is QuotaExceeded (exit 7), other Spam answers stay ContentRejected."""
    from mailbridge import ContentRejected, QuotaExceeded

    def answer(text: str) -> Any:
        def reply(request: httpx.Request) -> httpx.Response:
            body = {"RequestId": "R", "Code": "InvalidSendMail.Spam", "Message": text}
            return httpx.Response(400, json=body)

        return reply

    for text, error in [
        ("Sendmail rejected by spam filter (daily quota exceeded).", QuotaExceeded),
        ("Sendmail rejected by spam filter.", ContentRejected),
    ]:
        transport = httpx.MockTransport(answer(text))
        url = mailbridge.ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@cn-hangzhou")
        b = AliyunBackend.from_url(url, transport=transport)
        with pytest.raises(error) as info:
            b.send(Message(sender="s@example.net", to="a@example.com", subject="S", text="T"))
        assert info.value.provider_code == "InvalidSendMail.Spam"


@pytest.mark.parametrize(
    "message",
    [
        Message(sender="s@example.net", to="a@example.com", subject="S", text="T", provider_options={"Nope": 1}),
        Message(sender="s@example.net", to="a@example.com", subject="S", text="T", tag="has space"),
    ],
    ids=["unknown-option", "bad-tag"],
)
def test_send_refuses_what_dm_cannot_take(message: Message) -> None:
    wire = Wire()
    with pytest.raises(InvalidRequest):
        backend(wire).send(message)
    assert wire.requests == []


def test_send_to_group_with_stored_template_and_inline_content() -> None:
    desc = {"TemplateName": "welcome", "TemplateSubject": "Hi {name}", "TemplateText": "x", "TemplateStatus": "2"}
    wire = Wire({"BatchSendMail": {"EnvId": "env-9"}, "DescTemplate": desc})
    b = backend(wire)
    message = Message(sender="news@example.net", to=(), template_id="415366", tag="t", click_tracking=True)
    receipt = b.send_to_group(GROUP, message)
    assert wire.actions() == ["DescTemplate", "BatchSendMail"]
    assert wire.params(0) == {"TemplateId": "415366"}
    assert wire.params() == {
        "AccountName": "news@example.net",
        "AddressType": "1",
        "TagName": "t",
        "ClickTrace": "1",
        "ReceiversName": "news",
        "TemplateName": "welcome",
    }
    assert (receipt.batch_id, receipt.message_ids) == ("env-9", ("env-9",))
    b.send_to_group(GROUP, message.evolve(provider_options={"TemplateName": "by-name"}))
    assert wire.actions()[-1] == "BatchSendMail" and wire.params()["TemplateName"] == "by-name"
    inline = Message(sender="news@example.net", to=(), subject="Hi {{name}}", html="<b>x</b>", sender_name="News")
    b.send_to_group(GROUP, inline)
    assert wire.params()["TemplateContent"] == '{"Subject":"Hi {name}","HtmlBody":"<b>x</b>","Alias":"News"}'
    with pytest.raises(InvalidRequest):
        b.send_to_group(GROUP, Message(sender="news@example.net", to=(), template_id="w", template_data={"a": "b"}))


def test_templates_wire_and_parse() -> None:
    desc = {
        "TemplateName": "test1", "TemplateSubject": "Hi {name}", "TemplateText": "<p>{name}</p>",
        "TemplateStatus": "2", "CreateTime": "2025-11-14T13:28Z",
    }  # fmt: skip
    wire = Wire(
        {
            "CreateTemplate": {"TemplateId": 415366},
            "DescTemplate": desc,
            "QueryTemplateByParam": lambda request: {
                "TotalCount": 1,
                "data": {"template": [] if b"KeyWord" in request.content else [{"TemplateId": 415366, **desc}]},
            },
        }
    )
    b = backend(wire)
    created = b.create_template("test1", subject="Hi {{ name }}", text="a < b\n{{name}}")
    assert wire.actions() == ["QueryTemplateByParam", "CreateTemplate"]  # the name must be free first
    assert wire.params(0) == {"KeyWord": "test1", "PageNo": "1", "PageSize": "50"}
    assert wire.params() == {
        "TemplateType": "0",
        "TemplateName": "test1",
        "TemplateSubject": "Hi {name}",
        "TemplateText": "a &lt; b<br>{name}",
    }
    assert (created.id, created.status) == ("415366", "pending")
    fetched = b.get_template("415366")
    assert wire.params() == {"TemplateId": "415366"}
    assert (fetched.name, fetched.subject, fetched.html, fetched.status) == (
        "test1",
        "Hi {{name}}",
        "<p>{{name}}</p>",
        "approved",
    )
    assert [t.id for t in b.list_templates()] == ["415366"]
    assert wire.params() == {"PageNo": "1", "PageSize": "50"}
    b.delete_template(fetched)
    assert (wire.actions()[-1], wire.params()) == ("DeleteTemplate", {"TemplateId": "415366"})


# --------------------------------------------------------------------------- delivery, account, setup

SEED_004_RECORD = {
    "Status": 0,
    "LastUpdateTime": "2021-04-28T17:11Z",
    "Message": "250 Send Mail OK",
    "ToAddress": "b***@example.net",
    "UtcLastUpdateTime": "1619601108",
    "AccountName": "s***@example.net",
    "Subject": "test subject",
    "ErrorClassification": "SendOk",
}


def test_query_deliveries_wire_and_parse() -> None:
    records = [
        SEED_004_RECORD,
        {**SEED_004_RECORD, "Status": 2, "ErrorClassification": "SmtpNxBox", "Message": "550"},
        {**SEED_004_RECORD, "Status": 3, "ErrorClassification": "", "Message": ""},
        {**SEED_004_RECORD, "Status": 4},
        {**SEED_004_RECORD, "Status": 9},
    ]
    records[3] = {**records[3], "ErrorClassification": "SmtpConnectFailed", "Message": "421 4.4.0 timed out"}
    records[4] = {**records[4], "ErrorClassification": "", "Message": ""}
    wire = Wire({"SenderStatisticsDetailByParam": {"NextStart": "next#1", "data": {"mailDetail": records}}})
    query = DeliveryQuery(
        start=dt.datetime(2021, 4, 28, 0, 0, 30, tzinfo=dt.UTC),
        end=dt.datetime(2021, 4, 28, 16, 0, 1, tzinfo=dt.UTC),
        recipient="b@example.net",
        status=DeliveryStatus.DELIVERED,
    )
    page = backend(wire).query_deliveries(query, cursor="cur", page_size=5)
    assert wire.params() == {
        "StartTime": "2021-04-28 08:00",  # Beijing time, floored to the minute
        "EndTime": "2021-04-29 00:01",  # ceiled
        "Length": "5",
        "NextStart": "cur",
        "ToAddress": "b@example.net",
        "Status": "0",
    }
    assert page.next_cursor == "next#1"
    first = page.items[0]
    assert first.status is DeliveryStatus.DELIVERED
    assert first.time == dt.datetime(2021, 4, 28, 9, 11, 48, tzinfo=dt.UTC)
    assert (first.recipient, first.sender, first.subject) == ("b***@example.net", "s***@example.net", "test subject")
    assert (first.raw_status, first.raw_detail) == ("0", "SendOk: 250 Send Mail OK")
    assert first.message_id is None and first.opened is None
    assert [e.status for e in page.items] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.INVALID_ADDRESS,
        DeliveryStatus.REJECTED,
        DeliveryStatus.FAILED,
        DeliveryStatus.PENDING,
    ]
    assert page.items[2].raw_detail is None
    assert [(e.bounce_type, e.reason) for e in page.items] == [
        (None, None),
        (BounceType.HARD, "550"),
        (None, None),
        (BounceType.SOFT, "421 4.4.0 timed out"),
        (None, None),
    ]


def test_query_deliveries_sends_one_selector_and_filters_the_rest() -> None:
    wire = Wire({"SenderStatisticsDetailByParam": {"data": {"mailDetail": [SEED_004_RECORD]}}})
    start = dt.datetime(2021, 4, 1, tzinfo=dt.UTC)
    query = DeliveryQuery(start=start, end=start + dt.timedelta(days=40), sender="other@example.net", tag="t1")
    page = backend(wire).query_deliveries(query, cursor=None, page_size=100)
    params = wire.params()
    assert params["TagName"] == "t1" and "AccountName" not in params
    assert (params["StartTime"], params["EndTime"]) == ("2021-04-01 08:00", "2021-05-01 08:00")  # clamped to 30 days
    assert page.items == () and page.next_cursor is None


def test_account_summary_parses_seed_003() -> None:
    sample = {
        "DayuStatus": 0, "UserStatus": 0, "Templates": 1, "Domains": 1, "MonthQuota": 60000, "Tags": 0,
        "QuotaLevel": 2, "EnableTimes": 0, "MaxQuotaLevel": 10, "MailAddresses": 0, "Receivers": 0,
        "DailyQuota": 2000, "DailyRemainFreeQuota": 1990,
    }  # fmt: skip
    wire = Wire({"DescAccountSummary": sample})
    summary = backend(wire).account_summary()
    assert wire.params() == {}
    assert (summary.daily_quota, summary.monthly_quota, summary.daily_remaining, summary.status) == (
        2000,
        60000,
        1990,
        "normal",
    )
    assert summary.extra["QuotaLevel"] == 2


def test_domains_parse_seed_003_samples() -> None:
    listing = {
        "MxAuthStatus": 1, "UtcCreateTime": 1569731275, "IcpStatus": 1, "SpfAuthStatus": 1, "DomainStatus": 1,
        "CreateTime": "2019-09-29T12:27Z", "ConfirmStatus": 1, "DomainName": "abc.com", "DomainId": 158910,
        "CnameAuthStatus": 1, "DomainRecord": "0c40d5f125af4e42892a",
    }  # fmt: skip
    desc = {
        "MxAuthStatus": 1, "DnsMx": "abc-com.mail.protection.outlook.com", "IcpStatus": 1,
        "TracefRecord": "tracedm.aliyuncs.com", "DnsSpf": "v=spf1 include:spf.disney.com -all", "DomainStatus": 1,
        "DefaultDomain": 0, "CnameConfirmStatus": 1, "TlDomainName": "abc.com", "MxRecord": "mx01.dm.aliyun.com",
        "SpfRecord": "include:spf1.dm.aliyun.com", "CnameRecord": "dmtrace", "SpfAuthStatus": 1,
        "CreateTime": "2019-09-29T12:49Z", "DomainType": "0c40d5f125af4e42892a", "DomainName": "abc.com",
        "DomainId": 158910, "CnameAuthStatus": 1,
    }  # fmt: skip
    wire = Wire({"QueryDomainByParam": {"TotalCount": 1, "data": {"domain": [listing]}}, "DescDomain": desc})
    b = backend(wire)
    assert [(d.name, d.id, d.verified, d.status) for d in b.list_domains()] == [
        ("abc.com", "158910", False, "verification_failed")
    ]
    assert wire.params() == {"PageNo": "1", "PageSize": "50"}
    domain = b.get_domain("abc.com")
    assert wire.params(-2) == {"KeyWord": "abc.com", "PageNo": "1", "PageSize": "50"}
    assert wire.params() == {"DomainId": "158910"}
    assert [(r.type, r.host, r.value, r.purpose, r.verified) for r in domain.records] == [
        ("TXT", "aliyundm.abc.com", "0c40d5f125af4e42892a", "ownership", False),
        ("TXT", "abc.com", "v=spf1 include:spf1.dm.aliyun.com -all", "spf", False),
        ("MX", "abc.com", "mx01.dm.aliyun.com", "mx", False),
        ("CNAME", "dmtrace.abc.com", "tracedm.aliyuncs.com", "tracking", False),
    ]
    with pytest.raises(mailbridge.NotFound):
        b.get_domain("nope.com")


def test_senders_and_tags() -> None:
    sender = {
        "Sendtype": "batch",
        "AccountStatus": 0,
        "ReplyAddress": "r@x.com",
        "MailAddressId": 237915,
        "AccountName": "a@x.com",
    }
    wire = Wire(
        {
            "QueryMailAddressByParam": {"TotalCount": 1, "data": {"mailAddress": [sender]}},
            "QueryTagByParam": {
                "TotalCount": 1,
                "data": {"tag": [{"TagId": "7", "TagName": "t", "TagDescription": "d"}]},
            },
            "CreateTag": {"TagId": "8"},
        }
    )
    b = backend(wire)
    assert [(s.address, s.id, s.kind, s.reply_to, s.status) for s in b.list_senders()] == [
        ("a@x.com", "237915", "batch", "r@x.com", "normal")
    ]
    assert b.list_tags() == [Tag("7", "t", "d")]
    assert b.create_tag("n", "desc") == Tag("8", "n", "desc")
    assert wire.params() == {"TagName": "n", "TagDescription": "desc"}
    assert b.rename_tag(Tag("8", "n"), "m") == Tag("8", "m")
    assert wire.params() == {"TagId": "8", "TagName": "m"}
    b.delete_tag(Tag("8", "m"))
    assert wire.params() == {"TagId": "8"}


# --------------------------------------------------------------------------- transport failures


def _raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


SEND = Message(sender="s@example.net", to="a@example.com", subject="S", text="T")


@pytest.mark.parametrize(
    ("exc", "send_error", "read_error"),
    [
        (httpx.ConnectError("refused"), ProviderUnavailable, ProviderUnavailable),
        (httpx.ConnectTimeout("slow"), ProviderUnavailable, ProviderUnavailable),
        (httpx.ReadTimeout("no answer"), OutcomeUnknown, ProviderUnavailable),
        (httpx.RemoteProtocolError("server disconnected"), OutcomeUnknown, ProviderUnavailable),
        (httpx.ReadError("reset"), OutcomeUnknown, ProviderUnavailable),
        (httpx.WriteTimeout("stuck"), OutcomeUnknown, ProviderUnavailable),
    ],
)
def test_transport_errors_are_translated(exc: Exception, send_error: type, read_error: type) -> None:
    """Connect failures: certainly not sent. After the request left: maybe sent (sends only)."""
    url = mailbridge.ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@cn-hangzhou")
    b = AliyunBackend.from_url(url, transport=httpx.MockTransport(_raising(exc)))
    with pytest.raises(send_error) as sent:
        b.send(SEND)
    assert sent.value.__cause__ is exc and sent.value.maybe_sent == (send_error is OutcomeUnknown)
    with pytest.raises(read_error):
        b.list_tags()


@pytest.mark.parametrize(
    ("status", "body", "send_error", "read_error"),
    [
        (200, b"<html>oops</html>", OutcomeUnknown, ProviderUnavailable),
        (200, b"[1, 2]", OutcomeUnknown, ProviderUnavailable),
        (502, b"Bad Gateway", OutcomeUnknown, ProviderUnavailable),  # a gateway page: maybe forwarded
        (400, b"\xff\xfe", InvalidRequest, InvalidRequest),
        (504, b"Gateway Timeout", OutcomeUnknown, ProviderUnavailable),
        (504, b'{"Code": "ServiceUnavailable", "Message": "m", "RequestId": "r"}', OutcomeUnknown, ProviderUnavailable),
    ],
)
def test_bodies_that_are_not_json_objects(status: int, body: bytes, send_error: type, read_error: type) -> None:
    url = mailbridge.ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@cn-hangzhou")
    b = AliyunBackend.from_url(url, transport=httpx.MockTransport(lambda r: httpx.Response(status, content=body)))
    with pytest.raises(send_error):
        b.send(SEND)
    with pytest.raises(read_error):
        b.list_tags()


def test_json_body_helpers_roundtrip() -> None:
    """The compact JSON the backend sends is what json.dumps(separators) gives."""
    from mailbridge_aliyun._parse import compact

    assert compact({"a": [1, {"b": "é"}]}) == json.dumps(
        {"a": [1, {"b": "é"}]}, separators=(",", ":"), ensure_ascii=False
    )


def test_recipient_and_tag_together_are_refused_before_the_call() -> None:
    wire = Wire()
    start = dt.datetime(2021, 4, 1, tzinfo=dt.UTC)
    query = DeliveryQuery(start=start, end=start + dt.timedelta(days=1), recipient="a@example.com", tag="t")
    with pytest.raises(InvalidRequest):
        backend(wire).query_deliveries(query, cursor=None, page_size=100)
    assert wire.requests == []


def test_statistics_wire_split_and_parse() -> None:
    stat = {
        "CreateTime": "2021-04-28",
        "requestCount": "10",
        "successCount": "7",
        "faildCount": "1",
        "unavailableCount": "2",
    }
    wire = Wire({"SenderStatisticsByTagNameAndBatchID": {"TotalCount": 1, "data": {"stat": [stat]}}})
    rows = backend(wire).statistics("2021-03-01", "2021-04-30")
    assert [wire.params(i) for i in range(len(wire.requests))] == [
        {"StartTime": "2021-03-01", "EndTime": "2021-03-31"},
        {"StartTime": "2021-04-01", "EndTime": "2021-04-30"},
    ]
    assert rows[0] == mailbridge.StatisticsRow(date=dt.date(2021, 4, 28), requested=10, delivered=7, bounced=3)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('{"UserName": "Ada", "plan": "pro"}', Recipient("a@x.com", name="Ada", data={"plan": "pro"})),
        ("{'Domains': ['a.example.net']}", Recipient("a@x.com", data={"Domains": "['a.example.net']"})),
        ("Ada,,f", Recipient("a@x.com", name="Ada", gender="f")),
        ("{not json", Recipient("a@x.com", name="{not json")),
    ],
    ids=["json", "doc-example-python-literal", "csv", "garbage"],
)
def test_member_data_formats(data: str, expected: Recipient) -> None:
    """QueryReceiverDetail's Data: CSV by DataSchema, JSON, or the doc's Python-literal example."""
    from mailbridge_aliyun._parse import member

    assert member({"Email": "a@x.com", "Data": data}, "UserName,NickName,Gender,Birthday,Mobile").recipient == expected
