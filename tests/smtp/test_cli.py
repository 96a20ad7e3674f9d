"""The command line on an SMTP relay: data on stdout, the exit status says what happened, no secret, no traceback."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mailbridge.cli import ExitStatus, cli

from ._server import LOGIN, PASSWORD, SmtpServer

SEND = ["send", "--from", LOGIN, "--to", "ada@example.com", "--subject", "Hi", "--text", "hello"]


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--url", url, "--json", *args])
    return result.exit_code, result.stdout, result.stderr


def test_send_prints_the_receipt(server: SmtpServer) -> None:
    code, out, _ = run(server.url(), *SEND)
    assert code == 0
    data = json.loads(out)
    assert (data["provider"], data["message_ids"], data["accepted"]) == ("smtp", ["4Fq2Xh0Z3Lz9"], ["ada@example.com"])
    assert [r.rcpt_tos for r in server.received] == [["ada@example.com"]]


def test_failures_have_their_exit_status(server: SmtpServer) -> None:
    code, out, err = run(server.url(password="wrong-" + PASSWORD), *SEND)
    assert code == ExitStatus.AUTHENTICATION
    assert "Traceback" not in err and PASSWORD not in out + err
    server.faults.drop_after_data = True
    code, _, err = run(server.url(), *SEND)
    assert code == ExitStatus.OUTCOME_UNKNOWN
    assert "Traceback" not in err
    code, _, _ = run(server.url(), "groups", "list")
    assert code == ExitStatus.INVALID_REQUEST and len(server.received) == 1  # send-only: UnsupportedFeature
