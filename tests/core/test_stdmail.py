"""Message <-> the standard library's email message: lossless where the neutral model carries it, refusals otherwise."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbridge import Attachment, InvalidRequest, Message

_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12).filter(
    lambda s: s[0] not in "._-" and s[-1] not in "._-" and ".." not in s
)
_ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}.example", _LOCAL, st.sampled_from(["a", "b-c", "xn--d"]))
# Header text: words of printable characters (also non-ASCII) separated by single spaces; folding keeps those.
_WORD = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp", "Co", "Cn")), min_size=1, max_size=10
)
_PHRASE = st.lists(_WORD, min_size=1, max_size=6).map(" ".join)
# Bodies: any text, line breaks written as \n (a standard message normalises CR LF).
_BODY = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
)
_CTYPE = st.sampled_from(["application/pdf", "image/png", "text/plain", "text/csv", "application/octet-stream"])
_ATTACHMENT = st.builds(
    Attachment,
    filename=st.builds(lambda w, ext: f"{w}.{ext}", _PHRASE, st.sampled_from(["pdf", "png", "txt"])),
    content=st.binary(max_size=300),
    content_type=_CTYPE,
)
_HEADER_NAME = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10).map(
    lambda s: f"X-{s}"
)


_CID = st.builds(lambda a, b: f"{a}@{b}.example", _LOCAL, _LOCAL)
_INLINE = st.lists(
    st.builds(
        Attachment,
        filename=st.builds(lambda w, ext: f"{w}.{ext}", _PHRASE, st.sampled_from(["png", "jpg", "gif"])),
        content=st.binary(max_size=200),
        content_type=st.sampled_from(["image/png", "image/jpeg", "image/gif"]),
        content_id=_CID,
    ),
    max_size=2,
    unique_by=lambda a: (a.content_id or "").casefold(),
)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    text, html = draw(st.sampled_from([(True, False), (False, True), (True, True)]))
    headers = draw(st.dictionaries(_HEADER_NAME, _PHRASE, max_size=3))
    # Header names are case-insensitive: one spelling per name.
    headers = {k: v for k, v in headers.items() if k.lower() != "x-mailbridge-tag"}
    headers = dict({k.lower(): (k, v) for k, v in headers.items()}.values())
    return Message(
        sender=draw(_ADDRESS),
        sender_name=draw(st.none() | _PHRASE),
        to=draw(st.lists(_ADDRESS, min_size=1, max_size=3)),
        cc=draw(st.lists(_ADDRESS, max_size=2)),
        bcc=draw(st.lists(_ADDRESS, max_size=2)),
        reply_to=draw(st.none() | _ADDRESS),
        subject=draw(_PHRASE),
        text=draw(_BODY) if text else None,
        html=draw(_BODY) if html else None,
        # Inline parts (html bodies only) come back first: they live in the multipart/related around the body.
        attachments=(*(draw(_INLINE) if html else ()), *draw(st.lists(_ATTACHMENT, max_size=3))),
        headers=headers,
        tag=draw(st.none() | _LOCAL),
    )


@settings(max_examples=100, deadline=None)
@given(messages())
def test_round_trip_through_bytes_is_lossless(message: Message) -> None:
    if message.reply_to is None:
        message = message.evolve(reply_to_name=None)
    raw = message.to_email_message().as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert Message.from_email_message(parsed) == message
    assert Message.from_email_message(message.to_email_message()) == message


def test_reply_to_name_and_attachment_bytes_survive() -> None:
    message = Message(
        sender="a@example.com",
        sender_name="Ärger, Inc.",
        to="b@example.com",
        reply_to="r@example.com",
        reply_to_name="Support",
        subject="Hi",
        text="no final newline",
        attachments=[Attachment("räport.pdf", b"%PDF\x00\xff", "application/pdf")],
    )
    out = message.to_email_message()
    assert out["Reply-To"].addresses[0].display_name == "Support"
    assert out["From"].addresses[0].display_name == "Ärger, Inc."
    back = Message.from_email_message(email.message_from_bytes(out.as_bytes(), policy=email.policy.default))
    assert back == message
    assert back.attachments[0].content == b"%PDF\x00\xff"


def test_legacy_compat32_message_is_read() -> None:
    legacy = MIMEMultipart("alternative")
    legacy["From"] = "=?utf-8?q?J=C3=B6rg?= <j@example.com>"
    legacy["To"] = "a@example.com, b@example.com"
    legacy["Subject"] = "=?utf-8?q?Gr=C3=BC=C3=9Fe?="
    legacy["Message-ID"] = "<1@example.com>"
    legacy["X-Campaign"] = "spring"
    legacy.attach(MIMEText("plain ü", "plain", "utf-8"))
    legacy.attach(MIMEText("<b>html</b>", "html", "utf-8"))
    message = Message.from_email_message(legacy)
    assert (message.sender_name, message.sender) == ("Jörg", "j@example.com")
    assert message.to == ("a@example.com", "b@example.com")
    assert message.subject == "Grüße"
    assert (message.text, message.html) == ("plain ü", "<b>html</b>")
    assert message.headers == {"X-Campaign": "spring"}  # Message-ID is the sender's own


def _base() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["To"] = "b@example.com"
    msg["Subject"] = "s"
    return msg


def test_an_inline_image_in_related_inside_the_alternative_is_carried() -> None:
    """The email package's (and Apple Mail's) structure: alternative[text, related[html, image]]."""
    msg = _base()
    msg.set_content("text")
    msg.add_alternative('<img src="cid:logo">', subtype="html")
    html = msg.get_payload()[1]
    html.add_related(b"\x89PNG", maintype="image", subtype="png", cid="<logo>")
    message = Message.from_email_message(msg)
    assert message.attachments == (Attachment("logo", b"\x89PNG", "image/png", content_id="logo"),)
    assert message.html == '<img src="cid:logo">\n' and message.text == "text\n"
    written = message.to_email_message()
    assert written.get_content_type() == "multipart/related"
    assert Message.from_email_message(written) == message


def test_a_content_id_part_in_multipart_mixed_is_inline_too() -> None:
    """Django's default structure: mixed[text, image with a Content-ID]."""
    legacy = MIMEMultipart("mixed")
    legacy["From"] = "a@example.com"
    legacy["To"] = "b@example.com"
    legacy.attach(MIMEText("<p>hi</p>", "html"))
    image = MIMEImage(b"\x89PNG\r\n", "png")
    image["Content-ID"] = "<logo@example.com>"
    image.add_header("Content-Disposition", "inline", filename="logo.png")
    legacy.attach(image)
    message = Message.from_email_message(legacy)
    assert message.attachments == (Attachment("logo.png", b"\x89PNG\r\n", "image/png", content_id="logo@example.com"),)


def test_a_related_part_without_a_content_id_is_refused() -> None:
    related = MIMEMultipart("related")
    related["From"] = "a@example.com"
    related["To"] = "b@example.com"
    related.attach(MIMEText("<p>hi</p>", "html"))
    related.attach(MIMEImage(b"\x89PNG\r\n", "png"))
    with pytest.raises(InvalidRequest, match="without a Content-ID"):
        Message.from_email_message(related)


@pytest.mark.parametrize(
    ("content_id", "match"),
    [("<logo>", "not a message id"), ("two words", "not a message id"), ("", "not a message id")],
)
def test_bad_content_ids_are_refused_before_sending(content_id: str, match: str) -> None:
    from mailbridge import Feature, Limits
    from mailbridge._validation import check_message

    message = Message(
        sender="a@example.com",
        to="b@example.com",
        subject="s",
        html="<img src='cid:x'>",
        attachments=[Attachment("x.png", b"x", "image/png", content_id=content_id)],
    )
    with pytest.raises(InvalidRequest, match=match):
        check_message(
            message,
            Limits(upload_batch_size=1, recipients_per_send=1, features=set(Feature)),
            "local",
            ignore_unsupported=False,
        )


def test_inline_images_need_an_html_body_and_distinct_ids() -> None:
    from mailbridge import Feature, Limits
    from mailbridge._validation import check_message

    limits = Limits(upload_batch_size=1, recipients_per_send=1, features=set(Feature))
    logo = Attachment("x.png", b"x", "image/png", content_id="logo")
    text_only = Message(sender="a@example.com", to="b@example.com", subject="s", text="t", attachments=[logo])
    with pytest.raises(InvalidRequest, match="html body"):
        check_message(text_only, limits, "local", ignore_unsupported=False)
    twice = text_only.evolve(html="<p/>", attachments=[logo, Attachment("y.png", b"y", "image/png", content_id="LOGO")])
    with pytest.raises(InvalidRequest, match="used by another attachment"):
        check_message(twice, limits, "local", ignore_unsupported=False)


@pytest.mark.parametrize(
    ("header", "value", "match"),
    [
        ("To", "Bob <b2@example.com>", "display names"),
        ("Reply-To", "x@example.com, y@example.com", "one reply-to"),
        ("From", "x@example.com, y@example.com", "exactly one sender"),
        ("X-Dup", "1", "2 'x-dup' headers"),
    ],
)
def test_what_cannot_be_carried_is_named(header: str, value: str, match: str) -> None:
    msg = _base()
    msg.set_content("text")
    if header in msg:
        del msg[header]
    if header == "X-Dup":
        msg["X-Dup"] = "0"
    msg[header] = value
    with pytest.raises(InvalidRequest, match=match):
        Message.from_email_message(msg)


def test_other_alternatives_and_nameless_attachments_are_refused() -> None:
    msg = _base()
    msg.set_content("text")
    msg.add_alternative("BEGIN:VCALENDAR", subtype="calendar")
    with pytest.raises(InvalidRequest, match="text and html alternatives only"):
        Message.from_email_message(msg)
    msg = _base()
    msg.set_content("text")
    msg.add_attachment(b"data", maintype="application", subtype="pdf")
    with pytest.raises(InvalidRequest, match="without a filename"):
        Message.from_email_message(msg)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"template": "welcome", "text": None}, "template send"),
        ({"unsubscribe": True}, "unsubscribe"),
        ({"provider_options": {"x": 1}}, "provider_options"),
        ({"headers": {"Subject": "other"}}, "'Subject'"),
        ({"attachments": [Attachment("a", b"", "pdf")]}, "type/subtype"),
    ],
)
def test_to_email_message_refuses_what_it_cannot_carry(changes: dict[str, object], match: str) -> None:
    message = Message(sender="a@example.com", to="b@example.com", subject="s", text="t").evolve(**changes)
    with pytest.raises(InvalidRequest, match=match):
        message.to_email_message()


def test_attached_message_keeps_its_bytes_as_rfc822() -> None:
    inner = _base()
    inner.set_content("inner body\n")
    msg = _base()
    msg.set_content("outer")
    msg.add_attachment(inner, filename="fwd.eml")
    message = Message.from_email_message(msg)
    (attachment,) = message.attachments
    assert attachment.content_type == "message/rfc822"
    assert b"inner body" in attachment.content
    assert Message.from_email_message(message.to_email_message()).attachments[0].filename == "fwd.eml"
