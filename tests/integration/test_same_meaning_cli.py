"""Issue 11 through the CLI, switching only MAILBRIDGE_URL between local and the two emulators."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

from mailbridge.cli import ExitStatus, cli


@pytest.fixture
def urls(tmp_path: Path) -> Iterator[dict[str, str]]:
    with AliyunEmulator() as dm, TencentEmulator(rate=0) as ses:
        yield {"local": f"local://{tmp_path / 'local'}", "aliyun": dm.url, "tencent": ses.url}


def run(url: str, *args: str, expect: int = 0, stdin: str | None = None) -> tuple[object, str]:
    result = CliRunner().invoke(cli, list(args), env={"MAILBRIDGE_URL": url}, input=stdin, catch_exceptions=False)
    assert result.exit_code == expect, (url, args, result.exit_code, result.stdout, result.stderr)
    data = json.loads(result.stdout) if "--json" in args and result.stdout.strip() else None
    return data, result.stderr


def test_reupload_reports_existing_the_same_everywhere(urls: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,name\nada@example.com,Ada\nbob@example.com,Bob\nADA@example.com,Ada\nbroken,X\n")
    reports = {}
    for name, url in urls.items():
        run(url, "groups", "create", "customers")
        run(url, "--json", "recipients", "upload", "customers", str(path), "--wait", expect=ExitStatus.PARTIAL)
        again, _ = run(
            url, "--json", "recipients", "upload", "customers", str(path), "--wait", expect=ExitStatus.PARTIAL
        )
        assert isinstance(again, dict)
        reports[name] = {k: again[k] for k in ("rows", "accepted", "existing", "unattributed_rejected")} | {
            "duplicates": again["duplicates"],
            "rejected": [(r["row"], r["email"], r["code"]) for r in again["rejected"]],
        }
    expected = {"rows": 4, "accepted": 0, "existing": 2, "unattributed_rejected": 0, "duplicates": ["ADA@example.com"]}
    assert all(r == {**expected, "rejected": [(4, "broken", "invalid")]} for r in reports.values()), reports


def test_remove_reads_stdin_and_reports_non_members(urls: dict[str, str], tmp_path: Path) -> None:
    members = tmp_path / "members.csv"
    members.write_text("email\na@example.com\nb@example.com\n")
    for name, url in urls.items():
        run(url, "groups", "create", "g")
        run(url, "recipients", "upload", "g", "--wait", str(members))
        if name == "tencent":  # declared: SES cannot delete a member
            _, err = run(url, "recipients", "remove", "g", "a@example.com", expect=ExitStatus.INVALID_REQUEST)
            assert "does not support remove recipients" in err
            continue
        report, _ = run(
            url, "--json", "recipients", "remove", "g", "-", "--yes", stdin="a@example.com\nnotthere@example.com\n\n"
        )
        assert isinstance(report, dict)
        assert (report["removed"], report["not_members"]) == (["a@example.com"], ["notthere@example.com"]), name


def test_filters_a_backend_cannot_answer_say_so(urls: dict[str, str]) -> None:
    _, err = run(urls["aliyun"], "deliveries", "--status", "opened", expect=ExitStatus.INVALID_REQUEST)
    assert "does not report opened" in err and "Traceback" not in err
    run(urls["tencent"], "deliveries", "--status", "opened")  # SES reports opens: an (empty) answer
    _, err = run(urls["tencent"], "deliveries", "--since", "40d", expect=ExitStatus.INVALID_REQUEST)
    assert "keeps delivery data for 30 days" in err


def test_file_larger_than_a_list_is_refused_before_anything_is_uploaded(urls: dict[str, str], tmp_path: Path) -> None:
    """The CLI counts the file first (10,001 rows for a 10,000-address Direct Mail list): nothing goes up."""
    path = tmp_path / "big.csv"
    path.write_text("email\n" + "".join(f"u{i}@example.com\n" for i in range(10_001)))
    url = urls["aliyun"] + ("&" if "?" in urls["aliyun"] else "?") + "rate_limit=off"
    run(url, "groups", "create", "big")
    _, err = run(url, "recipients", "upload", "big", str(path), expect=ExitStatus.INVALID_REQUEST)
    assert "adds 10001 new ones" in err and "--split" in err
    listed, _ = run(url, "--json", "groups", "list")
    assert isinstance(listed, list) and [g["recipient_count"] for g in listed if g["name"] == "big"] == [0]
