"""Destructive commands ask on a terminal, take --yes, and never proceed silently without either."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailbridge.cli import ExitStatus, _confirm
from mailbridge.cli._reference import commands

from .conftest import Run, as_json

DESTRUCTIVE = {
    "mailbridge domains remove",
    "mailbridge groups delete",
    "mailbridge recipients remove",
    "mailbridge senders password",
    "mailbridge senders remove",
    "mailbridge suppressions remove",
    "mailbridge tags delete",
    "mailbridge templates delete",
    "mailbridge templates update",
}


def test_exactly_the_destructive_commands_take_yes() -> None:
    with_yes = {" ".join(path) for path, command, _ in commands() if any(p.name == "yes" for p in command.params)}
    assert with_yes == DESTRUCTIVE


@pytest.fixture
def group(run: Run, tmp_path: Path) -> str:
    path = tmp_path / "people.csv"
    path.write_text("email\n" + "".join(f"u{i}@example.com\n" for i in range(7)))
    run("groups", "create", "customers")
    run("recipients", "upload", "customers", str(path))
    return "customers"


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_confirm, "is_terminal", lambda: True)
    yield


def _names(run: Run) -> list[str]:
    return [g["name"] for g in as_json(run("--json", "groups", "list"))]


def test_off_a_terminal_without_yes_nothing_is_deleted(group: str, run: Run) -> None:
    result = run("groups", "delete", group, expect=ExitStatus.NOT_CONFIRMED)
    assert result.stderr == (
        "mailbridge: error: not confirmed: delete group 'customers' and its 7 members on local "
        "(not on a terminal: add --yes)\n"
    )
    assert result.stdout == "" and _names(run) == [group]


def test_json_mode_refuses_the_same_way(group: str, run: Run) -> None:
    result = run("--json", "groups", "delete", group, expect=ExitStatus.NOT_CONFIRMED)
    assert len(result.stderr.splitlines()) == 1 and "add --yes" in result.stderr and result.stdout == ""


def test_on_a_terminal_the_question_shows_what_goes(group: str, run: Run, terminal: None) -> None:
    no = run("groups", "delete", group, input="n\n", expect=ExitStatus.NOT_CONFIRMED)
    assert "Delete group 'customers' and its 7 members on local? [y/N]" in no.stderr
    assert "nothing was changed" in no.stderr.splitlines()[-1] and _names(run) == [group]
    eof = run("groups", "delete", group, input="", expect=ExitStatus.NOT_CONFIRMED)  # Ctrl-D at the question
    assert "nothing was changed" in eof.stderr and _names(run) == [group]
    yes = run("--json", "groups", "delete", group, input="y\n")
    assert as_json(yes)["deleted"] == group and _names(run) == []


def test_yes_deletes_without_asking(group: str, run: Run, terminal: None) -> None:
    result = run("groups", "delete", group, "--yes")
    assert "?" not in result.stderr and _names(run) == []


def test_recipients_remove_counts_and_refuses_stdin_without_yes(group: str, run: Run, terminal: None) -> None:
    asked = run("recipients", "remove", group, "u1@example.com", "u2@example.com", input="n\n", expect=10)
    assert "Remove 2 addresses from group 'customers' (7 members) on local?" in asked.stderr
    piped = run("recipients", "remove", group, "-", input="u1@example.com\n", expect=ExitStatus.NOT_CONFIRMED)
    assert "input came from stdin, so add --yes" in piped.stderr
    assert len(as_json(run("--json", "recipients", "list", group))) == 7
    done = run("--json", "recipients", "remove", group, "-", "--yes", input="u1@example.com\n")
    assert as_json(done)["removed"] == ["u1@example.com"]
    assert len(as_json(run("--json", "recipients", "list", group))) == 6


def test_templates_suppressions_tags_refuse_without_yes(run: Run, tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("Hi {{name}}")
    run("templates", "create", "welcome", "--subject", "Hello", "--text-file", str(body))
    run("suppressions", "add", "x@example.com")
    run("tags", "create", "news")
    for args in (
        ["templates", "delete", "welcome"],
        ["templates", "update", "welcome", "--subject", "New", "--text-file", str(body)],
        ["suppressions", "remove", "x@example.com"],
        ["tags", "delete", "news"],
    ):
        result = run(*args, expect=ExitStatus.NOT_CONFIRMED)
        assert "not confirmed" in result.stderr and "add --yes" in result.stderr, args
    assert as_json(run("--json", "templates", "show", "welcome"))["subject"] == "Hello"
    assert [s["address"] for s in as_json(run("--json", "suppressions", "list"))] == ["x@example.com"]
    assert [t["name"] for t in as_json(run("--json", "tags", "list"))] == ["news"]
    run("templates", "update", "welcome", "--subject", "New", "--text-file", str(body), "--yes")
    assert as_json(run("--json", "templates", "show", "welcome"))["subject"] == "New"
    run("suppressions", "remove", "x@example.com", "-y")
    assert as_json(run("--json", "suppressions", "list")) == []


def test_domains_and_senders_refuse_without_yes(run: Run) -> None:
    run("domains", "add", "mail.example.com")
    run("senders", "add", "news@mail.example.com")
    assert "not confirmed" in run("senders", "remove", "news@mail.example.com", expect=10).stderr
    assert "not confirmed" in run("domains", "remove", "mail.example.com", expect=10).stderr
    assert [s["address"] for s in as_json(run("--json", "senders", "list"))] == ["news@mail.example.com"]
    run("senders", "remove", "news@mail.example.com", "--yes")
    run("domains", "remove", "mail.example.com", "--yes")
    assert as_json(run("--json", "domains", "list")) == []


def test_a_scripted_password_change_needs_yes(run: Run, tmp_path: Path) -> None:
    """A password typed twice at the prompt confirms itself; one from --password or the environment needs --yes."""
    run("domains", "add", "mail.example.com")
    run("senders", "add", "news@mail.example.com")
    refused = run("senders", "password", "news@mail.example.com", "--password", "pw-Two-3", expect=10)
    assert "not confirmed: replace the SMTP password of news@mail.example.com" in refused.stderr
    assert "pw-Two-3" not in refused.stdout + refused.stderr
    (store,) = (tmp_path / "data").rglob("*.sqlite3")  # the local backend's one store

    def stored() -> object:
        with sqlite3.connect(store) as db:
            return db.execute("SELECT password_hash FROM senders WHERE address = 'news@mail.example.com'").fetchone()

    before = stored()
    run("senders", "password", "news@mail.example.com", "--password", "pw-Two-3", expect=10)
    assert stored() == before
    run("senders", "password", "news@mail.example.com", "--password", "pw-Two-3", "--yes")
    assert stored() != before
    typed = run("senders", "password", "news@mail.example.com", input="pw-Four-5\npw-Four-5\n")
    assert "not confirmed" not in typed.stderr
