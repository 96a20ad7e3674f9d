"""Property: any SES answer, however malformed, ends in a parsed result or a mailbridge error.

Every action's recorded (cassettes) and documented answers are mutated by hypothesis and served
at the HTTP level (:mod:`._http`: the SDK's ``requests`` session with a canned adapter), so the
SDK's own status and error checks, its JSON decoding, the backend's ``_call`` and the parsers
all run on each example.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailbridge_tencent import TencentBackend

from mailbridge import (
    DeliveryQuery,
    Group,
    MailbridgeError,
    Message,
    OutcomeUnknown,
    ProviderUnavailable,
    Recipient,
    Secret,
    SenderAddress,
    Template,
)

from ..responses import check_mutated_answer, encode, samples
from ._http import SECRET_KEY, canned_backend

GROUP = Group(id="1001", name="news", provider="tencent")
SENDER = SenderAddress(address="noreply@mail.example.com", provider="tencent")
TEMPLATE = Template(id="3", name="welcome", provider="tencent", subject="Hi")
MESSAGE = Message(sender="noreply@mail.example.com", to=("a@example.com",), subject="s", text="t")
START = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)

OPERATIONS: dict[str, Callable[[TencentBackend], Any]] = {
    "ListReceivers": lambda b: b.list_groups(keyword=None, cursor=None, page_size=100),
    "CreateReceiver": lambda b: b.create_group("fresh"),
    "DeleteReceiver": lambda b: b.delete_group(GROUP),
    "ListReceiverDetails": lambda b: b.list_members(GROUP, cursor=None, page_size=100),
    "CreateReceiverDetail": lambda b: b.upload_batch(GROUP, [Recipient("a@example.com"), Recipient("b@example.com")]),
    "CreateReceiverDetailWithData": lambda b: b.upload_batch(GROUP, [Recipient("a@example.com", data={"c": "1"})]),
    "SendEmail": lambda b: b.send(MESSAGE),
    "BatchSendEmail": lambda b: b.send_to_group(
        GROUP, Message(sender=MESSAGE.sender, to=(), subject="s", template_id="1")
    ),
    "GetSendEmailStatus": lambda b: b.query_deliveries(
        DeliveryQuery(start=START, end=START + dt.timedelta(days=1)), cursor=None, page_size=100
    ),
    "GetStatisticsReport": lambda b: b.statistics("2026-01-01", "2026-01-03"),
    "ListEmailIdentities": lambda b: b.list_domains(),
    "GetEmailIdentity": lambda b: b.get_domain("mail.example.com"),
    "UpdateEmailIdentity": lambda b: b.verify_domain("mail.example.com"),
    "CreateEmailIdentity": lambda b: b.create_domain("new.example.com"),
    "DeleteEmailIdentity": lambda b: b.delete_domain("mail.example.com"),
    "ListEmailAddress": lambda b: b.list_senders(),
    "CreateEmailAddress": lambda b: b.create_sender("new@mail.example.com"),
    "DeleteEmailAddress": lambda b: b.delete_sender(SENDER),
    "UpdateEmailSmtpPassWord": lambda b: b.set_sender_password(SENDER, Secret("Abcdef12345XYZ")),
    "ListEmailTemplates": lambda b: b.list_templates(),
    "GetEmailTemplate": lambda b: b.get_template("3"),
    "CreateEmailTemplate": lambda b: b.create_template("new", subject="Hi", text="Hello {{name}}"),
    "UpdateEmailTemplate": lambda b: b.update_template(TEMPLATE, subject="Hi", text="x"),
    "DeleteEmailTemplate": lambda b: b.delete_template(TEMPLATE),
    "ListSendTasks": lambda b: b.send_task("1003"),
}
SAMPLES = samples("tencent")


def run(action: str, body: Any) -> tuple[Any, MailbridgeError | None, list[str]]:
    payload = encode(body)

    def handler(called: str, params: dict[str, Any]) -> Any:
        return (200, payload, "application/json") if called == action else {}

    backend, adapter = canned_backend(handler)
    try:
        return OPERATIONS[action](backend), None, adapter.actions()
    except MailbridgeError as exc:  # anything else fails the test
        return None, exc, adapter.actions()
    finally:
        backend.close()


def test_every_recorded_action_has_an_operation() -> None:
    assert set(SAMPLES) <= set(OPERATIONS)


@pytest.mark.parametrize("action", sorted(SAMPLES))
def test_recorded_and_documented_answers_parse(action: str) -> None:
    for body in SAMPLES[action]:
        _, error, served = run(action, body)
        assert error is None, (body, error)
        assert action in served


@pytest.mark.parametrize("action", sorted(SAMPLES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_answers_end_in_a_result_or_a_mailbridge_error(action: str, data: st.DataObject) -> None:
    """Whatever the body, the operation returns or raises a MailbridgeError (never TypeError & co)."""
    check_mutated_answer(run, action, SAMPLES, data, secret=SECRET_KEY, provider="tencent")


# --------------------------------------------------------------------------- the cases of issue 10


@pytest.mark.parametrize(
    ("action", "response", "path"),
    [
        (
            "GetSendEmailStatus",
            {"EmailStatusList": [{"ToEmailAddress": "a@x.com", "RequestTime": 1e30}]},
            "RequestTime",
        ),
        (
            "ListReceivers",
            {"TotalCount": 1, "Data": [{"ReceiverId": 1, "ReceiversStatus": "ready"}]},
            "ReceiversStatus",
        ),
        ("ListReceivers", {"TotalCount": 1, "Data": "1001"}, "Data"),
        ("ListReceiverDetails", {"TotalCount": 1, "Data": {"Email": "a@x.com"}}, "Data"),
        ("GetSendEmailStatus", {"EmailStatusList": "none"}, "EmailStatusList"),
        ("GetSendEmailStatus", {"EmailStatusList": [{"SendStatus": "x"}]}, "EmailStatusList[0].SendStatus"),
        ("ListEmailIdentities", {"EmailIdentities": {"IdentityName": "a"}}, "EmailIdentities"),
        ("ListEmailIdentities", {"EmailIdentities": ["mail.example.com"]}, "EmailIdentities[0]"),
        ("GetStatisticsReport", {"DailyVolumes": [{"SendDate": "yesterday"}]}, "SendDate"),
        ("CreateReceiverDetail", {"ValidCount": "2"}, None),  # digits are a number: parses
    ],
)
def test_wrongly_typed_fields_are_neutral_errors_naming_the_field(
    action: str, response: dict[str, Any], path: str | None
) -> None:
    body = {"Response": {"RequestId": "R-1", **response}}
    _, error, _ = run(action, body)
    if path is None:
        assert error is None
        return
    assert isinstance(error, ProviderUnavailable), error
    assert path in error.message and error.request_id == "R-1"
    assert json.dumps(error.raw, sort_keys=True) == json.dumps(body, sort_keys=True)


LISTS_AND_UPLOADS = [
    "ListReceivers",
    "ListReceiverDetails",
    "ListEmailTemplates",
    "ListEmailIdentities",
    "ListEmailAddress",
    "GetSendEmailStatus",
    "GetStatisticsReport",
    "ListSendTasks",
    "GetEmailIdentity",
    "CreateReceiverDetail",
    "CreateReceiverDetailWithData",
]
RELAY_ERRORS = [
    {"Response": {"RequestId": "R-2", "Message": "550 5.7.1 relay denied"}},
    {"Response": {"RequestId": "R-2", "Code": 550, "Message": "relay denied"}},
    {"Response": {"RequestId": "R-2", "Error": "550 relay denied"}},  # an Error that is not an object
]


@pytest.mark.parametrize("action", LISTS_AND_UPLOADS)
@pytest.mark.parametrize("body", RELAY_ERRORS)
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_an_error_in_another_shape_is_not_an_empty_success(action: str, body: Any, content_type: str) -> None:
    """An SMTP-relay style error answer is refused by list and upload calls, never read as 'nothing' or 'all in'."""
    payload = encode(body)

    def handler(called: str, params: dict[str, Any]) -> Any:
        return (200, payload, content_type)

    backend, adapter = canned_backend(handler)
    with pytest.raises(MailbridgeError) as info:
        OPERATIONS[action](backend)
    assert adapter.actions() == [action]
    if action.startswith("CreateReceiverDetail"):  # a write: _call may call an SDK-unreadable answer "maybe applied"
        assert isinstance(info.value, ProviderUnavailable | OutcomeUnknown)
    else:
        assert isinstance(info.value, ProviderUnavailable) and not info.value.maybe_sent


@pytest.mark.parametrize("action", LISTS_AND_UPLOADS[:-2])
def test_a_list_answer_without_its_fields_is_refused(action: str) -> None:
    """A list answer with a RequestId and nothing else is not an empty list."""
    _, error, _ = run(action, {"Response": {"RequestId": "R-3"}})
    assert isinstance(error, ProviderUnavailable)
    assert error.raw == {"Response": {"RequestId": "R-3"}}


def test_a_deeply_nested_body_still_gives_a_neutral_error() -> None:
    """Nesting that JSON decodes but recursion-heavy code would choke on: the error keeps a trimmed body."""
    deep: Any = []
    for _ in range(600):
        deep = [deep]
    body = {"Response": {"RequestId": "R-4", "TotalCount": "x", "TemplatesMetadata": [], "Deep": deep}}
    _, error, _ = run("ListEmailTemplates", body)
    assert isinstance(error, ProviderUnavailable) and "TotalCount is str 'x'" in error.message
    assert "nested too deep to keep" in json.dumps(error.raw)
    assert str(error).startswith("tencent (request R-4): the answer to ListEmailTemplates has an unexpected shape")
