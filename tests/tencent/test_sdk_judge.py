"""The official Tencent Cloud SDK (``tencentcloud-sdk-python-ses``) judges the emulator.

Every action the mailbridge backend calls is driven through the SDK's own ``SesClient`` (its
own TC3-HMAC-SHA256 signer, its own HTTP session), not through mailbridge's backend. Each answer
must deserialize into the SDK's response model with the field types the model documents
(``:type X: int`` and so on) and no field the model lacks; the asynchronous import states
(1 pending, 2 uploading, 3 done), the documented limits and the documented error codes must
come through the SDK as the cloud sends them.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_tencent.emulator import TEST_SECRET_ID, TEST_SECRET_KEY, TencentEmulator
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.ses.v20201002 import models
from tencentcloud.ses.v20201002.ses_client import SesClient

from ._support import FakeClock, emulator

BACKEND = Path(__file__).resolve().parents[2] / "plugins" / "mailbridge_tencent" / "_backend.py"
#: Every action the backend sends, read from its source, so a new one fails here until it is judged.
_ACTION_CALL = r'(?:_call|_read|_success|_offset_page|_offset_records)\(\s*"([A-Z]\w+)"'  # helpers that send an action
BACKEND_ACTIONS = frozenset(re.findall(_ACTION_CALL, BACKEND.read_text()))
SENDER = "noreply@mail.example.com"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Judge:
    """The SDK's client on the emulator, keeping each raw answer and checking it against its model."""

    def __init__(self, emu: TencentEmulator, *, secret_key: str = TEST_SECRET_KEY) -> None:
        profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{emu.port}"))
        self.sdk = SesClient(Credential(TEST_SECRET_ID, secret_key), "ap-guangzhou", profile)
        self.raw: list[dict[str, Any]] = []
        self.actions: list[str] = []
        call = self.sdk.call

        def recording(action: str, params: Any, options: Any = None, headers: Any = None) -> Any:
            self.actions.append(action)
            body = call(action, params, options, headers)
            self.raw.append(json.loads(body)["Response"])
            return body

        self.sdk.call = recording  # type: ignore[method-assign]

    def __call__(self, action: str, **fields: Any) -> Any:
        """Build ``<action>Request`` from ``fields`` (as the SDK's ``from_json_string`` does), call the
        SDK method, check the model against the raw answer, return the model."""
        request = getattr(models, f"{action}Request")()
        request.from_json_string(json.dumps(fields))
        response = getattr(self.sdk, action)(request)
        check_model(response, self.raw[-1])
        return response

    def error(self, action: str, **fields: Any) -> TencentCloudSDKException:
        with pytest.raises(TencentCloudSDKException) as info:
            self(action, **fields)
        assert info.value.requestId, "an error answer carries its RequestId"
        return info.value


# --------------------------------------------------------------------------- model checks


def _types(cls: type) -> dict[str, str]:
    return {k: v.strip() for k, v in re.findall(r":type (\w+): (.+)", cls.__init__.__doc__ or "")}


def _check_value(value: Any, raw: Any, kind: str, where: str) -> None:
    if kind.startswith("list of "):
        assert isinstance(raw, list), f"{where}: {raw!r} is not a list"
        item = kind.removeprefix("list of ")
        for i, (v, r) in enumerate(zip(value, raw, strict=True)):
            _check_value(v, r, item, f"{where}[{i}]")
    elif kind in ("str", "int", "bool", "float"):
        expected = {"str": str, "int": int, "bool": bool, "float": float}[kind]
        ok = isinstance(raw, expected) and (kind == "bool" or not isinstance(raw, bool))
        assert ok, f"{where}: {raw!r} is not {kind}"
    else:  # a nested model: "ReceiverData" or ":class:`tencentcloud.ses.v20201002.models.Volume`"
        assert isinstance(raw, dict), f"{where}: {raw!r} is not an object"
        _check(value, raw, where)


def _check(model: Any, raw: dict[str, Any], where: str) -> None:
    types = _types(type(model))
    extra = sorted(set(raw) - set(types))
    assert not extra, f"{where}: fields the SDK's model lacks: {extra}"
    for key, value in raw.items():
        if value is not None:
            _check_value(getattr(model, key), value, types[key], f"{where}.{key}")


def check_model(model: Any, raw: dict[str, Any]) -> None:
    """The raw ``Response`` deserialized into the SDK's model: documented types, nothing more."""
    _check(model, raw, type(model).__name__)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[TencentEmulator]:
    """The emulator as it starts by default (asynchronous imports), on a clock the test moves."""
    with emulator(clock=clock) as server:
        yield server


@pytest.fixture
def judge(emu: TencentEmulator) -> Judge:
    return Judge(emu)


def test_the_model_check_catches_wrong_types_and_extra_fields() -> None:
    raw = {"ReceiverId": "7", "RequestId": "r"}
    with pytest.raises(AssertionError, match="is not int"):
        check_model(_deserialized(models.CreateReceiverResponse, raw), raw)
    raw = {"ReceiverId": 7, "RequestId": "r", "Surprise": 1}
    with pytest.raises(AssertionError, match="lacks: \\['Surprise'\\]"):
        check_model(_deserialized(models.CreateReceiverResponse, raw), raw)


def _deserialized(cls: type, raw: dict[str, Any]) -> Any:
    model = cls()
    model._deserialize(raw)
    return model


# --------------------------------------------------------------------------- every backend action


def test_every_backend_action_through_the_sdk(judge: Judge, emu: TencentEmulator, clock: FakeClock) -> None:
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()

    # sender domains and addresses
    identities = judge("ListEmailIdentities")
    assert [i.IdentityName for i in identities.EmailIdentities] == ["mail.example.com"]
    created = judge("CreateEmailIdentity", EmailIdentity="judge.example.org")
    assert created.VerifiedForSendingStatus is False and created.Attributes
    assert judge("UpdateEmailIdentity", EmailIdentity="judge.example.org").VerifiedForSendingStatus is True
    assert judge("GetEmailIdentity", EmailIdentity="judge.example.org").IdentityType == "DOMAIN"
    judge("CreateEmailAddress", EmailAddress="tour@judge.example.org", EmailSenderName="Tour")
    judge("UpdateEmailSmtpPassWord", EmailAddress="tour@judge.example.org", Password="Judge2Pass9Word")
    senders = judge("ListEmailAddress")
    assert {s.EmailAddress: s.SmtpPwdType for s in senders.EmailSenders}["tour@judge.example.org"] == 1
    judge("DeleteEmailAddress", EmailAddress="tour@judge.example.org")
    judge("DeleteEmailIdentity", EmailIdentity="judge.example.org")

    # templates
    template = judge("CreateEmailTemplate", TemplateName="tour", TemplateContent={"Html": b64("<p>{{name}}</p>")})
    listed = judge("ListEmailTemplates", Offset=0, Limit=100)
    assert template.TemplateID in [t.TemplateID for t in listed.TemplatesMetadata]
    judge(
        "UpdateEmailTemplate", TemplateID=template.TemplateID, TemplateName="tour2", TemplateContent={"Text": b64("x")}
    )
    fetched = judge("GetEmailTemplate", TemplateID=template.TemplateID)
    assert (fetched.TemplateName, fetched.TemplateContent.Text) == ("tour2", b64("x"))

    # recipient groups: asynchronous imports, states 1 -> 2 -> 3
    group = judge("CreateReceiver", ReceiversName="tour", Desc="d").ReceiverId
    assert [r.ReceiversStatus for r in judge("ListReceivers", Offset=0, Limit=10).Data] == [1]
    counts = judge("CreateReceiverDetail", ReceiverId=group, Emails=["ada@example.com", "bob@example.com"])
    assert (counts.TotalCount, counts.ValidCount) == (2, 2)
    assert [r.ReceiversStatus for r in judge("ListReceivers", Offset=0, Limit=10).Data] == [2]
    clock.now += emu.upload_delay
    assert [r.ReceiversStatus for r in judge("ListReceivers", Offset=0, Limit=10).Data] == [3]
    judge(
        "CreateReceiverDetailWithData",
        ReceiverId=group,
        Datas=[{"Email": "cy@example.com", "TemplateData": '{"name":"Cy"}'}],
    )
    clock.now += emu.upload_delay
    members = judge("ListReceiverDetails", ReceiverId=group, Offset=0, Limit=100)
    assert [m.Email for m in members.Data] == ["ada@example.com", "bob@example.com", "cy@example.com"]

    # sending
    sent = judge(
        "SendEmail",
        FromEmailAddress=f"Tour <{SENDER}>",
        Destination=["to@example.com"],
        Subject="tour",
        Template={"TemplateID": 1, "TemplateData": '{"name":"x"}'},
        TriggerType=1,
    )
    assert sent.MessageId.startswith("qcloudses-")
    task = judge(
        "BatchSendEmail",
        FromEmailAddress=SENDER,
        ReceiverId=group,
        Subject="batch",
        TaskType=1,
        Template={"TemplateID": 1, "TemplateData": "{}"},
    )
    tasks = judge("ListSendTasks", Offset=0, Limit=10)
    assert [(t.TaskId, t.RequestCount) for t in tasks.Data] == [(task.TaskId, 3)]
    status = judge("GetSendEmailStatus", RequestDate=today, Offset=0, Limit=100, MessageId=sent.MessageId)
    assert [s.ToEmailAddress for s in status.EmailStatusList] == ["to@example.com"]
    report = judge("GetStatisticsReport", StartDate=today, EndDate=today)
    assert report.OverallVolume.RequestCount == 4

    # suppression lists: the shared hard-bounce list and the account's custom blacklist
    emu.blacklist.add("gone@example.com")
    black = judge("ListBlackEmailAddress", StartDate="2020-10-02", EndDate=today, Offset=0, Limit=100)
    assert [b.EmailAddress for b in black.BlackList] == ["gone@example.com"]
    judge("DeleteBlackList", EmailAddressList=["gone@example.com"])
    judge("CreateCustomBlacklist", Emails=["blocked@example.com"])
    custom = judge("ListCustomBlacklist", Offset=0, Limit=100, Status=1)
    assert [c.Email for c in custom.Data] == ["blocked@example.com"]
    judge("DeleteCustomBlackList", Emails=["blocked@example.com"])

    judge("DeleteReceiver", ReceiverId=group)
    judge("DeleteEmailTemplate", TemplateID=template.TemplateID)
    assert set(judge.actions) >= BACKEND_ACTIONS, sorted(BACKEND_ACTIONS - set(judge.actions))
    assert len(BACKEND_ACTIONS) == 30


# --------------------------------------------------------------------------- asynchronous imports


def test_an_import_in_progress_is_observable_and_refuses_what_ses_refuses(
    judge: Judge, emu: TencentEmulator, clock: FakeClock
) -> None:
    """By default an import takes time: status 2 meanwhile, and the documented refusals."""
    group = judge("CreateReceiver", ReceiversName="slow").ReceiverId
    judge("CreateReceiverDetail", ReceiverId=group, Emails=["a@example.com", "a@example.com"])
    (listed,) = judge("ListReceivers", Offset=0, Limit=10, Status=2).Data
    assert (listed.ReceiverId, listed.ReceiversStatus, listed.Count) == (group, 2, 0)
    assert judge("ListReceiverDetails", ReceiverId=group, Offset=0, Limit=10).TotalCount == 0
    busy = judge.error("CreateReceiverDetail", ReceiverId=group, Emails=["b@example.com"])
    assert busy.code == "OperationDenied.ReceiverIsOperating"
    assert judge.error("DeleteReceiver", ReceiverId=group).code == "OperationDenied.ReceiverIsOperating"
    batch = judge.error(
        "BatchSendEmail",
        FromEmailAddress=SENDER,
        ReceiverId=group,
        Subject="s",
        TaskType=1,
        Template={"TemplateID": 1, "TemplateData": "{}"},
    )
    assert batch.code == "OperationDenied.ReceiverStatusError"
    clock.now += emu.upload_delay
    (done,) = judge("ListReceivers", Offset=0, Limit=10).Data
    assert (done.ReceiversStatus, done.Count) == (3, 2)
    members = judge("ListReceiverDetails", ReceiverId=group, Offset=0, Limit=10)
    assert [m.Email for m in members.Data] == ["a@example.com", "a@example.com"]  # SES does not de-duplicate


def test_instant_imports_are_an_explicit_choice() -> None:
    with TencentEmulator() as default, TencentEmulator(upload_delay=0) as instant:
        assert default.upload_delay > 0 and instant.upload_delay == 0
        judge = Judge(instant)
        group = judge("CreateReceiver", ReceiversName="fast").ReceiverId
        judge("CreateReceiverDetail", ReceiverId=group, Emails=["a@example.com"])
        assert [r.ReceiversStatus for r in judge("ListReceivers", Offset=0, Limit=10).Data] == [3]


# --------------------------------------------------------------------------- limits and documented errors


def _send(**fields: Any) -> dict[str, Any]:
    return {
        "FromEmailAddress": SENDER,
        "Destination": ["to@example.com"],
        "Subject": "s",
        "Template": {"TemplateID": 1, "TemplateData": "{}"},
        **fields,
    }


ERRORS: list[tuple[str, str, Callable[[int], dict[str, Any]]]] = [
    ("MissingParameter", "ListReceivers", lambda g: {"Limit": 10}),
    ("MissingParameter", "ListReceivers", lambda g: {"Offset": 0}),
    ("MissingParameter", "ListReceiverDetails", lambda g: {"ReceiverId": g, "Offset": 0}),
    ("MissingParameter", "ListSendTasks", lambda g: {"Offset": 0}),
    ("MissingParameter", "ListEmailTemplates", lambda g: {"Limit": 10}),
    ("MissingParameter", "GetSendEmailStatus", lambda g: {"RequestDate": dt.date.today().isoformat(), "Limit": 10}),
    ("FailedOperation.InvalidLimit", "ListReceivers", lambda g: {"Offset": 0, "Limit": 101}),
    ("InvalidParameter", "SendEmail", lambda g: _send(Simple={"Text": b64("x")})),
    ("FailedOperation.TooManyRecipients", "SendEmail", lambda g: _send(Destination=[f"u{i}@x.org" for i in range(51)])),
    ("InvalidParameterValue.SubjectLengthError", "SendEmail", lambda g: _send(Subject="s" * 101)),
    (
        "FailedOperation.InvalidTemplateID",
        "SendEmail",
        lambda g: _send(Template={"TemplateID": 99, "TemplateData": "{}"}),
    ),
    ("FailedOperation.MissingEmailContent", "SendEmail", lambda g: {**_send(), "Template": None}),
    ("InvalidParameterValue.IllegalEmailAddress", "SendEmail", lambda g: _send(Destination=["nope"])),
    (
        "FailedOperation.TooManyAttachments",
        "SendEmail",
        lambda g: _send(Attachments=[{"FileName": f"{i}.txt", "Content": b64("x")} for i in range(11)]),
    ),
    (
        "LimitExceeded.ReceiverDetailRequestLimit",
        "CreateReceiverDetail",
        lambda g: {"ReceiverId": g, "Emails": [f"u{i}@x.org" for i in range(20_001)]},
    ),
    (
        "InvalidParameterValue.TemplateDataLenLimit",
        "CreateReceiverDetailWithData",
        lambda g: {"ReceiverId": g, "Datas": [{"Email": "a@x.org", "TemplateData": json.dumps({"k": "v" * 800})}]},
    ),
    ("OperationDenied.ReceiverNotExist", "DeleteReceiver", lambda g: {"ReceiverId": g + 1000}),
    ("InvalidParameterValue.RepeatReceiverName", "CreateReceiver", lambda g: {"ReceiversName": "judged"}),
    ("InvalidParameterValue.TemplateNotExist", "GetEmailTemplate", lambda g: {"TemplateID": 99}),
    ("InvalidParameterValue.NotExistDomain", "GetEmailIdentity", lambda g: {"EmailIdentity": "nope.example.org"}),
    (
        "FailedOperation.NotSupportDate",
        "GetSendEmailStatus",
        lambda g: {"RequestDate": "2020-01-01", "Offset": 0, "Limit": 1},
    ),
]


@pytest.mark.parametrize(("code", "action", "fields"), ERRORS, ids=[f"{e[1]}-{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_documented_errors_and_limits_reach_the_sdk(
    judge: Judge, code: str, action: str, fields: Callable[[int], dict[str, Any]]
) -> None:
    group = judge("CreateReceiver", ReceiversName="judged").ReceiverId
    error = judge.error(action, **fields(group))
    assert error.code == code and error.message


def test_a_wrong_secret_is_a_signature_failure(emu: TencentEmulator) -> None:
    with pytest.raises(TencentCloudSDKException) as info:
        Judge(emu, secret_key="not-the-key")("ListEmailIdentities")
    assert info.value.code == "AuthFailure.SignatureFailure"
    assert emu.requests == []


def test_rate_limit_reaches_the_sdk() -> None:
    with emulator(rate=1) as emu:
        judge = Judge(emu)
        judge("ListEmailIdentities")
        assert judge.error("ListEmailIdentities").code == "RequestLimitExceeded"


# --------------------------------------------------------------------------- the connection


def test_connections_are_kept_alive(emu: TencentEmulator) -> None:
    """HTTP/1.1 keep-alive as at the cloud's gateway: several answers on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        sockets = []
        for path in ("/_emulator/state", "/nowhere", "/_emulator/state"):
            connection.request("GET", path)
            answer = connection.getresponse()
            assert answer.getheader("Connection") != "close" and answer.getheader("Content-Length")
            answer.read()
            sockets.append(connection.sock)  # None once the server closed it
        assert sockets[0] is not None and sockets == [sockets[0]] * 3  # never reconnected
    finally:
        connection.close()
    judge = Judge(emu)
    for _ in range(3):
        judge("ListEmailIdentities")
    assert len(emu.requests) == 3


def test_the_emulator_checks_signatures_with_its_own_code() -> None:
    """The emulator's TC3 check is its own (``tc3_signature``): it imports neither the backend nor the SDK."""
    import ast

    import mailbridge_tencent.emulator as module

    for source in Path(module.__file__).parent.glob("*.py"):  # every module of the emulator package
        tree = ast.parse(source.read_text())
        imported = {("." * n.level) + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        banned = ("tencentcloud", "._backend", ".._backend", ".._transport", "mailbridge_tencent")
        assert not {m for m in imported if m.startswith(banned)}, (source.name, imported)
