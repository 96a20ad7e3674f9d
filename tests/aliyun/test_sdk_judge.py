"""The official Direct Mail SDK (``alibabacloud-dm20151123``) judges the emulator.

Every action the mailbridge backend calls is driven through the vendor's SDK, signed by the
SDK itself with both signature versions it implements: ACS3-HMAC-SHA256 (V3, its default,
``do_request``) and RPC HMAC-SHA1 (V2, ``signature_algorithm="v2"``, ``do_rpcrequest``). Each
answer must parse into the SDK's response model with the field types the model declares
(strings where the model has strings) and no field the model lacks; documented error codes
must reach the SDK's exception with their code, HTTP status and message. Nothing of
mailbridge's own client (signing, transport, parsing) takes part.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import alibabacloud_dm20151123.models as dm
import pytest
from alibabacloud_dm20151123.client import Client as DmClient
from alibabacloud_tea_openapi import models as openapi
from alibabacloud_tea_openapi.exceptions import ClientException
from mailbridge_aliyun.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, AliyunEmulator
from mailbridge_aliyun.emulator._state import CST

BACKEND = Path(__file__).resolve().parents[2] / "plugins" / "mailbridge_aliyun" / "_backend.py"
#: Every action the backend sends, read from its source, so a new one fails here until it is judged.
BACKEND_ACTIONS = frozenset(re.findall(r'(?:_call|_paged|_read|ask|Call)\(\s*"([A-Z]\w+)"', BACKEND.read_text()))
SENDER = "noreply@mail.example.com"  # seeded, trigger type
BATCH_SENDER = "news@mail.example.com"  # seeded, batch type


class Judge:
    """An SDK client on the emulator that keeps every raw answer and checks it against its model."""

    def __init__(self, emulator: AliyunEmulator, signature: str, *, secret: str = TEST_ACCESS_KEY_SECRET) -> None:
        config = openapi.Config(
            access_key_id=TEST_ACCESS_KEY_ID,
            access_key_secret=secret,
            endpoint=emulator.endpoint.removeprefix("http://"),
            protocol="http",
            region_id="cn-hangzhou",
        )
        if signature == "v2":
            config.signature_algorithm = "v2"
        self.sdk = DmClient(config)
        self.signature = signature
        self.raw: list[dict[str, Any]] = []
        self.actions: list[str] = []
        call_api = self.sdk.call_api

        def recording(params: Any, request: Any, runtime: Any) -> Any:
            self.actions.append(params.action)
            answer = call_api(params, request, runtime)
            self.raw.append(answer["body"])
            return answer

        self.sdk.call_api = recording  # type: ignore[method-assign]

    def __call__(self, method: Callable[..., Any], *args: Any) -> Any:
        """Call one SDK method; check the answer's model against the raw JSON; return the body model."""
        response = method(*args)
        assert response.status_code == 200
        check_model(response.body, self.raw[-1])
        return response.body


# --------------------------------------------------------------------------- model checks


def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    hints = typing.get_type_hints(cls.__init__, globalns={**vars(module), "main_models": dm})
    hints.pop("return", None)
    return hints


def _check_value(value: Any, hint: Any, where: str) -> None:
    origin = typing.get_origin(hint)
    if origin in (list, typing.List):  # noqa: UP006 (the SDK's models use typing.List)
        assert isinstance(value, list), f"{where}: {value!r} is not a list"
        (item,) = typing.get_args(hint)
        for i, v in enumerate(value):
            _check_value(v, item, f"{where}[{i}]")
    elif origin in (dict, typing.Dict):  # noqa: UP006
        assert isinstance(value, dict), f"{where}: {value!r} is not a dict"
    elif isinstance(hint, type) and issubclass(hint, dm.SingleSendMailResponseBody.__mro__[1]):
        assert isinstance(value, hint), f"{where}: {value!r} is not a {hint.__name__}"
        _check_attributes(value, where)
    elif hint is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not an int"
    else:
        assert isinstance(value, hint), f"{where}: {value!r} is not a {getattr(hint, '__name__', hint)}"


def _check_attributes(model: Any, where: str) -> None:
    for name, hint in _hints(type(model)).items():
        value = getattr(model, name)
        if value is not None:
            _check_value(value, hint, f"{where}.{name}")


def _check_keys(raw: Any, known: Any, where: str) -> None:
    """Every key of the raw answer is one the model knows (its ``to_map`` gives it back)."""
    if isinstance(raw, dict):
        assert isinstance(known, dict), f"{where}: the model has no object here"
        extra = sorted(set(raw) - set(known))
        assert not extra, f"{where}: fields the SDK's model lacks: {extra}"
        for key, value in raw.items():
            _check_keys(value, known[key], f"{where}.{key}")
    elif isinstance(raw, list):
        assert isinstance(known, list) and len(known) == len(raw), f"{where}: list lost in the model"
        for i, (value, model_value) in enumerate(zip(raw, known, strict=True)):
            _check_keys(value, model_value, f"{where}[{i}]")


def check_model(body: Any, raw: dict[str, Any]) -> None:
    """The raw answer parsed into the SDK's model: the declared types, nothing the model lacks."""
    _check_attributes(body, type(body).__name__)
    _check_keys(raw, body.to_map(), type(body).__name__)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(params=["v3", "v2"])
def judge(request: pytest.FixtureRequest, emulator: AliyunEmulator) -> Iterator[Judge]:
    j = Judge(emulator, request.param)
    yield j
    seen = {r["signature"] for r in emulator.requests}
    assert seen <= {j.signature}, f"the SDK signed {seen}, not only {j.signature}"


def test_the_model_check_catches_ints_for_strings_and_extra_fields() -> None:
    """The judge itself can fail: an int where the model has a string, a field the model lacks."""
    raw = {"MailAddressId": 12, "RequestId": "r"}
    with pytest.raises(AssertionError, match="is not a str"):
        check_model(dm.CreateMailAddressResponseBody().from_map(raw), raw)
    raw = {"MailAddressId": "12", "RequestId": "r", "Surprise": 1}
    with pytest.raises(AssertionError, match="lacks: \\['Surprise'\\]"):
        check_model(dm.CreateMailAddressResponseBody().from_map(raw), raw)


# --------------------------------------------------------------------------- every backend action


def test_every_backend_action_through_the_sdk(judge: Judge, emulator: AliyunEmulator) -> None:
    """One tour of the account through the SDK, every answer checked against its model."""
    sdk = judge.sdk
    today = dt.datetime.now(CST)

    summary = judge(sdk.desc_account_summary, dm.DescAccountSummaryRequest())
    assert summary.daily_quota == 2000

    # sender domains
    created = judge(sdk.create_domain, dm.CreateDomainRequest(domain_name="judge.example.org"))
    domain_id = int(created.domain_id)
    listing = judge(sdk.query_domain_by_param, dm.QueryDomainByParamRequest(key_word="judge", page_no=1, page_size=10))
    assert [d.domain_name for d in listing.data.domain] == ["judge.example.org"]
    desc = judge(sdk.desc_domain, dm.DescDomainRequest(domain_id=domain_id))
    assert desc.domain_status == "1"
    emulator.publish_dns("judge.example.org")
    assert judge(sdk.check_domain, dm.CheckDomainRequest(domain_id=domain_id)).domain_status == 0

    # sender addresses
    address = judge(
        sdk.create_mail_address,
        dm.CreateMailAddressRequest(account_name="tour@judge.example.org", sendtype="batch", reply_address="r@x.org"),
    )
    mail_address_id = int(address.mail_address_id)
    senders = judge(sdk.query_mail_address_by_param, dm.QueryMailAddressByParamRequest(key_word="tour"))
    (sender,) = senders.data.mail_address
    assert (sender.mail_address_id, sender.account_status, sender.reply_status) == (str(mail_address_id), "0", "1")
    judge(
        sdk.modify_mail_address,
        dm.ModifyMailAddressRequest(mail_address_id=mail_address_id, password="Judge2Pass9Word"),
    )
    judge(sdk.check_reply_to_mail_address, dm.CheckReplyToMailAddressRequest(mail_address_id=mail_address_id))
    ticket = emulator.reply_to_ticket("tour@judge.example.org")
    judge(sdk.approve_reply_mail_address, dm.ApproveReplyMailAddressRequest(ticket=ticket))

    # tags
    tag = judge(sdk.create_tag, dm.CreateTagRequest(tag_name="tour", tag_description="d"))
    tags = judge(sdk.query_tag_by_param, dm.QueryTagByParamRequest(key_word="tour"))
    assert [t.tag_id for t in tags.data.tag] == [tag.tag_id]
    judge(sdk.modify_tag, dm.ModifyTagRequest(tag_id=int(tag.tag_id), tag_name="tour2", tag_description="d2"))

    # templates
    template = judge(
        sdk.create_template,
        dm.CreateTemplateRequest(
            template_name="tour", template_subject="Hi {UserName}", template_text="<p>{UserName}</p>", template_type=0
        ),
    )
    templates = judge(sdk.query_template_by_param, dm.QueryTemplateByParamRequest(key_word="tour"))
    assert [t.template_id for t in templates.data.template] == [str(template.template_id)]
    described = judge(sdk.desc_template, dm.DescTemplateRequest(template_id=template.template_id))
    assert (described.template_name, described.template_subject) == ("tour", "Hi {UserName}")
    judge(
        sdk.modify_template,
        dm.ModifyTemplateRequest(template_id=template.template_id, template_name="tour", template_subject="Yo"),
    )

    # recipient lists
    receiver = judge(
        sdk.create_receiver,
        dm.CreateReceiverRequest(receivers_name="tour", receivers_alias="tour@judge.example.org", desc="d"),
    )
    lists = judge(sdk.query_receiver_by_param, dm.QueryReceiverByParamRequest(key_word="tour", page_size=10))
    assert [(r.receiver_id, r.count) for r in lists.data.receiver] == [(receiver.receiver_id, "0")]
    detail = json.dumps([{"e": "ada@example.com", "u": "Ada"}, {"e": "bob@example.com"}, {"e": "ada@example.com"}])
    saved = judge(
        sdk.save_receiver_detail, dm.SaveReceiverDetailRequest(receiver_id=receiver.receiver_id, detail=detail)
    )
    assert (saved.success_count, saved.error_count) == (2, 1)
    members = judge(sdk.query_receiver_detail, dm.QueryReceiverDetailRequest(receiver_id=receiver.receiver_id))
    assert [m.email for m in members.data.detail] == ["ada@example.com", "bob@example.com"]

    # sending
    single = judge(
        sdk.single_send_mail,
        dm.SingleSendMailRequest(
            account_name=SENDER,
            address_type=1,
            reply_to_address=False,  # sent as "False": the gateway takes any case
            to_address="to@example.com,gone@bounce.example",
            subject="tour",
            text_body="hello",
            tag_name="tour2",
        ),
    )
    assert single.env_id
    templated = judge(
        sdk.single_send_mail,
        dm.SingleSendMailRequest(
            account_name=SENDER,
            address_type=1,
            reply_to_address=True,
            to_address="to@example.com",
            subject="tour",
            template=dm.SingleSendMailRequestTemplate(template_id=str(template.template_id), template_data={"a": "b"}),
        ),
    )
    assert templated.env_id != single.env_id
    batch = judge(
        sdk.batch_send_mail,
        dm.BatchSendMailRequest(account_name=BATCH_SENDER, address_type=1, receivers_name="tour", template_name="tour"),
    )
    assert batch.env_id
    assert [m.subject for m in emulator.sent_mail if m.env_id == batch.env_id] == ["Yo", "Yo"]

    # delivery records and statistics
    stamp = "%Y-%m-%d %H:%M"
    details = judge(
        sdk.sender_statistics_detail_by_param,
        dm.SenderStatisticsDetailByParamRequest(
            start_time=(today - dt.timedelta(hours=1)).strftime(stamp),
            end_time=(today + dt.timedelta(hours=1)).strftime(stamp),
            length=100,
        ),
    )
    assert {d.to_address for d in details.data.mail_detail} >= {"to@example.com", "gone@bounce.example"}
    day = today.strftime("%Y-%m-%d")
    stats = judge(
        sdk.sender_statistics_by_tag_name_and_batch_id,
        dm.SenderStatisticsByTagNameAndBatchIDRequest(start_time=day, end_time=day),
    )
    assert stats.data.stat[0].request_count == "5"  # 2 + 1 single sends, 2 to the list

    # suppression lists: the invalid-address list (the hard bounce above) and the account's own
    invalid = judge(
        sdk.query_invalid_address,
        dm.QueryInvalidAddressRequest(
            start_time=(today - dt.timedelta(days=1)).strftime("%Y-%m-%d"), end_time=day, length=100
        ),
    )
    assert "gone@bounce.example" in {d.to_address for d in invalid.data.mail_detail}
    judge(sdk.delete_invalid_address, dm.DeleteInvalidAddressRequest(to_address="gone@bounce.example"))
    judge(sdk.create_user_suppression, dm.CreateUserSuppressionRequest(address="blocked@example.com"))
    suppressed = judge(sdk.list_user_suppression, dm.ListUserSuppressionRequest(page_no=1, page_size=10))
    (entry,) = suppressed.data.user_suppressions
    assert entry.address == "blocked@example.com"
    judge(sdk.remove_user_suppression, dm.RemoveUserSuppressionRequest(suppression_ids=str(entry.suppression_id)))

    # clean-up
    judge(
        sdk.delete_receiver_detail,
        dm.DeleteReceiverDetailRequest(receiver_id=receiver.receiver_id, email="bob@example.com"),
    )
    judge(sdk.delete_receiver, dm.DeleteReceiverRequest(receiver_id=receiver.receiver_id))
    judge(sdk.delete_template, dm.DeleteTemplateRequest(template_id=template.template_id))
    judge(sdk.delete_tag, dm.DeleteTagRequest(tag_id=int(tag.tag_id)))
    judge(sdk.delete_mail_address, dm.DeleteMailAddressRequest(mail_address_id=mail_address_id))
    judge(sdk.delete_domain, dm.DeleteDomainRequest(domain_id=domain_id))

    assert set(judge.actions) >= BACKEND_ACTIONS, sorted(BACKEND_ACTIONS - set(judge.actions))
    assert len(BACKEND_ACTIONS) == 36


def test_inline_receivers_on_batch_send_mail(judge: Judge, emulator: AliyunEmulator) -> None:
    """BatchSendMail ``Receivers`` (documented: up to 100, each with its TemplateData) without a stored list."""
    receivers = [
        dm.BatchSendMailRequestReceivers(to=["ada@example.com"], template_data={"UserName": "Ada"}),
        dm.BatchSendMailRequestReceivers(to=["bob@example.com"], template_data={"UserName": "Bob"}),
    ]
    body = judge(
        judge.sdk.batch_send_mail,
        dm.BatchSendMailRequest(
            account_name=BATCH_SENDER,
            address_type=1,
            receivers=receivers,
            template_content=dm.BatchSendMailRequestTemplateContent(subject="Hi {UserName}", text_body="x"),
        ),
    )
    sent = [(m.to, m.subject) for m in emulator.sent_mail if m.env_id == body.env_id]
    assert sent == [(["ada@example.com"], "Hi Ada"), (["bob@example.com"], "Hi Bob")]
    too_many = [dm.BatchSendMailRequestReceivers(to=[f"u{i}@example.com"]) for i in range(101)]
    with pytest.raises(ClientException) as info:
        judge.sdk.batch_send_mail(
            dm.BatchSendMailRequest(
                account_name=BATCH_SENDER, address_type=1, receivers=too_many, template_name="welcome"
            )
        )
    assert info.value.code == "InvalidReceivers"


def test_get_user_comes_as_get_and_is_answered(judge: Judge) -> None:
    """The SDK sends GetUser as GET; RPC actions take GET as well as POST."""
    body = judge(judge.sdk.get_user)
    assert body.data.enable_eventbridge is False
    assert judge.actions == ["GetUser"]


def test_query_invalid_address_is_the_suppression_list(judge: Judge, emulator: AliyunEmulator) -> None:
    """Bounced addresses join the invalid-address list (QueryInvalidAddress), which later sends hit."""
    judge(judge.sdk.single_send_mail, _send(to_address="gone@bounce.example"))
    with pytest.raises(ClientException) as info:
        judge.sdk.single_send_mail(_send(to_address="gone@bounce.example"))
    assert info.value.code == "InvalidToAddress.Spam"
    judge(judge.sdk.single_send_mail, _send(to_address="x0@bounce.example,x1@bounce.example,x2@bounce.example"))
    first = judge(judge.sdk.query_invalid_address, dm.QueryInvalidAddressRequest(length=2))
    assert first.total_count == 4 and len(first.data.mail_detail) == 2 and first.next_start
    rest = judge(judge.sdk.query_invalid_address, dm.QueryInvalidAddressRequest(length=2, next_start=first.next_start))
    addresses = [d.to_address for d in first.data.mail_detail + rest.data.mail_detail]
    assert addresses == ["gone@bounce.example", "x0@bounce.example", "x1@bounce.example", "x2@bounce.example"]
    assert rest.next_start is None
    found = judge(judge.sdk.query_invalid_address, dm.QueryInvalidAddressRequest(key_word="gone"))
    assert [d.to_address for d in found.data.mail_detail] == ["gone@bounce.example"]
    too_old = (dt.datetime.now(CST) - dt.timedelta(days=31)).strftime("%Y-%m-%d")
    with pytest.raises(ClientException) as info:
        judge.sdk.query_invalid_address(dm.QueryInvalidAddressRequest(start_time=too_old))
    assert info.value.code == "InvalidStartTime.Malformed"


# --------------------------------------------------------------------------- paging


def test_page_no_pages_receiver_lists(judge: Judge) -> None:
    """QueryReceiverByParam's (deprecated) PageNo still pages: page 2 is not page 1."""
    for name in ("a", "b", "c"):
        judge(judge.sdk.create_receiver, dm.CreateReceiverRequest(receivers_name=name, receivers_alias=f"{name}@x.org"))
    pages = [
        judge(judge.sdk.query_receiver_by_param, dm.QueryReceiverByParamRequest(page_no=n, page_size=2)) for n in (1, 2)
    ]
    assert [[r.receivers_name for r in p.data.receiver] for p in pages] == [["a", "b"], ["c"]]
    assert pages[0].next_start and pages[1].next_start is None


def test_next_start_tokens_are_opaque_and_accepted(judge: Judge, emulator: AliyunEmulator) -> None:
    """QueryReceiverDetail hands out opaque tokens like the documented ``90f0243616#40test@example.com``
    and takes them back, the documented example included."""
    receiver = judge(judge.sdk.create_receiver, dm.CreateReceiverRequest(receivers_name="p", receivers_alias="p@x.org"))
    rows = json.dumps([{"e": f"{c}@example.com"} for c in "abcde"])
    judge(judge.sdk.save_receiver_detail, dm.SaveReceiverDetailRequest(receiver_id=receiver.receiver_id, detail=rows))
    seen: list[str] = []
    token = "0"  # the documented first request
    tokens = []
    while token:
        page = judge(
            judge.sdk.query_receiver_detail,
            dm.QueryReceiverDetailRequest(receiver_id=receiver.receiver_id, page_size=2, next_start=token),
        )
        seen += [m.email for m in page.data.detail]
        token = page.next_start
        tokens.append(token)
    assert seen == [f"{c}@example.com" for c in "abcde"]
    assert all(re.fullmatch(r"[0-9a-f]{10}#.+", t) for t in tokens[:-1]) and tokens[-1] is None
    documented = judge(
        judge.sdk.query_receiver_detail,
        dm.QueryReceiverDetailRequest(receiver_id=receiver.receiver_id, next_start="90f0243616#40test@example.com"),
    )
    assert [m.email for m in documented.data.detail] == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "e@example.com",
    ]


# --------------------------------------------------------------------------- documented errors reach the SDK


def _send(**fields: Any) -> dm.SingleSendMailRequest:
    values: dict[str, Any] = {
        "account_name": SENDER,
        "address_type": 1,
        "reply_to_address": False,
        "to_address": "to@example.com",
        "subject": "s",
        "text_body": "t",
    }
    values.update(fields)
    return dm.SingleSendMailRequest(**values)


ERRORS: list[tuple[str, Callable[[DmClient], Any], int, str]] = [
    ("InvalidToAddress", lambda c: c.single_send_mail(_send(to_address="not-an-address")), 400, "toAddress"),
    (
        "InvalidMailAddress.NotFound",
        lambda c: c.single_send_mail(_send(account_name="who@example.com")),
        404,
        "not found",
    ),
    ("InvalidFromAlias.Malformed", lambda c: c.single_send_mail(_send(from_alias="x" * 15)), 400, "fromAlias"),
    ("InvalidSubject.Malformed", lambda c: c.single_send_mail(_send(subject="s" * 257)), 400, "subject"),
    ("InvalidReplyAddress.Malformed", lambda c: c.single_send_mail(_send(reply_address="nope")), 400, "replyAddress"),
    (
        "InvalidReceiverName.Malformed",  # the documented code for an alias that is not an address
        lambda c: c.create_receiver(dm.CreateReceiverRequest(receivers_name="l", receivers_alias="vme")),
        400,
        "receiver name",
    ),
    (
        "InvalidReceiverName.Malformed",
        lambda c: c.create_receiver(dm.CreateReceiverRequest(receivers_name="l", receivers_alias="a" * 24 + "@x.org")),
        400,
        "receiver name",
    ),
    ("InvalidTemplate.NotFound", lambda c: c.desc_template(dm.DescTemplateRequest(template_id=9)), 404, "template"),
    (
        "InvalidReceiver.NotFound",
        lambda c: c.delete_receiver(dm.DeleteReceiverRequest(receiver_id="9")),
        404,
        "receiver",
    ),
    (
        "InvalidMailAddressSendType.Malformed",
        lambda c: c.batch_send_mail(
            dm.BatchSendMailRequest(account_name=SENDER, address_type=1, receivers_name="x", template_name="welcome")
        ),
        400,
        "sendType",
    ),
    (
        "InvalidDomainName.Duplicate",
        lambda c: c.create_domain(dm.CreateDomainRequest(domain_name="mail.example.com")),
        400,
        "already exists",
    ),
    (
        "InvalidBetweenTime.Malformed",
        lambda c: c.sender_statistics_detail_by_param(
            dm.SenderStatisticsDetailByParamRequest(start_time="2026-01-01 00:00", end_time="2026-03-01 00:00")
        ),
        400,
        "30 days",
    ),
]


@pytest.mark.parametrize(("code", "call", "status", "text"), ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_documented_errors_reach_the_sdk(
    judge: Judge, code: str, call: Callable[[DmClient], Any], status: int, text: str
) -> None:
    with pytest.raises(ClientException) as info:
        call(judge.sdk)
    assert (info.value.code, info.value.status_code) == (code, status)
    assert text in info.value.message and info.value.request_id


def test_a_wrong_secret_is_signature_does_not_match(emulator: AliyunEmulator) -> None:
    for signature in ("v3", "v2"):
        wrong = Judge(emulator, signature, secret="not-the-secret")
        with pytest.raises(ClientException) as info:
            wrong.sdk.desc_account_summary(dm.DescAccountSummaryRequest())
        assert (info.value.code, info.value.status_code) == ("SignatureDoesNotMatch", 400)
        assert "string to sign" in info.value.message
    assert emulator.requests == []


def test_throttling_reaches_the_sdk(judge: Judge, emulator: AliyunEmulator) -> None:
    emulator.set_rate(1)
    judge.sdk.desc_account_summary(dm.DescAccountSummaryRequest())
    with pytest.raises(ClientException) as info:
        judge.sdk.desc_account_summary(dm.DescAccountSummaryRequest())
    assert (info.value.code, info.value.status_code) == ("Throttling.User", 400)
