"""Listings stream page by page, stop at --limit, and print table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import attrs
import click
import pytest
from mailbridge_local import LocalBackend

import mailbridge
from mailbridge.cli import ExitStatus

from .conftest import Run, as_json

PAGE = 10


@pytest.fixture
def members(monkeypatch: pytest.MonkeyPatch, local_url: str, run: Run, tmp_path: Path) -> list[str]:
    """A group ``g`` of 25 members on a local backend listing 10 a page."""
    monkeypatch.setattr(LocalBackend, "limits", attrs.evolve(LocalBackend.limits, list_page_size=PAGE))
    emails = [f"user{i:02d}@example.com" for i in range(25)]
    path = tmp_path / "people.csv"
    path.write_text("email,name,plan\n" + "".join(f"{e},User {i},pro\n" for i, e in enumerate(emails)))
    run("groups", "create", "g")
    run("recipients", "upload", "g", str(path))
    return emails


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What happened, in order: ("page", cursor) for each provider page, ("out", text) for each stdout write."""
    log: list[tuple[str, Any]] = []
    list_members = LocalBackend.list_members
    echo = click.echo

    def paged(self: LocalBackend, group: mailbridge.Group, *, cursor: str | None, page_size: int) -> Any:
        log.append(("page", cursor))
        return list_members(self, group, cursor=cursor, page_size=page_size)

    def recorded(message: Any = None, *args: Any, **kwargs: Any) -> None:
        if not kwargs.get("err"):
            log.append(("out", message))
        echo(message, *args, **kwargs)

    monkeypatch.setattr(LocalBackend, "list_members", paged)
    monkeypatch.setattr(click, "echo", recorded)
    return log


def _rows_before_each_page(log: list[tuple[str, Any]]) -> list[int]:
    """How many stdout writes had happened when each page was asked for."""
    counts, written = [], 0
    for kind, _ in log:
        if kind == "out":
            written += 1
        else:
            counts.append(written)
    return counts


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_rows_are_written_as_each_page_arrives(
    fmt: str, members: list[str], events: list[tuple[str, Any]], run: Run
) -> None:
    result = run("recipients", "list", "g", "--format", fmt)
    pages = _rows_before_each_page(events)
    assert len(pages) == 3  # 25 members, 10 a page
    # Before page 2 is fetched, page 1 is on stdout: the header, and the first 10 rows
    # (JSON holds back one element until it knows whether a comma follows).
    shown_before_page_2 = {"table": 11, "csv": 11, "json": 10}[fmt]
    assert pages[1] == shown_before_page_2 and pages[2] == shown_before_page_2 + PAGE
    assert all(e in result.stdout for e in members)


def test_limit_stops_fetching_pages(members: list[str], events: list[tuple[str, Any]], run: Run) -> None:
    result = run("recipients", "list", "g", "--limit", "5", "--format", "csv")
    assert [r["email"] for r in csv.DictReader(io.StringIO(result.stdout))] == members[:5]
    assert [kind for kind, _ in events].count("page") == 1
    events.clear()
    result = run("recipients", "list", "g", "--limit", "12", "--json")
    assert [m["email"] for m in as_json(result)] == members[:12]
    assert [kind for kind, _ in events].count("page") == 2


def test_csv_has_a_header_and_every_member(members: list[str], run: Run) -> None:
    result = run("recipients", "list", "g", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        *("email", "valid", "invalid_reason", "name", "nickname", "gender", "birthday", "mobile", "data")
    ]
    assert [r["email"] for r in rows] == members
    assert rows[3]["name"] == "User 3" and json.loads(rows[3]["data"]) == {"plan": "pro"} and rows[3]["valid"] == "true"
    empty = run("groups", "list", "--keyword", "nothing-like-this", "--format", "csv")
    assert empty.stdout == "name,id,provider,description,recipient_count,status,created_at\n"


def test_json_is_one_array_with_one_element_a_line(members: list[str], run: Run) -> None:
    result = run("recipients", "list", "g", "--format", "json")
    lines = result.stdout.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 27
    assert [json.loads(line.rstrip(","))["email"] for line in lines[1:-1]] == members
    assert as_json(run("--json", "recipients", "list", "g")) == as_json(result)  # --json means the same
    assert as_json(run("groups", "list", "--keyword", "none-such", "--json")) == []


def test_table_has_fixed_columns(members: list[str], run: Run) -> None:
    lines = run("recipients", "list", "g").stdout.splitlines()
    assert lines[0].split() == ["EMAIL", "VALID", "NAME", "DATA"]
    assert lines[1] == f"{'user00@example.com':32}  {'yes':5}  {'User 0':16}  plan=pro"
    starts = {line.index("plan=") for line in lines[1:]}
    assert starts == {lines[0].index("DATA")}  # aligned without reading everything first


def test_json_and_another_format_contradict(members: list[str], run: Run) -> None:
    result = run("--json", "recipients", "list", "g", "--format", "csv", expect=ExitStatus.USAGE)
    assert "contradict" in result.stderr and result.stdout == ""


def test_a_failure_half_way_keeps_the_rows_so_far_and_says_so(
    members: list[str], monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    list_members = LocalBackend.list_members

    def failing(self: LocalBackend, group: mailbridge.Group, *, cursor: str | None, page_size: int) -> Any:
        if cursor is not None:
            raise mailbridge.ProviderUnavailable("down", retryable=False)
        return list_members(self, group, cursor=cursor, page_size=page_size)

    monkeypatch.setattr(LocalBackend, "list_members", failing)
    result = run("recipients", "list", "g", "--format", "json", expect=ExitStatus.PROVIDER_FAILURE)
    lines = result.stdout.splitlines()
    assert lines[0] == "[" and len(lines) == 1 + PAGE and lines[-1].endswith(",")  # no closing bracket
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)
    assert result.stderr.splitlines()[-1].startswith("mailbridge: error: ")


@pytest.mark.parametrize(
    "args",
    [
        ["groups", "list"],
        ["deliveries", "--since", "1h"],
        ["templates", "list"],
        ["suppressions", "list"],
        ["tags", "list"],
        ["statistics"],
        ["domains", "list"],
        ["senders", "list"],
    ],
)
@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_every_listing_takes_limit_and_format(args: list[str], fmt: str, run: Run) -> None:
    message = ["--from", "me@example.com", "--subject", "s", "--text", "t"]
    run("send", *message, "--to", "a@example.com", "--to", "b@example.com")
    run("send", *message, "--to", "c@example.com")
    run("groups", "create", "g1")
    run("groups", "create", "g2")
    run("templates", "create", "t1", "--subject", "s", "--text-file", __file__)
    run("suppressions", "add", "x@example.com", "y@example.com")
    run("tags", "create", "news")
    result = run(*args, "--format", fmt, "--limit", "1")
    lines = result.stdout.splitlines()
    if fmt == "json":
        assert len(json.loads(result.stdout)) <= 1
    else:
        assert len(lines) <= 2  # the header and at most one row
    if args[0] in ("groups", "deliveries", "suppressions", "tags"):  # two or more exist: --limit 1 cut them
        assert (len(json.loads(result.stdout)) if fmt == "json" else len(lines) - 1) == 1


def test_limit_must_be_positive(run: Run) -> None:
    result = run("groups", "list", "--limit", "0", expect=ExitStatus.USAGE)
    assert "--limit" in result.stderr


def test_table_cells_cannot_drive_the_terminal(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,name,note\nada@example.com,\"Ada\x1b[2J\",\"two\nlines\"\n")
    run("groups", "create", "g")
    run("recipients", "upload", "g", str(path))
    table = run("recipients", "list", "g").stdout
    assert "\x1b" not in table and "Ada?[2J" in table and "note=two lines" in table
    assert as_json(run("--json", "recipients", "list", "g"))[0]["name"] == "Ada\x1b[2J"  # data formats keep it
