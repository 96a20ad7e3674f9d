"""What a real SMTP server (aiosmtpd) receives: envelope, headers parsed back with ``email``, TLS, AUTH, presets."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable

import pytest
from mailbridge_smtp import SmtpBackend

import mailbridge
from mailbridge import Attachment, Client, Message

from ._server import LOGIN, PASSWORD, SmtpServer

SENDER = LOGIN


def one_shot(url: str, **kwargs: object) -> Client:
    return mailbridge.connect(url, retry=mailbridge.RetryPolicy(attempts=1), **kwargs)  # type: ignore[arg-type]


def test_envelope_and_headers_are_exactly_the_message(server: SmtpServer, client: Client) -> None:
    message = Message(
        sender=SENDER,
        sender_name='Zoë, the "Mailer"',
        to=["ada@example.com", "grace@example.org"],
        cc=["carol@example.com"],
        bcc=["dave@example.com"],
        reply_to="help@example.com",
        reply_to_name="Help Desk",
        subject="Ünïcode subject that is long enough to be folded by the generator, surely, at 78 columns",
        text="Hello\n.dot-first line\n",
        html="<p>Hello</p>",
        headers={"X-Campaign": "spring", "List-Unsubscribe": "<mailto:unsub@example.com>"},
    )
    result = client.send(message)
    [received] = server.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["ada@example.com", "grace@example.org", "carol@example.com", "dave@example.com"]
    assert received.login == LOGIN
    mail = received.message
    assert mail["From"].addresses[0].display_name == 'Zoë, the "Mailer"'
    assert mail["From"].addresses[0].addr_spec == SENDER
    assert [a.addr_spec for a in mail["To"].addresses] == ["ada@example.com", "grace@example.org"]
    assert [a.addr_spec for a in mail["Cc"].addresses] == ["carol@example.com"]
    assert mail["Bcc"] is None  # Bcc goes in the envelope only
    assert (mail["Reply-To"].addresses[0].display_name, mail["Reply-To"].addresses[0].addr_spec) == (
        "Help Desk",
        "help@example.com",
    )
    assert mail["Subject"] == message.subject
    assert mail["X-Campaign"] == "spring"
    assert mail["List-Unsubscribe"] == "<mailto:unsub@example.com>"
    assert mail["Date"] is not None
    assert sorted(k.lower() for k in mail) == sorted(
        ["from", "to", "cc", "reply-to", "subject", "date", "message-id", "x-campaign", "list-unsubscribe",
         "mime-version", "content-type"]
    )  # fmt: skip
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    # The leading dot survived dot-stuffing (the wire has CRLF line ends).
    assert text.get_content().replace("\r\n", "\n") == "Hello\n.dot-first line\n"
    assert html.get_content().strip() == "<p>Hello</p>"
    # The receipt: the server's queue id, the Message-ID header we wrote, every accepted recipient.
    [receipt] = result.receipts
    assert result.message_ids == ("4Fq2Xh0Z3Lz9",)
    assert receipt.extra["message_id_header"] == mail["Message-ID"]
    assert mail["Message-ID"].endswith("@mail.example.com>")
    assert result.accepted == ("ada@example.com", "grace@example.org", "carol@example.com", "dave@example.com")
    assert receipt.extra["refused"] == ()


def test_attachments_round_trip(server: SmtpServer, client: Client) -> None:
    pdf = bytes(range(256)) * 40
    client.send(
        Message(
            sender=SENDER,
            to="ada@example.com",
            subject="Files",
            text="see attached",
            attachments=[
                Attachment("report.pdf", pdf, "application/pdf"),
                Attachment("notes — ü.txt", "héllo".encode(), "text/plain"),
            ],
        )
    )
    mail = server.received[0].message
    assert mail.get_content_type() == "multipart/mixed"
    parts = list(mail.iter_attachments())
    assert [(p.get_filename(), p.get_content_type(), p["Content-Transfer-Encoding"]) for p in parts] == [
        ("report.pdf", "application/pdf", "base64"),
        ("notes — ü.txt", "text/plain", "base64"),
    ]
    assert parts[0].get_content() == pdf
    assert parts[1].get_payload(decode=True) == "héllo".encode()
    assert all(p.get_content_disposition() == "attachment" for p in parts)


def test_html_only_and_text_only(server: SmtpServer, client: Client) -> None:
    client.send(Message(sender=SENDER, to="a@example.com", subject="h", html="<b>hi</b>"))
    client.send(Message(sender=SENDER, to="a@example.com", subject="t", text="hi"))
    html, text = (r.message for r in server.received)
    assert (html.get_content_type(), html.get_content().strip()) == ("text/html", "<b>hi</b>")
    assert (text.get_content_type(), text.get_content().strip()) == ("text/plain", "hi")
    assert text.get_content_charset() == "utf-8"


@pytest.mark.parametrize("tls", ["ssl", "starttls", "none"])
def test_every_tls_mode_with_auth(make_server: Callable[..., SmtpServer], tls: str) -> None:
    server = make_server(tls)
    with one_shot(server.url()) as client:
        client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t"))
    assert [r.login for r in server.received] == [LOGIN]
    assert server.auth_attempts == [("PLAIN", LOGIN)]  # smtplib's preference among what aiosmtpd offers


def test_auth_login_when_plain_is_not_offered(make_server: Callable[..., SmtpServer]) -> None:
    server = make_server("ssl")
    server.controller.SMTP_kwargs["auth_exclude_mechanism"] = ["PLAIN"]
    with one_shot(server.url()) as client:
        client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t"))
    assert server.auth_attempts == [("LOGIN", LOGIN)]


def test_ssl_context_injection_instead_of_ca_file(make_server: Callable[..., SmtpServer]) -> None:
    server = make_server("ssl")
    url = server.url().split("&ca_file=")[0]
    backend = SmtpBackend.from_url(mailbridge.ProviderURL.parse(url), ssl_context=server.client_context())
    with mailbridge.Client(backend) as client:
        client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t"))
    assert len(server.received) == 1


def test_relay_without_auth(make_server: Callable[..., SmtpServer]) -> None:
    server = make_server("starttls", auth=False)
    with one_shot(server.url(login=None)) as client:
        client.send(Message(sender="anyone@example.com", to="a@example.com", subject="s", text="t"))
    assert [(r.mail_from, r.login) for r in server.received] == [("anyone@example.com", None)]


def test_internationalized_address_uses_smtputf8(server: SmtpServer, client: Client) -> None:
    client.send(Message(sender=SENDER, to="用户@例子.example", subject="s", text="t"))
    [received] = server.received
    assert received.rcpt_tos == ["用户@例子.example"]
    assert "SMTPUTF8" in received.mail_options
    assert received.message["To"].addresses[0].addr_spec == "用户@例子.example"


def test_reserved_headers_and_provider_options_are_refused_before_connecting(
    make_server: Callable[..., SmtpServer],
) -> None:
    server = make_server("starttls")
    with one_shot(server.url()) as client:
        with pytest.raises(mailbridge.InvalidRequest, match="Bcc"):
            client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t", headers={"Bcc": "x@y.z"}))
        with pytest.raises(mailbridge.InvalidRequest, match="provider_options"):
            client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t",
                                provider_options={"mail_options": ["X"]}))  # fmt: skip
        with pytest.raises(mailbridge.UnsupportedFeature):
            client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t", tag="news"))
    assert server.received == [] and server.auth_attempts == []


def test_own_message_id_header_is_kept(server: SmtpServer, client: Client) -> None:
    server.faults.queue_id = ""  # a server that names no queue id
    server.faults.data = "250 Message accepted for delivery"
    result = client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t",
                                 headers={"Message-ID": "<order-42@shop.example>"}))  # fmt: skip
    assert result.message_ids == ("order-42@shop.example",)  # no queue id in the reply: the Message-ID


# --------------------------------------------------------------------------- presets against a local relay


def preset_url(server: SmtpServer, preset: str) -> str:
    return server.url(preset=preset)


def test_aliyun_preset_writes_the_tag_into_x_alidm_trace(make_server: Callable[..., SmtpServer]) -> None:
    server = make_server("ssl")
    with one_shot(preset_url(server, "aliyun")) as client:
        client.send(Message(sender=SENDER, to="a@example.com", cc="c@example.com", subject="s", text="t",
                            tag="spring_sale-2026"))  # fmt: skip
        with pytest.raises(mailbridge.InvalidRequest, match="TagName"):
            client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t", tag="not ok!"))
    mail = server.received[0].message
    trace = json.loads(base64.b64decode(mail["X-AliDM-Trace"]))
    assert trace == {"OpenTrace": "1", "LinkTrace": "1", "TagName": "spring_sale-2026"}
    assert len(server.received) == 1


def test_cloud_presets_send_only_as_the_login(make_server: Callable[..., SmtpServer]) -> None:
    server = make_server("ssl")
    for preset in ("aliyun", "tencent"):
        with one_shot(preset_url(server, preset)) as client, pytest.raises(mailbridge.SenderNotFound, match=LOGIN):
            client.send(Message(sender="other@mail.example.com", to="a@example.com", subject="s", text="t"))
    assert server.auth_attempts == []  # refused before connecting


def test_tencent_preset_follows_its_header_rules(make_server: Callable[..., SmtpServer]) -> None:
    server = make_server("ssl")
    with one_shot(preset_url(server, "tencent")) as client:
        for extra in ({"cc": ["c@example.com"]}, {"bcc": ["b@example.com"]}, {"reply_to": "r@example.com"}):
            with pytest.raises(mailbridge.UnsupportedFeature):
                client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t", **extra))  # type: ignore[arg-type]
        assert server.received == []
        client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t", html="<p>t</p>",
                            attachments=[Attachment("a.csv", b"x,y\n", "text/csv")]))  # fmt: skip
    mail = server.received[0].message
    assert mail["From"] and mail["To"] and mail["Subject"]  # 8.2: required
    assert mail["Cc"] is None and mail["Bcc"] is None
    assert mail.get_content_type() == "multipart/mixed"
    for part in mail.walk():
        if part.get_content_maintype() == "text" and not part.get_filename():
            assert part["Content-Type"].params["charset"] == "UTF-8"
        if part.get_filename():  # 8.2: base64, Content-Disposition: attachment, no Content-ID
            assert (part["Content-Transfer-Encoding"], part.get_content_disposition()) == ("base64", "attachment")
            assert part["Content-ID"] is None


def test_message_over_the_preset_size_is_refused_before_connecting(make_server: Callable[..., SmtpServer]) -> None:
    server = make_server("ssl")
    big = Attachment("big.bin", b"\0" * (3 * 1024 * 1024 + 200_000), "application/octet-stream")  # > 4 MB in base64
    with one_shot(preset_url(server, "tencent")) as client, pytest.raises(mailbridge.LimitExceeded, match="bytes"):
        client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t", attachments=[big]))
    assert server.auth_attempts == []


def test_the_password_never_shows(make_server: Callable[..., SmtpServer], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = make_server("starttls")
    server.faults.rcpt = {"bad@example.com": "550 5.1.1 No such user"}
    with one_shot(server.url()) as client:
        receipt = client.send(Message(sender=SENDER, to=["a@example.com", "bad@example.com"], subject="s", text="t"))
        with (
            pytest.raises(mailbridge.AuthenticationError) as info,
            one_shot(server.url(password="x" + PASSWORD)) as wrong,
        ):
            wrong.send(Message(sender=SENDER, to="a@example.com", subject="s", text="t"))
        texts = [repr(client), repr(client.backend), repr(receipt), str(info.value), repr(info.value),
                 json.dumps(info.value.context()), caplog.text]  # fmt: skip
    for text in texts:
        assert PASSWORD not in text
        assert base64.b64encode(f"\0{LOGIN}\0{PASSWORD}".encode()).decode() not in text


def test_non_ascii_bodies_are_7bit_safe_without_smtputf8(server: SmtpServer, client: Client) -> None:
    """Found by test_roundtrip: an 8bit body needs BODY=8BITMIME (RFC 6152); without SMTPUTF8 none is sent."""
    client.send(Message(sender=SENDER, to="a@example.com", subject="s", text="Grüße\u00a0", html="<p>Grüße</p>"))
    [received] = server.received
    assert received.mail_options == []
    assert received.data.isascii()
    for part in (received.message.get_body(("plain",)), received.message.get_body(("html",))):
        assert part is not None and part["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    text = received.message.get_body(("plain",))
    assert text is not None and text.get_content().rstrip() == "Grüße\u00a0".rstrip()
