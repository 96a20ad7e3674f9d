"""Cassette scenarios: one per operation and one per neutral error class.

Each scenario runs the same code when it is recorded (against the emulator, or a live account)
and when it is replayed from ``cassettes/tencent/<name>.yaml``; its assertions hold both times.
``prepare`` configures the emulator (faults, state) before recording; scenarios that need it, or
emulator ``options``, cannot be recorded live.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from attrs import field, frozen
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Attachment, BounceType, DeliveryQuery, DeliveryStatus, Group, GroupStatus, Message, Recipient

SENDER = "noreply@mail.example.com"
PASSWORD = "Mb-Test-Pw-12ab"  # a valid SES SMTP password (see _rules.py); never written to a cassette
TEMPLATE_ID = "1"


@frozen
class Scenario:
    name: str
    run: Callable[[mailbridge.Client], Any]
    raises: type[mailbridge.MailbridgeError] | None = None
    prepare: Callable[[TencentEmulator], Any] | None = None
    options: dict[str, Any] = field(factory=dict)
    secret_key: str | None = None  # record with this key instead of the emulator's
    live_ok: bool = True  # False: cannot pass on a real account as written

    @property
    def live(self) -> bool:
        return self.live_ok and self.prepare is None and not self.options and self.secret_key is None


def _message(**changes: Any) -> Message:
    fields: dict[str, Any] = {
        "sender": SENDER,
        "to": ["alice@example.com"],
        "subject": "Scenario",
        "template_id": TEMPLATE_ID,
        "template_data": {"name": "Alice"},
    }
    fields.update(changes)
    return Message(**fields)


# --------------------------------------------------------------------------- operations


def groups(c: mailbridge.Client) -> None:
    created = c.create_group("mb-tc-groups", "scenario: groups")
    assert created.status is GroupStatus.EMPTY
    assert created.id.isdigit()
    assert "mb-tc-groups" in [g.name for g in c.groups()]
    found = c.get_group("mb-tc-groups")
    assert (found.id, found.description, found.recipient_count) == (created.id, "scenario: groups", 0)
    c.delete_group(found)


def upload_with_data(c: mailbridge.Client) -> None:
    group = c.create_group("mb-tc-upload-data")
    report = c.upload(
        group, [Recipient("ann@example.com", name="Ann", data={"code": "A1"}), "bob@example.com"], wait=True
    )
    assert (report.accepted, report.batches, report.processing) == (2, 1, False)
    assert report.group.status is GroupStatus.READY
    members = {m.email: m for m in c.members(group)}
    assert members["ann@example.com"].recipient.name == "Ann"
    assert members["ann@example.com"].recipient.data == {"code": "A1"}
    assert members["bob@example.com"].valid is True


def upload_plain(c: mailbridge.Client) -> None:
    group = c.create_group("mb-tc-upload-plain")
    report = c.upload(group, ["a@example.com", "b@example.com", "c@example.com"], wait=True)
    assert report.accepted == 3
    assert sorted(m.email for m in c.members(group)) == ["a@example.com", "b@example.com", "c@example.com"]


def send_template(c: mailbridge.Client) -> None:
    result = c.send(
        _message(
            sender_name="Mailbridge",
            to=["alice@example.com", "bob@example.com"],
            cc=["carol@example.com"],
            bcc=["dave@example.com"],
            reply_to="help@example.com",
            headers={"X-Campaign": "spring"},
            unsubscribe=True,
            provider_options={"trigger_type": "transactional"},
        )
    )
    assert len(result.message_ids) == 1
    assert result.accepted == ("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")


def send_simple(c: mailbridge.Client) -> None:
    result = c.send(
        _message(
            template_id=None,
            template_data={},
            html="<p>Hello</p>",
            text="Hello",
            attachments=[Attachment("hello.txt", b"hello", "text/plain")],
        )
    )
    assert result.message_ids[0]


def send_to_group(c: mailbridge.Client) -> None:
    group = c.create_group("mb-tc-batch")
    c.upload(group, [Recipient("ann@example.com", data={"name": "Ann"})], wait=True)
    result = c.send_to_group(group, _message(to=[], template_data={}))
    (receipt,) = result.receipts
    assert receipt.batch_id and receipt.batch_id.isdigit()


def deliveries(c: mailbridge.Client) -> None:
    to = ["ok@example.com", "x@bounce.example", "x@spam.example", "x@delay.example", "x@opened.example"]
    to += ["x@drop.example", "x@fail.example"]
    c.send(_message(to=to))
    now = dt.datetime.now(dt.UTC)
    page = c.backend.query_deliveries(DeliveryQuery(start=now, end=now), cursor=None, page_size=100)
    status = {e.recipient: e.status for e in page.items}
    assert status == {
        "ok@example.com": DeliveryStatus.DELIVERED,
        "x@bounce.example": DeliveryStatus.INVALID_ADDRESS,  # DeliverStatus 3, "550 5.1.1"
        "x@spam.example": DeliveryStatus.REJECTED,  # DeliverStatus 3, "554 5.7.1"
        "x@delay.example": DeliveryStatus.PENDING,
        "x@opened.example": DeliveryStatus.DELIVERED,
        "x@drop.example": DeliveryStatus.REJECTED,  # DeliverStatus 2: dropped by Tencent
        "x@fail.example": DeliveryStatus.FAILED,  # SendStatus 1004
    }
    bounce = {e.recipient: e.bounce_type for e in page.items if e.bounce_type}
    assert bounce == {
        "x@bounce.example": BounceType.HARD,
        "x@spam.example": BounceType.HARD,
        "x@delay.example": BounceType.SOFT,
        "x@fail.example": BounceType.SOFT,
    }
    opened = next(e for e in page.items if e.recipient == "x@opened.example")
    assert (opened.opened, opened.clicked, opened.raw_status) == (True, True, "SendStatus=0 DeliverStatus=1")


def statistics(c: mailbridge.Client) -> None:
    rows = c.statistics(dt.date(2026, 1, 1), dt.date(2026, 1, 3))
    assert [r.date for r in rows] == [dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 3)]


def domains_and_senders(c: mailbridge.Client) -> None:
    assert [d.name for d in c.domains()] == ["mail.example.com"]
    domain = c.domain("mail.example.com")
    assert {r.purpose for r in domain.records} >= {"spf", "dkim"}
    assert [s.address for s in c.senders()] == [SENDER]


def templates(c: mailbridge.Client) -> None:
    template = c.create_template("mb-tc-template", subject="Hello {{name}}", html="<p>Hi {{name}}</p>")
    assert template.id.isdigit()
    assert "mb-tc-template" in [t.name for t in c.templates()]
    assert c.get_template(template.id).html == "<p>Hi {{name}}</p>"
    c.send(_message(subject=None, template_id=template.id))  # the subject comes from create_template
    c.delete_template(template)


def domain_setup(c: mailbridge.Client) -> None:
    domain = c.create_domain("mb-tc.example.org")
    assert domain.verified is False and {r.purpose for r in domain.records} >= {"spf", "dkim"}
    assert c.verify_domain("mb-tc.example.org").verified
    sender = c.create_sender("hello@mb-tc.example.org")
    assert "hello@mb-tc.example.org" in [s.address for s in c.senders()]
    c.delete_sender(sender)
    c.delete_domain("mb-tc.example.org")


def sender_password(c: mailbridge.Client) -> None:
    c.set_sender_password(SENDER, PASSWORD)  # the cassette holds "<scrubbed>" in its place


def template_update(c: mailbridge.Client) -> None:
    template = c.create_template("mb-tc-update", subject="Old", text="Old {{name}}")
    updated = c.update_template(template, subject="New", text="New {{name}}")
    assert updated.status == "pending_review"
    assert c.get_template(template.id).text == "New {{name}}"
    c.delete_template(template)


# --------------------------------------------------------------------------- errors


def _list_groups(c: mailbridge.Client) -> None:
    list(c.groups())


def _send(c: mailbridge.Client) -> None:
    c.send(_message())


def _resource_busy(c: mailbridge.Client) -> None:
    group = c.create_group("mb-tc-busy")
    c.backend.upload_batch(group, [Recipient("a@example.com")])
    c.backend.upload_batch(group, [Recipient("b@example.com")])


def _limit_exceeded(c: mailbridge.Client) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    c.backend.query_deliveries(DeliveryQuery(start=start, end=start), cursor=None, page_size=100)


def _duplicate_group(c: mailbridge.Client) -> None:
    c.create_group("mb-tc-twice")
    c.create_group("mb-tc-twice")


def _fault(action: str, code: str, **options: Any) -> Callable[[TencentEmulator], Any]:
    """An error answer for every call of ``action`` (retries included: the shared conftest allows 3 attempts)."""
    return lambda emu: emu.inject("error", action, code=code, message=f"{code} (injected)", times=None, **options)


SCENARIOS: list[Scenario] = [
    Scenario("groups", groups),
    Scenario("upload_with_data", upload_with_data),
    Scenario("upload_plain", upload_plain),
    Scenario("send_template", send_template),
    Scenario("send_simple", send_simple),
    Scenario("send_to_group", send_to_group),
    Scenario("deliveries", deliveries),
    Scenario("statistics", statistics),
    Scenario("domains_and_senders", domains_and_senders),
    # Live, a new template waits for Tencent's review before it can be used: emulator only.
    Scenario("templates", templates, live_ok=False),
    # Live, a domain needs its DNS records published before it verifies: emulator only.
    Scenario("domain_setup", domain_setup, live_ok=False),
    Scenario("template_update", template_update),
    Scenario("sender_password", sender_password),
    Scenario("error_authentication", _list_groups, mailbridge.AuthenticationError, secret_key="not-the-secret"),
    Scenario(
        "error_permission_denied",
        lambda c: c.send(_message(template_id=None, template_data={}, html="<p>hi</p>")),
        mailbridge.PermissionDenied,
        options={"allow_simple": False},
    ),
    Scenario(
        "error_rate_limited", _list_groups, mailbridge.RateLimited, _fault("ListReceivers", "RequestLimitExceeded")
    ),
    Scenario(
        "error_quota_exceeded", _send, mailbridge.QuotaExceeded, _fault("SendEmail", "FailedOperation.ExceedSendLimit")
    ),
    Scenario(
        "error_content_rejected",
        lambda c: c.send(_message(to=["blocked@example.com"])),
        mailbridge.ContentRejected,
        options={"blacklist": ["blocked@example.com"]},
    ),
    Scenario("error_resource_busy", _resource_busy, mailbridge.ResourceBusy, options={"upload_delay": 3600.0}),
    Scenario(
        "error_provider_unavailable",
        _list_groups,
        mailbridge.ProviderUnavailable,
        lambda emu: emu.inject("status", "ListReceivers", status=503, times=None),
    ),
    Scenario(
        "error_outcome_unknown",
        _send,
        mailbridge.OutcomeUnknown,
        lambda emu: emu.inject("malformed", "SendEmail", times=None),
    ),
    Scenario(
        "error_invalid_request",
        lambda c: c.send(_message(unsubscribe=True, provider_options={"unsubscribe_language": "99"})),
        mailbridge.InvalidRequest,
    ),
    Scenario(
        "error_invalid_address",
        _send,
        mailbridge.InvalidAddress,
        _fault("SendEmail", "InvalidParameterValue.IllegalEmailAddress"),
    ),
    Scenario("error_limit_exceeded", _limit_exceeded, mailbridge.LimitExceeded),
    Scenario(
        "error_group_not_found",
        lambda c: c.delete_group(Group("999999", "ghost", "tencent")),
        mailbridge.GroupNotFound,
    ),
    Scenario("error_template_not_found", lambda c: c.send(_message(template_id="999")), mailbridge.TemplateNotFound),
    Scenario(
        "error_sender_not_found",
        lambda c: c.send(_message(sender="noreply@unverified.example")),
        mailbridge.SenderNotFound,
        options={"domains": ["mail.example.com"]},
    ),
    Scenario("error_already_exists", _duplicate_group, mailbridge.AlreadyExists),
    Scenario(
        "error_not_found",
        lambda c: c.domains(),
        mailbridge.NotFound,
        _fault("ListEmailIdentities", "ResourceNotFound"),
    ),
    Scenario(
        "error_configuration", _list_groups, mailbridge.ConfigurationError, _fault("ListReceivers", "UnsupportedRegion")
    ),
    Scenario(
        "error_unsupported_feature",
        statistics,
        mailbridge.UnsupportedFeature,
        _fault("GetStatisticsReport", "UnsupportedOperation"),
    ),
    # The SDK trap (reference B.2): an error under "application/json; charset=utf-8" is still an error.
    Scenario(
        "error_content_type_trap",
        lambda c: c.delete_group(Group("1001", "ghost", "tencent")),
        mailbridge.GroupNotFound,
        _fault("DeleteReceiver", "OperationDenied.ReceiverNotExist", content_type="application/json; charset=utf-8"),
    ),
]
