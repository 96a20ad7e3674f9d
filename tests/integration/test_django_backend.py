"""Issue 15's Django done-when: a Django project sends through ``mailbridge.django.EmailBackend`` on local and on
both emulators (plain, alternatives, attachments, inline image, merge data), and the local outbox holds what Django's
own SMTP backend would have written for the same message (Django's ``message.message()`` is the judge).
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import os
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage as StdMessage
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django_project.settings")
django = pytest.importorskip("django")
django.setup()

from django.core import mail  # noqa: E402
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection, send_mail  # noqa: E402
from django.test import override_settings  # noqa: E402
from mailbridge_aliyun.emulator import AliyunEmulator  # noqa: E402
from mailbridge_tencent.emulator import TencentEmulator  # noqa: E402

import mailbridge  # noqa: E402
from mailbridge import FailoverClient, InvalidRequest, UnsupportedFeature  # noqa: E402
from mailbridge.django import attach_inline_image  # noqa: E402

SENDER = "noreply@mail.example.com"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


class Provider:
    """One backend under test: its URL and what it received, normalised."""

    def __init__(self, kind: str, url: str, emulator: Any = None, directory: Path | None = None) -> None:
        self.kind, self.url, self.emulator, self.directory = kind, url, emulator, directory

    def settings(self, **extra: Any) -> override_settings:
        return override_settings(MAILBRIDGE={"URL": self.url, **extra})

    def received(self) -> list[dict[str, Any]]:
        """Each message the provider took: to, cc, bcc, subject, text, html, attachments (name -> bytes)."""
        if self.kind == "local":
            assert self.directory is not None
            out = []
            for raw in _outbox(self.directory):
                out.append(
                    {
                        "to": [a.addr_spec for a in raw["To"].addresses],
                        "cc": [a.addr_spec for a in raw["Cc"].addresses] if raw["Cc"] else [],
                        "subject": str(raw["Subject"]),
                        "text": _body(raw, "plain"),
                        "html": _body(raw, "html"),
                        "attachments": {a.get_filename(): a.get_payload(decode=True) for a in raw.iter_attachments()},
                    }
                )
            return out
        if self.kind == "aliyun":
            return [
                {
                    "to": m.to,
                    "cc": [],
                    "subject": m.subject,
                    "text": m.params.get("TextBody"),
                    "html": m.params.get("HtmlBody"),
                    "attachments": {a.filename: a.content for a in m.attachments},
                    "params": m.params,
                }
                for m in self.emulator.sent_mail
            ]
        return [
            {
                "to": m["to"],
                "cc": m["cc"],
                "bcc": m["bcc"],
                "subject": m["subject"],
                "text": m["text"],
                "html": m["html"],
                "attachments": {a["filename"]: a["content"] for a in m["attachments"]},
                "raw": m,
            }
            for m in self.emulator.sent_mail
        ]


def _outbox(directory: Path) -> list[StdMessage]:
    if not (directory / "outbox").exists():
        return []
    box = mailbox.Maildir(directory / "outbox", create=False)
    found = []
    for key in box.keys():  # noqa: SIM118 - a Maildir is not a dict
        with box.get_file(key) as handle:
            parsed = email.message_from_binary_file(handle, policy=email.policy.default)
        assert isinstance(parsed, StdMessage)
        found.append(parsed)
    return found


def _body(msg: StdMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    assert isinstance(content, str)
    return content


@pytest.fixture(params=["local", "aliyun", "tencent"])
def provider(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Provider]:
    catalog = tmp_path / "catalog.sqlite3"
    if request.param == "local":
        yield Provider("local", f"local://{tmp_path / 'local'}", directory=tmp_path / "local")
    elif request.param == "aliyun":
        with AliyunEmulator() as ali:
            ali.add_sender(SENDER)
            yield Provider("aliyun", f"{ali.url}&rate_limit=off&template_catalog={catalog}", emulator=ali)
    else:
        with TencentEmulator(rate=0) as ten:
            yield Provider("tencent", f"{ten.url}&rate_limit=off&template_catalog={catalog}", emulator=ten)


# --------------------------------------------------------------------------- on every backend


def test_send_mail_plain(provider: Provider) -> None:
    with provider.settings():
        assert send_mail("Plain hello", "Plain body.\nSecond line.", SENDER, ["ann@example.com"]) == 1
    (got,) = provider.received()
    assert got["to"] == ["ann@example.com"]
    assert got["subject"] == "Plain hello"
    assert got["text"].rstrip("\n") == "Plain body.\nSecond line."
    assert got["html"] is None


def test_alternatives_with_reply_to_and_headers(provider: Provider) -> None:
    message = EmailMultiAlternatives(
        "Grüße, Ann",
        "Text part ✓",
        "Shop Team <noreply@mail.example.com>",
        ["ann@example.com", "bob@example.com"],
        reply_to=["help@example.com"],
        headers={"X-Campaign": "spring-2026"},
    )
    message.attach_alternative("<p>HTML part ✓</p>", "text/html")
    with provider.settings():
        assert message.send() == 1
    (got,) = provider.received()
    assert got["to"] == ["ann@example.com", "bob@example.com"]
    assert got["subject"] == "Grüße, Ann"
    assert got["text"].rstrip("\n") == "Text part ✓"
    assert got["html"].rstrip("\n") == "<p>HTML part ✓</p>"
    (result,) = message.mailbridge_results
    assert result.accepted == ("ann@example.com", "bob@example.com")
    if provider.kind == "aliyun":
        assert got["params"]["FromAlias"] == "Shop Team"
        assert got["params"]["ReplyAddress"] == "help@example.com"
        assert json.loads(got["params"]["Headers"]) == {"X-Campaign": "spring-2026"}
    elif provider.kind == "tencent":
        assert got["raw"]["from_alias"] == "Shop Team"
        assert got["raw"]["reply_to"] == "help@example.com"
        assert got["raw"]["headers"] == {"X-Campaign": "spring-2026"}


def test_attachments_cc_and_bcc(provider: Provider) -> None:
    message = EmailMessage(
        "Your invoice",
        "See the attachments.",
        SENDER,
        ["ann@example.com"],
        cc=["cc@example.com"],
        bcc=["bcc@example.com"],
    )
    message.attach("invoice.pdf", PDF, "application/pdf")
    message.attach("notes.txt", "plain notes ü", "text/plain")
    with provider.settings():
        if provider.kind == "aliyun":  # Direct Mail's SingleSendMail has no Cc (attachments: OSS uploads)
            with pytest.raises(UnsupportedFeature, match="cc"):
                message.send()
            assert provider.received() == []
            message.cc = []
        assert message.send() == 1
    (got,) = provider.received()
    assert got["cc"] == ([] if provider.kind == "aliyun" else ["cc@example.com"])
    assert got["attachments"] == {"invoice.pdf": PDF, "notes.txt": "plain notes ü".encode()}
    if provider.kind == "tencent":
        assert got["bcc"] == ["bcc@example.com"]


def test_ignore_unsupported_features_sends_without_them(provider: Provider) -> None:
    message = EmailMessage("Copy", "body", SENDER, ["ann@example.com"], cc=["cc@example.com"])
    with provider.settings(IGNORE_UNSUPPORTED_FEATURES=True):
        assert message.send() == 1
    (got,) = provider.received()
    assert got["to"] == ["ann@example.com"]
    assert got["cc"] == ([] if provider.kind == "aliyun" else ["cc@example.com"])


def _inline_message(*, pdf: bool = True) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives("Logo", "text", SENDER, ["ann@example.com"])
    cid = attach_inline_image(message, PNG, "logo.png")
    message.attach_alternative(f'<p><img src="cid:{cid}"></p>', "text/html")
    if pdf:
        message.attach("terms.pdf", PDF, "application/pdf")
    return message


def test_inline_image_is_sent_where_declared_and_refused_before_any_call_elsewhere(provider: Provider) -> None:
    message = _inline_message()
    if provider.kind == "local":
        with provider.settings():
            assert message.send() == 1
        (written,) = _outbox(provider.directory or Path())
        related, pdf = written.iter_parts()
        assert related.get_content_type() == "multipart/related"
        _alternative, image = related.iter_parts()
        assert image["Content-ID"] == message.attachments[0]["Content-ID"]
        assert (image.get_content_disposition(), image.get_filename(), image.get_payload(decode=True)) == (
            "inline",
            "logo.png",
            PNG,
        )
        assert _body(written, "html") == message.alternatives[0][0]
        assert pdf.get_filename() == "terms.pdf"
        return
    message = _inline_message(pdf=False)  # Direct Mail would refuse the pdf first
    with (
        provider.settings(),
        pytest.raises(UnsupportedFeature, match=r"inline images \(field 'attachments\[inline\]'\)"),
    ):
        message.send()
    with provider.settings():
        assert get_connection(fail_silently=True).send_messages([message]) == 0
    assert provider.received() == []
    if provider.kind == "aliyun":  # refused before any call: the emulator saw no send request at all
        assert [r["action"] for r in provider.emulator.server.requests if r["action"] == "SingleSendMail"] == []


def test_a_failover_skips_the_members_that_cannot_carry_an_inline_image(tmp_path: Path) -> None:
    with AliyunEmulator() as ali, TencentEmulator(rate=0) as ten:
        ali.add_sender(SENDER)
        urls = [f"{ali.url}&rate_limit=off", f"{ten.url}&rate_limit=off", f"local://{tmp_path}"]
        with override_settings(MAILBRIDGE={"URL": urls}):
            message = _inline_message()
            assert message.send() == 1
            (result,) = message.mailbridge_results
            assert result.provider == "local"
            plain = EmailMessage("Plain", "text", SENDER, ["bob@example.com"])
            assert plain.send() == 1  # the first member takes what it can carry
        assert [m.subject for m in ali.sent_mail] == ["Plain"] and ten.sent_mail == []
        assert [r["action"] for r in ali.server.requests].count("SingleSendMail") == 1  # "Logo" never tried
    assert [str(m["Subject"]) for m in _outbox(tmp_path)] == ["Logo"]


def test_merge_data_sends_one_message_per_recipient(provider: Provider) -> None:
    with mailbridge.connect(provider.url) as client:
        client.create_template("django-welcome", subject="Welcome, {{name}}", html="<p>Hi {{name}}, plan {{plan}}</p>")
    message = EmailMessage(to=["ann@example.com", "bob@example.com"], from_email=SENDER)
    message.template = "django-welcome"
    message.merge_global_data = {"plan": "gold"}
    message.merge_data = {"ann@example.com": {"name": "Ann"}, "bob@example.com": {"name": "Bob"}}
    if provider.kind != "tencent":  # SES has no tags
        message.tags = ["onboarding"]
    with provider.settings():
        assert message.send() == 1
    assert len(message.mailbridge_results) == 2
    got = sorted(provider.received(), key=lambda m: m["to"])
    assert [m["to"] for m in got] == [["ann@example.com"], ["bob@example.com"]]
    if provider.kind == "local":  # the local backend renders the template itself
        assert [m["subject"] for m in got] == ["Welcome, Ann", "Welcome, Bob"]
        assert [m["html"].rstrip("\n") for m in got] == ["<p>Hi Ann, plan gold</p>", "<p>Hi Bob, plan gold</p>"]
    elif provider.kind == "aliyun":
        assert [m["subject"] for m in got] == ["Welcome, Ann", "Welcome, Bob"]  # rendered by the emulator
        assert [json.loads(m["params"]["Template"])["TemplateData"] for m in got] == [
            {"plan": "gold", "name": "Ann"},
            {"plan": "gold", "name": "Bob"},
        ]
        assert {m["params"]["TagName"] for m in got} == {"onboarding"}
    else:
        assert [m["raw"]["template_data"] for m in got] == [
            {"plan": "gold", "name": "Ann"},
            {"plan": "gold", "name": "Bob"},
        ]


# --------------------------------------------------------------------------- the local outbox against Django's MIME


def _addresses(msg: StdMessage, header: str) -> list[tuple[str, str]]:
    value = msg[header]
    return [(a.display_name, a.addr_spec) for a in value.addresses] if value is not None else []


def _attachments(msg: StdMessage) -> list[tuple[str | None, str, Any]]:
    return [(a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in msg.iter_attachments()]


def test_local_outbox_matches_what_djangos_smtp_backend_would_write(tmp_path: Path) -> None:
    message = EmailMultiAlternatives(
        "Rechnung für März",
        "Hallo Ann,\nanbei die Rechnung.\n",
        "Shop Team <noreply@mail.example.com>",
        ["ann@example.com", "bob@example.com"],
        cc=["cc@example.com"],
        reply_to=["Help Desk <help@example.com>"],
        headers={"X-Campaign": "spring-2026", "X-Order": "A-17"},
    )
    message.attach_alternative("<p>Hallo Ann,<br>anbei die <b>Rechnung</b>.</p>\n", "text/html")
    message.attach("rechnung-märz.pdf", PDF, "application/pdf")
    message.attach("logo.png", PNG, "image/png")
    message.attach("notes.csv", "a,b\n1,2\n", "text/csv")
    with override_settings(MAILBRIDGE={"URL": f"local://{tmp_path}"}):
        assert message.send() == 1
    (written,) = _outbox(tmp_path)
    django_mime = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    assert isinstance(django_mime, StdMessage)

    for header in ("From", "To", "Cc", "Reply-To"):
        assert _addresses(written, header) == _addresses(django_mime, header), header
    for header in ("Subject", "X-Campaign", "X-Order"):
        assert str(written[header]) == str(django_mime[header]), header
    assert _body(written, "plain") == _body(django_mime, "plain")
    assert _body(written, "html") == _body(django_mime, "html")
    attachments = [
        (a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in written.iter_attachments()
    ]
    expected = [
        (a.get_filename(), a.get_content_type(), a.get_payload(decode=True)) for a in django_mime.iter_attachments()
    ]
    assert attachments == expected
    assert [name for name, _t, _b in attachments] == ["rechnung-märz.pdf", "logo.png", "notes.csv"]
    assert written["Message-ID"] is not None  # the outbox's own, not Django's


def _tree(msg: StdMessage) -> Any:
    """The MIME structure: a content type, or (multipart type, [children])."""
    if msg.is_multipart():
        return (msg.get_content_type(), [_tree(p) for p in msg.iter_parts()])  # type: ignore[arg-type]
    return msg.get_content_type()


def _cid_parts(msg: StdMessage) -> list[tuple[Any, ...]]:
    return [
        (
            str(p["Content-ID"]),
            p.get_content_disposition(),
            p.get_filename(),
            p.get_content_type(),
            p.get_payload(decode=True),
        )
        for p in msg.walk()
        if p["Content-ID"] is not None
    ]


@pytest.mark.parametrize("mixed_subtype", ["related", "mixed"])
def test_local_outbox_writes_inline_images_as_djangos_smtp_backend_would(tmp_path: Path, mixed_subtype: str) -> None:
    """``mixed_subtype = "related"`` (RFC 2387): the same MIME tree as Django's; Django's default ``mixed``
    structure sends the same neutral message, which the outbox writes as multipart/related (the same parts)."""
    message = EmailMultiAlternatives("Logo für März", "Hallo\n", "Shop <noreply@mail.example.com>", ["ann@example.com"])
    message.mixed_subtype = mixed_subtype
    cid = attach_inline_image(message, PNG, "logo.png")
    jpeg_cid = attach_inline_image(message, b"\xff\xd8\xff\xe0" + bytes(64), "photo.jpg", "jpeg")
    message.attach_alternative(f'<p><img src="cid:{cid}"><img src="cid:{jpeg_cid}"></p>\n', "text/html")
    with override_settings(MAILBRIDGE={"URL": f"local://{tmp_path}"}):
        assert message.send() == 1
    (written,) = _outbox(tmp_path)
    django_mime = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    assert isinstance(django_mime, StdMessage)
    related = ("multipart/related", [("multipart/alternative", ["text/plain", "text/html"]), "image/png", "image/jpeg"])
    assert _tree(written) == related
    if mixed_subtype == "related":
        assert _tree(django_mime) == related
    assert _cid_parts(written) == _cid_parts(django_mime)
    assert [c[0] for c in _cid_parts(written)] == [f"<{cid}>", f"<{jpeg_cid}>"]
    assert _body(written, "html") == _body(django_mime, "html")
    assert _body(written, "plain") == _body(django_mime, "plain")
    for header in ("From", "To"):
        assert _addresses(written, header) == _addresses(django_mime, header)
    assert str(written["Subject"]) == str(django_mime["Subject"])


@pytest.mark.parametrize("kind", ["text", "html"])
def test_local_outbox_keeps_bodies_byte_for_byte_like_django(tmp_path: Path, kind: str) -> None:
    """No final newline added (email's set_content would add one; Django's MIME does not)."""
    message = EmailMessage(
        "Ohne Zeilenende", "Zeile eins\nZeile zwei ohne Ende", "Ann <ann@example.com>", ["b@example.com"]
    )
    if kind == "html":
        message.content_subtype = "html"
        message.body = "<p>Zeile eins</p>\n<p>ohne Ende</p>"
    with override_settings(MAILBRIDGE={"URL": f"local://{tmp_path}"}):
        assert message.send() == 1
    (written,) = _outbox(tmp_path)
    django_mime = email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)
    assert isinstance(django_mime, StdMessage)
    assert _body(written, "plain") == _body(django_mime, "plain")
    assert _body(written, "html") == _body(django_mime, "html")
    assert _body(written, "html" if kind == "html" else "plain") == message.body
    assert _addresses(written, "From") == _addresses(django_mime, "From") == [("Ann", "ann@example.com")]


# --------------------------------------------------------------------------- settings, connections, fail_silently


def test_url_from_the_mailbridge_url_setting(tmp_path: Path) -> None:
    with override_settings(MAILBRIDGE=None, MAILBRIDGE_URL=f"local://{tmp_path}"):
        assert send_mail("s", "b", SENDER, ["ann@example.com"]) == 1
    assert len(_outbox(tmp_path)) == 1


def test_a_list_of_urls_fails_over(tmp_path: Path) -> None:
    with AliyunEmulator() as ali, TencentEmulator(rate=0) as ten:
        ali.add_sender(SENDER)
        # A throttling refusal: certainly not sent, so the send moves on to SES.
        ali.inject(
            "error", action="SingleSendMail", times=None, status=400, code="Throttling.User", message="flow control"
        )
        urls = [f"{ali.url}&rate_limit=off", f"{ten.url}&rate_limit=off"]
        with override_settings(MAILBRIDGE={"URL": urls}):
            connection = get_connection()
            assert connection.open() is True
            assert isinstance(connection.client, FailoverClient)
            assert connection.send_messages([EmailMessage("fo", "body", SENDER, ["ann@example.com"])]) == 1
            connection.close()
        assert [m["subject"] for m in ten.sent_mail] == ["fo"]
        assert ali.sent_mail == []


def test_one_client_per_batch_and_reused_while_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mailbridge.django as backend_module

    opened: list[Any] = []
    real_connect = backend_module.connect

    def counting_connect(*args: Any, **kwargs: Any) -> Any:
        client = real_connect(*args, **kwargs)
        opened.append(client)
        return client

    monkeypatch.setattr(backend_module, "connect", counting_connect)
    batch = [EmailMessage(f"m{i}", "body", SENDER, [f"u{i}@example.com"]) for i in range(3)]
    with override_settings(MAILBRIDGE={"URL": f"local://{tmp_path}"}):
        connection = get_connection()
        assert connection.send_messages(batch) == 3
        assert len(opened) == 1 and connection.client is None  # opened for the batch, closed after it
        with get_connection() as conn:
            assert conn.send_messages(batch[:1]) == 1
            assert conn.send_messages(batch[1:]) == 2
            assert len(opened) == 2 and conn.client is opened[1]
        assert conn.client is None
        assert connection.send_messages([]) == 0
    assert len(opened) == 2
    assert len(_outbox(tmp_path)) == 6


def test_fail_silently_swallows_mailbridge_errors_only(tmp_path: Path) -> None:
    with override_settings(MAILBRIDGE={"URL": "nosuchprovider://x"}):
        assert send_mail("s", "b", SENDER, ["ann@example.com"], fail_silently=True) == 0
        with pytest.raises(mailbridge.ConfigurationError):
            send_mail("s", "b", SENDER, ["ann@example.com"])
    with override_settings(MAILBRIDGE={"URL": f"local://{tmp_path}"}):
        bad = EmailMessage("s", "b", SENDER, ["not an address"])
        good = EmailMessage("s", "b", SENDER, ["ann@example.com"])
        assert get_connection(fail_silently=True).send_messages([bad, good]) == 1
        with pytest.raises(mailbridge.InvalidAddress, match="not an address"):
            get_connection().send_messages([bad])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"to": ["Ann <ann@example.com>"]}, "display names"),
        ({"tags": ["a", "b"]}, "one tag"),
        ({"metadata": {"k": "v"}}, "metadata"),
        ({"merge_data": {"ann@example.com": {}}}, "need a template"),
        ({"template": "t", "merge_data": {"zed@example.com": {}}}, "not in 'to'"),
        ({"reply_to": ["a@example.com", "b@example.com"]}, "one reply-to"),
    ],
)
def test_what_cannot_be_mapped_is_refused(tmp_path: Path, change: dict[str, Any], match: str) -> None:
    message = EmailMessage("s", "", SENDER, ["ann@example.com"])
    for name, value in change.items():
        setattr(message, name, value)
    if "template" not in change:
        message.body = "body"
    with override_settings(MAILBRIDGE={"URL": f"local://{tmp_path}"}), pytest.raises(InvalidRequest, match=match):
        message.send()


def test_esp_extra_becomes_provider_options() -> None:
    from mailbridge.django import to_neutral_messages

    message = EmailMessage("s", "b", SENDER, ["ann@example.com"])
    message.esp_extra = {"AddressType": 0}
    message.track_clicks = True
    (neutral,) = to_neutral_messages(message)
    assert neutral.provider_options == {"AddressType": 0}
    assert neutral.click_tracking is True


def test_locmem_outbox_untouched_and_django_not_imported_by_mailbridge() -> None:
    assert not hasattr(mail, "outbox") or mail.outbox == []
    code = "import sys, mailbridge; mailbridge.connect; print('django' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "False"
