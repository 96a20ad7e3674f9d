"""Every command of ``mailbridge --help``, with hostile arguments: a documented exit code, one error line.

The matrix is generated from the click command tree (so a new command is covered without
editing this file): each argument and option gets a value of its type from one hostile
profile (control characters, line breaks, huge values, unreadable files, secrets in URLs ...).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mailbridge.cli import ExitStatus, cli

CODES = {int(s) for s in ExitStatus}
SECRET = "MyRealSecret123"

TEXT = [
    "",
    "a\r\nBcc: x@evil.example",
    "\x00\x0b\x0c\x1c\x85\u2028\u2029",
    "x" * 20_000,
    "../../../etc/passwd",
    "=?utf-8?q?Zo=C3=AB?=",
    "Zoë <ceo@bank.example>",
    "😀\ud800",
    f"tencent://AKIDxxxx:{SECRET}",
    "-1",
    "99999999999999999999999",
    "99999999d",
]
INTS = ["-1", "0", "99999999999999999999999", "abc", ""]


def _commands() -> Iterator[tuple[list[str], click.Command]]:
    def walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                yield from walk(sub, [*path, name])
        else:
            yield path, command

    yield from walk(cli, [])


def _files(tmp: Path) -> list[str]:
    latin = tmp / "latin1.json"
    latin.write_bytes('{"subject": "café"}\nemail,name\nzoë@example.com,Zoë\n'.encode("latin-1"))
    binary = tmp / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    wrong = tmp / "wrong.json"
    wrong.write_text('{"subject": 5, "headers": "x", "attachments": [{"filename": "a\\r\\n"}]}', encoding="utf-8")
    return ["/proc/self", "/nonexistent/file", "-", "/dev/null", str(tmp), str(latin), str(binary), str(wrong)]


def _value(param: click.Parameter, profile: int, files: list[str]) -> str:
    kind = param.type
    if isinstance(kind, click.Path):
        return files[profile % len(files)]
    if isinstance(kind, click.types.IntParamType):
        return INTS[profile % len(INTS)]
    if isinstance(kind, click.Choice):
        return ["nope", "", *kind.choices][profile % (len(kind.choices) + 2)]
    return TEXT[profile % len(TEXT)]


def _args(path: list[str], command: click.Command, profile: int, files: list[str]) -> list[str]:
    args = list(path)
    for index, param in enumerate(command.params):
        if isinstance(param, click.Argument):
            count = 2 if param.nargs == -1 else 1
            args += [_value(param, profile + i, files) for i in range(count)]
        elif isinstance(param, click.Option):
            flag = param.opts[0]
            if param.is_flag:
                if (profile + index) % 2:
                    args.append(flag)
            elif param.required or (profile + index) % 3:
                args += [flag, _value(param, profile + index, files)]
    return args


PROFILES = range(8)  # options take TEXT[profile + index]: every value is still used
MATRIX = [(path, profile) for path, _ in _commands() for profile in PROFILES]


@pytest.mark.slow
@pytest.mark.parametrize(("path", "profile"), MATRIX, ids=[f"{'-'.join(p)}-{i}" for p, i in MATRIX])
def test_hostile_arguments_exit_with_a_documented_code_and_one_error_line(
    path: list[str], profile: int, tmp_path: Path
) -> None:
    command = dict((" ".join(p), c) for p, c in _commands())[" ".join(path)]
    files = _files(tmp_path)
    urls = [f"local://{tmp_path / 'data'}", "local:///proc/self", f"tencent://AKIDxxxx:{SECRET}", "nope://x"]
    url = urls[profile % len(urls)] if profile % 3 == 0 else urls[0]
    as_json = profile % 2 == 1
    args = ["--url", url, *(["--json"] if as_json else []), *_args(path, command, profile, files)]
    result = CliRunner().invoke(cli, args, input="")
    output = result.stdout + result.stderr
    assert result.exit_code in CODES, (args, result.exit_code, output[-2000:])
    assert "Traceback" not in output, output[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if SECRET not in " ".join(args[2:]):  # a secret typed as an address or subject is echoed like any value
        assert SECRET not in output
    if result.exit_code not in (int(ExitStatus.SUCCESS), int(ExitStatus.PARTIAL)):
        errors = [line for line in result.stderr.splitlines() if line.startswith(("mailbridge: ", "{"))]
        assert len(errors) == 1, result.stderr[-2000:]
        assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0]
        if errors[0].startswith("{"):
            assert isinstance(json.loads(errors[0]), dict)
    elif as_json and result.stdout.strip():
        json.loads(result.stdout)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"subject": ', "invalid JSON at line 1, column 13"),
        ('{"subject": "café"}'.encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 16)"),
        (b'["a list"]', "expected a JSON object of Message fields, not an array"),
        (b'{"subject": 5}', "field 'subject' must be a string, not a number"),
        (b'{"headers": "x"}', "field 'headers' must be an object of strings, not a string"),
        (b'{"headers": {"X-A": 1}}', "field 'headers.X-A' must be a string, not a number"),
        (b'{"to": ["a@example.com", 7]}', "field 'to[1]' must be a string, not a number"),
        (b'{"unsubscribe": "yes"}', "field 'unsubscribe' must be true, false or null, not a string"),
        (b'{"colour": "red"}', "unknown field 'colour'"),
        (b'{"attachments": {"filename": "a"}}', "field 'attachments' must be an array of attachment objects"),
        (b'{"attachments": ["a.txt"]}', "field 'attachments[0]' must be an object"),
        (b'{"attachments": [{"filename": "a.txt"}]}', "needs exactly one of content_base64 and path"),
        (
            b'{"attachments": [{"filename": "a", "content_base64": "!!"}]}',
            "'attachments[0].content_base64' is not valid",
        ),
        (b'{"attachments": [{"filename": "a", "path": "missing.bin"}]}', "'attachments[0].path' cannot be read"),
        (b'{"attachments": [{"filename": "a", "size": 1}]}', "'attachments[0].size' is not known"),
        (b'{"attachments": [{"content_base64": "aGk="}]}', "'attachments[0].filename' is required"),
        (b'{"attachments": [{"filename": "a\\r\\nb", "content_base64": "aGk="}]}', "filename must not contain a line"),
    ],
)
def test_message_file_errors_name_the_field(content: bytes, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "message.json"
    path.write_bytes(content)
    args = ["--url", f"local://{tmp_path / 'data'}", "send", "--message-file", str(path)]
    args += ["--from", "a@example.com", "--to", "b@example.com", "--subject", "s", "--text", "t"]
    if b'"subject"' in content:
        args = [a for a in args if a not in ("--subject", "s")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == int(ExitStatus.INVALID_REQUEST), result.output
    (line,) = result.stderr.strip().splitlines()
    assert expected in line, line


def test_a_message_file_with_attachments_sends(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4 fake")
    path = tmp_path / "message.json"
    path.write_text(
        json.dumps(
            {
                "sender": "a@example.com",
                "to": "b@example.com",
                "subject": "Report",
                "text": "attached",
                "attachments": [
                    {"filename": "report.pdf", "path": "report.pdf", "content_type": "application/pdf"},
                    {"filename": "hi.txt", "content_base64": "aGk="},
                ],
            }
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        cli, ["--url", f"local://{tmp_path / 'data'}", "--json", "send", "--message-file", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == ["b@example.com"]
