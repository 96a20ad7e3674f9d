"""The command line: JSON on stdout, one-line errors on stderr, documented exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbridge.cli import ExitStatus, cli


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    url = f"local://{tmp_path / 'data'}"

    def invoke(*args: str, expect: int = 0) -> tuple[object, str]:
        result = runner.invoke(cli, ["--url", url, *args], catch_exceptions=False)
        assert result.exit_code == expect, (result.exit_code, result.output, result.stderr)
        data = json.loads(result.stdout) if "--json" in args and result.stdout.strip() else None
        return data, result.stderr

    return invoke


def test_groups_create_list_delete_json(run) -> None:  # type: ignore[no-untyped-def]
    created, _ = run("--json", "groups", "create", "customers", "--description", "VIPs")
    assert created["name"] == "customers" and created["provider"] == "local"
    listed, _ = run("groups", "list", "--json")
    assert [g["name"] for g in listed] == ["customers"]
    deleted, _ = run("--json", "groups", "delete", "customers", "--yes")
    assert deleted == {"deleted": "customers", "id": created["id"]}
    assert run("--json", "groups", "list")[0] == []


def test_upload_writes_rejected_rows_and_exits_partial(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "people.csv"
    path.write_text("email,name,plan\nada@example.com,Ada,pro\nbad-address,X,free\nADA@example.com,Ada,pro\n")
    run("groups", "create", "g")
    report, _stderr = run("--json", "recipients", "upload", "g", str(path), expect=ExitStatus.PARTIAL)
    assert report["accepted"] == 1 and report["duplicates"] == ["ADA@example.com"]
    rejected_file = Path(report["rejected_file"])
    with rejected_file.open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows == [{"row": "2", "email": "bad-address", "reason": rows[0]["reason"], "code": "invalid"}]
    members, _ = run("--json", "recipients", "list", "g")
    assert members == [
        {"email": "ada@example.com", "valid": True, "invalid_reason": None, "name": "Ada", "data": {"plan": "pro"}}
    ]


def test_send_and_deliveries(run) -> None:  # type: ignore[no-untyped-def]
    sent, _ = run(
        "--json",
        "send",
        "--from",
        "me@example.com",
        "--to",
        "a@example.com",
        "--to",
        "b@bounce.example",
        "--subject",
        "Hello",
        "--text",
        "Hi there",
        "--header",
        "X-Campaign: nov",
    )
    assert sent["provider"] == "local" and sorted(sent["accepted"]) == ["a@example.com", "b@bounce.example"]
    events, _ = run("--json", "deliveries", "--since", "1h")
    assert sorted((e["recipient"], e["status"]) for e in events) == [
        ("a@example.com", "delivered"),
        ("b@bounce.example", "invalid_address"),
    ]
    only, _ = run("--json", "deliveries", "--since", "1h", "--status", "invalid_address")
    assert [e["recipient"] for e in only] == ["b@bounce.example"]


def test_errors_are_one_line_with_exit_codes(run) -> None:  # type: ignore[no-untyped-def]
    _, stderr = run("groups", "delete", "nope", expect=ExitStatus.NOT_FOUND)
    assert stderr.strip() == "mailbridge: error: local: no group named 'nope' on local"
    _, stderr = run(
        "send",
        "--from",
        "me@example.com",
        "--to",
        "not-an-address",
        "--subject",
        "s",
        "--text",
        "t",
        expect=ExitStatus.INVALID_REQUEST,
    )
    assert stderr.count("\n") == 1 and "to address 'not-an-address' is invalid" in stderr
    _, stderr = run("--json", "groups", "show", "nope", expect=ExitStatus.NOT_FOUND)
    assert json.loads(stderr)["error"] == "GroupNotFound"


def test_unknown_provider_is_a_configuration_error() -> None:
    result = CliRunner().invoke(cli, ["--url", "nosuch://x", "groups", "list"])
    assert result.exit_code == ExitStatus.CONFIGURATION
    assert "pip install mailbridge-nosuch" in result.stderr


def test_providers_matrix_comes_from_declarations() -> None:
    """The matrix is generated from each backend's Limits, not written by hand."""
    from mailbridge_local import LocalBackend

    result = CliRunner().invoke(cli, ["providers", "--json"])
    assert result.exit_code == 0
    local = next(p for p in json.loads(result.stdout) if p["name"] == "local")
    assert local["limits"] == LocalBackend.limits.as_dict()
    table = CliRunner().invoke(cli, ["providers"]).stdout
    assert "recipients per upload call" in table and "1000" in table


def test_demo_runs_end_to_end_and_is_rerunnable(run) -> None:  # type: ignore[no-untyped-def]
    first, stderr = run("--json", "demo")
    assert first["upload"]["accepted"] == 8 and len(first["upload"]["rejected"]) == 1
    assert len(first["send"]["accepted"]) == 8
    statuses = {e["recipient"]: e["status"] for e in first["deliveries"]}
    assert statuses["dennis@bounce.example"] == "invalid_address" and statuses["ada@example.com"] == "delivered"
    assert any(e["subject"] == "Welcome to the pro plan, Ada" for e in first["deliveries"])
    assert "4/4 delivery log" in stderr
    second, _ = run("--json", "demo")
    # a group of 8: the 8 present addresses once each, the input's repeat as a duplicate (issue 11)
    again = second["upload"]
    assert (again["accepted"], again["existing"], len(again["duplicates"]), len(again["rejected"])) == (0, 8, 1, 1)
    assert again["rows"] == 10


def test_emulator_command_names_installed_emulators() -> None:
    result = CliRunner().invoke(cli, ["emulator", "nosuch"])
    assert result.exit_code == ExitStatus.CONFIGURATION
    assert "no emulator named 'nosuch'" in result.stderr


def test_upload_split_fills_numbered_lists(run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """--split fills GROUP, GROUP-2, ...; without it the counted file is refused before any upload."""
    from mailbridge_local import LocalBackend

    monkeypatch.setattr(LocalBackend, "limits", LocalBackend.limits.evolve(max_group_size=3))
    path = tmp_path / "seven.csv"
    path.write_text("email\n" + "".join(f"u{i}@example.com\n" for i in range(7)))
    run("groups", "create", "news")
    _, err = run("recipients", "upload", "news", str(path), expect=ExitStatus.INVALID_REQUEST)
    assert "adds 7 new ones" in err and "--split" in err
    report, _ = run("--json", "recipients", "upload", "news", str(path), "--split")
    assert (report["accepted"], report["groups"]) == (7, ["news", "news-2", "news-3"])
    listed, _ = run("--json", "groups", "list")
    assert {g["name"]: g["recipient_count"] for g in listed} == {"news": 3, "news-2": 3, "news-3": 1}


def test_send_each_sends_one_copy_per_address(run) -> None:  # type: ignore[no-untyped-def]
    args = ("send", "--from", "me@example.com", "--to", "a@example.com", "--to", "b@example.com")
    shared, _ = run("--json", *args, "--subject", "S", "--text", "T")
    assert (shared["calls"], shared["accepted"]) == (1, ["a@example.com", "b@example.com"])  # one shared email
    each, _ = run("--json", *args, "--subject", "S", "--text", "T", "--each")
    assert (each["calls"], each["accepted"]) == (2, ["a@example.com", "b@example.com"])
    _, err = run(*args, "--bcc", "c@example.com", "--subject", "S", "--text", "T", "--each", expect=2)
    assert "--each sends one copy per --to address" in err
