"""One emulator harness (``mailbridge.testing.emulator``): both cloud emulators have the same Python
API, the same fault kinds with the same effect on a client, and the same control routes."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge.testing.emulator import FAULT_KINDS, EmulatorServer, Fault, Rendered

#: provider -> (a read action, the single-send action) on its wire
ACTIONS = {"aliyun": ("QueryReceiverByParam", "SingleSendMail"), "tencent": ("ListReceivers", "SendEmail")}
MESSAGE = mailbridge.Message(sender="noreply@mail.example.com", to=["a@example.com"], subject="S", text="T")
ONE_TRY = mailbridge.RetryPolicy(attempts=1)


@pytest.fixture(params=["aliyun", "tencent"])
def emu(request: pytest.FixtureRequest) -> Iterator[Any]:
    emulator = AliyunEmulator() if request.param == "aliyun" else TencentEmulator(rate=0)
    with emulator:
        yield emulator


def provider(emu: Any) -> str:
    return "aliyun" if isinstance(emu, AliyunEmulator) else "tencent"


def read_groups(client: mailbridge.Client) -> None:
    client.backend.list_groups(keyword=None, cursor=None, page_size=10)


def control(emu: Any, method: str, route: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(emu.endpoint + "/_emulator" + route, data=data, method=method)
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def test_both_emulators_have_one_api(emu: Any) -> None:
    assert isinstance(emu.server, EmulatorServer)
    for name in ("inject", "clear_faults", "set_rate", "calls", "render_template", "start", "stop"):
        assert callable(getattr(emu, name)), name
    assert emu.requests == [] and emu.faults == [] and emu.faults_served == 0
    assert emu.endpoint == f"http://127.0.0.1:{emu.port}" and emu.url.startswith(f"{provider(emu)}://")
    fault = emu.inject("status", ACTIONS[provider(emu)][0], status=502, times=None)
    assert emu.faults == [fault] and fault == Fault("status", ACTIONS[provider(emu)][0], None, 502)
    emu.clear_faults()
    assert emu.faults == []


@pytest.mark.parametrize(
    ("kind", "options", "error"),
    [
        ("error", {"code": "InternalError", "status": 500}, mailbridge.ProviderUnavailable),
        ("throttle", {}, mailbridge.RateLimited),
        ("status", {"status": 502}, mailbridge.ProviderUnavailable),
        ("malformed", {}, mailbridge.ProviderUnavailable),
        ("reset", {}, mailbridge.ProviderUnavailable),
        ("reset_unread", {}, mailbridge.ProviderUnavailable),
        ("drop", {}, mailbridge.ProviderUnavailable),
        ("truncated", {}, mailbridge.ProviderUnavailable),
    ],
)
def test_a_fault_on_a_read_fails_it_once(emu: Any, kind: str, options: dict[str, Any], error: type) -> None:
    read = ACTIONS[provider(emu)][0]
    emu.inject(kind, read, **options)
    with mailbridge.connect(emu.url, retry=ONE_TRY) as client:
        with pytest.raises(error) as info:
            read_groups(client)
        if kind == "error":
            assert info.value.provider_code == "InternalError" and info.value.http_status == 500
        assert emu.faults == [] and emu.faults_served == 1
        read_groups(client)  # the fault was used up


@pytest.mark.parametrize(
    ("kind", "applied"), [("reset", False), ("reset_unread", False), ("drop", True), ("truncated", True)]
)
def test_a_lost_answer_on_a_send_is_maybe_sent(emu: Any, kind: str, applied: bool) -> None:
    """Reset after reading: nothing sent, but the client cannot know; drop or a truncated answer: sent,
    answer lost. A reset before the body is read may also show as a failed write (certainly not sent)."""
    emu.inject(kind, ACTIONS[provider(emu)][1])
    with mailbridge.connect(emu.url, retry=ONE_TRY) as client, pytest.raises(mailbridge.MailbridgeError) as info:
        client.send(MESSAGE)
    if kind == "reset_unread":
        assert isinstance(info.value, (mailbridge.OutcomeUnknown, mailbridge.ProviderUnavailable))
    else:
        assert isinstance(info.value, mailbridge.OutcomeUnknown) and info.value.maybe_sent
    assert len(emu.sent_mail) == (1 if applied else 0)


def test_a_fault_kind_is_one_of_the_shared_set(emu: Any) -> None:
    assert {"error", "throttle", "reset", "drop", "delay", "truncated"} <= FAULT_KINDS
    with pytest.raises(ValueError, match="unknown fault kind"):
        emu.inject("explode")


def test_control_routes(emu: Any) -> None:
    read = ACTIONS[provider(emu)][0]
    assert control(emu, "POST", "/faults", {"kind": "status", "action": read, "status": 503})["fault"]["status"] == 503
    assert [f["action"] for f in control(emu, "GET", "/faults")["faults"]] == [read]
    assert control(emu, "DELETE", "/faults") == {"faults": []} and emu.faults == []
    assert control(emu, "POST", "/rate", {"rate": 7}) == {"rate": 7.0} and emu.server.throttle.rate == 7
    with mailbridge.connect(emu.url, retry=ONE_TRY) as client:
        read_groups(client)
    (logged,) = control(emu, "GET", "/requests")["requests"]
    assert logged["action"] == read and emu.calls(read) == [logged["params"]]
    with pytest.raises(urllib.error.HTTPError) as info:
        control(emu, "GET", "/nowhere")
    info.value.close()
    assert info.value.code == 404


def test_render_template_has_one_shape() -> None:
    with AliyunEmulator() as dm, TencentEmulator(rate=0) as ses:
        dm_id = dm.add_template("t", "Hi {name}", html="<p>{name}</p>")
        assert dm.render_template(dm_id, {"name": "Ada"}) == Rendered("Hi Ada", "<p>Ada</p>", None)
        assert ses.render_template(1, {"name": "Ada"}) == Rendered(None, "<p>welcome, Ada</p>", "welcome, Ada")
