"""Templates by name, with every part kept, on local and both emulators (issue 11).

The same calls give the same neutral result on every backend: a template is found by its
name or its id, its subject, text and HTML survive a new process (the catalog keeps what the
cloud cannot store), sends name it and take its subject, and what mailbridge does not know
is reported as ``missing`` rather than invented.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Message
from mailbridge._catalog import CATALOG_ENV, RedisCatalog, SqliteCatalog, content_digest, open_catalog
from mailbridge.cli import ExitStatus, cli

from ..redis_server import redis_server

SENDER = "noreply@mail.example.com"
SUBJECT, HTML, TEXT = (
    "Welcome {{name}}",
    "<p>Hello {{name}}, the {{plan}} plan.</p>",
    "Hello {{name}},\nthe {{plan}} plan.",
)
DATA = {"name": "Ada", "plan": "pro"}


class Backend:
    """One backend under test: its URL, and what it sent (normalised)."""

    def __init__(self, kind: str, url: str, emulator: Any = None, directory: Path | None = None) -> None:
        self.kind, self.url, self.emulator, self.directory = kind, url, emulator, directory

    def connect(self, **options: Any) -> mailbridge.Client:
        options.setdefault("retry", mailbridge.RetryPolicy(attempts=1))
        return mailbridge.connect(self.url, **options)

    def sends(self) -> list[dict[str, Any]]:
        """(subject, provider template id) of every single send the provider took."""
        if self.kind == "aliyun":
            return [
                {"subject": m.params.get("Subject"), "template": json.loads(m.params["Template"])["TemplateId"]}
                for m in self.emulator.sent_mail
                if m.action == "SingleSendMail"
            ]
        if self.kind == "tencent":
            return [{"subject": m["subject"], "template": str(m["template_id"])} for m in self.emulator.sent_mail]
        assert self.directory is not None
        import mailbox

        return [{"subject": str(m["Subject"]), "template": None} for m in mailbox.Maildir(self.directory / "outbox")]

    def calls(self, action: str) -> int:
        if self.kind == "aliyun":
            return len(self.emulator.calls(action))
        if self.kind == "tencent":
            return sum(1 for r in self.emulator.requests if r["action"] == action)
        return 0


@pytest.fixture(params=["local", "aliyun", "tencent"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        yield Backend("local", f"local://{tmp_path / 'local'}", directory=tmp_path / "local")
    elif request.param == "aliyun":
        with AliyunEmulator() as dm:
            dm.add_sender(SENDER)
            yield Backend("aliyun", dm.url + "&rate_limit=off", dm)
    else:
        with TencentEmulator(rate=0) as ses:
            yield Backend("tencent", ses.url + "&rate_limit=off", ses)


# --------------------------------------------------------------------------- one meaning everywhere


def test_every_part_survives_a_new_process_and_name_or_id_give_the_same(backend: Backend) -> None:
    with backend.connect() as client:
        created = client.create_template("mb-welcome", subject=SUBJECT, html=HTML, text=TEXT)
    assert created.parts() == {"subject": SUBJECT, "html": HTML, "text": TEXT} and created.missing == ()
    with backend.connect() as fresh:  # a new client: nothing in memory
        by_name = fresh.get_template("mb-welcome")
        by_id = fresh.get_template(created.id)
    assert by_name == by_id
    assert (by_name.id, by_name.name, by_name.parts(), by_name.missing) == (
        created.id,
        "mb-welcome",
        {"subject": SUBJECT, "html": HTML, "text": TEXT},
        (),
    )


def test_a_send_by_name_takes_the_templates_subject_rendered(backend: Backend) -> None:
    with backend.connect() as client:
        created = client.create_template("mb-welcome", subject=SUBJECT, html=HTML, text=TEXT)
    with backend.connect() as fresh:
        result = fresh.send(Message(sender=SENDER, to="ann@example.com", template="mb-welcome", template_data=DATA))
    assert result.receipts[0].provider == backend.kind
    sent = backend.sends()
    assert [s["subject"] for s in sent] == ["Welcome Ada"]
    if backend.kind != "local":
        assert sent[0]["template"] == created.id  # this provider's own id, resolved from the name


def test_show_by_name_or_id_has_one_exit_code_everywhere(backend: Backend) -> None:
    with backend.connect() as client:
        created = client.create_template("mb-welcome", subject=SUBJECT, html=HTML, text=TEXT)
    runner = CliRunner()
    shown = [
        runner.invoke(cli, ["--json", "--url", backend.url, "templates", "show", key])
        for key in ("mb-welcome", created.id)
    ]
    assert [r.exit_code for r in shown] == [0, 0], [r.output for r in shown]
    assert json.loads(shown[0].stdout) == json.loads(shown[1].stdout)
    assert json.loads(shown[0].stdout) | {"id": "-"} == {
        "id": "-",
        "name": "mb-welcome",
        "provider": backend.kind,
        "status": json.loads(shown[0].stdout)["status"],
        "subject": SUBJECT,
        "html": HTML,
        "text": TEXT,
        "missing": [],
    }
    missing = [runner.invoke(cli, ["--url", backend.url, "templates", "show", key]) for key in ("nosuch", "424242")]
    assert [r.exit_code for r in missing] == [ExitStatus.NOT_FOUND] * 2
    assert all("Traceback" not in r.output for r in missing)


def test_unknown_template_is_template_not_found(backend: Backend) -> None:
    with backend.connect() as client:
        for key in ("nosuch", "424242", "x y"):
            with pytest.raises(mailbridge.TemplateNotFound):
                client.get_template(key)
        with pytest.raises(mailbridge.TemplateNotFound):
            client.send(Message(sender=SENDER, to="ann@example.com", template="nosuch"))
    assert backend.sends() == []


def test_update_and_delete_by_name(backend: Backend) -> None:
    with backend.connect() as client:
        client.create_template("mb-promo", subject="Old", text="Old {{name}}")
        updated = client.update_template("mb-promo", subject="New {{name}}", html="<b>New</b>")
        assert updated.parts() == {"subject": "New {{name}}", "html": "<b>New</b>", "text": None}
    with backend.connect() as fresh:
        assert fresh.get_template("mb-promo").parts() == updated.parts()
        fresh.delete_template("mb-promo")
        with pytest.raises(mailbridge.TemplateNotFound):
            fresh.get_template("mb-promo")


def test_bad_input_is_refused_before_the_template_look_up(backend: Backend) -> None:
    with backend.connect() as client:
        with pytest.raises(mailbridge.InvalidAddress):
            client.send(Message(sender=SENDER, to="not-an-address", template="mb-welcome"))
        with pytest.raises(mailbridge.InvalidRequest, match="not both"):
            client.send(Message(sender=SENDER, to="a@example.com", template="mb-welcome", template_id="1"))
        with pytest.raises(mailbridge.InvalidRequest, match="not both"):
            client.send(Message(sender=SENDER, to="a@example.com", template="mb-welcome", text="x"))
    assert backend.calls("QueryTemplateByParam") + backend.calls("ListEmailTemplates") == 0


# --------------------------------------------------------------------------- what the clouds cannot store


def test_tencent_subject_is_kept_in_the_catalog_not_on_the_wire(tmp_path: Path) -> None:
    catalog = tmp_path / "cat.sqlite3"
    with TencentEmulator(rate=0) as ses:
        with mailbridge.connect(ses.url, template_catalog=str(catalog)) as client:
            created = client.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        (create,) = [r["params"] for r in ses.requests if r["action"] == "CreateEmailTemplate"]
        assert "Subject" not in json.dumps(create) and set(create["TemplateContent"]) == {"Html"}
        rows = sqlite3.connect(catalog).execute("SELECT account, name, entry FROM template_parts").fetchall()
        assert [(name, json.loads(entry)["parts"]) for _account, name, entry in rows] == [
            ("mb-welcome", {"subject": SUBJECT})
        ]
        assert json.loads(rows[0][2])["template_id"] == created.id
        assert json.loads(rows[0][2])["cloud_digest"] == content_digest({"subject": None, "html": HTML, "text": None})
        assert ses.secret_key not in rows[0][0] and ses.secret_id not in rows[0][0]  # account key, no secret


def test_direct_mail_text_is_kept_in_the_catalog(tmp_path: Path) -> None:
    with AliyunEmulator() as dm:
        with mailbridge.connect(dm.url) as client:
            client.create_template("mb-text-only", subject="Code {{code}}", text="Your code: {{code}}\n<not html>")
            client.create_template("mb-both", subject="S", html="<p>H</p>", text="T")
        creates = {c["TemplateName"]: c for c in dm.calls("CreateTemplate")}
        assert creates["mb-text-only"]["TemplateText"] == "Your code: {code}<br>&lt;not html&gt;"  # DM's one body
        assert creates["mb-both"]["TemplateText"] == "<p>H</p>"
        with mailbridge.connect(dm.url) as fresh:
            assert fresh.get_template("mb-text-only").parts() == {
                "subject": "Code {{code}}",
                "html": None,
                "text": "Your code: {{code}}\n<not html>",
            }
            assert fresh.get_template("mb-both").parts() == {"subject": "S", "html": "<p>H</p>", "text": "T"}


def test_template_made_outside_mailbridge_is_reported_missing_not_invented() -> None:
    with TencentEmulator(rate=0) as ses, mailbridge.connect(ses.url) as client:
        console = client.get_template("welcome")  # seeded by the emulator, as if made in the console
        assert (console.subject, console.missing) == (None, ("subject",))
        with pytest.raises(mailbridge.InvalidRequest, match="no known subject"):
            client.send(Message(sender=SENDER, to="a@example.com", template="welcome"))
        assert ses.sent_mail == []
        client.send(Message(sender=SENDER, to="a@example.com", template="welcome", subject="Hi {{name}}"))
        assert ses.sent_mail[-1]["subject"] == "Hi {{name}}"  # a given subject is the caller's, sent as given
        client.update_template("welcome", subject="Hello {{name}}", html="<p>{{name}}</p>")
        assert client.get_template("welcome").missing == ()
    with AliyunEmulator() as dm, mailbridge.connect(dm.url) as client:
        seeded = client.get_template("welcome")
        assert (seeded.subject, seeded.text, seeded.missing) == ("Welcome {{name}}", None, ("text",))


def test_template_changed_in_the_console_is_not_completed_with_stale_parts() -> None:
    with TencentEmulator(rate=0) as ses, mailbridge.connect(ses.url) as client:
        created = client.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        client.backend.update_template(created, subject="ignored", html="<p>changed in the console</p>")
        with mailbridge.connect(ses.url) as fresh:
            read = fresh.get_template("mb-welcome")
        assert (read.html, read.subject, read.missing) == ("<p>changed in the console</p>", None, ("subject",))


def test_catalog_off_refuses_what_would_be_lost_before_any_call() -> None:
    with TencentEmulator(rate=0) as ses, mailbridge.connect(ses.url + "&template_catalog=off") as client:
        with pytest.raises(mailbridge.UnsupportedFeature, match="subject"):
            client.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        assert not any(r["action"] == "CreateEmailTemplate" for r in ses.requests)
    with AliyunEmulator() as dm, mailbridge.connect(dm.url + "&template_catalog=off") as client:
        with pytest.raises(mailbridge.UnsupportedFeature, match="text"):
            client.create_template("mb-text", subject="S", text="T")
        assert dm.calls("CreateTemplate") == []
        html_only = client.create_template("mb-html", subject="S", html="<p>H</p>")  # nothing to lose
        assert (html_only.html, html_only.missing) == ("<p>H</p>", ("text",))


# --------------------------------------------------------------------------- the name -> id cache


def test_the_look_up_is_cached_and_refreshed_when_the_provider_forgets_the_id() -> None:
    with TencentEmulator(rate=0) as ses, mailbridge.connect(ses.url) as client:
        first = client.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        message = Message(sender=SENDER, to="a@example.com", template="mb-welcome", template_data=DATA)
        client.send(message)
        lookups = sum(1 for r in ses.requests if r["action"] in ("ListEmailTemplates", "GetEmailTemplate"))
        client.send(message)
        after = sum(1 for r in ses.requests if r["action"] in ("ListEmailTemplates", "GetEmailTemplate"))
        assert after == lookups, "the second send looked the template up again"
        with mailbridge.connect(ses.url) as other:  # another process replaces the template
            other.create_template("mb-filler", subject="s", text="t")  # the emulator reuses the highest free id
            other.delete_template("mb-welcome")
            second = other.create_template("mb-welcome", subject="Again {{name}}", html=HTML)
        assert second.id != first.id
        client.send(message)  # the cached id is refused (nothing sent), looked up again, sent once
    assert [(m["template_id"], m["subject"]) for m in ses.sent_mail] == [
        (int(first.id), "Welcome Ada"),
        (int(first.id), "Welcome Ada"),
        (int(second.id), "Again Ada"),
    ]


def test_a_fresh_look_up_that_fails_is_not_retried() -> None:
    with TencentEmulator(rate=0, template_review=True) as ses, mailbridge.connect(ses.url) as client:
        client.create_template("mb-new", subject="S", text="T")  # in review: SES refuses to send it
        with pytest.raises(mailbridge.TemplateNotFound):
            client.send(Message(sender=SENDER, to="a@example.com", template="mb-new"))
        assert sum(1 for r in ses.requests if r["action"] == "SendEmail") <= 1
        assert ses.sent_mail == []


# --------------------------------------------------------------------------- the catalog itself


def test_sqlite_catalog_is_shared_by_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    writer = (
        "import sys; from mailbridge._catalog import SqliteCatalog, CatalogEntry\n"
        "c = SqliteCatalog(sys.argv[1])\n"
        "for i in range(40): c.put('acct', f'{sys.argv[2]}{i}', CatalogEntry(str(i), {'subject': 's'}, 'd'))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", writer, str(path), p]) for p in ("a", "b", "c")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    catalog = SqliteCatalog(path)
    assert all(catalog.get("acct", f"{p}{i}") is not None for p in "abc" for i in range(40))
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
    catalog.delete("acct", "a0")
    assert SqliteCatalog(path).get("acct", "a0") is None and catalog.get("other", "b0") is None


def test_catalog_reads_create_nothing_and_locations_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = SqliteCatalog(tmp_path / "none" / "templates.sqlite3")
    assert reader.get("a", "b") is None and not (tmp_path / "none").exists()
    (tmp_path / "dir").mkdir()
    assert (
        isinstance(c := open_catalog(tmp_path / "dir"), SqliteCatalog)
        and c.path == tmp_path / "dir" / "templates.sqlite3"
    )
    assert open_catalog("off") is None
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path / "env.sqlite3"))
    assert isinstance(c := open_catalog(None), SqliteCatalog) and c.path == tmp_path / "env.sqlite3"
    monkeypatch.delenv(CATALOG_ENV)
    assert isinstance(c := open_catalog(None), SqliteCatalog) and c.path.name == "templates.sqlite3"
    assert "mailbridge" in str(c.path)


def test_unwritable_catalog_fails_before_the_cloud_call(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with (
        TencentEmulator(rate=0) as ses,
        mailbridge.connect(ses.url, template_catalog=str(blocker / "x.sqlite3")) as c,
    ):
        with pytest.raises(mailbridge.ConfigurationError, match="template catalog"):
            c.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        assert not any(r["action"] == "CreateEmailTemplate" for r in ses.requests)


def test_redis_catalog_shares_parts_between_clients(tmp_path: Path) -> None:
    with redis_server(tmp_path) as redis_url, TencentEmulator(rate=0) as ses:
        url = f"{ses.url}&template_catalog={redis_url}"
        with mailbridge.connect(url) as client:
            client.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        with mailbridge.connect(url) as other:
            assert other.get_template("mb-welcome").subject == SUBJECT
        secret = RedisCatalog("redis://user:hunter2@localhost:1/0")
        assert "hunter2" not in repr(secret) and "hunter2" not in secret.location


def test_semantics_page_says_where_each_part_lives_as_the_backends_declare() -> None:
    """docs/semantics.md's "Where each part lives" table is the backends' template_parts."""
    from mailbridge._registry import load_backend_class

    page = (Path(__file__).resolve().parents[2] / "docs" / "semantics.md").read_text(encoding="utf-8")
    section = page.split("### Where each part lives", 1)[1].split("\n\n", 2)[2]
    header, _rule, *rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("|")][:5]
    providers = [cell.strip() for cell in header[1:]]
    table = {row[0].strip(): dict(zip(providers, (c.strip() for c in row[1:]), strict=True)) for row in rows}
    assert set(table) == {"subject", "html", "text"} and providers == ["local", "aliyun", "tencent"]
    for provider in providers:
        parts = load_backend_class(provider).template_parts
        assert {p: ("cloud" if p in parts else "catalog") for p in table} == {p: table[p][provider] for p in table}


# --------------------------------------------------------------------------- the command line, as the issue tried it


def test_cli_create_then_send_by_name_in_separate_commands(backend: Backend, tmp_path: Path) -> None:
    """Issue 11: on Tencent the subject given to `templates create` was lost, so `send --template` failed."""
    html, text = tmp_path / "w.html", tmp_path / "w.txt"
    html.write_text(HTML, encoding="utf-8")
    text.write_text(TEXT, encoding="utf-8")
    runner = CliRunner()
    base = ["--json", "--url", backend.url]
    create = ["templates", "create", "mb-welcome", "--subject", SUBJECT, "--html-file", str(html), "--text-file"]
    created = runner.invoke(cli, [*base, *create, str(text)])
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout) | {"id": "-", "status": "-"} == {
        "id": "-",
        "status": "-",
        "name": "mb-welcome",
        "provider": backend.kind,
        "subject": SUBJECT,
        "html": HTML,
        "text": TEXT,
        "missing": [],
    }
    send = ["send", "--from", SENDER, "--to", "ann@example.com", "--template", "mb-welcome"]
    sent = runner.invoke(cli, [*base, *send, "--data", "name=Ada", "--data", "plan=pro"])
    assert sent.exit_code == 0, sent.output
    assert [s["subject"] for s in backend.sends()] == ["Welcome Ada"]


def test_migrate_without_setup_lists_only_templates_missing_or_different(tmp_path: Path) -> None:
    with (
        mailbridge.connect(f"local://{tmp_path / 'a'}") as source,
        mailbridge.connect(f"local://{tmp_path / 'b'}") as target,
    ):
        for name in ("same", "changed", "absent"):
            source.create_template(name, subject="S {{name}}", html="<p>{{name}}</p>")
        target.create_template("same", subject="S {{ name }}", html="<p>{{name}}</p>")  # equal as variables
        target.create_template("changed", subject="S {{name}}", html="<p>other</p>")
        steps = [s for s in mailbridge.plan_migration(source, target).manual_steps if s.startswith("template")]
        assert steps == [
            "template 'changed': differs on local (html)",
            "template 'absent': recreate it on local (or run migrate --setup)",
        ]
        plan = mailbridge.plan_setup(source, target)
        assert {i.name: (i.action, i.detail) for i in plan.items if i.kind == "template"} == {
            "same": ("same", None),
            "changed": ("differs", "html"),
            "absent": ("create", None),
        }


def test_setup_refuses_a_source_template_whose_subject_nobody_knows(tmp_path: Path) -> None:
    with (
        TencentEmulator(rate=0) as ses,
        mailbridge.connect(ses.url) as source,
        mailbridge.connect(f"local://{tmp_path}") as target,
    ):
        report = mailbridge.apply_setup(source, target)
        items = {i.name: i for i in report.items if i.kind == "template"}
        assert items["welcome"].action == "failed" and "subject is unknown" in (items["welcome"].detail or "")
        assert any(s.startswith("template welcome:") for s in report.manual_steps)
        assert target.templates() == []
    runner = CliRunner()
    alone = runner.invoke(cli, ["migrate", "--from", "local://a", "--to", "local://b", "--update-templates"])
    assert alone.exit_code == ExitStatus.USAGE


def test_group_send_by_name_checks_its_input_before_the_look_up() -> None:
    with TencentEmulator(rate=0) as ses, mailbridge.connect(ses.url) as client:
        with pytest.raises(mailbridge.InvalidRequest, match=r"give no 'to' addresses"):
            client.send_to_group("g", Message(sender=SENDER, to="a@example.com", template="welcome"))
        with pytest.raises(mailbridge.InvalidAddress):
            client.send_to_group("g", Message(sender="nobody", to=(), template="welcome"))
        assert ses.requests == []


class _BrokenCatalog(SqliteCatalog):
    """Opens fine, then fails to write (a full disk)."""

    def put(self, account: str, name: str, entry: Any) -> None:
        raise mailbridge.ConfigurationError(f"template catalog {self.location}: database or disk is full")


def test_a_catalog_that_fails_after_the_create_takes_the_template_back(tmp_path: Path) -> None:
    catalog = _BrokenCatalog(tmp_path / "full.sqlite3")
    with TencentEmulator(rate=0) as ses, mailbridge.connect(ses.url, template_catalog=catalog) as client:
        with pytest.raises(mailbridge.ConfigurationError, match="disk is full"):
            client.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        assert [r["action"] for r in ses.requests if "Template" in r["action"]] == [
            "CreateEmailTemplate",
            "DeleteEmailTemplate",
        ]
        assert "mb-welcome" not in [t.name for t in client.templates()]


def test_message_template_takes_a_name_or_a_template() -> None:
    template = mailbridge.Template(id="7", name="welcome", provider="local")
    assert Message(sender=SENDER, to="a@example.com", template=template).template == "welcome"
    assert Message(sender=SENDER, to="a@example.com", template="  welcome ").template == "welcome"
    assert Message(sender=SENDER, to="a@example.com", template="").template is None


def test_template_differences_compare_variables_as_variables_and_say_what_is_unknown() -> None:
    from mailbridge._setup_migrate import template_differences

    def t(**parts: Any) -> mailbridge.Template:
        return mailbridge.Template(id="1", name="n", provider="x", **parts)

    assert template_differences(t(subject="Hi {{ name }}", html="<p/>"), t(subject="Hi {{name}}", html="<p/>")) == []
    assert template_differences(t(subject="S", text="a"), t(subject="S", text="b")) == ["text"]
    assert template_differences(t(subject="S", html="{{#if x}}"), t(subject="S", html="{{#if x}}")) == []
    assert template_differences(t(subject="S"), t(missing=("subject",))) == ["subject unknown on target"]
    assert template_differences(t(subject="S", html="<p/>", missing=("text",)), t(html="<p/>")) == [
        "subject",
        "text unknown on source",
    ]


def test_a_catalog_passed_in_stays_open_when_a_client_closes(tmp_path: Path) -> None:
    shared = SqliteCatalog(tmp_path / "shared.sqlite3")
    with TencentEmulator(rate=0) as ses:
        with mailbridge.connect(ses.url, template_catalog=shared) as first:
            first.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        assert shared._db is not None, "the client closed a catalog it did not open"
        with mailbridge.connect(ses.url, template_catalog=shared) as second:
            assert second.get_template("mb-welcome").subject == SUBJECT
    shared.close()


def test_the_send_cache_expires() -> None:
    now = [1000.0]
    with TencentEmulator(rate=0) as ses, mailbridge.connect(ses.url, clock=lambda: now[0]) as client:
        client.create_template("mb-welcome", subject=SUBJECT, html=HTML)
        message = Message(sender=SENDER, to="a@example.com", template="mb-welcome", template_data=DATA)

        def lookups() -> int:
            return sum(1 for r in ses.requests if r["action"] == "GetEmailTemplate")

        client.send(message)
        first = lookups()
        now[0] += 59
        client.send(message)
        assert lookups() == first
        now[0] += 2  # past SEND_CACHE_SECONDS: an update made elsewhere is seen
        client.send(message)
        assert lookups() == first + 1
