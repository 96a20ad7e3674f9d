"""Done-when: each emulator posts events for a run of sends to a receiver the test started; every
event parses, statuses equal what deliveries() reports for the same messages, a redelivered event
is seen once, an unauthenticated call is refused. Direct Mail's pushes carry EventBridge's signature."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import DeliveryEvent, DeliveryStatus, EventAuth, EventReceiver, Message

from .conftest import SECRET

RUN = ["ok@example.com", "gone@bounce.example", "junk@spam.example", "down@fail.example", "reader@opened.example"]
TENCENT_ONLY = ["later@delay.example", "dropped@drop.example"]
CERT_URL = "https://cn-hangzhou-eventbridge.oss-accelerate.aliyuncs.com/cert/pubkey.pem"


class Collector:
    def __init__(self) -> None:
        self.events: list[DeliveryEvent] = []
        self.lock = threading.Lock()

    def __call__(self, event: DeliveryEvent) -> None:
        with self.lock:
            self.events.append(event)


def send_run(client: mailbridge.Client, addresses: list[str], tag: str | None = "run1") -> dict[str, str]:
    ids = {}
    for address in addresses:
        result = client.send(Message(sender="noreply@mail.example.com", to=[address], subject="Hi", text="Hello",
                                     html="<p>Hello</p>", tag=tag))  # fmt: skip
        ids[address] = result.message_ids[0]
    return ids


def polled(client: mailbridge.Client) -> list[DeliveryEvent]:
    return list(client.deliveries(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))


def test_tencent_emulator_pushes_to_a_receiver(serve: Any) -> None:
    seen = Collector()
    receiver = EventReceiver(
        ["tencent"], secret=SECRET, on_event=seen, auth={"tencent": EventAuth(account="251200670")}
    )
    served = serve(receiver)
    with TencentEmulator(rate=0) as emu, mailbridge.connect(emu.url) as client:
        pusher = emu.push_events(served.url("tencent"))
        ids = send_run(client, RUN + TENCENT_ONLY, tag=None)  # SES has no tags
        pusher.flush()
        assert pusher.failures == []
        by_message = {(e.message_id, e.recipient): e for e in polled(client)}
    pushed_for = {(e.message_id, e.recipient) for e in seen.events}
    # every send that reached an ESP pushed; fail.example (SendStatus 1004) never did, as on the cloud
    assert pushed_for == {(ids[a], a) for a in RUN + TENCENT_ONLY if a != "down@fail.example"}
    for event in seen.events:
        poll = by_message[(event.message_id, event.recipient)]
        assert (event.status, event.bounce_type) == (poll.status, poll.bounce_type), event.raw
    kinds = sorted(e.raw_status or "" for e in seen.events if e.recipient == "reader@opened.example")
    assert kinds == ["click", "delivered", "open"]
    statuses = {e.recipient: e.status for e in seen.events if e.raw_status not in ("open", "click")}
    assert statuses == {
        "ok@example.com": DeliveryStatus.DELIVERED,
        "gone@bounce.example": DeliveryStatus.INVALID_ADDRESS,
        "junk@spam.example": DeliveryStatus.REJECTED,
        "reader@opened.example": DeliveryStatus.DELIVERED,
        "later@delay.example": DeliveryStatus.PENDING,
        "dropped@drop.example": DeliveryStatus.REJECTED,
    }
    count = len(seen.events)
    again = httpx.post(served.url("tencent"), content=pusher.sent[0])  # the cloud redelivers
    assert again.json() == {"received": 0, "duplicates": 1} and len(seen.events) == count
    assert httpx.post(served.url("tencent", "x" * 24), content=pusher.sent[1]).status_code == 401
    forged = pusher.sent[1].replace(b'"251200670"', b'"999"')
    assert httpx.post(served.url("tencent"), content=forged).status_code == 401
    assert len(seen.events) == count


@pytest.fixture(scope="module")
def key() -> tuple[bytes, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, public


def test_direct_mail_emulator_pushes_signed_cloudevents(serve: Any, key: tuple[bytes, bytes]) -> None:
    private, public = key
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return public

    seen = Collector()
    auth = EventAuth(account="1234567890123456", signature=True, fetch_certificate=fetch)
    receiver = EventReceiver(["aliyun"], secret=SECRET, on_event=seen, auth={"aliyun": auth})
    served = serve(receiver)
    with AliyunEmulator() as emu, mailbridge.connect(emu.url) as client:
        pusher = emu.push_events(served.url("aliyun"), signing_key=private, cert_url=CERT_URL)
        ids = send_run(client, RUN)
        pusher.flush()
        assert pusher.failures == []
        by_recipient = {e.recipient: e for e in polled(client)}  # DM's log carries no EnvId: one send each
    assert sorted(e.recipient for e in seen.events) == sorted(RUN)
    assert set(fetched) == {CERT_URL}
    for event in seen.events:
        poll = by_recipient[event.recipient]
        assert (event.status, event.bounce_type) == (poll.status, poll.bounce_type), event.raw
        assert event.message_id == ids[event.recipient] and event.tag == "run1"
        assert event.reason == poll.reason
    statuses = {e.recipient: e.status for e in seen.events}
    assert statuses["gone@bounce.example"] is DeliveryStatus.INVALID_ADDRESS
    assert statuses["junk@spam.example"] is DeliveryStatus.REJECTED
    assert statuses["down@fail.example"] is DeliveryStatus.FAILED
    count = len(seen.events)
    body = pusher.sent[0]
    assert httpx.post(served.url("aliyun"), content=body).status_code == 401  # replayed without the signature
    assert len(seen.events) == count


def _signed(
    private: bytes, url: str, body: bytes, *, stamp: float | None = None, cert: str = CERT_URL
) -> dict[str, str]:
    from mailbridge_aliyun import _eventbridge as eb

    fixed = {
        eb.TIMESTAMP: str(int((stamp or __import__("time").time()) * 1000)),
        eb.HASH_METHOD: "SHA256",
        eb.CERT_URL: cert,
    }
    return {**fixed, eb.SIGNATURE: eb.sign(private, url, fixed, body)}


def test_eventbridge_signature_checks(serve: Any, key: tuple[bytes, bytes]) -> None:
    from . import samples

    private, public = key
    auth = EventAuth(signature=True, fetch_certificate=lambda url: public)
    seen = Collector()
    served = serve(EventReceiver(["aliyun"], secret=SECRET, on_event=seen, auth={"aliyun": auth}))
    url = served.url("aliyun")
    body = samples.DM_FAIL.encode()
    assert httpx.post(url, content=body, headers=_signed(private, url, body)).status_code == 200
    tampered = body.replace(b"SmtpNxBox", b"SmtpNxBoy")
    assert httpx.post(url, content=tampered, headers=_signed(private, url, body)).status_code == 401
    old = _signed(private, url, body, stamp=time.time() - 120)
    assert httpx.post(url, content=body, headers=old).status_code == 401
    elsewhere = _signed(private, url, body, cert="https://evil.example/cert.pem")
    assert httpx.post(url, content=body, headers=elsewhere).status_code == 401
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert httpx.post(url, content=body, headers=_signed(other_key, url, body)).status_code == 401
    assert len(seen.events) == 1


@pytest.mark.parametrize("name", ["tencent", "aliyun"])
def test_emulator_command_pushes_with_callback_url_option(serve: Any, name: str) -> None:
    """`mailbridge emulator NAME --option callback_url=...` in its own process pushes to the receiver."""
    import re
    import subprocess
    import sys

    seen = Collector()
    served = serve(EventReceiver([name], secret=SECRET, on_event=seen))
    command = [sys.executable, "-c", "from mailbridge.cli import main; main()", "emulator", name, "--port", "0",
               "--option", f"callback_url={served.url(name)}"]  # fmt: skip
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stderr is not None
            url = ""
            while not url:
                line = proc.stderr.readline()
                assert line, "the emulator exited"
                if match := re.search(r"((?:tencent|aliyun)://\S+)", line):
                    url = match.group(1)
            with mailbridge.connect(url) as client:
                send_run(client, ["ok@example.com", "gone@bounce.example"], tag=None)
            deadline = time.monotonic() + 30  # a bound on waiting for the other process, not a timing assertion
            while len(seen.events) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
    assert {(e.recipient, e.status) for e in seen.events} == {
        ("ok@example.com", DeliveryStatus.DELIVERED),
        ("gone@bounce.example", DeliveryStatus.INVALID_ADDRESS),
    }
