"""Sender domains, sender addresses, SMTP passwords and template updates: JSON sent and results."""

from __future__ import annotations

import base64
import logging

import pytest
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Feature, Message

from ._support import connect, sent

GOOD_PASSWORD = "Abcdefgh12xY"


def test_features_declared() -> None:
    limits = connect("tencent://AKIDx0000000:k@ap-guangzhou").limits
    for feature in (Feature.DOMAINS, Feature.SENDERS, Feature.SENDER_PASSWORD, Feature.TEMPLATES):
        assert limits.supports(feature)
    assert not limits.supports(Feature.REPLY_TO_VERIFICATION)


def test_domain_lifecycle(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """Create lists the DNS records (unverified), verify re-checks them, delete removes the domain."""
    created = client.create_domain("News.Example.org")
    assert sent(emu, "CreateEmailIdentity") == [{"EmailIdentity": "news.example.org"}]
    assert (created.name, created.verified, created.status) == ("news.example.org", False, "pending")
    assert {r.purpose for r in created.records} == {"mx", "spf", "dkim", "dmarc"}
    assert not any(r.verified for r in created.records)
    assert "news.example.org" in [d.name for d in client.domains()]
    verified = client.verify_domain("news.example.org")
    assert sent(emu, "UpdateEmailIdentity") == [{"EmailIdentity": "news.example.org"}]
    assert verified.verified and all(r.verified for r in verified.records)
    client.delete_domain("news.example.org")
    assert sent(emu, "DeleteEmailIdentity") == [{"EmailIdentity": "news.example.org"}]
    with pytest.raises(mailbridge.SenderNotFound):
        client.domain("news.example.org")


def test_domain_errors(emu: TencentEmulator, client: mailbridge.Client) -> None:
    with pytest.raises(mailbridge.AlreadyExists):
        client.create_domain("mail.example.com")
    client.create_domain("fresh.example.org")
    with pytest.raises(mailbridge.SenderNotFound) as info:  # the domain is not verified yet
        client.create_sender("hi@fresh.example.org")
    assert info.value.provider_code == "OperationDenied.DomainNotVerified"
    with pytest.raises(mailbridge.InvalidRequest) as info2:  # it still has a sender address
        client.delete_domain("mail.example.com")
    assert info2.value.provider_code == "OperationDenied.SenderWithDomainIsNotEmpty"


def test_sender_lifecycle(emu: TencentEmulator, client: mailbridge.Client, caplog: pytest.LogCaptureFixture) -> None:
    """kind has no meaning on SES; a per-sender reply-to does not exist there (warned, not sent)."""
    sender = client.create_sender("hello@mail.example.com", kind="batch", reply_to="help@example.com")
    assert sent(emu, "CreateEmailAddress") == [{"EmailAddress": "hello@mail.example.com"}]
    assert sender.address == "hello@mail.example.com"
    assert "no per-sender reply-to" in caplog.text
    assert "hello@mail.example.com" in [s.address for s in client.senders()]
    with pytest.raises(mailbridge.AlreadyExists):
        client.create_sender("hello@mail.example.com")
    client.delete_sender("hello@mail.example.com")
    assert sent(emu, "DeleteEmailAddress") == [{"EmailAddress": "hello@mail.example.com"}]
    with pytest.raises(mailbridge.SenderNotFound):
        client.backend.delete_sender(sender)
    with pytest.raises(mailbridge.UnsupportedFeature):
        client.verify_reply_to("noreply@mail.example.com")


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Ab12cdEF", "10 to 20"),
        ("abcdefgh12", "upper-case"),
        ("ABCDEFGH12", "lower-case"),
        ("Abcdefgh1X", "digits"),
        ("Abcdefgh11XY", "digits"),
    ],
)
def test_bad_smtp_password_is_refused_before_the_network(
    emu: TencentEmulator, client: mailbridge.Client, password: str, problem: str
) -> None:
    with pytest.raises(mailbridge.InvalidRequest, match=problem) as info:
        client.set_sender_password("noreply@mail.example.com", password)
    assert password not in str(info.value)
    assert sent(emu, "UpdateEmailSmtpPassWord") == []


def test_smtp_password_is_sent_once_and_never_logged(
    emu: TencentEmulator, client: mailbridge.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client.set_sender_password("noreply@mail.example.com", GOOD_PASSWORD)
    assert sent(emu, "UpdateEmailSmtpPassWord") == [
        {"Password": GOOD_PASSWORD, "EmailAddress": "noreply@mail.example.com"}
    ]
    with pytest.raises(mailbridge.InvalidRequest) as info:  # SES refuses the same password twice
        client.set_sender_password("noreply@mail.example.com", GOOD_PASSWORD)
    assert info.value.provider_code == "OperationDenied.RepeatPassWord"
    assert any("UpdateEmailSmtpPassWord" in r.getMessage() for r in caplog.records)
    assert GOOD_PASSWORD not in caplog.text
    assert GOOD_PASSWORD not in repr(info.value) + str(info.value.context())


def test_update_template_json(emu: TencentEmulator, client: mailbridge.Client) -> None:
    template = client.create_template("promo", subject="Old", text="Old {{name}}")
    updated = client.update_template(template, subject="New {{name}}", html="<p>New {{name}}</p>")
    assert sent(emu, "UpdateEmailTemplate") == [
        {
            "TemplateID": int(template.id),
            "TemplateName": "promo",
            "TemplateContent": {"Html": base64.b64encode(b"<p>New {{name}}</p>").decode()},
        }
    ]
    assert (updated.subject, updated.status) == ("New {{name}}", "pending_review")
    assert client.get_template(template.id).html == "<p>New {{name}}</p>"
    client.send(
        Message(
            sender="noreply@mail.example.com",
            to=["a@example.com"],
            template_id=template.id,
            template_data={"name": "Ada"},
        )
    )
    assert sent(emu, "SendEmail")[0]["Subject"] == "New Ada"  # the catalog's subject, rendered by the client


@pytest.mark.parametrize("body", ["{{#each items}}x{{/each}}", "Hi {{ user.name }}"])
def test_template_constructs_that_do_not_translate_are_refused(
    emu: TencentEmulator, client: mailbridge.Client, body: str
) -> None:
    with pytest.raises(mailbridge.InvalidRequest):
        client.create_template("bad", subject="s", text=body)
    assert sent(emu, "CreateEmailTemplate") == []


def test_every_field_sent_exists_in_the_sdk_model(emu: TencentEmulator, client: mailbridge.Client) -> None:
    """The setup actions send only fields their SDK request models know."""
    from tencentcloud.ses.v20201002 import models

    client.create_domain("m.example.org")
    client.verify_domain("m.example.org")
    client.create_sender("a@m.example.org")
    client.set_sender_password("a@m.example.org", GOOD_PASSWORD)
    client.delete_sender("a@m.example.org")
    client.delete_domain("m.example.org")
    template = client.create_template("t", subject="s", text="x")
    client.update_template(template, subject="s", text="y")
    assert {r["action"] for r in emu.requests} >= {
        "CreateEmailIdentity",
        "UpdateEmailIdentity",
        "DeleteEmailIdentity",
        "CreateEmailAddress",
        "DeleteEmailAddress",
        "UpdateEmailSmtpPassWord",
        "UpdateEmailTemplate",
    }
    for request in emu.requests:
        model = getattr(models, f"{request['action']}Request")()
        assert all(hasattr(model, key) for key in request["params"]), request["action"]
