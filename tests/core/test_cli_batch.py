"""``mailbridge send --batch``: one message per row, a results file, --resume, on the local backend.

The judge is the local outbox (one RFC 5322 file per message, parsed back with the standard
library) and the results file read with the csv module. Interruptions are real SIGINTs raised
from inside the backend's send, so the signal lands while calls are in flight.
"""

from __future__ import annotations

import csv
import email
import email.policy
import json
import mailbox
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from mailbridge_local import LocalBackend

import mailbridge
from mailbridge import Message
from mailbridge.cli import ExitStatus, cli
from mailbridge.cli._batch_results import RESULT_COLUMNS

SENDER = "news@example.com"


def outbox(data: Path) -> list[EmailMessage]:
    box = mailbox.Maildir(data / "outbox", create=True)
    return [email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in box]  # type: ignore[misc]


def delivered(data: Path) -> Counter[str]:
    return Counter(str(m["To"]) for m in outbox(data))


def read_results(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == RESULT_COLUMNS
        return sorted(reader, key=lambda r: int(r["row"]))


class Run:
    """Invoke the CLI on one local data directory; ``calls`` records every backend send's address."""

    def __init__(self, tmp_path: Path) -> None:
        self.data = tmp_path / "data"
        self.url = f"local://{self.data}"
        self.runner = CliRunner()
        self.calls: list[str] = []

    def __call__(self, *args: str, expect: int = 0, stdin: bytes | None = None) -> Any:
        result = self.runner.invoke(cli, ["--url", self.url, *args], input=stdin, catch_exceptions=False)
        assert result.exit_code == expect, (result.exit_code, result.stdout, result.stderr)
        return result


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    runner = Run(tmp_path)
    original = LocalBackend.send

    def send(self: LocalBackend, message: Message) -> mailbridge.SendReceipt:
        runner.calls.append(message.to[0])
        return original(self, message)

    monkeypatch.setattr(LocalBackend, "send", send)
    monkeypatch.chdir(tmp_path)
    return runner


BODY = ("--from", SENDER, "--subject", "Hello {{name}}", "--text", "Your plan: {{plan}}", "--html", "<b>{{name}}</b>")


# ---------------------------------------------------------------------- input formats


def test_csv_rows_become_personalised_messages_and_results_lines(run: Run, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\nada@example.com,Ada,pro\ngrace@example.org,Grace <G>,team\n")
    result = run("send", "--batch", str(people), *BODY)
    assert "batch: 2 rows: 2 sent, 0 maybe sent, 0 not sent, 0 skipped" in result.stderr
    mails = {str(m["To"]): m for m in outbox(run.data)}
    assert set(mails) == {"ada@example.com", "grace@example.org"}
    assert mails["ada@example.com"]["Subject"] == "Hello Ada"
    assert mails["grace@example.org"]["Subject"] == "Hello Grace <G>"
    text = mails["grace@example.org"].get_body(("plain",))
    html = mails["grace@example.org"].get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content() == "Your plan: team"
    assert html.get_content() == "<b>Grace &lt;G&gt;</b>"  # HTML values are escaped
    rows = read_results(tmp_path / "people.csv.results.csv")
    assert [(r["row"], r["address"], r["status"], r["provider"], r["maybe_sent"]) for r in rows] == [
        ("1", "ada@example.com", "sent", "local", "false"),
        ("2", "grace@example.org", "sent", "local", "false"),
    ]
    assert {r["message_id"] for r in rows} == {str(m["Message-ID"]) for m in mails.values()}


def test_gbk_semicolon_csv(run: Run, tmp_path: Path) -> None:
    """What Chinese Excel saves: GBK (read as GB18030), semicolons; names survive byte for byte."""
    people = tmp_path / "客户.csv"
    people.write_bytes("email;name;城市\nli@example.com;李雷;北京\nhan@example.com;韩梅梅;上海\n".encode("gbk"))
    run("send", "--batch", str(people), "--from", SENDER, "--subject", "{{name}}您好", "--text", "hi")
    assert sorted(str(m["Subject"]) for m in outbox(run.data)) == sorted(["李雷您好", "韩梅梅您好"])


def test_bom_csv_with_address_column_and_stdin(run: Run, tmp_path: Path) -> None:
    content = "\ufeffAddress;Name\nada@example.com;Ada\n".encode()
    run("send", "--batch", "-", "--from", SENDER, "--subject", "Hi {{Name}}", "--text", "x", stdin=content)
    assert [str(m["Subject"]) for m in outbox(run.data)] == ["Hi Ada"]
    rows = read_results(tmp_path / "stdin.results.csv")
    assert [(r["address"], r["status"]) for r in rows] == [("ada@example.com", "sent")]


def test_to_column(run: Run, tmp_path: Path) -> None:
    people = tmp_path / "p.csv"
    people.write_text("id,Mail,name\n1,ada@example.com,Ada\n")
    run("send", "--batch", str(people), "--to-column", "mail", "--from", SENDER, "--subject", "{{name}}", "--text", "x")
    assert list(delivered(run.data)) == ["ada@example.com"]
    other = tmp_path / "q.csv"
    other.write_text("id,name\n1,Ada\n")
    result = run("send", "--batch", str(other), "--to-column", "mail", *BODY, expect=4)
    assert "header with a 'mail' column" in result.stderr


def test_jsonl_values_and_per_line_errors(run: Run, tmp_path: Path) -> None:
    lines = [
        {"email": "ada@example.com", "name": "Ada", "plan": 3, "vip": True, "note": None},
        "",
        "{not json",
        ["an", "array"],
        {"email": "grace@example.org", "name": "Grace", "plan": {"nested": 1}},
        {"EMAIL": "lin@example.com", "name": "Lin", "plan": 2.5},
    ]
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    result = run("send", "--batch", str(path), *BODY, expect=ExitStatus.PARTIAL)
    assert "batch: 5 rows: 2 sent, 0 maybe sent, 3 not sent" in result.stderr
    rows = read_results(tmp_path / "people.jsonl.results.csv")
    assert [(r["row"], r["status"], r["error"]) for r in rows] == [
        ("1", "sent", ""),
        ("2", "rejected", "InvalidRequest"),
        ("3", "rejected", "InvalidRequest"),
        ("4", "rejected", "InvalidRequest"),
        ("5", "sent", ""),
    ]
    assert rows[1]["reason"].startswith("line 3: not valid JSON")
    assert rows[2]["reason"] == "line 4: a JSON object is needed, not list"
    assert rows[3]["reason"].startswith("line 5: 'plan' holds an object")
    texts = {str(m["To"]): m.get_body(("plain",)).get_content() for m in outbox(run.data)}  # type: ignore[union-attr]
    assert texts == {"ada@example.com": "Your plan: 3", "lin@example.com": "Your plan: 2.5"}
    assert run.calls == ["ada@example.com", "lin@example.com"]  # refused rows never reached the backend


def test_jsonl_that_is_not_utf8_is_refused_before_anything(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    path.write_bytes(b'{"email": "ada@example.com", "name": "Ada"}\n{"email": "li@example.com", "name": "\xc0\xee"}\n')
    result = run("send", "--batch", str(path), *BODY, expect=ExitStatus.INVALID_REQUEST)
    assert "line 2 is not UTF-8 (byte 0xc0" in result.stderr
    assert run.calls == [] and not (tmp_path / "people.jsonl.results.csv").exists()


# ---------------------------------------------------------------------- bad rows


def test_bad_rows_are_refused_before_any_call_and_do_not_stop_the_batch(run: Run, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "email,name,plan\n"
        "ada@example.com,Ada,pro\n"
        "not-an-address,X,free\n"
        ",Nobody,free\n"
        "grace@example.org,,team\n"  # an empty value for {{name}}
        "lin@example.com,Lin,free,surplus\n"  # more fields than the header
        "bo@example.com,Bo,team\n"
    )
    result = run("send", "--batch", str(people), *BODY, expect=ExitStatus.PARTIAL)
    assert "batch: 6 rows: 2 sent, 0 maybe sent, 4 not sent, 0 skipped" in result.stderr
    assert run.calls == ["ada@example.com", "bo@example.com"]
    rows = read_results(tmp_path / "people.csv.results.csv")
    assert [(r["row"], r["address"], r["status"], r["error"]) for r in rows] == [
        ("1", "ada@example.com", "sent", ""),
        ("2", "not-an-address", "rejected", "InvalidAddress"),
        ("3", "", "rejected", "InvalidAddress"),
        ("4", "grace@example.org", "rejected", "InvalidRequest"),
        ("5", "", "rejected", "InvalidRequest"),
        ("6", "bo@example.com", "sent", ""),
    ]
    assert rows[3]["reason"] == "no value for {{name}} (give the column a value, or --allow-empty)"
    assert "line 6 has 4 fields, the header has 3" in rows[4]["reason"]
    # --allow-empty: the empty name is a value; the --resume retries exactly the rows not sent.
    result = run("send", "--batch", str(people), *BODY, "--resume", "--allow-empty", expect=ExitStatus.PARTIAL)
    assert "batch: 6 rows: 1 sent, 0 maybe sent, 3 not sent, 2 skipped" in result.stderr
    assert run.calls[2:] == ["grace@example.org"]
    assert delivered(run.data) == Counter(["ada@example.com", "bo@example.com", "grace@example.org"])


def test_a_column_the_message_needs_is_missing_from_the_header(run: Run, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name\nada@example.com,Ada\n")
    result = run("send", "--batch", str(people), *BODY, expect=ExitStatus.INVALID_REQUEST)
    assert "uses {{plan}} but the file has no such column (columns: email, name)" in result.stderr
    assert run.calls == [] and not (tmp_path / "people.csv.results.csv").exists()
    run("send", "--batch", str(people), *BODY, "--data", "plan=basic")  # a --data default fills it
    assert [m.get_body(("plain",)).get_content() for m in outbox(run.data)] == ["Your plan: basic"]  # type: ignore[union-attr]


def test_usage_errors(run: Run, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\nada@example.com,Ada,pro\n")
    assert "only apply with --batch" in run("send", *BODY, "--to", "a@example.com", "--resume", expect=2).stderr
    assert "leave out --to" in run("send", "--batch", str(people), *BODY, "--to", "a@example.com", expect=2).stderr
    assert "leave out --group" in run("send", "--batch", str(people), *BODY, "--each", expect=2).stderr
    needs = run("send", "--batch", str(people), "--from", SENDER, "--text", "x", expect=4).stderr
    assert "--subject" in needs
    run("send", "--batch", str(people), *BODY)
    again = run("send", "--batch", str(people), *BODY, expect=2)
    assert "exists: add --resume" in again.stderr
    assert run.calls == ["ada@example.com"]


def test_every_batch_option_has_help_text() -> None:
    send = cli.commands["send"]  # type: ignore[attr-defined]
    names = {"batch_file", "to_column", "results_path", "resume", "idempotency_spec", "batch_id", "allow_empty"}
    names |= {"encoding", "delimiter", "max_in_flight", "progress"}
    options = {p.name: p for p in send.params if p.name in names}
    assert set(options) == names
    assert all(getattr(p, "help", None) for p in options.values())


# ---------------------------------------------------------------------- templates by name


def test_template_by_name(run: Run, tmp_path: Path) -> None:
    with mailbridge.connect(run.url) as client:
        client.create_template("welcome", subject="Welcome {{name}}", text="{{name}} on {{plan}}")
    people = tmp_path / "people.csv"
    people.write_text("email,name\nada@example.com,Ada\n")
    result = run("send", "--batch", str(people), "--from", SENDER, "--template", "welcome", expect=4)
    assert "uses {{plan}}" in result.stderr  # the stored template's variables are checked against the header
    people.write_text("email,name,plan\nada@example.com,Ada,pro\ngrace@example.org,Grace,\n")
    run("send", "--batch", str(people), "--from", SENDER, "--template", "welcome", expect=ExitStatus.PARTIAL)
    (mail,) = outbox(run.data)
    assert (str(mail["To"]), str(mail["Subject"])) == ("ada@example.com", "Welcome Ada")
    assert mail.get_body(("plain",)).get_content() == "Ada on pro"  # type: ignore[union-attr]
    missing = run("send", "--batch", str(people), "--from", SENDER, "--template", "nope", expect=ExitStatus.NOT_FOUND)
    assert "no template named 'nope'" in missing.stderr


# ---------------------------------------------------------------------- interruption and resume


def interrupt_after(monkeypatch: pytest.MonkeyPatch, sends: int) -> None:
    """Ctrl-C (a real SIGINT to this process) right after the backend accepted ``sends`` messages."""
    count = 0
    lock = threading.Lock()
    original = LocalBackend.send

    def send(self: LocalBackend, message: Message) -> mailbridge.SendReceipt:
        nonlocal count
        receipt = original(self, message)
        with lock:
            count += 1
            if count == sends:
                os.kill(os.getpid(), signal.SIGINT)
        return receipt

    monkeypatch.setattr(LocalBackend, "send", send)


@pytest.mark.skipif(os.name != "posix", reason="sends itself SIGINT")
@pytest.mark.parametrize("in_flight", ["1", "4"])
def test_ctrl_c_then_resume_delivers_every_row_exactly_once(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_flight: str
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\n" + "".join(f"user{i}@example.com,U{i},p{i}\n" for i in range(60)))
    interrupt_after(monkeypatch, 7)
    args = ("send", "--batch", str(people), *BODY, "--max-in-flight", in_flight)
    first = run(*args, expect=ExitStatus.INTERRUPTED)
    assert "interrupted: run again with --resume" in first.stderr
    sent_first = delivered(run.data)
    rows = read_results(tmp_path / "people.csv.results.csv")
    # The results file is complete: every delivered message is a "sent" line, nothing else is.
    assert Counter(r["address"] for r in rows if r["status"] == "sent") == sent_first
    assert all(r["status"] == "sent" for r in rows)
    assert 7 <= len(sent_first) <= 7 + 4 * int(in_flight) < 60  # stopped soon, not at the end
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    second = run(*args, "--resume")
    assert f"{len(sent_first)} skipped" in second.stderr
    assert delivered(run.data) == Counter(f"user{i}@example.com" for i in range(60))  # each exactly once
    rows = read_results(tmp_path / "people.csv.results.csv")
    assert [int(r["row"]) for r in rows] == list(range(1, 61))  # one line per row over both runs


def test_a_cut_last_line_is_never_resent(run: Run, tmp_path: Path) -> None:
    """A crash can cut the results file's last line: that row counts as maybe sent."""
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\n" + "".join(f"user{i}@example.com,U{i},p\n" for i in range(4)))
    results = tmp_path / "people.csv.results.csv"
    run("send", "--batch", str(people), *BODY, "--max-in-flight", "1")
    lines = results.read_text().splitlines(keepends=True)
    results.write_text("".join(lines[:-1]) + lines[-1][:6])  # "4,user" of the last row
    result = run("send", "--batch", str(people), *BODY, "--resume")
    assert "4 skipped" in result.stderr and run.calls == [f"user{i}@example.com" for i in range(4)]
    assert results.read_text().splitlines()[-1] == "4,user"  # left as it was, nothing appended to it


def test_hostile_addresses_and_a_zero_filled_tail_keep_the_results_file_readable(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    hostile = "a\nb\x00c\u2028d@example.com"
    lines = [{"email": hostile, "name": "X", "plan": "p"}, {"email": "ok@example.com", "name": "Ok", "plan": "p"}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run("send", "--batch", str(path), *BODY, expect=ExitStatus.PARTIAL)
    results = tmp_path / "people.jsonl.results.csv"
    assert len(results.read_text().splitlines()) == 3  # header + one line per row
    assert read_results(results)[0]["address"] == "a b c d@example.com"
    with results.open("ab") as handle:
        handle.write(b"\x00" * 64)  # what a power loss can leave at the end of a file
    again = run("send", "--batch", str(path), *BODY, "--resume", expect=ExitStatus.PARTIAL)
    assert "1 skipped" in again.stderr and run.calls == ["ok@example.com"]


def test_resume_refuses_a_file_that_changed(run: Run, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\nada@example.com,Ada,p\nbo@example.com,Bo,p\n")
    run("send", "--batch", str(people), *BODY)
    people.write_text("email,name,plan\nnew@example.com,New,p\nada@example.com,Ada,p\nbo@example.com,Bo,p\n")
    result = run("send", "--batch", str(people), *BODY, "--resume", expect=ExitStatus.INVALID_REQUEST)
    assert "row 1 is new@example.com but" in result.stderr and "nothing was sent" in result.stderr
    assert run.calls == ["ada@example.com", "bo@example.com"]


def test_lost_results_lines_with_an_idempotency_store_never_double_send(run: Run, tmp_path: Path) -> None:
    """The results file lost its last lines (a crash after the sends): the SQLite store still knows them."""
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\n" + "".join(f"user{i}@example.com,U{i},p\n" for i in range(6)))
    results = tmp_path / "people.csv.results.csv"
    store = ("--idempotency", f"sqlite:{tmp_path / 'keys.db'}")
    run("send", "--batch", str(people), *BODY, *store, "--max-in-flight", "1")
    before = read_results(results)
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:3]))  # header + rows 1-2
    result = run("send", "--batch", str(people), *BODY, *store, "--resume")
    assert "2 skipped" in result.stderr
    assert delivered(run.data) == Counter(f"user{i}@example.com" for i in range(6))  # nothing went out twice
    assert len(run.calls) == 6
    after = read_results(results)
    assert [(r["row"], r["status"], r["message_id"]) for r in after] == [
        (r["row"], r["status"], r["message_id"]) for r in before
    ]  # the store gave back the first receipts
    # Without the store the same loss would send rows 3-6 again: the note says so.
    results.write_text("".join(results.read_text().splitlines(keepends=True)[:3]))
    result = run("send", "--batch", str(people), *BODY, "--resume", "--batch-id", "other", "--results", str(results))
    assert "no shared idempotency store" in result.stderr


def test_an_error_every_row_would_meet_stops_the_batch(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\n" + "".join(f"user{i}@example.com,U{i},p\n" for i in range(30)))
    original = LocalBackend.send
    broken = {"on": True}

    def send(self: LocalBackend, message: Message) -> mailbridge.SendReceipt:
        if message.to[0] == "user3@example.com" and broken["on"]:
            raise mailbridge.AuthenticationError("credentials rejected")
        return original(self, message)

    monkeypatch.setattr(LocalBackend, "send", send)
    result = run("send", "--batch", str(people), *BODY, "--max-in-flight", "1", expect=ExitStatus.AUTHENTICATION)
    assert "stopped by AuthenticationError" in result.stderr
    rows = read_results(tmp_path / "people.csv.results.csv")
    assert [(r["row"], r["status"]) for r in rows][:4] == [
        ("1", "sent"),
        ("2", "sent"),
        ("3", "sent"),
        ("4", "not_sent"),
    ]
    assert len(rows) < 30
    broken["on"] = False
    run("send", "--batch", str(people), *BODY, "--resume")
    assert delivered(run.data) == Counter(f"user{i}@example.com" for i in range(30))


def test_a_provider_that_stays_down_stops_the_batch(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """20 rows in a row refused as unavailable (after retries): stop, exit 7; one success resets the count."""
    people = tmp_path / "people.csv"
    people.write_text("email,name,plan\n" + "".join(f"user{i}@example.com,U{i},p\n" for i in range(100)))
    original = LocalBackend.send
    down = {"on": True}

    def send(self: LocalBackend, message: Message) -> mailbridge.SendReceipt:
        run.calls.append(message.to[0])
        if down["on"] and message.to[0] not in ("user10@example.com",):
            raise mailbridge.ProviderUnavailable("service unavailable")
        return original(self, message)

    monkeypatch.setattr(LocalBackend, "send", send)
    result = run("send", "--batch", str(people), *BODY, "--max-in-flight", "1", expect=ExitStatus.PROVIDER_FAILURE)
    assert "stopped by ProviderUnavailable" in result.stderr
    rows = read_results(tmp_path / "people.csv.results.csv")
    statuses = [r["status"] for r in rows]
    assert statuses[:11] == ["not_sent"] * 10 + ["sent"]  # the success reset the count
    # After the 20th failure is read, the calls that had started or finished ahead of the reader are recorded too:
    # at most send_many's window of 4 x in flight (a slow reader under load sees more of them than one).
    assert set(statuses[11:]) == {"not_sent"} and 20 <= len(statuses[11:]) <= 20 + 4
    assert len(set(run.calls)) == len(statuses)  # nothing started (retries included) that is not recorded
    down["on"] = False
    run("send", "--batch", str(people), *BODY, "--resume")
    assert delivered(run.data) == Counter(f"user{i}@example.com" for i in range(100))


# ---------------------------------------------------------------------- send_many: Ctrl-C while reading input


def test_send_many_turns_an_interrupt_from_the_input_into_send_many_interrupted(tmp_path: Path) -> None:
    """A KeyboardInterrupt raised while send_many reads its input accounts for every started message."""

    def messages() -> Iterator[Message]:
        for i in range(50):
            if i == 20:
                raise KeyboardInterrupt
            yield Message(sender=SENDER, to=[f"m{i}@example.com"], subject=f"m{i}", text="x")

    seen: list[mailbridge.SendOutcome] = []
    with mailbridge.connect(f"local://{tmp_path}") as client:
        with pytest.raises(mailbridge.SendManyInterrupted) as info:
            for outcome in client.send_many(messages(), max_in_flight=4):
                seen.append(outcome)
        accounted = seen + list(info.value.outcomes)
        assert [o.index for o in accounted] == list(range(len(accounted)))
        assert info.value.next_index == len(accounted)
        assert Counter(str(m["To"]) for m in outbox(tmp_path)) == Counter(o.message.to[0] for o in accounted)
