"""Failover by capability between the Direct Mail and Tencent SES emulators, in both orders.

Each message uses one optional feature: a tag (Direct Mail has tags, SES does not), cc (SES has
it, Direct Mail does not), an attachment (both: Direct Mail through OpenPlatform + OSS uploads,
SES inline; the bytes that arrive are compared) and a template by name (both). Before a provider
is tried the message is checked against its declared features: one that cannot carry it is
skipped with the reason in ``attempts`` and never contacted, its health unchanged, unless
``ignore_unsupported_features`` is set for it (per inner URL or on the failover URL): then it gets
the message with those fields dropped. The clients come from ``failover://`` URLs, as a user
would build them, and every test runs through FailoverClient and AsyncFailoverClient (whose Direct Mail
member sends natively); where the mail went is read from the emulators' sent mail and request logs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Attachment, Feature, Message

from ..failover_modes import Failovers

SENDER = "noreply@mail.example.com"
TO = "ann@example.com"
NAME, SUBJECT = "mb-receipt", "Receipt {{order}} for {{name}}"
HTML, TEXT = "<p>{{name}}: order {{order}} is paid.</p>", "{{name}}: order {{order}} is paid."
DATA = {"name": "Ada", "order": "A-42"}
TERMS = Attachment(
    "terms.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\nTerms of sale: none at all.\r\n\x00\xff%%EOF\n", "application/pdf"
)
ORDERS = [("aliyun", "tencent"), ("tencent", "aliyun")]
ORDER_IDS = ["dm-first", "ses-first"]
SEND_ACTION = {"aliyun": "SingleSendMail", "tencent": "SendEmail"}

#: case -> (the message's fields, the feature it needs, the field name ``attempts`` reports)
CASES: dict[str, tuple[dict[str, Any], Feature, str]] = {
    "tag": ({"subject": "Sale", "text": "Spring sale.", "tag": "spring-sale"}, Feature.TAGS, "tag"),
    "cc": ({"subject": "Invoice", "text": "Your invoice.", "cc": ["acct@example.com"]}, Feature.CC, "cc"),
    "attachment": ({"subject": "Terms", "text": "Terms.", "attachments": [TERMS]}, Feature.ATTACHMENTS, "attachments"),
    "template": ({"template": NAME, "template_data": DATA}, Feature.TEMPLATE_SEND, "template_id"),
}


@pytest.fixture
def emulators() -> Iterator[tuple[AliyunEmulator, TencentEmulator]]:
    with AliyunEmulator() as dm, TencentEmulator(rate=0) as ses:
        dm.add_sender(SENDER)
        yield dm, ses


def _url(kind: str, dm: AliyunEmulator, ses: TencentEmulator, ignore: bool = False) -> str:
    url = dm.url if kind == "aliyun" else ses.url
    return url + "&ignore_unsupported_features=true" if ignore else url


def _failover(
    failovers: Failovers,
    order: tuple[str, str],
    dm: AliyunEmulator,
    ses: TencentEmulator,
    *,
    ignore: str | None = None,
    **options: Any,
) -> mailbridge.FailoverClient:
    """A failover client from its URL (sync or async: ``failovers``); ``ignore`` names the member whose inner
    URL ignores unsupported features."""
    members = [_url(kind, dm, ses, ignore=kind == ignore) for kind in order]
    return failovers.connect(mailbridge.failover_url(members, retries=1, rate_limit="off", **options))


def _down(kind: str, dm: AliyunEmulator, ses: TencentEmulator) -> None:
    """Single sends on ``kind`` are refused as temporarily unavailable: certainly not sent."""
    if kind == "aliyun":
        dm.inject("error", action="SingleSendMail", times=None, status=503, code="ServiceUnavailable")
    else:
        ses.inject("error", "SendEmail", times=None, code="FailedOperation.ServiceNotAvailable")


def _delivered(kind: str, dm: AliyunEmulator, ses: TencentEmulator) -> list[dict[str, Any]]:
    """What each emulator sent, in neutral terms: to, cc, subject, tag, attachments (name, bytes)."""
    if kind == "aliyun":
        return [
            {
                "to": m.to,
                "cc": [],  # Direct Mail has no cc
                "subject": m.subject,
                "tag": m.params.get("TagName"),
                "attachments": [(a.filename, a.content) for a in m.attachments],
            }
            for m in dm.sent_mail
            if m.action == "SingleSendMail"
        ]
    return [
        {
            "to": m["to"],
            "cc": m["cc"],
            "subject": m["subject"],
            "tag": None,  # SES has no tags
            "attachments": [(a["filename"], a["content"]) for a in m["attachments"]],
        }
        for m in ses.sent_mail
    ]


def _contacted(kind: str, dm: AliyunEmulator, ses: TencentEmulator) -> list[str]:
    """The send calls the emulator received (Direct Mail: also the refused ones; SES: the accepted ones)."""
    if kind == "aliyun":
        return [r["action"] for r in dm.requests if r["action"] == "SingleSendMail"]
    return [r["action"] for r in ses.requests if r["action"] == "SendEmail"]


def _prepare(case: str, fo: mailbridge.FailoverClient) -> Message:
    if case == "template":
        for client in fo.clients:
            client.create_template(NAME, subject=SUBJECT, html=HTML, text=TEXT)
    return Message(sender=SENDER, to=TO, **CASES[case][0])


def _carries(fo: mailbridge.FailoverClient, case: str) -> dict[str, bool]:
    return {label: c.limits.supports(CASES[case][1]) for label, c in zip(fo.labels, fo.clients, strict=True)}


def _expected(case: str, message: Message, kind: str, fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """The neutral view of ``message`` as ``kind``'s emulator records it (less the dropped ``fields``)."""
    subject = "Receipt A-42 for Ada" if case == "template" else message.subject
    return {
        "to": [TO],
        "cc": list(message.cc) if kind == "tencent" else [],
        "subject": subject,
        "tag": message.tag if kind == "aliyun" and "tag" not in fields else None,
        "attachments": [(a.filename, a.content) for a in message.attachments] if "attachments" not in fields else [],
    }


def test_declarations_this_matrix_relies_on(emulators: tuple[AliyunEmulator, TencentEmulator]) -> None:
    """Direct Mail has tags and no cc; SES has cc and no tags; both send templates and attachments."""
    with _failover(Failovers("sync"), ORDERS[0], *emulators) as fo:
        assert _carries(fo, "tag") == {"aliyun": True, "tencent": False}
        assert _carries(fo, "cc") == {"aliyun": False, "tencent": True}
        assert _carries(fo, "template") == {"aliyun": True, "tencent": True}
        assert _carries(fo, "attachment") == {"aliyun": True, "tencent": True}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("order", ORDERS, ids=ORDER_IDS)
def test_each_message_goes_to_the_first_provider_that_can_carry_it(
    emulators: tuple[AliyunEmulator, TencentEmulator], order: tuple[str, str], case: str, failovers: Failovers
) -> None:
    """Both healthy: a provider that cannot carry the message is skipped, never contacted, still healthy."""
    dm, ses = emulators
    with _failover(failovers, order, dm, ses) as fo:
        message = _prepare(case, fo)
        carries = _carries(fo, case)
        target = next(kind for kind in order if carries[kind])
        result = fo.send(message)

        field = CASES[case][2]
        expected_attempts = [(kind, "skipped", f"cannot carry: {field}") for kind in order[: order.index(target)]] + [
            (target, "sent", None)
        ]
        assert [(a.provider, a.outcome, a.detail) for a in result.attempts] == expected_attempts
        assert result.provider == target
        assert _delivered(target, dm, ses) == [_expected(case, message, target)]
        other = order[1] if target == order[0] else order[0]
        assert _contacted(other, dm, ses) == [] and _delivered(other, dm, ses) == []
        assert fo.healthy() == {"aliyun": True, "tencent": True}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("order", ORDERS, ids=ORDER_IDS)
def test_primary_down_each_message_fails_over_only_where_it_can_be_carried(
    emulators: tuple[AliyunEmulator, TencentEmulator], order: tuple[str, str], case: str, failovers: Failovers
) -> None:
    """The primary's sends are refused (503): the message goes to the secondary if it can carry it;
    if not, nothing is sent (ProviderUnavailable, certainly not sent) and the skipped one stays healthy."""
    dm, ses = emulators
    primary, secondary = order
    with _failover(failovers, order, dm, ses) as fo:
        message = _prepare(case, fo)
        carries = _carries(fo, case)
        _down(primary, dm, ses)
        field = CASES[case][2]
        first = (primary, "failed") if carries[primary] else (primary, "skipped")
        if carries[secondary]:
            result = fo.send(message)
            attempts = result.attempts
            assert result.provider == secondary
            assert _delivered(secondary, dm, ses) == [_expected(case, message, secondary)]
        else:  # only the (down) primary could carry it
            with pytest.raises(mailbridge.ProviderUnavailable) as info:
                fo.send(message)
            attempts = info.value.attempts
            assert not info.value.maybe_sent and info.value.not_sent == (TO, *message.cc)
            assert _delivered(secondary, dm, ses) == [] and _contacted(secondary, dm, ses) == []
        assert [(a.provider, a.outcome) for a in attempts] == [
            first,
            (secondary, "sent" if carries[secondary] else "skipped"),
        ]
        for attempt in attempts:
            if attempt.outcome == "skipped":
                assert attempt.detail == f"cannot carry: {field}"
        assert _delivered(primary, dm, ses) == []
        if primary == "aliyun":  # the SES emulator records accepted calls only, not the refused ones
            assert _contacted(primary, dm, ses) == ([SEND_ACTION[primary]] if carries[primary] else [])
        # a provider that was tried and refused cools down; one that was skipped for capability does not
        assert fo.healthy() == {primary: not carries[primary], secondary: True}


@pytest.mark.parametrize("where", ["inner-url", "failover-url"])
@pytest.mark.parametrize("order", ORDERS, ids=ORDER_IDS)
def test_tag_dropped_with_a_warning_where_unsupported_features_are_ignored(
    emulators: tuple[AliyunEmulator, TencentEmulator],
    order: tuple[str, str],
    where: str,
    caplog: pytest.LogCaptureFixture,
    failovers: Failovers,
) -> None:
    """SES with ``ignore_unsupported_features``: a tagged message goes out there without its tag.

    Direct Mail first and down: the message fails over to SES, tag dropped. SES first: SES takes it
    at once (that is what ignoring means), tag dropped."""
    dm, ses = emulators
    options: dict[str, Any] = {"ignore_unsupported_features": True} if where == "failover-url" else {}
    with _failover(failovers, order, dm, ses, ignore="tencent" if where == "inner-url" else None, **options) as fo:
        assert [c.ignore_unsupported_features for c in fo.clients] == (
            [True, True] if where == "failover-url" else [kind == "tencent" for kind in order]
        )
        message = _prepare("tag", fo)
        if order[0] == "aliyun":
            _down("aliyun", dm, ses)
        caplog.set_level("WARNING")
        result = fo.send(message)

    expected = [("aliyun", "failed", "ProviderUnavailable")] if order[0] == "aliyun" else []
    assert [(a.provider, a.outcome, a.error) for a in result.attempts[:-1]] == expected
    assert (result.attempts[-1].provider, result.attempts[-1].outcome) == ("tencent", "sent")
    assert result.attempts[-1].detail == "dropped: tag"
    assert result.provider == "tencent"
    assert _delivered("tencent", dm, ses) == [_expected("tag", message, "tencent", ("tag",))]
    assert "spring-sale" not in json.dumps([r["params"] for r in ses.requests])
    assert "tencent cannot carry tag" in caplog.text and "ignoring unsupported field 'tag'" in caplog.text
    assert _delivered("aliyun", dm, ses) == []


@pytest.mark.parametrize("order", ORDERS, ids=ORDER_IDS)
def test_a_message_no_provider_can_carry_fails_before_any_call(
    emulators: tuple[AliyunEmulator, TencentEmulator], order: tuple[str, str], failovers: Failovers
) -> None:
    """A tag (not on SES) and cc (not on Direct Mail): UnsupportedFeature naming each, nothing on the wire."""
    dm, ses = emulators
    with _failover(failovers, order, dm, ses) as fo:
        both = {"tag": "spring-sale", "cc": ["acct@example.com"]}
        message = Message(sender=SENDER, to=TO, subject="Both", text="Both.", **both)
        with pytest.raises(mailbridge.UnsupportedFeature) as info:
            fo.send(message)
        assert "aliyun cannot carry cc" in str(info.value) and "tencent cannot carry tag" in str(info.value)
        assert [(a.provider, a.outcome, a.detail) for a in info.value.attempts] == [
            (kind, "skipped", "cannot carry: cc" if kind == "aliyun" else "cannot carry: tag") for kind in order
        ]
        assert not info.value.maybe_sent and info.value.not_sent == (TO, "acct@example.com")
        assert fo.healthy() == {"aliyun": True, "tencent": True}
    assert dm.requests == [] and ses.requests == []


@pytest.mark.parametrize(
    ("order", "where"),
    [(ORDERS[0], "grant"), (ORDERS[0], "upload"), (ORDERS[0], "send"), (ORDERS[1], "send")],
    ids=["dm-first-grant", "dm-first-upload", "dm-first-send", "ses-first-send"],  # SES has no upload step
)
def test_an_attachment_fails_over_with_identical_bytes(
    emulators: tuple[AliyunEmulator, TencentEmulator], order: tuple[str, str], where: str, failovers: Failovers
) -> None:
    """The primary fails at one step of its send (Direct Mail: the OpenPlatform grant, the OSS upload or
    SingleSendMail; SES: SendEmail), each certainly not sent: the message arrives once, on the secondary,
    with its attachment's exact bytes."""
    dm, ses = emulators
    primary, secondary = order
    if primary == "aliyun":
        action = {"grant": "AuthorizeFileUpload", "upload": "PostObject", "send": "SingleSendMail"}[where]
        code = "AccessDenied" if action == "PostObject" else "ServiceUnavailable"
        dm.inject("error", action=action, times=None, status=503, code=code)
    else:
        _down("tencent", dm, ses)
    with _failover(failovers, order, dm, ses) as fo:
        message = _prepare("attachment", fo)
        result = fo.send(message)
    assert [(a.provider, a.outcome) for a in result.attempts] == [(primary, "failed"), (secondary, "sent")]
    assert _delivered(secondary, dm, ses) == [_expected("attachment", message, secondary)]
    assert _delivered(primary, dm, ses) == []
    if primary == "aliyun":
        assert [r["action"] for r in dm.requests].count("SingleSendMail") == (1 if where == "send" else 0)


@pytest.mark.parametrize("order", ORDERS, ids=ORDER_IDS)
def test_an_inline_image_skips_both_clouds_for_the_local_backend(
    emulators: tuple[AliyunEmulator, TencentEmulator], order: tuple[str, str], tmp_path: Path, failovers: Failovers
) -> None:
    """Neither cloud API carries an inline image (no Content-ID field): both are skipped untouched, the local
    backend behind them sends it; a plain message still goes to the first cloud."""
    dm, ses = emulators
    logo = Attachment("logo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(64)), "image/png", content_id="logo")
    inline = Message(sender=SENDER, to=TO, subject="Logo", html='<img src="cid:logo">', attachments=[logo])
    members = [_url(kind, dm, ses) for kind in order] + [f"local://{tmp_path}"]
    with failovers.connect(mailbridge.failover_url(members, retries=1, rate_limit="off")) as fo:
        result = fo.send(inline)
        assert [(a.provider, a.outcome, a.detail) for a in result.attempts] == [
            *((kind, "skipped", "cannot carry: attachments[inline]") for kind in order),
            ("local", "sent", None),
        ]
        plain = fo.send(Message(sender=SENDER, to=TO, subject="Plain", text="t"))
        assert [(a.provider, a.outcome) for a in plain.attempts] == [(order[0], "sent")]
        assert fo.healthy() == {"aliyun": True, "tencent": True, "local": True}
        (sent,) = fo.clients[2].backend.outbox()
    assert [p.get_payload(decode=True) for p in sent.walk() if p.get("Content-ID") == "<logo>"] == [logo.content]
    assert _contacted(order[1], dm, ses) == [] and _delivered(order[1], dm, ses) == []
    assert [d["subject"] for d in _delivered(order[0], dm, ses)] == ["Plain"]
    assert _contacted(order[0], dm, ses) == [SEND_ACTION[order[0]]]
