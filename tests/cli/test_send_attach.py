"""``send --attach FILE``: repeatable, content type from the name, the provider's limits checked before any call."""

from __future__ import annotations

import email
import email.policy
import mailbox
from pathlib import Path

import pytest
from mailbridge_tencent.emulator import TencentEmulator

from mailbridge.cli import ExitStatus

from .conftest import Run, as_json

BASE = ["send", "--from", "me@example.com", "--to", "ada@example.com", "--subject", "Report", "--text", "attached"]


def _files(tmp_path: Path) -> list[Path]:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(range(256)))
    table = tmp_path / "numbers.csv"
    table.write_text("a,b\n1,2\n")
    packed = tmp_path / "dump.sql.gz"
    packed.write_bytes(b"\x1f\x8b\x08\x00binary")
    odd = tmp_path / "no-extension"
    odd.write_bytes(b"\x00\x01")
    return [pdf, table, packed, odd]


def test_attachments_land_in_the_outbox_with_guessed_types(run: Run, tmp_path: Path) -> None:
    files = _files(tmp_path)
    args = [a for f in files for a in ("--attach", str(f))]
    sent = as_json(run("--json", *BASE, *args))
    assert sent["accepted"] == ["ada@example.com"]
    (key,) = mailbox.Maildir(tmp_path / "data" / "outbox").keys()
    raw = (tmp_path / "data" / "outbox" / "new").glob(f"{key}*")
    message = email.message_from_bytes(next(raw).read_bytes(), policy=email.policy.default)
    found = {
        part.get_filename(): (part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_attachments()
    }
    assert found == {
        "report.pdf": ("application/pdf", files[0].read_bytes()),
        "numbers.csv": ("text/csv", b"a,b\n1,2\n"),
        "dump.sql.gz": ("application/gzip", files[2].read_bytes()),
        "no-extension": ("application/octet-stream", b"\x00\x01"),
    }


def test_attach_adds_to_the_message_files_attachments(run: Run, tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text('{"attachments": [{"filename": "a.txt", "content_base64": "aGk="}]}')
    run(*BASE, "--message-file", str(tmp_path / "m.json"), "--attach", str(_files(tmp_path)[1]))
    (path,) = (tmp_path / "data" / "outbox" / "new").iterdir()
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert [p.get_filename() for p in message.iter_attachments()] == ["a.txt", "numbers.csv"]


def test_a_missing_or_directory_attachment_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    for bad in (tmp_path / "missing.pdf", tmp_path):
        result = run(*BASE, "--attach", str(bad), expect=ExitStatus.USAGE)
        assert "--attach" in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "data" / "outbox").exists()


@pytest.fixture
def ses() -> TencentEmulator:
    with TencentEmulator(rate=0) as emulator:
        yield emulator


def test_tencent_sends_attachments(run: Run, ses: TencentEmulator, tmp_path: Path) -> None:
    files = _files(tmp_path)[:2]
    run(*BASE, *(a for f in files for a in ("--attach", str(f))), url=ses.url)
    (mail,) = ses.sent_mail
    assert [(a["filename"], a["content"]) for a in mail["attachments"]] == [(f.name, f.read_bytes()) for f in files]


@pytest.mark.parametrize(
    ("count", "size", "expected"),
    [
        (11, 10, "11 attachments; tencent allows at most 10 per send"),
        (2, 2 * 1024 * 1024 + 1, "attachments total 4194306 bytes; tencent allows at most 4194304"),
    ],
)
def test_tencent_limits_are_checked_before_any_call(
    count: int, size: int, expected: str, run: Run, ses: TencentEmulator, tmp_path: Path
) -> None:
    paths = []
    for i in range(count):
        path = tmp_path / f"file{i}.bin"
        path.write_bytes(b"x" * size)
        paths.append(path)
    result = run(*BASE, *(a for p in paths for a in ("--attach", str(p))), url=ses.url, expect=4)
    assert result.stderr == f"mailbridge: error: tencent: {expected}\n"
    assert ses.requests == [] and ses.sent_mail == []  # the emulator never heard of it
