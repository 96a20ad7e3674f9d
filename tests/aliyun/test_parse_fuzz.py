"""Property: any Direct Mail answer, however malformed, ends in a parsed result or a mailbridge error.

Every action's recorded (cassettes) and documented (vendor docs) answers are mutated by
hypothesis (types swapped, fields dropped, huge and non-finite numbers, bad times, nested
garbage) and served through ``httpx.MockTransport``, so the whole path runs: signing, httpx,
JSON decoding, the transport's checks, the parsers and the backend's own logic.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailbridge_aliyun import AliyunBackend

import mailbridge
from mailbridge import (
    AlreadyExists,
    Attachment,
    DeliveryQuery,
    Group,
    MailbridgeError,
    Message,
    NotFound,
    ProviderUnavailable,
    Recipient,
    Secret,
    SenderAddress,
    Tag,
    Template,
)

from ..responses import check_mutated_answer, encode, samples

KEY, SECRET = "LTAI5tMailbridgeFuzzKeyId", "mailbridge-fuzz-secret-aliyun"
GROUP = Group(id="34642", name="news", provider="aliyun")
SENDER = SenderAddress(address="noreply@mail.example.com", provider="aliyun", id="237915", reply_to="s@example.com")
TEMPLATE = Template(id="100002", name="welcome", provider="aliyun", subject="Hi")
DOMAIN_ROW = {"DomainId": 158910, "DomainName": "mail.example.com", "DomainStatus": "0"}
MESSAGE = Message(sender="noreply@mail.example.com", to=("a@example.com",), subject="s", text="t")
START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)

#: Answers for the calls an operation makes before (or after) the one under test.
DEFAULTS: dict[str, Any] = {
    "QueryReceiverByParam": {"data": {"receiver": []}},
    "QueryMailAddressByParam": {"TotalCount": 0, "data": {"mailAddress": []}},
    "QueryTemplateByParam": {"TotalCount": 0, "data": {"template": []}},
    "QueryDomainByParam": {"TotalCount": 1, "data": {"domain": [DOMAIN_ROW]}},
    "DescDomain": DOMAIN_ROW,
    "DescTemplate": {"TemplateId": 100002, "TemplateName": "welcome", "TemplateStatus": "2"},
    "ListUserSuppression": {"TotalCount": 1, "Data": {"UserSuppressions": [{"SuppressionId": "7", "Address": "a@b"}]}},
}

#: One operation per Direct Mail action, issuing that action (and parsing its answer).
OPERATIONS: dict[str, Callable[[AliyunBackend], Any]] = {
    "QueryReceiverByParam": lambda b: b.list_groups(keyword=None, cursor=None, page_size=100),
    "CreateReceiver": lambda b: b.create_group("fresh"),
    "DeleteReceiver": lambda b: b.delete_group(GROUP),
    "QueryReceiverDetail": lambda b: b.list_members(GROUP, cursor=None, page_size=100),
    "SaveReceiverDetail": lambda b: b.upload_batch(
        GROUP, [Recipient("a@example.com", name="Ann", data={"code": "1"}), Recipient("b@example.com")]
    ),
    "DeleteReceiverDetail": lambda b: b.remove_members(GROUP, ["a@example.com"]),
    "SingleSendMail": lambda b: b.send(MESSAGE),
    # OpenPlatform's upload grant (then an OSS PostObject and SingleSendMail, answered by DEFAULTS)
    "AuthorizeFileUpload": lambda b: b.send(MESSAGE.evolve(attachments=[Attachment("a.txt", b"a")])),
    "BatchSendMail": lambda b: b.send_to_group(GROUP, Message(sender=MESSAGE.sender, to=(), subject="s", text="t")),
    "SenderStatisticsDetailByParam": lambda b: b.query_deliveries(
        DeliveryQuery(start=START, end=START + dt.timedelta(days=1)), cursor=None, page_size=100
    ),
    "SenderStatisticsByTagNameAndBatchID": lambda b: b.statistics("2026-11-01", "2026-11-05"),
    "DescAccountSummary": lambda b: b.account_summary(),
    "QueryDomainByParam": lambda b: b.list_domains(),
    "DescDomain": lambda b: b.get_domain("mail.example.com"),
    "CreateDomain": lambda b: b.create_domain("new.example.com"),
    "CheckDomain": lambda b: b.verify_domain("mail.example.com"),
    "DeleteDomain": lambda b: b.delete_domain("mail.example.com"),
    "QueryMailAddressByParam": lambda b: b.list_senders(),
    "CreateMailAddress": lambda b: b.create_sender("new@mail.example.com"),
    "DeleteMailAddress": lambda b: b.delete_sender(SENDER),
    "ModifyMailAddress": lambda b: b.set_sender_password(SENDER, Secret("Abcdef12345XYZ")),
    "CheckReplyToMailAddress": lambda b: b.verify_reply_to(SENDER),
    "ApproveReplyMailAddress": lambda b: b.approve_reply_to("ticket"),
    "QueryTagByParam": lambda b: b.list_tags(),
    "CreateTag": lambda b: b.create_tag("promo"),
    "ModifyTag": lambda b: b.rename_tag(Tag(id="1", name="a"), "b"),
    "DeleteTag": lambda b: b.delete_tag(Tag(id="1", name="a")),
    "QueryTemplateByParam": lambda b: b.list_templates(),
    "DescTemplate": lambda b: b.get_template("100002"),
    "CreateTemplate": lambda b: b.create_template("new", subject="Hi {{name}}", html="<p>{{name}}</p>"),
    "ModifyTemplate": lambda b: b.update_template(TEMPLATE, subject="Hi", html="<p>x</p>"),
    "DeleteTemplate": lambda b: b.delete_template(TEMPLATE),
    "QueryInvalidAddress": lambda b: b.list_suppressions(cursor=None, page_size=100),
    "ListUserSuppression": lambda b: b.list_suppressions(cursor="user:1", page_size=100),
    "CreateUserSuppression": lambda b: b.add_suppressions(["a@example.com"]),
    "DeleteInvalidAddress": lambda b: b.remove_suppressions(["a@example.com"]),
    "RemoveUserSuppression": lambda b: b.remove_suppressions(["a@b"]),
}
SAMPLES = samples("aliyun")


class Server:
    """A MockTransport answering ``action`` with ``body`` and everything else with :data:`DEFAULTS`."""

    def __init__(self, action: str, body: bytes) -> None:
        self.action, self.body = action, body
        self.served: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        action = request.headers.get("x-acs-action") or ""
        self.served.append(action)
        if action == self.action:
            return httpx.Response(200, content=self.body, headers={"content-type": "application/json"})
        return httpx.Response(200, json={"RequestId": "DEFAULT", **DEFAULTS.get(action, {})})


def run(action: str, body: Any) -> tuple[Any, MailbridgeError | None, Server]:
    server = Server(action, encode(body))
    url = mailbridge.ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@cn-hangzhou")
    backend = AliyunBackend.from_url(url, transport=httpx.MockTransport(server))
    try:
        return OPERATIONS[action](backend), None, server
    except MailbridgeError as exc:  # anything else fails the test
        return None, exc, server
    finally:
        backend.close()


def test_every_recorded_action_has_an_operation() -> None:
    """The fuzzing covers every action the cassettes and docs show an answer for."""
    assert set(SAMPLES) <= set(OPERATIONS)
    assert set(OPERATIONS) <= set(SAMPLES) | {"DeleteReceiverDetail"} | set(SAMPLES)


@pytest.mark.parametrize("action", sorted(SAMPLES))
def test_recorded_and_documented_answers_parse(action: str) -> None:
    """Unmutated, every sample parses (a look-up may legitimately find nothing or something)."""
    for body in SAMPLES[action]:
        _, error, server = run(action, body)
        assert error is None or isinstance(error, NotFound | AlreadyExists), (body, error)
        assert action in server.served


@pytest.mark.parametrize("action", sorted(SAMPLES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_answers_end_in_a_result_or_a_mailbridge_error(action: str, data: st.DataObject) -> None:
    """Whatever the body, the operation returns or raises a MailbridgeError (never TypeError & co)."""
    check_mutated_answer(run, action, SAMPLES, data, secret=SECRET, provider="aliyun")


# --------------------------------------------------------------------------- the cases of issue 10


def test_a_huge_timestamp_is_a_neutral_error() -> None:
    body = {"data": {"mailDetail": [{"Status": 0, "ToAddress": "a@example.com", "UtcLastUpdateTime": 1e30}]}}
    _, error, _ = run("SenderStatisticsDetailByParam", body)
    assert isinstance(error, ProviderUnavailable)
    assert "data.mailDetail[0].UtcLastUpdateTime" in error.message
    assert error.raw["data"]["mailDetail"][0]["UtcLastUpdateTime"] == 1e30


@pytest.mark.parametrize(
    ("action", "body", "path"),
    [
        (
            "QueryReceiverByParam",
            {"data": {"receiver": [{"ReceiverId": "1", "ReceiversStatus": [1]}]}},
            "ReceiversStatus",
        ),
        ("QueryReceiverByParam", {"data": "receiver"}, "data"),
        ("QueryReceiverDetail", {"data": {"detail": [{"Email": "a@x.com", "Data": [1, 2]}]}}, "data.detail[0].Data"),
        ("QueryReceiverDetail", {"data": {"detail": [{"Email": {"a": 1}}]}}, "Email"),
        ("SaveReceiverDetail", {"Data": {"Detail": "oops"}, "ErrorCount": "many"}, "Data.Detail"),
        ("QueryDomainByParam", {"TotalCount": 1, "data": {"domain": [7]}}, "data.domain[0]"),
        ("DescAccountSummary", {"DailyQuota": {"n": 1}}, "DailyQuota"),
        ("QueryTemplateByParam", {"TotalCount": "lots", "data": {"template": []}}, "TotalCount"),
    ],
)
def test_wrongly_typed_fields_are_neutral_errors_naming_the_field(action: str, body: Any, path: str) -> None:
    _, error, _ = run(action, {"RequestId": "R-1", **body})
    assert isinstance(error, ProviderUnavailable), error
    assert path in error.message and error.request_id == "R-1"
    assert json.dumps(error.raw, sort_keys=True) == json.dumps({"RequestId": "R-1", **body}, sort_keys=True)


def test_a_secret_in_a_malformed_body_is_scrubbed_from_the_error() -> None:
    body = {"Password": "Hunter2Hunter2", "data": {"receiver": {"ReceiverId": [], "Password": "x"}}}
    _, error, _ = run("QueryReceiverByParam", body)
    assert isinstance(error, ProviderUnavailable)
    assert "Hunter2" not in repr(error.raw) and error.raw["Password"] == "***"
