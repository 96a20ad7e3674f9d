"""``account``, ``statistics`` and ``tags``: the Python API's account views on the command line."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import click
import pytest
from mailbridge_aliyun.emulator import AliyunEmulator

from mailbridge.cli import ExitStatus
from mailbridge.cli._account import parse_day

from .conftest import Run, as_json


@pytest.fixture
def dm() -> Iterator[AliyunEmulator]:
    with AliyunEmulator() as emulator:
        yield emulator


def test_account_on_direct_mail(run: Run, dm: AliyunEmulator) -> None:
    summary = as_json(run("--json", "account", url=dm.url))
    assert summary["provider"] == "aliyun"
    assert (summary["daily_quota"], summary["daily_remaining"], summary["monthly_quota"]) == (2000, 2000, 60000)
    assert summary["extra"]["QuotaLevel"] == 2  # the provider's own fields, kept
    table = run("account", url=dm.url)
    assert table.stdout.splitlines()[0].split() == ["FIELD", "VALUE"]
    assert "daily quota        2000" in table.stdout and "under 'extra'" in table.stderr


def test_account_where_the_backend_has_none(run: Run) -> None:
    result = run("account", expect=ExitStatus.INVALID_REQUEST)
    assert result.stderr == "mailbridge: error: local: mailbridge local does not support account summary\n"


def test_statistics_count_todays_sends(run: Run) -> None:
    message = ["--from", "me@example.com", "--subject", "s", "--text", "t"]
    run("send", *message, "--to", "a@example.com", "--to", "b@bounce.example")
    run("send", *message, "--to", "c@example.com")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    rows = as_json(run("--json", "statistics", "--since", "today"))
    assert rows == [
        {
            "date": today,
            "requested": 3,
            "delivered": 2,
            "bounced": 1,
            "opened": None,
            "clicked": None,
            "unsubscribed": None,
            "complained": None,
        }
    ]
    table = list(csv.DictReader(io.StringIO(run("statistics", "--format", "csv").stdout)))
    assert [(r["date"], r["requested"], r["opened"]) for r in table] == [(today, "3", "")]
    assert run("statistics", "--since", "30d", "--until", "7d").stdout.splitlines()[1:] == []


def test_statistics_window_is_checked(run: Run) -> None:
    result = run("statistics", "--since", "today", "--until", "3d", expect=ExitStatus.INVALID_REQUEST)
    assert "is before --since" in result.stderr
    assert "use today, yesterday, 7d" in run("statistics", "--since", "soon", expect=ExitStatus.USAGE).stderr


def test_parse_day() -> None:
    today = dt.date(2026, 12, 1)
    assert parse_day("today", today) == today and parse_day("yesterday", today) == dt.date(2026, 11, 30)
    assert parse_day("7d", today) == dt.date(2026, 11, 24) and parse_day("2026-01-31", today) == dt.date(2026, 1, 31)
    with pytest.raises(click.BadParameter, match="further back"):
        parse_day("9999999d", today)


def test_tags_create_list_rename_delete(run: Run, dm: AliyunEmulator) -> None:
    for url in (None, dm.url):
        created = as_json(run("--json", "tags", "create", "news", url=url))
        assert created["name"] == "news"
        run("tags", "rename", "news", "newsletter", url=url)
        assert [t["name"] for t in as_json(run("--json", "tags", "list", url=url))] == ["newsletter"]
        assert "no tag named 'news'" in run("tags", "delete", "news", "--yes", url=url, expect=5).stderr
        run("tags", "delete", "newsletter", "--yes", url=url)
        assert as_json(run("--json", "tags", "list", url=url)) == []
