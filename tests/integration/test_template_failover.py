"""A send by template name fails over between Direct Mail and Tencent SES, in both orders.

The template exists on both emulators under one name with different provider ids; each
provider's client resolves the name to its own id (and the template's subject from its own
side: Direct Mail stores it, for SES the catalog does), so the message that fails on the
primary goes out on the secondary as the same email.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Message

from ..failover_modes import Failovers

SENDER = "noreply@mail.example.com"
BATCH_SENDER = "news@mail.example.com"  # Direct Mail group sends need a sender of the batch type
NAME, SUBJECT = "mb-order", "Order {{order}} for {{name}}"
HTML, TEXT = "<p>{{name}}: order {{order}} ships today.</p>", "{{name}}: order {{order}} ships today."
DATA = {"name": "Ada", "order": "A-42"}


@pytest.fixture
def emulators() -> Iterator[tuple[AliyunEmulator, TencentEmulator]]:
    with AliyunEmulator() as dm, TencentEmulator(rate=0) as ses:
        dm.add_sender(SENDER)
        dm.add_sender(BATCH_SENDER, sendtype="batch")
        yield dm, ses


@pytest.fixture
def clients(emulators: tuple[AliyunEmulator, TencentEmulator]) -> Iterator[dict[str, mailbridge.Client]]:
    dm, ses = emulators
    policy = mailbridge.RetryPolicy(attempts=1)
    with (
        mailbridge.connect(dm.url + "&rate_limit=off", retry=policy) as aliyun,
        mailbridge.connect(ses.url + "&rate_limit=off", retry=policy) as tencent,
    ):
        yield {"aliyun": aliyun, "tencent": tencent}


def _down(kind: str, dm: AliyunEmulator, ses: TencentEmulator, action: str | None) -> None:
    """The provider refuses ``action`` (every action when None) as temporarily unavailable: certainly not applied."""
    if kind == "aliyun":
        dm.inject("error", action=action, times=None, status=503, code="ServiceUnavailable")
    else:
        ses.inject("error", action, times=None, code="FailedOperation.ServiceNotAvailable")


def _single_sends(kind: str, dm: AliyunEmulator, ses: TencentEmulator) -> list[dict[str, Any]]:
    if kind == "aliyun":
        return [
            {"to": m.to, "subject": m.subject, "template": json.loads(m.params["Template"])["TemplateId"]}
            for m in dm.sent_mail
            if m.action == "SingleSendMail"
        ]
    return [{"to": m["to"], "subject": m["subject"], "template": str(m["template_id"])} for m in ses.sent_mail]


@pytest.mark.parametrize("down_action", ["send", "everything"])
@pytest.mark.parametrize("order", [("aliyun", "tencent"), ("tencent", "aliyun")], ids=["dm-first", "ses-first"])
def test_send_by_template_name_fails_over(
    emulators: tuple[AliyunEmulator, TencentEmulator],
    clients: dict[str, mailbridge.Client],
    order: tuple[str, str],
    down_action: str,
    failovers: Failovers,
) -> None:
    dm, ses = emulators
    ids = {kind: c.create_template(NAME, subject=SUBJECT, html=HTML, text=TEXT).id for kind, c in clients.items()}
    primary, secondary = order
    send_action = {"aliyun": "SingleSendMail", "tencent": "SendEmail"}[primary]
    _down(primary, dm, ses, send_action if down_action == "send" else None)

    failover = failovers([clients[primary], clients[secondary]])
    result = failover.send(Message(sender=SENDER, to="ann@example.com", template=NAME, template_data=DATA))

    assert result.provider == secondary
    assert [(a.provider, a.outcome) for a in result.attempts] == [(primary, "failed"), (secondary, "sent")]
    assert _single_sends(primary, dm, ses) == []
    assert _single_sends(secondary, dm, ses) == [
        {"to": ["ann@example.com"], "subject": "Order A-42 for Ada", "template": ids[secondary]}
    ]
    if secondary == "tencent":  # SES fills the body from TemplateData: the same email as Direct Mail's
        _, html, text = ses.render_template(ids["tencent"], DATA)
        assert (html, text) == (mailbridge.render_template(HTML, DATA), mailbridge.render_template(TEXT, DATA))
    else:
        subject, body, _ = dm.render_template(ids["aliyun"], DATA)
        assert (subject, body) == ("Order A-42 for Ada", mailbridge.render_template(HTML, DATA))


@pytest.mark.parametrize("order", [("aliyun", "tencent"), ("tencent", "aliyun")], ids=["dm-first", "ses-first"])
def test_group_send_by_template_name_fails_over(
    emulators: tuple[AliyunEmulator, TencentEmulator],
    clients: dict[str, mailbridge.Client],
    order: tuple[str, str],
    failovers: Failovers,
) -> None:
    dm, ses = emulators
    for client in clients.values():
        client.create_template(NAME, subject=SUBJECT, html=HTML)
        group = client.create_group("mb-customers")
        client.upload(group, [mailbridge.Recipient("ann@example.com", data=DATA)], wait=True)
    primary, secondary = order
    _down(primary, dm, ses, {"aliyun": "BatchSendMail", "tencent": "BatchSendEmail"}[primary])

    failover = failovers([clients[primary], clients[secondary]])
    result = failover.send_to_group("mb-customers", Message(sender=BATCH_SENDER, to=(), template=NAME))

    assert result.provider == secondary and [a.outcome for a in result.attempts] == ["failed", "sent"]
    if secondary == "tencent":
        (task,) = [r["params"] for r in ses.requests if r["action"] == "BatchSendEmail"]
        assert task["Subject"] == SUBJECT  # SES fills it per member from TemplateData
        assert task["Template"]["TemplateID"] == int(clients["tencent"].get_template(NAME).id)
    else:
        (batch,) = dm.calls("BatchSendMail")
        assert batch["TemplateName"] == NAME and "Subject" not in batch
        assert [m.subject for m in dm.sent_mail if m.action == "BatchSendMail"] == ["Order A-42 for Ada"]
