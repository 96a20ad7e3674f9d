"""Issue 6 on Direct Mail: sender domains, sender addresses, SMTP passwords, reply-to and templates.

Exact wire parameters (httpx.MockTransport), the password rules (checked before any call),
DM's template syntax both ways, and the emulator flow end to end (the done-when of issue 6).
"""

from __future__ import annotations

import html as html_lib
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner
from mailbridge_aliyun import AliyunBackend
from mailbridge_aliyun._backend import check_smtp_password
from mailbridge_aliyun.cassettes import CASSETTE_DIR, SCRUBBED_PASSWORD, make_vcr
from mailbridge_aliyun.emulator import AliyunEmulator, render_dm
from mailbridge_aliyun.record import SCENARIO_PASSWORDS, SCENARIOS, ScenarioContext, replay_url, scenario_client

import mailbridge
from mailbridge import (
    AlreadyExists,
    Client,
    InvalidRequest,
    LimitExceeded,
    NotFound,
    Secret,
    SenderAddress,
    SenderNotFound,
    Template,
    TemplateSyntax,
)
from mailbridge.cli import cli

from .test_wire import Wire, backend

DOMAIN_LISTING = {
    "DomainId": 158910, "DomainName": "mail.example.net", "DomainStatus": "1", "ConfirmStatus": "1",
    "CnameAuthStatus": "1", "MxAuthStatus": "1", "SpfAuthStatus": "1", "IcpStatus": "1",
    "DomainRecord": "0c40d5f125af4e42892a",
}  # fmt: skip
# A DescDomain body with the current SDK's fields (DKIM, DMARC, SpfRecordV2, HostRecord, TracefRecord).
DESC = {
    "DomainId": "158910", "DomainName": "mail.example.net", "DomainStatus": "4", "TlDomainName": "example.net",
    "CnameAuthStatus": "0", "CnameConfirmStatus": "1", "MxAuthStatus": "0", "SpfAuthStatus": "0",
    "DkimAuthStatus": "0", "DmarcAuthStatus": 1, "DomainType": "0c40d5f125af4e42892a",
    "HostRecord": "aliyundm.mail", "SpfRecord": "include:spf1.dm.aliyun.com",
    "SpfRecordV2": "v=spf1 include:spf1.dm.aliyun.com -all", "MxRecord": "mx01.dm.aliyun.com",
    "CnameRecord": "dmtrace", "TracefRecord": "tracedm.aliyuncs.com",
    "DkimRR": "aliyun-cn-hangzhou._domainkey.mail", "DkimPublicKey": "v=DKIM1; k=rsa; p=MIGf",
    "DmarcHostRecord": "_dmarc.mail", "DmarcRecord": "v=DMARC1;p=none",
}  # fmt: skip
SENDER_ROW = {
    "MailAddressId": 237915, "AccountName": "alerts@mail.example.net", "Sendtype": "trigger", "AccountStatus": 0,
    "ReplyAddress": "ops@example.net", "ReplyStatus": 1,
}  # fmt: skip
GOOD_PASSWORD = "Tr0ub4dorXy9"
DM = TemplateSyntax("Alibaba Cloud Direct Mail", "{", "}")


def _listing(*rows: dict[str, Any], key: str = "domain") -> dict[str, Any]:
    return {"TotalCount": len(rows), "data": {key: list(rows)}}


# --------------------------------------------------------------------------- sender domains on the wire


def test_create_domain_sends_the_name_and_reads_the_records() -> None:
    wire = Wire({"CreateDomain": {"DomainId": 158910}, "DescDomain": DESC})
    domain = backend(wire).create_domain("mail.example.net")
    assert wire.actions() == ["CreateDomain", "DescDomain"]
    assert wire.params(0) == {"DomainName": "mail.example.net"}
    assert wire.params(1) == {"DomainId": "158910"}
    assert (domain.name, domain.id, domain.verified, domain.status) == (
        "mail.example.net",
        "158910",
        True,  # DomainStatus 4: "available but not configured with a CNAME record"
        "no_cname",
    )
    assert [(r.type, r.host, r.value, r.purpose, r.verified) for r in domain.records] == [
        ("TXT", "aliyundm.mail.example.net", "0c40d5f125af4e42892a", "ownership", True),
        ("TXT", "mail.example.net", "v=spf1 include:spf1.dm.aliyun.com -all", "spf", True),
        ("TXT", "aliyun-cn-hangzhou._domainkey.mail.example.net", "v=DKIM1; k=rsa; p=MIGf", "dkim", True),
        ("MX", "mail.example.net", "mx01.dm.aliyun.com", "mx", True),
        ("CNAME", "dmtrace.mail.example.net", "tracedm.aliyuncs.com", "tracking", False),
        ("TXT", "_dmarc.mail.example.net", "v=DMARC1;p=none", "dmarc", False),
    ]


@pytest.mark.parametrize("name", ["x" * 47 + ".com" + "x", "under_score.example.com"])
def test_create_domain_checks_the_documented_name_rules_first(name: str) -> None:
    wire = Wire()
    with pytest.raises(InvalidRequest, match="1-50"):
        backend(wire).create_domain(name)
    assert wire.requests == []


def test_verify_and_delete_domain_resolve_the_id_first() -> None:
    wire = Wire(
        {"QueryDomainByParam": _listing(DOMAIN_LISTING), "CheckDomain": {"DomainStatus": 0}, "DescDomain": DESC}
    )
    b = backend(wire)
    checked = b.verify_domain("mail.example.net")
    assert wire.actions() == ["QueryDomainByParam", "CheckDomain", "DescDomain"]
    assert wire.params(0) == {"KeyWord": "mail.example.net", "PageNo": "1", "PageSize": "50"}
    assert wire.params(1) == {"DomainId": "158910"}
    assert checked.status == "no_cname"  # DescDomain's answer is the state that is returned
    b.delete_domain("mail.example.net")
    assert wire.actions()[-2:] == ["QueryDomainByParam", "DeleteDomain"]
    assert wire.params() == {"DomainId": "158910"}
    with pytest.raises(NotFound):
        b.delete_domain("other.example.net")


def test_record_hosts_are_qualified_relative_to_the_primary_domain() -> None:
    from mailbridge_aliyun._parse import domain

    body = {**DESC, "HostRecord": "aliyundm", "DkimRR": "s1._domainkey.mail.example.net", "DmarcHostRecord": "_dmarc"}
    hosts = {r.purpose: r.host for r in domain(body, with_records=True).records}
    assert hosts["ownership"] == "aliyundm.mail.example.net"
    assert hosts["dkim"] == "s1._domainkey.mail.example.net"
    assert hosts["dmarc"] == "_dmarc.mail.example.net"
    old = {k: v for k, v in DESC.items() if k not in {"HostRecord", "SpfRecordV2", "TracefRecord"}}
    old["TraceRecord"] = "tracedm.aliyuncs.com"  # seed 003's table spelling
    records = {r.purpose: r for r in domain(old, with_records=True).records}
    assert records["ownership"].host == "aliyundm.mail.example.net"
    assert records["spf"].value == "v=spf1 include:spf1.dm.aliyun.com -all"
    assert records["tracking"].value == "tracedm.aliyuncs.com"


# --------------------------------------------------------------------------- sender addresses on the wire


@pytest.mark.parametrize(("kind", "sendtype"), [("transactional", "trigger"), ("batch", "batch"), (None, "trigger")])
def test_create_sender_maps_the_kind_to_sendtype(kind: str | None, sendtype: str) -> None:
    wire = Wire({"QueryMailAddressByParam": _listing(key="mailAddress"), "CreateMailAddress": {"MailAddressId": "9"}})
    sender = backend(wire).create_sender("a@mail.example.net", kind=kind, reply_to="r@example.net")
    assert wire.actions() == ["QueryMailAddressByParam", "CreateMailAddress"]
    assert wire.params(0) == {"KeyWord": "a@mail.example.net", "PageNo": "1", "PageSize": "50"}
    assert wire.params() == {"AccountName": "a@mail.example.net", "Sendtype": sendtype, "ReplyAddress": "r@example.net"}
    assert (sender.id, sender.kind, sender.reply_to, sender.status) == (
        "9",
        kind or "transactional",
        "r@example.net",
        "reply-to pending",
    )


def test_create_sender_refuses_an_existing_address() -> None:
    wire = Wire({"QueryMailAddressByParam": _listing(SENDER_ROW, key="mailAddress")})
    with pytest.raises(AlreadyExists):
        backend(wire).create_sender("Alerts@mail.example.net")
    assert wire.actions() == ["QueryMailAddressByParam"]


def test_senders_parse_kind_and_reply_status() -> None:
    rows = [
        SENDER_ROW,
        {**SENDER_ROW, "MailAddressId": 2, "ReplyStatus": 0},
        {**SENDER_ROW, "MailAddressId": 3, "Sendtype": "batch", "ReplyAddress": ""},
        {**SENDER_ROW, "MailAddressId": 4, "AccountStatus": 1},
    ]
    wire = Wire({"QueryMailAddressByParam": _listing(*rows, key="mailAddress")})
    assert [(s.id, s.kind, s.status) for s in backend(wire).list_senders()] == [
        ("237915", "transactional", "reply-to pending"),
        ("2", "transactional", "reply-to verified"),
        ("3", "batch", "normal"),
        ("4", "transactional", "frozen"),
    ]


def test_delete_sender_uses_the_id_or_looks_it_up() -> None:
    wire = Wire({"QueryMailAddressByParam": _listing(SENDER_ROW, key="mailAddress")})
    b = backend(wire)
    b.delete_sender(SenderAddress("x@mail.example.net", "aliyun", id="77"))
    assert (wire.actions(), wire.params()) == (["DeleteMailAddress"], {"MailAddressId": "77"})
    b.delete_sender(SenderAddress("alerts@mail.example.net", "aliyun"))
    assert wire.actions()[-2:] == ["QueryMailAddressByParam", "DeleteMailAddress"]
    assert wire.params() == {"MailAddressId": "237915"}
    with pytest.raises(SenderNotFound):
        b.delete_sender(SenderAddress("nobody@mail.example.net", "aliyun"))


def test_set_sender_password_is_modify_mail_address() -> None:
    wire = Wire()
    backend(wire).set_sender_password(SenderAddress("a@x.net", "aliyun", id="77"), Secret(GOOD_PASSWORD))
    assert (wire.actions(), wire.params()) == (
        ["ModifyMailAddress"],
        {"MailAddressId": "77", "Password": GOOD_PASSWORD},
    )


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab12cd34E", "10 to 20 characters"),  # 9
        ("Ab12cd34EfGh56ij78KlM", "10 to 20 characters"),  # 21
        ("abcdefgh12", "upper-case"),
        ("ABCDEFGH12", "lower-case"),
        ("Abcdefghij", "digits"),
        ("AAbbcc1xyz", "two digits"),  # one digit
        ("AbCdEf1111", "one digit repeated"),
        ("AAaa111222", "letters"),  # fine: shows the rule is about single characters
    ],
)
def test_password_rules_are_checked_before_any_call(
    password: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The documented ModifyMailAddress rules; the password is in no error text or log."""
    problem = check_smtp_password(Secret(password))
    if password == "AAaa111222":
        assert problem is None
        return
    wire = Wire()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(InvalidRequest, match=reason) as info:
        backend(wire).set_sender_password(SenderAddress("a@x.net", "aliyun", id="77"), Secret(password))
    assert wire.requests == []
    exc = info.value
    text = str(exc) + repr(exc) + json.dumps(exc.context(), default=str) + caplog.text
    assert password not in text


def test_verify_reply_to_and_approve() -> None:
    wire = Wire({"QueryMailAddressByParam": _listing(SENDER_ROW, key="mailAddress")})
    b = backend(wire)
    b.verify_reply_to(SenderAddress("alerts@mail.example.net", "aliyun", id="237915", reply_to="ops@example.net"))
    assert (wire.actions(), wire.params()) == (["CheckReplyToMailAddress"], {"MailAddressId": "237915"})
    b.approve_reply_to("ticket-1")
    assert (wire.actions()[-1], wire.params()) == ("ApproveReplyMailAddress", {"Ticket": "ticket-1"})
    with pytest.raises(InvalidRequest, match="no reply-to"):
        b.verify_reply_to(SenderAddress("b@mail.example.net", "aliyun"))


# --------------------------------------------------------------------------- templates and DM's syntax


def test_backend_declares_dm_syntax() -> None:
    assert AliyunBackend.template_syntax == DM


@pytest.mark.parametrize(
    ("neutral", "dm"),
    [
        ("Hi {{name}}", "Hi {name}"),
        ("Hi {{ name }}, code {{code_2}}", "Hi {name}, code {code_2}"),
        ("<style>p { margin: 0 }</style>{{x}}", "<style>p { margin: 0 }</style>{x}"),
        ("no variables", "no variables"),
    ],
)
def test_translation_neutral_to_dm(neutral: str, dm: str) -> None:
    assert DM.to_provider(neutral) == dm


@pytest.mark.parametrize(
    ("dm", "neutral"),
    [("Hi {name}", "Hi {{name}}"), ("{a}{b}", "{{a}}{{b}}"), ("p { color: red }", "p { color: red }")],
)
def test_translation_dm_to_neutral(dm: str, neutral: str) -> None:
    assert DM.from_provider(dm) == neutral
    assert DM.to_provider(neutral) == dm  # and back


@pytest.mark.parametrize(
    ("text", "construct"),
    [("Price: {price}", "'{price}'"), ("{{#if vip}}VIP{{/if}}", "'{{#if vip}}'"), ("{{ user.name }}", "user.name")],
)
def test_constructs_dm_cannot_express_are_refused_before_any_call(text: str, construct: str) -> None:
    wire = Wire()
    with pytest.raises(InvalidRequest, match="Direct Mail") as info:
        backend(wire).create_template("t", subject="s", html=text)
    assert construct in str(info.value)
    assert wire.requests == []


def test_dm_text_that_looks_neutral_is_refused_on_read() -> None:
    desc = {"TemplateName": "legacy", "TemplateSubject": "s", "TemplateText": "literal {{not_a_var}}"}
    with pytest.raises(InvalidRequest, match=r"legacy.*\{\{not_a_var\}\}"):
        backend(Wire({"DescTemplate": desc})).get_template("1")


def test_update_template_is_modify_template() -> None:
    wire = Wire()
    template = Template(id="415366", name="welcome", provider="aliyun")
    updated = backend(wire).update_template(template, subject="Hi {{name}}", html="<p>{{name}}</p>")
    assert wire.actions() == ["ModifyTemplate"]
    assert wire.params() == {
        "TemplateId": "415366",
        "TemplateName": "welcome",
        "TemplateSubject": "Hi {name}",
        "TemplateText": "<p>{name}</p>",
    }
    assert (updated.id, updated.subject, updated.status) == ("415366", "Hi {{name}}", "pending")


TEMPLATES = [
    ("mb-welcome", "Welcome {{name}}", "<p>Hello {{name}}, your plan is {{plan}}.</p>", None),
    ("mb-reset", "Reset for {{ name }}", None, "Hi {{name}},\nuse code {{code}} (not {{missing}})."),
    ("mb-receipt", "Receipt {{order}}", "<b>{{order}}</b> <style>p { margin: 0 }</style>", None),
]
DATA = {"name": "Ada <3", "plan": "pro", "code": "123456", "order": "A-17"}


def test_templates_render_the_same_on_dm_and_in_mailbridge(client: Client, emulator: AliyunEmulator) -> None:
    """Created through the client, rendered by the emulator's DM renderer = mailbridge.render_template."""
    for name, subject, html, text in TEMPLATES:
        created = client.create_template(name, subject=subject, html=html, text=text)
        stored = client.get_template(created.id)
        assert stored.parts() == {"subject": subject, "html": html, "text": text}  # every part kept (catalog)
        cloud = client.backend.get_template(created.id)  # what DM holds: one HTML body
        dm_subject, dm_html, dm_text = emulator.render_template(created.id, DATA)
        dm_body = dm_html or dm_text
        assert dm_subject == mailbridge.render_template(subject, DATA)
        assert dm_body == mailbridge.render_template(cloud.html, DATA)
        if html is not None:
            assert cloud.html == html.replace("{{ ", "{{").replace(" }}", "}}")
            assert dm_body == mailbridge.render_template(html, DATA)
    assert render_dm("{{name}}", {"name": "x"}) == "{x}"  # DM itself would not read the neutral syntax


def test_a_literal_brace_is_refused_on_the_emulator_before_any_call(client: Client, emulator: AliyunEmulator) -> None:
    with pytest.raises(InvalidRequest, match="would be read as a variable on Alibaba Cloud Direct Mail"):
        client.create_template("mb-x", subject="s", text="JSON looks like {key}")
    assert emulator.calls("CreateTemplate") == []


# --------------------------------------------------------------------------- the emulator flow (issue 6's done-when)


def test_domain_two_senders_three_templates_on_the_emulator(client: Client, emulator: AliyunEmulator) -> None:
    domain = client.create_domain("Shop.Example.org")
    assert (domain.name, domain.verified, domain.status) == ("shop.example.org", False, "verification_failed")
    records = client.domain("shop.example.org").records
    assert [(r.type, r.purpose) for r in records] == [
        ("TXT", "ownership"),
        ("TXT", "spf"),
        ("TXT", "dkim"),
        ("MX", "mx"),
        ("CNAME", "tracking"),
        ("TXT", "dmarc"),
    ]
    assert all(r.host.endswith("shop.example.org") and r.value and r.verified is False for r in records)
    expected = emulator.domains["shop.example.org"].expected()
    assert {r.purpose: r.value for r in records} == {p: v for p, (_t, _h, v) in expected.items()}

    transactional = client.create_sender("orders@shop.example.org", kind="transactional", reply_to="help@example.org")
    batch = client.create_sender("news@shop.example.org", kind="batch")
    created = [client.create_template(n, subject=s, html=h, text=t) for n, s, h, t in TEMPLATES]

    assert "shop.example.org" in [d.name for d in client.domains()]
    senders = {s.address: s for s in client.senders()}
    assert senders["orders@shop.example.org"] == transactional and senders["news@shop.example.org"] == batch
    by_name = {t.name: t for t in client.templates()}
    for template, (name, subject, _html, _text) in zip(created, TEMPLATES, strict=True):
        read = client.get_template(template.id)
        assert by_name[name].id == template.id
        assert read.subject == subject  # as given (the catalog keeps what DM would normalise)
        stored = emulator.state.templates[template.id]  # what DM holds: its own syntax
        assert stored.subject == DM.to_provider(read.subject) and "{{" not in (stored.html or "")
        assert "{{" in (read.html or read.text or "")  # read back in the neutral syntax

    assert client.verify_domain("shop.example.org").verified is False  # nothing published yet
    emulator.publish_dns("shop.example.org", ("ownership", "spf", "dkim", "mx"))
    partial = client.verify_domain("shop.example.org")
    assert (partial.verified, partial.status) == (True, "no_cname")
    assert [r.purpose for r in partial.records if not r.verified] == ["tracking", "dmarc"]
    emulator.publish_dns("shop.example.org")
    final = client.verify_domain("shop.example.org")
    assert (final.verified, final.status) == (True, "verified") and all(r.verified for r in final.records)
    assert client.domain("shop.example.org").verified is True


def test_publishing_over_the_control_endpoint(emulator: AliyunEmulator, client: Client) -> None:
    client.create_domain("mail.example.org")
    with httpx.Client(base_url=emulator.endpoint) as http:
        assert http.post("/_emulator/dns", json={"domain": "mail.example.org"}).status_code == 200
        assert http.post("/_emulator/dns", json={"domain": "nope.example"}).status_code == 404
        assert http.post("/_emulator/dns", json={}).status_code == 400
        state = http.get("/_emulator/state").json()
    assert {
        "name": "mail.example.org",
        "status": "1",
        "published": sorted(emulator.domains["mail.example.org"].published),
    } in state["domains"]
    assert client.verify_domain("mail.example.org").verified is True


def test_emulator_limits_and_errors(client: Client) -> None:
    with AliyunEmulator(max_domains=2) as emu, scenario_client(emu.url) as small:
        with pytest.raises(LimitExceeded) as info:
            small.create_domain("third.example.org")  # two are seeded
        assert info.value.provider_code == "InvalidDomainNumber.Malformed"
    with pytest.raises(AlreadyExists):
        client.create_domain("mail.example.com")
    with pytest.raises(SenderNotFound):
        client.create_sender("a@not-registered.example.org")
    with pytest.raises(InvalidRequest) as bad:
        client.create_template("t" * 31, subject="s", text="t")
    assert bad.value.provider_code == "InvalidTemplateName.Malformed"
    with pytest.raises(InvalidRequest, match="Ticket"):
        client.backend.approve_reply_to("not-a-ticket")  # type: ignore[attr-defined]
    with pytest.raises(InvalidRequest, match="no reply-to"):
        client.verify_reply_to("news@mail.example.com")
    with pytest.raises(InvalidRequest):  # past the backend's check: the emulator enforces the rules too
        client.backend.api.call(
            "ModifyMailAddress", {"MailAddressId": "237915", "Password": "short"}, operation="senders"
        )  # type: ignore[attr-defined]


def test_emulator_keeps_no_password_in_plain_text(client: Client, emulator: AliyunEmulator) -> None:
    client.set_sender_password("noreply@mail.example.com", GOOD_PASSWORD)
    assert emulator.smtp_password_matches("noreply@mail.example.com", GOOD_PASSWORD)
    assert not emulator.smtp_password_matches("noreply@mail.example.com", GOOD_PASSWORD + "x")
    client.backend.api.call(  # type: ignore[attr-defined]
        "ModifyPWByDomain", {"DomainName": "mail.example.com", "Password": "Domain23Pw"}, operation="senders"
    )
    assert [c["Password"] for c in emulator.calls("ModifyMailAddress") + emulator.calls("ModifyPWByDomain")] == [
        "***",
        "***",
    ]
    with httpx.Client(base_url=emulator.endpoint) as http:
        served = http.get("/_emulator/state").text
    everything = served + repr(emulator.requests) + repr(emulator.senders) + repr(vars(emulator.state))
    assert GOOD_PASSWORD not in everything and "Domain23Pw" not in everything


def test_reply_to_verification_flow(client: Client, emulator: AliyunEmulator) -> None:
    sender = client.create_sender("mb@mail.example.com", reply_to="me@example.org")
    client.verify_reply_to("mb@mail.example.com")
    assert client.sender("mb@mail.example.com").status == "reply-to pending"
    client.backend.approve_reply_to(emulator.reply_to_ticket(sender.address))  # type: ignore[attr-defined]
    assert client.sender("mb@mail.example.com").status == "reply-to verified"


def test_cli_domains_show_on_the_emulator(emulator: AliyunEmulator) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["--url", emulator.url, "--json", "domains", "add", "cli.example.org"])
    assert added.exit_code == 0, added.stderr
    shown = runner.invoke(cli, ["--url", emulator.url, "domains", "show", "cli.example.org"])
    assert shown.exit_code == 0, shown.stderr
    assert "aliyundm.cli.example.org" in shown.stdout and "_dmarc.cli.example.org" in shown.stdout


# --------------------------------------------------------------------------- no password in any cassette


def test_no_cassette_holds_an_smtp_password() -> None:
    texts = [p.read_text() for p in sorted(CASSETTE_DIR.rglob("*.yaml"))]
    for password in SCENARIO_PASSWORDS:
        assert not any(password in text for text in texts)
    bodies = [
        str(i["request"]["body"])
        for p in CASSETTE_DIR.glob("*.yaml")
        for i in yaml.safe_load(p.read_text())["interactions"]
    ]
    passwords = [b for b in bodies if "Password=" in b]
    assert passwords, "the senders scenario sets a password"
    assert all(f"Password={SCRUBBED_PASSWORD}" in b for b in passwords), passwords


def test_a_fresh_recording_scrubs_the_password(tmp_path: Path) -> None:
    from mailbridge_aliyun.record import main

    assert main(["--dir", str(tmp_path), "senders"]) == 0
    text = (tmp_path / "senders.yaml").read_text()
    assert SCENARIO_PASSWORDS[0] not in text and f"Password={SCRUBBED_PASSWORD}" in text
    with (
        make_vcr(record_mode="none", cassette_dir=tmp_path).use_cassette("senders.yaml") as cassette,
        scenario_client(replay_url()) as replayed,
    ):
        SCENARIOS["senders"].run(replayed, ScenarioContext())
    assert cassette.all_played


def test_inline_group_content_is_written_in_dm_syntax(client: Client, emulator: AliyunEmulator) -> None:
    """BatchSendMail's TemplateContent is a DM template too: {{name}} goes out as {name} and renders."""
    client.create_group("inline")
    client.upload("inline", [mailbridge.Recipient("ada@example.com", name="Ada")])
    message = mailbridge.Message(sender="news@mail.example.com", to=(), subject="Hi {{name}}", html="<p>{{name}}</p>")
    client.send_to_group("inline", message)
    content = json.loads(emulator.calls("BatchSendMail")[0]["TemplateContent"])
    assert (content["Subject"], content["HtmlBody"]) == ("Hi {name}", "<p>{name}</p>")
    assert emulator.sent_mail[0].subject == "Hi Ada"


# --------------------------------------------------------------------------- rates (reference A.6)

# The DM actions behind each neutral operation of issue 6.
ACTIONS_OF = {
    "domains": ["CheckDomain"],  # the only domain action A.6 lists
    "senders": ["QueryMailAddressByParam", "ApproveReplyMailAddress", "DeleteMailAddress", "ModifyMailAddress"],
    "templates": ["ModifyTemplate", "DeleteTemplate", "DescTemplate", "QueryTemplateByParam"],
}


@pytest.mark.parametrize("operation", sorted(ACTIONS_OF))
def test_declared_rates_stay_within_every_documented_quota(operation: str) -> None:
    from mailbridge_aliyun.emulator._wire import QUOTAS

    rate = AliyunBackend.limits.rate_for(operation)
    assert rate is not None
    for action in ACTIONS_OF[operation]:
        calls, per = QUOTAS[action]
        assert rate.calls / rate.per <= calls / per, (operation, action)
    assert min(QUOTAS[a][0] / QUOTAS[a][1] for a in ACTIONS_OF[operation]) == rate.calls / rate.per


def test_emulator_enforces_the_documented_quotas_when_asked() -> None:
    with AliyunEmulator(quotas=True) as emu, scenario_client(emu.url) as client:
        for _ in range(10):
            client.verify_domain("unverified.example")
        with pytest.raises(mailbridge.RateLimited) as info:
            client.verify_domain("unverified.example")
        assert info.value.provider_code == "Throttling.User"
        assert len(emu.calls("CheckDomain")) == 11  # the 11th was refused at the gateway


def test_setting_a_password_logs_nothing_of_it(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client.set_sender_password("noreply@mail.example.com", GOOD_PASSWORD)
    assert GOOD_PASSWORD not in caplog.text


# --------------------------------------------------------------------------- migrate --setup with Direct Mail as target


def test_setup_migration_onto_direct_mail(tmp_path: Path, client: Client, emulator: AliyunEmulator) -> None:
    """local -> DM emulator: pending DNS on the first run, verified after publish_dns; templates render alike."""
    with mailbridge.connect(f"local://{tmp_path}") as source:
        source.create_domain("shop.example.org")
        source.create_sender("news@shop.example.org", kind="batch", reply_to="help@example.org")
        source.create_sender("alerts@shop.example.org", kind="transactional")
        for name, subject, html, text in TEMPLATES:
            source.create_template(name, subject=subject, html=html, text=text)
        plan = mailbridge.plan_setup(source, client)
        assert {i.action for i in plan.items} == {"create"} and len(plan.items) == 6
        first = mailbridge.apply_setup(source, client)
        actions = {i.name: i.action for i in first.items}
        assert actions["shop.example.org"] == "pending-dns" and not first.complete, actions
        pending = next(i for i in first.items if i.kind == "domain").records
        assert {r.purpose for r in pending} == {"ownership", "spf", "dkim", "mx", "tracking", "dmarc"}
        expected = emulator.domains["shop.example.org"].expected()
        assert {r.purpose: r.value for r in pending} == {p: v for p, (_t, _h, v) in expected.items()}
        emulator.publish_dns("shop.example.org")
        second = mailbridge.apply_setup(source, client)
        assert second.complete, second.as_dict()
        sender = client.sender("news@shop.example.org")
        assert (sender.kind, sender.reply_to) == ("batch", "help@example.org")
        on_dm = {t.name: t for t in client.templates()}
        for t in source.templates():
            dm_subject, dm_html, dm_text = emulator.render_template(on_dm[t.name].id, DATA)
            dm_body = dm_html or dm_text
            assert dm_subject == mailbridge.render_template(t.subject, DATA)
            if t.html is not None:
                assert dm_body == mailbridge.render_template(t.html, DATA)
            else:  # a text template becomes one escaped HTML body on DM (newlines as <br>)
                assert on_dm[t.name].html == html_lib.escape(t.text or "").replace("\n", "<br>")
                assert dm_body == mailbridge.render_template(on_dm[t.name].html, DATA)


def test_setup_migration_from_direct_mail(tmp_path: Path, client: Client) -> None:
    """DM emulator -> local: every DM domain, sender and template is recreated, templates in neutral syntax."""
    client.create_template("mb-dm", subject="Hi {{name}}", html="<p>{{name}}</p>")
    with mailbridge.connect(f"local://{tmp_path}") as target:
        report = mailbridge.apply_setup(client, target)
        assert report.complete, report.as_dict()
        assert {d.name for d in target.domains()} == {d.name for d in client.domains()}
        assert {s.address: s.kind for s in target.senders()} == {s.address: s.kind for s in client.senders()}
        local = {t.name: t for t in target.templates()}
        assert (local["mb-dm"].subject, local["mb-dm"].html) == ("Hi {{name}}", "<p>{{name}}</p>")
