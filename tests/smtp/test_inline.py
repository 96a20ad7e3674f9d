"""Inline images over SMTP: an attachment with a content_id is an RFC 2387 related part of the body, as a real
server (aiosmtpd) receives it; the cloud relays' presets do not declare them and refuse before connecting."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import mailbridge
from mailbridge import Attachment, Client, Message

from ._server import LOGIN, SmtpServer
from .test_wire import one_shot, preset_url

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
LOGO = Attachment("logo.png", PNG, "image/png", content_id="logo@example.com")
PDF = Attachment("report.pdf", b"%PDF-1.4", "application/pdf")


def _message(*attachments: Attachment) -> Message:
    return Message(
        sender=LOGIN,
        to="ada@example.com",
        subject="Logo",
        text="our logo",
        html='<p><img src="cid:logo@example.com"></p>',
        attachments=attachments,
    )


def test_inline_images_go_in_multipart_related(server: SmtpServer, client: Client) -> None:
    client.send(_message(PDF, LOGO))
    mail = server.received[0].message
    assert mail.get_content_type() == "multipart/mixed"
    alternative, pdf = mail.iter_parts()  # mixed[alternative[text, related[html, image]], pdf]
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.iter_parts()
    assert (text.get_content_type(), related.get_content_type()) == ("text/plain", "multipart/related")
    html, image = related.iter_parts()
    assert html.get_content().rstrip() == '<p><img src="cid:logo@example.com"></p>'
    assert (image["Content-ID"], image.get_content_disposition(), image.get_filename()) == (
        "<logo@example.com>",
        "inline",
        "logo.png",
    )
    assert image.get_payload(decode=True) == PNG
    assert (pdf.get_filename(), pdf.get_content_disposition()) == ("report.pdf", "attachment")
    # What arrived reads back as the same neutral attachments (inline parts first).
    assert Message.from_email_message(mail).attachments == (LOGO, PDF)


def test_an_html_only_message_with_an_inline_image(server: SmtpServer, client: Client) -> None:
    client.send(_message(LOGO).evolve(text=None))
    mail = server.received[0].message
    assert mail.get_content_type() == "multipart/related"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/html", "image/png"]


@pytest.mark.parametrize("preset", ["aliyun", "tencent"])
def test_cloud_relays_refuse_inline_images_before_connecting(
    make_server: Callable[..., SmtpServer], preset: str
) -> None:
    server = make_server("ssl")
    with (
        one_shot(preset_url(server, preset)) as client,
        pytest.raises(mailbridge.UnsupportedFeature, match="inline images"),
    ):
        client.send(_message(LOGO))
    assert server.auth_attempts == [] and server.received == []
