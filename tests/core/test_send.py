"""Sends through the client: validation, splitting, retries only when certainly not sent."""

from __future__ import annotations

import mailbox
from typing import Any

import pytest

import mailbridge
from mailbridge import Feature, Message

from .conftest import MakeClient, backend_of, msg


def test_several_to_addresses_are_one_shared_email_in_one_call(make_client: MakeClient) -> None:
    """100 recipients on a 100-per-call backend: one call, one message every recipient sees."""
    client = make_client()
    to = [f"u{i}@example.com" for i in range(100)]
    result = client.send(msg(to=to, cc=["boss@example.com"], bcc=["audit@example.com"]))
    (call,) = backend_of(client).calls_to("send")
    assert (len(call.to), call.cc, call.bcc) == (100, ("boss@example.com",), ("audit@example.com",))
    assert len(result.receipts) == 1
    (mail,) = mailbox.Maildir(backend_of(client).outbox_path, create=False)
    assert mail["To"].count("@") == 100  # one shared email: every 'to' address is on it


def test_a_to_list_larger_than_one_call_is_refused_not_split(make_client: MakeClient) -> None:
    """Never arbitrary subsets: 150 'to' addresses on a 100-per-call backend fail before any call."""
    client = make_client()
    to = [f"u{i}@example.com" for i in range(150)]
    with pytest.raises(mailbridge.LimitExceeded, match=r"150 'to' addresses.*one shared email.*send_many"):
        client.send(msg(to=to))
    assert backend_of(client).calls_to("send") == []


def test_one_copy_each_is_one_message_per_address(make_client: MakeClient) -> None:
    """The LimitExceeded advice works: send_many with one message per address, nobody sees the others."""
    client = make_client(recipients_per_send=2)
    to = [f"u{i}@example.com" for i in range(5)]
    outcomes = list(client.send_many(msg(to=[a]) for a in to))
    assert all(o.ok for o in outcomes)
    assert sorted(m.to for m in backend_of(client).calls_to("send")) == sorted((a,) for a in to)


def test_bcc_repeating_a_to_address_is_refused_before_the_call(make_client: MakeClient) -> None:
    client = make_client()
    with pytest.raises(mailbridge.InvalidRequest, match=r"bcc address 'A@example\.com' is also a to/cc address"):
        client.send(msg(to=["a@example.com"], bcc=["A@example.com"]))
    assert backend_of(client).calls_to("send") == []


def test_sent_mail_is_an_rfc5322_file_in_the_outbox(make_client: MakeClient) -> None:
    """The local backend writes each message to its Maildir with the headers asked for."""
    client = make_client()
    client.send(msg(sender_name="Shop", reply_to="help@example.com", headers={"X-Campaign": "nov"}, html="<b>Hi</b>"))
    box = mailbox.Maildir(backend_of(client).outbox_path, create=False)
    (stored,) = list(box)
    assert stored["From"] == "Shop <me@example.com>"
    assert stored["Reply-To"] == "help@example.com"
    assert stored["X-Campaign"] == "nov"
    assert stored.get_content_type() == "multipart/alternative"


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"to": ["nope"]}, mailbridge.InvalidAddress, "to address 'nope'"),
        ({"sender": "me@"}, mailbridge.InvalidAddress, "sender"),
        ({"subject": "a\r\nBcc: x@example.com"}, mailbridge.InvalidRequest, "subject must not contain a line break"),
        ({"headers": {"X-A": "1\nX-B: 2"}}, mailbridge.InvalidRequest, "line break"),
        ({"headers": {"Bad Name": "1"}}, mailbridge.InvalidRequest, "not a valid header field name"),
        ({"subject": "x" * 999}, mailbridge.LimitExceeded, "subject is 999 characters; .* at most 998"),
        ({"bcc": [f"b{i}@example.com" for i in range(101)]}, mailbridge.LimitExceeded, "101 bcc addresses"),
        ({"text": None}, mailbridge.InvalidRequest, "needs an html or text body"),
        ({"to": []}, mailbridge.InvalidRequest, "at least one 'to'"),
        ({"template_id": "1"}, mailbridge.InvalidRequest, "either a body"),
        ({"subject": None}, mailbridge.InvalidRequest, "needs a subject"),
    ],
)
def test_bad_messages_never_reach_the_backend(
    make_client: MakeClient, changes: dict[str, Any], error: type[Exception], match: str
) -> None:
    """Each invalid message raises a neutral error naming the field, before any backend call."""
    client = make_client()
    with pytest.raises(error, match=match):
        client.send(msg(**changes))
    assert backend_of(client).calls_to("send") == []


def test_unsupported_feature_raises_or_is_ignored(make_client: MakeClient) -> None:
    """A field the backend does not declare raises UnsupportedFeature, or is dropped when told to ignore."""
    from mailbridge_local import LocalBackend

    client = make_client(features=LocalBackend.limits.features - {Feature.TAGS})
    with pytest.raises(mailbridge.UnsupportedFeature, match=r"does not support tags \(field 'tag'\)"):
        client.send(msg(tag="news"))
    client.ignore_unsupported_features = True
    client.send(msg(tag="news"))
    assert backend_of(client).calls_to("send")[0].tag is None


def test_certainly_not_sent_is_retried(make_client: MakeClient) -> None:
    """ProviderUnavailable and RateLimited mean not accepted: the send is retried."""
    client = make_client()
    backend_of(client).failures["send"] = [
        mailbridge.ProviderUnavailable("503"),
        mailbridge.RateLimited("throttled", retry_after=0.01),
    ]
    result = client.send(msg())
    assert len(backend_of(client).calls_to("send")) == 3
    assert len(result.receipts) == 1


def test_outcome_unknown_is_never_retried(make_client: MakeClient) -> None:
    """A timeout after the request left is raised at once, marked maybe-sent, and never repeated."""
    client = make_client()
    backend_of(client).failures["send"] = [mailbridge.OutcomeUnknown("read timeout")]
    with pytest.raises(mailbridge.OutcomeUnknown) as info:
        client.send(msg())
    assert info.value.maybe_sent and not info.value.retryable
    assert len(backend_of(client).calls_to("send")) == 1
    assert info.value.not_sent == ()


def test_permanent_errors_are_not_retried(make_client: MakeClient) -> None:
    """A content rejection is raised at once."""
    client = make_client()
    backend_of(client).failures["send"] = [mailbridge.ContentRejected("spam")]
    with pytest.raises(mailbridge.ContentRejected):
        client.send(msg())
    assert len(backend_of(client).calls_to("send")) == 1


def test_template_send_renders_per_recipient_data(make_client: MakeClient) -> None:
    """A group send renders {{var}} from each member's data."""
    client = make_client()
    group = client.create_group("g")
    client.upload(group, [{"email": "a@example.com", "name": "Ada"}, {"email": "b@example.com", "name": "Bo"}])
    template = client.create_template("t", subject="Hi {{name}}", text="Dear {{name}}")
    result = client.send_to_group(group, Message(sender="me@example.com", to=(), template_id=template.id))
    assert sorted(result.accepted) == ["a@example.com", "b@example.com"]
    subjects = sorted(m["Subject"] for m in mailbox.Maildir(backend_of(client).outbox_path, create=False))
    assert subjects == ["Hi Ada", "Hi Bo"]


def test_group_send_refuses_a_to_list(make_client: MakeClient) -> None:
    client = make_client()
    group = client.create_group("g")
    with pytest.raises(mailbridge.InvalidRequest, match=r"give no 'to' addresses"):
        client.send_to_group(group, msg())
