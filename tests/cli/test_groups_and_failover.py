"""``groups create --exist-ok`` / ``get_or_create_group()``, and ``--ignore-unsupported`` on failover URLs."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from pathlib import Path

import pytest

import mailbridge
from mailbridge.cli import ExitStatus

from .conftest import Run, as_json


def test_create_twice_fails_without_exist_ok_and_returns_the_group_with_it(run: Run) -> None:
    first = as_json(run("--json", "groups", "create", "customers", "--description", "first"))
    again = run("groups", "create", "customers", expect=ExitStatus.INVALID_REQUEST)
    assert "already exists" in again.stderr
    same = as_json(run("--json", "groups", "create", "customers", "--description", "second", "--exist-ok"))
    assert (same["id"], same["description"]) == (first["id"], "first")  # the existing group, untouched
    fresh = as_json(run("--json", "groups", "create", "other", "--exist-ok"))
    assert fresh["name"] == "other" and fresh["id"] != first["id"]
    assert sorted(g["name"] for g in as_json(run("--json", "groups", "list"))) == ["customers", "other"]


def test_get_or_create_group(tmp_path: Path) -> None:
    with mailbridge.connect(f"local://{tmp_path}") as client:
        made = client.get_or_create_group("customers", "VIPs")
        assert client.get_or_create_group("customers", "ignored") == made
        assert [g.name for g in client.groups()] == ["customers"]


def test_get_or_create_group_takes_a_group_created_in_between(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process creates the group after the look-up: AlreadyExists is answered with that group."""
    with mailbridge.connect(f"local://{tmp_path}") as client:
        theirs = client.create_group("customers")
        real_get = client.get_group
        calls = []

        def get_group(name: str) -> mailbridge.Group:
            calls.append(name)
            if len(calls) == 1:
                raise mailbridge.GroupNotFound("not yet")
            return real_get(name)

        monkeypatch.setattr(client, "get_group", get_group)
        assert client.get_or_create_group("customers") == theirs
        assert calls == ["customers", "customers"]


def test_get_or_create_group_on_failover_and_async(tmp_path: Path) -> None:
    url = mailbridge.failover_url([f"local://{tmp_path / 'a'}", f"local://{tmp_path / 'b'}"])
    with mailbridge.connect_failover(url) as failover:
        first = failover.get_or_create_group("customers")
        second = failover.get_or_create_group("customers")
        assert first == second and all(isinstance(g, mailbridge.Group) for g in first.values())

    async def main() -> tuple[mailbridge.Group, mailbridge.Group]:
        async with mailbridge.connect_async(f"local://{tmp_path / 'c'}") as client:
            return await client.get_or_create_group("g"), await client.get_or_create_group("g")

    one, two = asyncio.run(main())
    assert one == two


def _click_tracked(tmp_path: Path) -> Path:
    path = tmp_path / "message.json"
    path.write_text(
        json.dumps(
            {
                "sender": "me@example.com",
                "to": ["ada@example.com"],
                "subject": "s",
                "text": "t",
                "click_tracking": True,  # the local backend has no click tracking
            }
        )
    )
    return path


def test_ignore_unsupported_reaches_every_failover_member(run: Run, tmp_path: Path) -> None:
    url = mailbridge.failover_url([f"local://{tmp_path / 'a'}", f"local://{tmp_path / 'b'}"])
    message = _click_tracked(tmp_path)
    refused = run("send", "--message-file", str(message), url=url, expect=ExitStatus.INVALID_REQUEST)
    assert "click_tracking" in refused.stderr or "click tracking" in refused.stderr
    assert not (tmp_path / "a" / "outbox").exists() and not (tmp_path / "b" / "outbox").exists()
    sent = as_json(run("--ignore-unsupported", "--json", "send", "--message-file", str(message), url=url))
    assert sent["accepted"] == ["ada@example.com"]
    (path,) = (tmp_path / "a" / "outbox" / "new").iterdir()
    delivered = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert delivered["To"] == "ada@example.com"


def test_a_failover_url_that_says_it_itself_wins(run: Run, tmp_path: Path) -> None:
    url = mailbridge.failover_url([f"local://{tmp_path / 'a'}"], ignore_unsupported_features=False)
    message = _click_tracked(tmp_path)
    run("--ignore-unsupported", "send", "--message-file", str(message), url=url, expect=ExitStatus.INVALID_REQUEST)
