"""Record the Direct Mail cassettes: ``python -m tests.aliyun.record [--live] [SCENARIO ...]`` (from the
repository root; recording tooling lives with the tests, not in the shipped plugin).

Without ``--live`` every scenario runs against a fresh :class:`AliyunEmulator` (fixed
clock, the published test credentials). With ``--live`` and ``ALIBABA_CLOUD_ACCESS_KEY_ID``
/ ``ALIBABA_CLOUD_ACCESS_KEY_SECRET`` set, the scenarios that need no injected fault run
against the real account (``--region``, default cn-hangzhou; the account needs the sender
``noreply@mail.example.com`` replaced through ``--sender`` and a template through
``--template-id``). Each scenario is a function that drives a :class:`mailbridge.Client`
and checks what it gets back; the replay tests run the same functions from the cassettes.

The vcrpy set-up is :func:`mailbridge.testing.cassettes.make_vcr` with what is Direct Mail's own: scrubbing from
``AliyunBackend.secret_fields`` plus the V3 date/nonce/content-hash headers and the V2 ``Timestamp``; in answers,
the "string to sign" that ``SignatureDoesNotMatch`` echoes; requests matched on the action (``x-acs-action``
header or ``Action`` parameter) and the business parameters (common and signature parameters left out).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailbridge_aliyun import AliyunBackend
from mailbridge_aliyun.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, AliyunEmulator, reply_ticket

import mailbridge
from mailbridge import (
    AlreadyExists,
    Attachment,
    AuthenticationError,
    Client,
    ConfigurationError,
    ContentRejected,
    DeliveryQuery,
    DeliveryStatus,
    Group,
    GroupNotFound,
    InvalidAddress,
    InvalidRequest,
    LimitExceeded,
    MailbridgeError,
    Message,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    ProviderUnavailable,
    RateLimited,
    RateLimiter,
    Recipient,
    ResourceBusy,
    RetryPolicy,
    SenderNotFound,
    Tag,
    TemplateNotFound,
)
from mailbridge.testing import cassettes

__all__ = [
    "CASSETTE_DIR",
    "RECORDED_AT",
    "SCENARIOS",
    "SCENARIO_PASSWORDS",
    "SCRUBBED_PASSWORD",
    "Scenario",
    "ScenarioContext",
    "main",
    "make_vcr",
    "replay_url",
    "scenario_client",
]

CASSETTE_DIR = Path(__file__).resolve().parents[2] / "cassettes" / "aliyun"
SCRUBBED_PASSWORD = cassettes.SCRUBBED
COMMON = frozenset(
    {"Action", "Format", "Version", "AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce",
     "Timestamp", "Signature", "RegionId", "SecurityToken"}
)  # fmt: skip
_STRING_TO_SIGN = re.compile(rb"(string to sign is:?)[^\"]*")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day_only(value: str) -> str:
    """A bare date changes by day: the suppression listing asks for the 30 days up to today in Beijing, which a
    replay after Beijing midnight would miss. Times (deliveries' "yyyy-MM-dd HH:mm") are still compared."""
    return "<day>" if _DAY.fullmatch(value) else value


def make_vcr(*, record_mode: str = "none", secrets: list[str] | None = None, cassette_dir: Path | None = None) -> Any:
    """The shared vcrpy set-up with Direct Mail's headers, matchers and echoed string to sign."""
    return cassettes.make_vcr(
        cassette_dir or CASSETTE_DIR,
        record_mode=record_mode,
        secret_fields=AliyunBackend.secret_fields,
        drop_headers=["x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"],
        drop_query=["Timestamp"],
        secrets=secrets or [],
        response_filters=[lambda body: _STRING_TO_SIGN.sub(rb"\1 <scrubbed>", body)],
        ignore_params=COMMON,
        placeholders={"StartTime": _day_only, "EndTime": _day_only},
        matchers={"acs_action": cassettes.action_matcher("x-acs-action", "Action")},
    )


RECORDED_AT = dt.datetime(2026, 11, 2, 10, 0, tzinfo=dt.UTC)  # the emulator's clock while recording
SENDER = "noreply@mail.example.com"
BATCH_SENDER = "news@mail.example.com"
SETUP_DOMAIN = "mb-setup.example.com"
# SMTP passwords the scenarios set; tests prove none of them reaches a cassette.
SMTP_PASSWORD = "Mb7Scenario9Pw"
SCENARIO_PASSWORDS = (SMTP_PASSWORD,)


class _NoWait(RateLimiter):
    """Recording and replay make a few calls: the declared rates need not be waited out."""

    def acquire(self, key: str, rate: Any) -> None:
        return None


def scenario_client(url: str) -> Client:
    """A client for scenarios: no rate-limit waits, no retries (one request per call)."""
    return mailbridge.connect(url, rate_limiter=_NoWait(), retry=RetryPolicy(attempts=1))


def replay_url(**params: str) -> str:
    """A URL whose endpoint nobody listens on: only a cassette can answer."""
    query = "&".join(f"{k}={v}" for k, v in {"endpoint": "http://127.0.0.1:9", **params}.items())
    return f"aliyun://{TEST_ACCESS_KEY_ID}:{TEST_ACCESS_KEY_SECRET}@cn-hangzhou?{query}"


@dataclass
class ScenarioContext:
    """What a scenario may use besides the client: the emulator while recording from it."""

    emulator: AliyunEmulator | None = None
    sender: str = SENDER
    batch_sender: str = BATCH_SENDER
    template_id: str = "100001"  # the emulator's seeded "welcome" template
    live: bool = False  # recording against a real account (no DNS publishing, no reply-to ticket)

    def inject(self, kind: str = "error", **options: Any) -> None:
        if self.emulator is not None:
            self.emulator.inject(kind, **options)

    def publish_dns(self, domain: str) -> None:
        """Publish the domain's records in the emulator (while replaying the cassette already has the effect)."""
        if self.emulator is not None:
            self.emulator.publish_dns(domain)

    def reply_ticket(self, sender_id: str, attempt: int = 1) -> str:
        """The ticket of the emulator's reply-to verification mail (deterministic, so replays match)."""
        return reply_ticket(sender_id, attempt)


@dataclass
class Scenario:
    name: str
    run: Callable[[Client, ScenarioContext], None]
    url_params: dict[str, str] = field(default_factory=dict)
    live: bool = True  # runnable against a real account (needs no injected fault)
    wrong_secret: bool = False


def expect(exc_type: type[MailbridgeError], fn: Callable[[], object]) -> MailbridgeError:
    """Run ``fn`` and return the error it raised, which must be exactly ``exc_type``."""
    try:
        fn()
    except MailbridgeError as exc:
        if type(exc) is not exc_type:
            raise AssertionError(f"expected {exc_type.__name__}, got {type(exc).__name__}: {exc}") from exc
        return exc
    raise AssertionError(f"expected {exc_type.__name__}, nothing was raised")


# --------------------------------------------------------------------------- operations


def groups(client: Client, ctx: ScenarioContext) -> None:
    group = client.create_group("mb-groups", "recorded scenario")
    names = [g.name for g in client.groups()]
    assert "mb-groups" in names, names
    assert client.get_group("mb-groups").id == group.id
    fresh = client.refresh_group("mb-groups")
    assert fresh.recipient_count == 0
    client.delete_group(fresh)
    assert "mb-groups" not in [g.name for g in client.groups(keyword="mb-")]


def upload_members(client: Client, ctx: ScenarioContext) -> None:
    client.create_group("mb-upload")
    people: list[Recipient | str] = [
        Recipient("ada@example.com", name="Ada", nickname="ada", gender="f", birthday="1815-12-10", mobile="100"),
        Recipient("bob@example.com", data={"plan": "pro"}),
        "carol@example.com",
    ]
    first = client.upload("mb-upload", people)
    assert (first.accepted, first.batches) == (3, 1), first
    again = client.upload("mb-upload", ["carol@example.com", "dan@example.com"])
    assert (again.accepted, again.existing, again.duplicates) == (1, 1, ()), again
    members = {m.email: m for m in client.members("mb-upload")}
    assert set(members) == {"ada@example.com", "bob@example.com", "carol@example.com", "dan@example.com"}
    assert members["ada@example.com"].recipient.name == "Ada"
    assert client.remove("mb-upload", ["dan@example.com"]).removed == ("dan@example.com",)
    assert client.refresh_group("mb-upload").recipient_count == 3
    client.delete_group("mb-upload")


def send(client: Client, ctx: ScenarioContext) -> None:
    result = client.send(
        Message(
            sender=ctx.sender,
            to=["ada@example.com", "bob@example.com"],
            subject="Hello from mailbridge",
            html="<p>Hello</p>",
            text="Hello",
            sender_name="Mailbridge",
            reply_to="support@mail.example.com",
            reply_to_name="Support",
            bcc=["audit@example.com"],
            tag="mb-recorded",
            headers={"X-User-Campaign": "c1"},
            unsubscribe=False,
            click_tracking=True,
            provider_options={"UnSubscribeFilterLevel": "mailfrom_domain", "DomainAuth": False},
        )
    )
    assert len(result.message_ids) == 1 and result.request_ids, result


ATTACHMENTS = (
    Attachment("invoice.txt", "Rechnung A-42 für Ada: 42,00 €\r\nDanke.\r\n".encode(), "text/plain"),
    Attachment("items.csv", b"item,amount\r\nwidget,42.00\r\n", "text/csv"),
)


def send_attachments(client: Client, ctx: ScenarioContext) -> None:
    """Two files: per file AuthorizeFileUpload + an OSS PostObject, then one SingleSendMail naming both."""
    result = client.send(
        Message(
            sender=ctx.sender, to="ada@example.com", subject="Your invoice", text="Attached.", attachments=ATTACHMENTS
        )
    )
    assert len(result.message_ids) == 1, result
    if ctx.emulator is not None:
        sent = ctx.emulator.sent_mail[-1]
        assert [(a.filename, a.content) for a in sent.attachments] == [(a.filename, a.content) for a in ATTACHMENTS]


def error_attachment_upload(client: Client, ctx: ScenarioContext) -> None:
    """OSS refuses the upload (its XML AccessDenied): certainly not sent, no SingleSendMail call."""
    ctx.inject(
        action="PostObject", status=403, code="AccessDenied", message="Invalid according to Policy: Policy expired."
    )
    error = expect(
        ProviderUnavailable,
        lambda: client.send(
            Message(sender=ctx.sender, to="ada@example.com", subject="s", text="t", attachments=ATTACHMENTS[:1])
        ),
    )
    assert not error.maybe_sent and error.provider_code == "AccessDenied", error


def send_template(client: Client, ctx: ScenarioContext) -> None:
    result = client.send(
        Message(sender=ctx.sender, to="ada@example.com", template_id=ctx.template_id, template_data={"name": "Ada"})
    )
    assert len(result.message_ids) == 1


def send_to_group(client: Client, ctx: ScenarioContext) -> None:
    client.create_group("mb-batch")
    client.upload("mb-batch", [Recipient("ada@example.com", name="Ada"), "bob@example.com"])
    result = client.send_to_group("mb-batch", Message(sender=ctx.batch_sender, to=(), template_id=ctx.template_id))
    assert len(result.receipts) == 1 and result.receipts[0].batch_id
    client.delete_group("mb-batch")


def deliveries(client: Client, ctx: ScenarioContext) -> None:
    client.send(Message(sender=ctx.sender, to=["ok@example.com", "gone@bounce.example"], subject="s", text="t"))
    start, end = RECORDED_AT - dt.timedelta(hours=1), RECORDED_AT + dt.timedelta(hours=1)
    events = list(client.deliveries(start, end))
    by_address = {e.recipient: e for e in events}
    if ctx.emulator is not None or not ctx.sender.endswith("example.com"):
        assert by_address["ok@example.com"].status is DeliveryStatus.DELIVERED, events
        assert by_address["gone@bounce.example"].status is DeliveryStatus.INVALID_ADDRESS
        assert by_address["gone@bounce.example"].raw_status == "2"
        assert by_address["gone@bounce.example"].bounce_type == "hard"
        assert by_address["gone@bounce.example"].reason == "550 5.1.1 mailbox does not exist (emulated)"
    bounced = list(client.deliveries(start, end, status="invalid_address"))
    assert [e.recipient for e in bounced] == ["gone@bounce.example"], bounced
    mine = list(client.deliveries(start, end, recipient="ok@example.com"))
    assert [e.recipient for e in mine] == ["ok@example.com"], mine


def statistics(client: Client, ctx: ScenarioContext) -> None:
    client.send(Message(sender=ctx.sender, to=["ok@example.com", "gone@bounce.example"], subject="s", text="t"))
    day = RECORDED_AT.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    rows = client.statistics(day - dt.timedelta(days=40), day)
    if ctx.emulator is not None or ctx.sender == SENDER:
        assert [(r.date, r.requested, r.delivered, r.bounced) for r in rows] == [(day, 2, 1, 1)], rows


def account(client: Client, ctx: ScenarioContext) -> None:
    summary = client.account()
    assert summary.daily_quota is not None and summary.status == "normal", summary


def domains(client: Client, ctx: ScenarioContext) -> None:
    names = [d.name for d in client.domains()]
    assert "mail.example.com" in names, names
    detail = client.domain("mail.example.com")
    assert {r.purpose for r in detail.records} >= {"ownership", "spf", "mx", "tracking"}, detail
    # A new domain: unverified, with the records to publish; verified once they are in DNS.
    created = client.create_domain(SETUP_DOMAIN)
    assert created.verified is False and created.id, created
    purposes = [r.purpose for r in created.records]
    assert purposes == ["ownership", "spf", "dkim", "mx", "tracking", "dmarc"], purposes
    assert all(r.verified is False for r in created.records), created.records
    assert SETUP_DOMAIN in [d.name for d in client.domains()]
    assert client.verify_domain(SETUP_DOMAIN).verified is False  # nothing published yet
    ctx.publish_dns(SETUP_DOMAIN)
    checked = client.verify_domain(SETUP_DOMAIN)
    if not ctx.live:
        assert (checked.verified, checked.status) == (True, "verified"), checked
        assert all(r.verified for r in checked.records), checked.records
    assert client.domain(SETUP_DOMAIN).records == checked.records
    client.delete_domain(SETUP_DOMAIN)
    assert SETUP_DOMAIN not in [d.name for d in client.domains()]


def senders(client: Client, ctx: ScenarioContext) -> None:
    found = {s.address: s for s in client.senders()}
    assert found[SENDER].kind == "transactional" and found[BATCH_SENDER].kind == "batch", found
    alerts = client.create_sender("mb-alerts@mail.example.com", kind="transactional", reply_to="ops@example.com")
    bulk = client.create_sender("mb-bulk@mail.example.com", kind="batch")
    assert (alerts.kind, alerts.status, bulk.kind, bulk.reply_to) == (
        "transactional",
        "reply-to pending",
        "batch",
        None,
    )
    listed = {s.address: s for s in client.senders()}
    assert listed["mb-alerts@mail.example.com"] == alerts, listed
    assert listed["mb-bulk@mail.example.com"] == bulk, listed
    expect(AlreadyExists, lambda: client.create_sender("mb-bulk@mail.example.com", kind="batch"))
    expect(InvalidRequest, lambda: client.set_sender_password(alerts, "tooshort"))  # refused before any call
    client.set_sender_password(alerts, SMTP_PASSWORD)
    if ctx.emulator is not None:
        assert ctx.emulator.smtp_password_matches("mb-alerts@mail.example.com", SMTP_PASSWORD)
    # Direct Mail refuses the password it already has ("cannot be the same as the last one").
    expect(InvalidRequest, lambda: client.set_sender_password(alerts, SMTP_PASSWORD))
    client.verify_reply_to(alerts)
    if not ctx.live:
        assert alerts.id is not None
        client.backend.approve_reply_to(ctx.reply_ticket(alerts.id))  # type: ignore[attr-defined]
        assert client.sender("mb-alerts@mail.example.com").status == "reply-to verified"
    client.delete_sender(alerts)
    client.delete_sender("mb-bulk@mail.example.com")
    remaining = [s.address for s in client.senders()]
    assert "mb-alerts@mail.example.com" not in remaining and "mb-bulk@mail.example.com" not in remaining


def tags(client: Client, ctx: ScenarioContext) -> None:
    tag = client.create_tag("mb-tag", "recorded")
    assert "mb-tag" in [t.name for t in client.tags()]
    renamed = client.rename_tag(tag, "mb-tag-2")
    assert [t.name for t in client.tags() if t.id == tag.id] == ["mb-tag-2"]
    client.delete_tag(renamed)
    assert tag.id not in [t.id for t in client.tags()]


def templates(client: Client, ctx: ScenarioContext) -> None:
    created = client.create_template("mb-template", subject="Hi {{name}}", html="<p>Hello {{name}}</p>")
    assert created.status == "pending"
    assert "mb-template" in [t.name for t in client.templates()]
    fetched = client.get_template(created.id)
    assert (fetched.name, fetched.subject, fetched.html) == ("mb-template", "Hi {{name}}", "<p>Hello {{name}}</p>")
    expect(AlreadyExists, lambda: client.create_template("mb-template", subject="x", text="y"))
    updated = client.update_template(fetched, subject="Hello {{ name }}", text="Dear {{name}},\nyour code: {{code}}")
    assert updated.id == created.id
    again = client.get_template(created.id)
    # DM holds the text as its one HTML body; the client's catalog keeps the parts as given.
    assert again.parts() == {"subject": "Hello {{ name }}", "html": None, "text": "Dear {{name}},\nyour code: {{code}}"}
    assert client.get_template("mb-template") == again
    client.delete_template(again)
    expect(TemplateNotFound, lambda: client.get_template(created.id))


def signature_v2(client: Client, ctx: ScenarioContext) -> None:
    group = client.create_group("mb-v2")
    client.send(Message(sender=ctx.sender, to="ada@example.com", subject="v2", text="signed with HMAC-SHA1"))
    client.delete_group(group)


# --------------------------------------------------------------------------- errors (one per neutral class)


def error_authentication(client: Client, ctx: ScenarioContext) -> None:
    exc = expect(AuthenticationError, lambda: list(client.groups()))
    assert exc.provider_code == "SignatureDoesNotMatch" and exc.failover_eligible


def error_group_not_found(client: Client, ctx: ScenarioContext) -> None:
    missing = Group(id="999999", name="missing", provider="aliyun")
    assert expect(GroupNotFound, lambda: client.delete_group(missing)).http_status == 404


def error_already_exists(client: Client, ctx: ScenarioContext) -> None:
    client.create_group("mb-dup")
    expect(AlreadyExists, lambda: client.create_group("mb-dup"))
    client.delete_group("mb-dup")


def error_invalid_address(client: Client, ctx: ScenarioContext) -> None:
    # Valid for the core's RFC 5322 check ('!' is atext), refused by Direct Mail's narrower address rule.
    # (Non-ASCII addresses no longer get this far: the core refuses them, aliyun declares no SMTPUTF8.)
    exc = expect(
        InvalidAddress, lambda: client.send(Message(sender=ctx.sender, to="a!b@example.com", subject="s", text="t"))
    )
    assert exc.provider_code == "InvalidToAddress"


def error_content_rejected(client: Client, ctx: ScenarioContext) -> None:
    message = Message(sender=ctx.sender, to="gone@bounce.example", subject="s", text="t")
    client.send(message)  # bounces: the address joins the account's invalid-address list
    exc = expect(ContentRejected, lambda: client.send(message))
    assert exc.provider_code == "InvalidToAddress.Spam" and not exc.maybe_sent


def error_sender_not_found(client: Client, ctx: ScenarioContext) -> None:
    message = Message(sender="nobody@unverified.example", to="ada@example.com", subject="s", text="t")
    assert expect(SenderNotFound, lambda: client.send(message)).provider_code == "InvalidMailAddress.NotFound"


def error_template_not_found(client: Client, ctx: ScenarioContext) -> None:
    message = Message(sender=ctx.sender, to="ada@example.com", template_id="999999", subject="Hello")
    assert expect(TemplateNotFound, lambda: client.send(message)).http_status == 404


def error_not_found(client: Client, ctx: ScenarioContext) -> None:
    # A code the table does not know (the emulator's InvalidTag.NotFound): falls back on HTTP 404.
    exc = expect(NotFound, lambda: client.rename_tag(Tag(id="999999", name="x"), "y"))
    assert exc.http_status == 404


def error_invalid_request(client: Client, ctx: ScenarioContext) -> None:
    group = client.create_group("mb-invalid")
    too_many = [Recipient(f"r{i}@example.com") for i in range(501)]  # past the core: the backend itself
    assert expect(InvalidRequest, lambda: client.backend.upload_batch(group, too_many)).http_status == 400
    client.delete_group(group)


def error_resource_busy(client: Client, ctx: ScenarioContext) -> None:
    client.create_group("mb-empty")
    message = Message(sender=ctx.batch_sender, to=(), template_id=ctx.template_id)
    exc = expect(ResourceBusy, lambda: client.send_to_group("mb-empty", message))
    assert not exc.retryable and exc.provider_code == "InvalidReceiverStatus.Malformed"  # empty: waiting won't help
    client.delete_group("mb-empty")


def error_rate_limited(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="QueryReceiverByParam", status=400, code="Throttling.User",
               message="Request was denied due to user flow control.")  # fmt: skip
    exc = expect(RateLimited, lambda: list(client.groups()))
    assert exc.retryable and exc.failover_eligible


def error_provider_unavailable(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="DescAccountSummary", status=503)
    exc = expect(ProviderUnavailable, client.account)
    assert exc.http_status == 503 and exc.provider_code == "ServiceUnavailable"


def error_permission_denied(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="QueryTagByParam", status=403, code="Forbidden.RAM",
               message="User not authorized to operate on the specified resource.")  # fmt: skip
    expect(PermissionDenied, client.tags)


def error_limit_exceeded(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="SenderStatisticsDetailByParam", status=400, code="InvalidBetweenTime.Malformed",
               message="The time range between StartTime and EndTime cannot exceed 30 days.")  # fmt: skip
    query = DeliveryQuery(start=RECORDED_AT - dt.timedelta(days=1), end=RECORDED_AT)
    expect(LimitExceeded, lambda: client.backend.query_deliveries(query, cursor=None, page_size=100))


def error_configuration(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="QueryMailAddressByParam", status=404, code="InvalidApi.NotFound",
               message="Specified api is not found, please check your url and method.")  # fmt: skip
    expect(ConfigurationError, client.senders)


def error_outcome_unknown(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("malformed", action="SingleSendMail", apply=True)
    message = Message(sender=ctx.sender, to="ada@example.com", subject="s", text="t")
    exc = expect(OutcomeUnknown, lambda: client.send(message))
    assert exc.maybe_sent and exc.not_sent == ()


def error_domain_duplicate(client: Client, ctx: ScenarioContext) -> None:
    exc = expect(AlreadyExists, lambda: client.create_domain("mail.example.com"))
    assert exc.provider_code == "InvalidDomainName.Duplicate"


def error_domain_limit(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="CreateDomain", status=400, code="InvalidDomainNumber.Malformed",
               message="The maximum number of domain names is exceeded.")  # fmt: skip
    assert expect(LimitExceeded, lambda: client.create_domain(SETUP_DOMAIN)).http_status == 400


def error_check_domain_failed(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="CheckDomain", status=400, code="CheckDomain.Failed", message="Domain check failed.")
    exc = expect(ProviderUnavailable, lambda: client.verify_domain("unverified.example"))
    assert exc.retryable and not exc.failover_eligible


def error_sender_domain(client: Client, ctx: ScenarioContext) -> None:
    exc = expect(SenderNotFound, lambda: client.create_sender("someone@not-registered.example", kind="batch"))
    assert exc.provider_code == "InvalidMailAddressDomainMalformed"


def error_sender_send_type(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="CreateMailAddress", status=400, code="InvalidMailAddressSendType.Malformed",
               message="The specified mailAddress sendType is wrongly formed.")  # fmt: skip
    expect(InvalidRequest, lambda: client.create_sender("mb-type@mail.example.com", kind="batch"))


def error_sender_status(client: Client, ctx: ScenarioContext) -> None:
    ctx.inject("error", action="ModifyMailAddress", status=400, code="InvalidMailAddressStatus.Malformed",
               message="The specified mailAddresses status is wrongly formed.")  # fmt: skip
    exc = expect(SenderNotFound, lambda: client.set_sender_password(SENDER, SMTP_PASSWORD))
    assert exc.provider_code == "InvalidMailAddressStatus.Malformed"


def error_template_name(client: Client, ctx: ScenarioContext) -> None:
    exc = expect(InvalidRequest, lambda: client.create_template("m" * 31, subject="s", text="t"))
    assert exc.provider_code == "InvalidTemplateName.Malformed"


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario("groups", groups),
        Scenario("upload_members", upload_members),
        Scenario("send", send),
        Scenario("send_template", send_template),
        Scenario("send_attachments", send_attachments),
        Scenario("send_to_group", send_to_group),
        Scenario("deliveries", deliveries),
        Scenario("statistics", statistics),
        Scenario("account", account),
        Scenario("domains", domains),
        Scenario("senders", senders),
        Scenario("tags", tags),
        Scenario("templates", templates),
        Scenario("signature_v2", signature_v2, url_params={"signature": "v2"}),
        Scenario("error_authentication", error_authentication, wrong_secret=True),
        Scenario("error_group_not_found", error_group_not_found),
        Scenario("error_already_exists", error_already_exists),
        Scenario("error_invalid_address", error_invalid_address),
        Scenario("error_content_rejected", error_content_rejected),
        Scenario("error_sender_not_found", error_sender_not_found),
        Scenario("error_template_not_found", error_template_not_found),
        Scenario("error_not_found", error_not_found),
        Scenario("error_invalid_request", error_invalid_request),
        Scenario("error_resource_busy", error_resource_busy),
        Scenario("error_rate_limited", error_rate_limited, live=False),
        Scenario("error_provider_unavailable", error_provider_unavailable, live=False),
        Scenario("error_permission_denied", error_permission_denied, live=False),
        Scenario("error_limit_exceeded", error_limit_exceeded, live=False),
        Scenario("error_configuration", error_configuration, live=False),
        Scenario("error_outcome_unknown", error_outcome_unknown, live=False),
        Scenario("error_attachment_upload", error_attachment_upload, live=False),
        Scenario("error_domain_duplicate", error_domain_duplicate),
        Scenario("error_domain_limit", error_domain_limit, live=False),
        Scenario("error_check_domain_failed", error_check_domain_failed, live=False),
        Scenario("error_sender_domain", error_sender_domain),
        Scenario("error_sender_send_type", error_sender_send_type, live=False),
        Scenario("error_sender_status", error_sender_status, live=False),
        Scenario("error_template_name", error_template_name),
    ]
}


# --------------------------------------------------------------------------- recording


def _with_params(url: str, params: dict[str, str]) -> str:
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(f"{k}={v}" for k, v in params.items())


def record(names: list[str], *, cassette_dir: Path, live: bool, region: str, ctx: ScenarioContext) -> None:
    """Record the named scenarios (overwriting their cassettes)."""
    cassette_dir.mkdir(parents=True, exist_ok=True)
    key_id = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
    secret = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
    for name in names:
        scenario = SCENARIOS[name]
        if live and not scenario.live:
            print(f"skip {name}: needs an injected fault", file=sys.stderr)
            continue
        path = cassette_dir / f"{name}.yaml"
        path.unlink(missing_ok=True)
        secrets = [TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, key_id, secret, *SCENARIO_PASSWORDS]
        recorder = make_vcr(record_mode="all", secrets=secrets, cassette_dir=cassette_dir)
        if live:
            url = f"aliyun://?region={region}"
            if scenario.wrong_secret:
                url = f"aliyun://{key_id}:not-the-secret@{region}"
            _run(recorder, path, _with_params(url, scenario.url_params), scenario, ctx)
            continue
        with AliyunEmulator(clock=RECORDED_AT.timestamp) as emu:
            url = emu.url_with(**scenario.url_params)
            if scenario.wrong_secret:
                url = url.replace(TEST_ACCESS_KEY_SECRET, "not-the-secret")
            ctx.emulator = emu
            _run(recorder, path, url, scenario, ctx)
            ctx.emulator = None


def _run(recorder: Any, path: Path, url: str, scenario: Scenario, ctx: ScenarioContext) -> None:
    with recorder.use_cassette(path.name), scenario_client(url) as client:
        scenario.run(client, ctx)
    print(f"recorded {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", help=f"default: all ({', '.join(SCENARIOS)})")
    parser.add_argument("--live", action="store_true", help="record against the account in ALIBABA_CLOUD_ACCESS_KEY_*")
    parser.add_argument("--region", default="cn-hangzhou")
    parser.add_argument("--dir", type=Path, default=CASSETTE_DIR)
    parser.add_argument("--sender", default=SENDER, help="a verified trigger sender address (live)")
    parser.add_argument("--batch-sender", default=BATCH_SENDER, help="a verified batch sender address (live)")
    parser.add_argument("--template-id", default="100001")
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.live and not (
        os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID") and os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    ):
        parser.error("--live needs ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    ctx = ScenarioContext(
        sender=args.sender,
        batch_sender=args.batch_sender,
        template_id=args.template_id,
        live=args.live,
    )
    record(args.scenarios or list(SCENARIOS), cassette_dir=args.dir, live=args.live, region=args.region, ctx=ctx)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
