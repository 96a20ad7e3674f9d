"""Fuzzed messages: a result or a mailbridge error, never a crash; an invalid one reaches no server.

On ``local`` the RFC 5322 file, parsed back with the ``email`` package, has exactly the
addresses, display names, subject and custom headers the caller gave. The validity oracle is
independent of the validator: any character of Unicode category Cc (controls), Zl, Zp (line and
paragraph separators) or Cs (surrogates) in header text must be refused.
"""

from __future__ import annotations

import contextlib
import email
import unicodedata
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_local import LocalBackend
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Attachment, MailbridgeError, Message

from ..aliyun.record import scenario_client

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
HOSTILE = "\r\n\t\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x7f\ud800"
SPECIALS = '<>"@,;:\\()[]. =?'
# Header text that should go through: letters, CJK, emoji, RFC 5322 specials, runs of spaces.
clean_text = st.text(alphabet=st.sampled_from("abcXYZ019 -_é中ë😀" + SPECIALS), max_size=30)
good_header_name = st.sampled_from(["X-Campaign", "X-Custom-1", "List-Id", "Keywords", "x-lower", "X-~!#$%&*+^`|"])
bad_header_name = st.one_of(
    st.sampled_from(["From", "subject", "Content-Type", "Bcc", "Date", "X A", "X:A", "", "Zoë", "X\tA"]),
    st.text(max_size=8),
)
good_type = st.sampled_from(["application/pdf", "text/plain", "image/png", "text/csv", "application/vnd.ms-excel"])
bad_type = st.one_of(st.text(max_size=20), st.builds(lambda a, b: f"{a}/{b}", st.text(max_size=8), st.text(max_size=8)))


def _plain_filename(name: str) -> bool:
    """Non-blank and not wrapped in double quotes (readers drop those as MIME quoting)."""
    name = name.strip()
    return bool(name) and not (len(name) >= 2 and name[0] == name[-1] == '"')


@st.composite
def poisoned(draw: st.DrawFn) -> str:
    """Clean text with one hostile character (or any Unicode at all) somewhere in it."""
    text = draw(clean_text)
    at = draw(st.integers(0, len(text)))
    bad = draw(st.one_of(st.sampled_from(HOSTILE), st.characters()))
    return text[:at] + bad + text[at:]


def _bad(text: str | None) -> bool:
    return bool(text) and any(unicodedata.category(c) in {"Cc", "Zl", "Zp", "Cs"} for c in text or "")


@st.composite
def messages(draw: st.DrawFn) -> tuple[Message, bool]:
    """A message and whether it is clean (else one field is hostile; about half of each)."""
    fields: dict[str, Any] = {
        "sender": "noreply@mail.example.com",
        "to": draw(st.lists(st.sampled_from(["ada@example.com", "bob@example.org", "x@bounce.example"]), min_size=1)),
        "cc": draw(st.lists(st.just("cc@example.com"), max_size=1)),
        "subject": draw(clean_text.filter(str.strip)),
        "text": "Hello",
        "sender_name": draw(st.none() | clean_text),
        "reply_to": draw(st.none() | st.just("help@example.com")),
        "reply_to_name": draw(st.none() | clean_text),
        "tag": draw(st.none() | st.text(alphabet="abc_-1", min_size=1, max_size=10)),
        "headers": draw(st.dictionaries(good_header_name, clean_text, max_size=3))
        | draw(st.sampled_from([{}, {"Message-ID": "<a.b-c@example.com>"}, {"Message-ID": ""}])),
        "attachments": draw(
            st.lists(
                st.builds(
                    Attachment,
                    filename=clean_text.filter(_plain_filename),
                    content=st.binary(max_size=64),
                    content_type=good_type,
                ),
                max_size=2,
            )
        ),
    }
    hostile = draw(st.booleans())
    if hostile:
        target = draw(
            st.sampled_from(
                [
                    "subject",
                    "sender_name",
                    "reply_to_name",
                    "tag",
                    "header",
                    "header_name",
                    "filename",
                    "type",
                    "address",
                ]
            )
        )
        if target in ("subject", "sender_name", "reply_to_name", "tag"):
            fields[target] = draw(poisoned())
        elif target == "header":
            fields["headers"] = {**fields["headers"], "X-Poisoned": draw(poisoned())}
        elif target == "header_name":
            fields["headers"] = {**fields["headers"], draw(bad_header_name): "v"}
        elif target in ("filename", "type"):
            name, kind = (draw(poisoned()), "text/plain") if target == "filename" else ("a.txt", draw(bad_type))
            fields["attachments"] = [*fields["attachments"], Attachment(name, b"x", kind)]
        else:
            field = draw(st.sampled_from(["sender", "to", "cc", "reply_to"]))
            bad = draw(
                st.sampled_from(
                    [
                        "a" * 65 + "@example.com",
                        "zoë@example.com",
                        "a@exämple.com",
                        "bad address",
                        "a@b",
                        "a@[127.0.0.1]",
                        '"a b"@example.com',
                        "a@example.com\u2028",
                    ]
                )
            )
            fields[field] = [bad] if field in ("to", "cc") else bad
    return Message(**fields), not hostile


def _must_fail(message: Message) -> bool:
    texts = [message.subject, message.sender_name, message.reply_to_name, message.tag]
    texts += [*message.headers, *message.headers.values()]
    texts += [a.filename for a in message.attachments] + [a.content_type for a in message.attachments]
    addresses = [message.sender, *message.to, *message.cc, message.reply_to or "x@example.com"]
    return any(_bad(t) for t in texts) or any(len(a.split("@")[0]) > 64 or not a.isascii() for a in addresses)


class CountingLocal(LocalBackend):
    name = "local"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.sends = 0

    def send(self, message: Message) -> mailbridge.SendReceipt:
        self.sends += 1
        return super().send(message)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[mailbridge.Client]:
    with mailbridge.Client(CountingLocal(tmp_path / "local")) as client:
        yield client


def _outbox_file(client: mailbridge.Client, message_id: str) -> email.message.EmailMessage:
    box = client.backend.outbox()  # type: ignore[attr-defined]
    (raw,) = [box.get_bytes(key) for key in box.iterkeys() if message_id.encode() in box.get_bytes(key)]
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def _shown(name: str | None) -> str:
    return " ".join((name or "").split())


@SETTINGS
@given(example=messages())
def test_local_writes_exactly_what_the_caller_gave(local: mailbridge.Client, example: tuple[Message, bool]) -> None:
    message, clean = example
    backend: CountingLocal = local.backend  # type: ignore[assignment]
    box = backend.outbox()
    for key in list(box.iterkeys()):  # one file per example: a caller's Message-ID may repeat
        box.remove(key)
    before = backend.sends
    try:
        result = local.send(message)
    except MailbridgeError as exc:
        event(f"refused: {type(exc).__name__}")
        assert not clean, f"a clean message was refused: {exc}"
        assert backend.sends == before, "an invalid message reached the backend"
        return
    event("sent")
    assert not _must_fail(message), "the validator let through a control character or a bad address"
    parsed = _outbox_file(local, result.message_ids[0])
    (sender,) = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (_shown(message.sender_name), message.sender)
    assert [a.addr_spec for a in parsed["To"].addresses] == list(message.to)
    if message.cc:
        assert [a.addr_spec for a in parsed["Cc"].addresses] == list(message.cc)
    if message.reply_to:
        (reply,) = parsed["Reply-To"].addresses
        assert (reply.display_name, reply.addr_spec) == (_shown(message.reply_to_name), message.reply_to)
    assert "Bcc" not in parsed
    assert str(parsed["Subject"]) == (message.subject or "").strip()
    for name, value in message.headers.items():
        values = [str(v) for v in parsed.get_all(name) or []]
        if name.lower() == "message-id":
            assert values == [value.strip() or result.message_ids[0]]
        else:
            assert value.strip() in values, (name, value, values)
    own = {"from", "to", "cc", "reply-to", "subject", "date", "message-id", "mime-version", "content-type"}
    own |= {"content-transfer-encoding", "x-mailbridge-tag", "list-unsubscribe"}
    assert {k.lower() for k in parsed} <= own | {k.lower() for k in message.headers}
    files = [(p.get_filename(), p.get_content_type()) for p in parsed.iter_attachments()]
    assert files == [(a.filename.strip(), a.content_type.lower()) for a in message.attachments]


def test_the_reported_header_injections_on_local(local: mailbridge.Client) -> None:
    """The issue's cases: a display name holding an address, a reply-to name holding one."""
    result = local.send(
        Message(
            sender="noreply@example.com",
            to=["ada@example.com"],
            subject="Hi",
            text="x",
            sender_name="Zoë <ceo@bank.example>",
            reply_to="help@example.com",
            reply_to_name="é evil@evil.com",
        )
    )
    parsed = _outbox_file(local, result.message_ids[0])
    assert [(a.display_name, a.addr_spec) for a in parsed["From"].addresses] == [
        ("Zoë <ceo@bank.example>", "noreply@example.com")
    ]
    assert [(a.display_name, a.addr_spec) for a in parsed["Reply-To"].addresses] == [
        ("é evil@evil.com", "help@example.com")
    ]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"subject": "a\x0bb"}, "U\\+000B"),
        ({"tag": "t\u2028x"}, "U\\+2028"),
        ({"headers": {"X-A": "1\x85"}}, "U\\+0085"),
        ({"headers": {"X\tA": "1"}}, "header field name"),
        ({"headers": {"Zoë": "1"}}, "header field name"),
        ({"headers": {"from": "x@example.com"}}, "the sender address and name"),
        ({"headers": {"Reply-To": "x@example.com"}}, "the reply-to address"),
        ({"headers": {"Date": "today"}}, "cannot be a custom header"),
        ({"headers": {"Content-Type": "text/html"}}, "cannot be a custom header"),
        ({"headers": {"Message-ID": "no-angle-brackets"}}, "msg-id"),
        ({"attachments": [Attachment("a\r\n.txt", b"x")]}, "filename"),
        ({"attachments": [Attachment("a.txt", b"x", "text/plain\r\nX: y")]}, "content type"),
        ({"attachments": [Attachment("a.txt", b"x", "text/plain; charset=utf-8")]}, "no parameters"),
        ({"attachments": [Attachment("a.txt", b"x", "multipart/mixed")]}, "multipart"),
        ({"sender": "a" * 65 + "@example.com"}, "too long before the @-sign"),
        ({"sender": "zoë@example.com"}, "SMTPUTF8"),
        ({"to": ["ada@exämple.com"]}, "SMTPUTF8"),
        ({"subject": "=?utf-8?q?Zo=C3=AB?="}, "encoded-word"),
    ],
)
def test_each_hostile_field_is_refused_before_any_call(
    local: mailbridge.Client, changes: dict[str, Any], match: str
) -> None:
    fields: dict[str, Any] = {"sender": "me@example.com", "to": ["a@example.com"], "subject": "Hi", "text": "x"}
    with pytest.raises(MailbridgeError, match=match):
        local.send(Message(**{**fields, **changes}))
    assert local.backend.sends == 0  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- the clouds' emulators


@pytest.fixture(scope="module")
def aliyun() -> Iterator[tuple[AliyunEmulator, mailbridge.Client]]:
    with AliyunEmulator() as emu:
        emu.add_sender("noreply@mail.example.com")
        with scenario_client(emu.url) as client:
            yield emu, client


@pytest.fixture(scope="module")
def tencent() -> Iterator[tuple[list[int], mailbridge.Client]]:
    emu = TencentEmulator(port=0, rate=0)
    with emu, mailbridge.connect(emu.url, retry=mailbridge.RetryPolicy(attempts=1)) as client:
        sdk = client.backend._client  # type: ignore[attr-defined]
        original = sdk.call_json
        counter = [0]

        def counting(*args: Any, **kwargs: Any) -> Any:  # every HTTP request the SDK makes
            counter[0] += 1
            return original(*args, **kwargs)

        sdk.call_json = counting
        yield counter, client


# Most generated messages are valid (they are the other tests' inputs), so this one keeps the ~1 in 6
# that must fail; Hypothesis' filter health check would otherwise fail the run at random.
@settings(SETTINGS, suppress_health_check=[*SETTINGS.suppress_health_check, HealthCheck.filter_too_much])
@given(example=messages())
def test_the_clouds_refuse_invalid_messages_before_any_request(
    aliyun: tuple[AliyunEmulator, mailbridge.Client],
    tencent: tuple[list[int], mailbridge.Client],
    example: tuple[Message, bool],
) -> None:
    message, _ = example
    assume(_must_fail(message))
    emu, ali = aliyun
    counter, ten = tencent
    for client, count in ((ali, lambda: len(emu.server.requests)), (ten, lambda: counter[0])):
        before = count()
        client.ignore_unsupported_features = False
        with pytest.raises(MailbridgeError):
            client.send(message)
        assert count() == before, f"an invalid message reached {client.provider}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(example=messages())
def test_the_clouds_end_every_message_in_a_result_or_a_mailbridge_error(
    aliyun: tuple[AliyunEmulator, mailbridge.Client],
    tencent: tuple[list[int], mailbridge.Client],
    example: tuple[Message, bool],
) -> None:
    message, _ = example
    for client in (aliyun[1], tencent[1]):
        client.ignore_unsupported_features = True
        with contextlib.suppress(MailbridgeError):
            client.send(message)


def test_tencent_sender_alias_is_quoted_not_concatenated(tencent: tuple[list[int], mailbridge.Client]) -> None:
    counter, client = tencent
    base = {"sender": "noreply@mail.example.com", "to": ["a@example.com"], "subject": "s", "text": "t"}
    before = counter[0]
    for name in ("Zoë <ceo@bank.example>", 'say "hi"', "a:b"):
        with pytest.raises(mailbridge.InvalidRequest, match="sender name"):
            client.send(Message(**base, sender_name=name))
    assert counter[0] == before
    params = _sent_params(client, Message(**base, sender_name="Smith, John"))
    assert params["FromEmailAddress"] == '"Smith, John" <noreply@mail.example.com>'
    params = _sent_params(client, Message(**base, sender_name="腾讯云团队"))
    assert params["FromEmailAddress"] == "腾讯云团队 <noreply@mail.example.com>"


def _sent_params(client: mailbridge.Client, message: Message) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []
    backend = client.backend
    original = backend._call  # type: ignore[attr-defined]

    def spy(action: str, params: dict[str, Any]) -> Any:
        seen.append(params)
        return original(action, params)

    backend._call = spy  # type: ignore[attr-defined]
    try:
        client.send(message)
    finally:
        del backend._call  # type: ignore[attr-defined]
    return seen[-1]


def test_member_data_with_a_line_break_cannot_break_a_templated_subject(local: mailbridge.Client) -> None:
    """Per-recipient data is rendered after validation: the local backend keeps the subject one line."""
    group = local.create_group("multiline")
    local.upload(group, [{"email": "ada@example.com", "name": "Ada\r\nBcc: evil@example.com"}])
    template = local.create_template("hi", subject="Hi {{name}}", text="Hello {{name}}")
    result = local.send_to_group(group, Message(sender="noreply@example.com", to=(), template_id=template.id))
    parsed = _outbox_file(local, result.message_ids[0])
    assert str(parsed["Subject"]) == "Hi Ada Bcc: evil@example.com"
    assert "Bcc" not in parsed and [a.addr_spec for a in parsed["To"].addresses] == ["ada@example.com"]
