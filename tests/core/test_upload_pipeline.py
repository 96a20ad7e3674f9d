"""The pipelined upload (a call in flight on a worker thread while the next batch is checked) keeps
the report exact when it stops: a failed call at batch N or at the last batch, Ctrl-C while reading
or while a call is in flight. Judged by what is on disk (the SQLite file read with ``sqlite3``) and
by the report's own invariant (every row read in exactly one category), never by the code under test.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mailbridge
import mailbridge.cli._recipients as command
from mailbridge.cli import cli
from mailbridge.cli._exit import ExitStatus

from .conftest import MakeClient, backend_of

BATCH = 10


def _stored(client: mailbridge.Client) -> set[str]:
    path = client.backend.store.path  # type: ignore[attr-defined]
    db = sqlite3.connect(path)
    try:
        return {row[0] for row in db.execute("SELECT email FROM members")}
    finally:
        db.close()


def _rows(count: int, *, interrupt_at: int | None = None, bad_every: int = 7) -> Iterator[str]:
    """Addresses, an invalid one every ``bad_every`` rows and a repeat every 11; Ctrl-C at ``interrupt_at``."""
    for i in range(1, count + 1):
        if i == interrupt_at:
            raise KeyboardInterrupt
        if i % bad_every == 0:
            yield f"bad{i}@@example.com"
        elif i % 11 == 0:
            yield f"USER{i - 1}@example.com"  # a repeat of the previous row, in another case
        else:
            yield f"user{i}@example.com"


def _valid(rows: list[str]) -> list[str]:
    """The addresses an upload of ``rows`` sends, worked out by hand: valid ones, first of each (any case)."""
    seen: set[str] = set()
    out = []
    for e in rows:
        if "@@" not in e and e.casefold() not in seen:
            seen.add(e.casefold())
            out.append(e)
    return out


def _check_exact(report: mailbridge.UploadReport, not_sent: tuple[str, ...], stored: set[str]) -> None:
    """Every row read is in one category; the accepted ones are exactly what is on disk; no address
    is both on disk and reported not sent."""
    categories = (
        report.accepted
        + report.existing
        + len(report.duplicates)
        + len(report.rejected)
        + report.unattributed_rejected
        + report.not_sent
    )
    assert categories == report.rows
    assert report.not_sent == len(not_sent)
    assert len(stored) == report.accepted
    assert not stored & set(not_sent)


def _failing_at(client: mailbridge.Client, call: int) -> list[int]:
    """Make upload call number ``call`` fail for good; returns the list of thread ids that made calls."""
    backend = backend_of(client)
    backend.failures["upload_batch"] = [None] * (call - 1) + [mailbridge.AuthenticationError("revoked", provider="x")]
    threads: list[int] = []
    original = backend.upload_batch

    def spy(group: mailbridge.Group, batch: list[mailbridge.Recipient]) -> mailbridge.BatchResult:
        threads.append(threading.get_ident())
        return original(group, batch)

    backend.upload_batch = spy  # type: ignore[method-assign]
    return threads


@pytest.mark.parametrize("failing_call", [1, 3])
def test_a_failed_call_mid_upload_reports_it_and_the_batch_read_meanwhile(
    make_client: MakeClient, failing_call: int
) -> None:
    client = make_client(upload_batch_size=BATCH)
    group = client.create_group("g")
    threads = _failing_at(client, failing_call)
    progress: list[tuple[int, mailbridge.UploadProgress]] = []
    with pytest.raises(mailbridge.AuthenticationError) as caught:
        client.upload(group, _rows(100), progress=lambda p: progress.append((threading.get_ident(), p)))
    report, not_sent = caught.value.partial_result, caught.value.not_sent
    stored = _stored(client)
    _check_exact(report, not_sent, stored)
    sent = backend_of(client).calls_to("upload_batch")
    assert len(sent) == failing_call  # nothing was sent after the failed call
    assert report.batches == failing_call - 1
    # Not sent: the failed call's addresses and the next batch's, read and checked while it ran.
    assert not_sent[:BATCH] == tuple(sent[-1])
    assert len(not_sent) == 2 * BATCH
    assert stored == {e for call in sent[:-1] for e in call}
    # The calls ran on one worker thread; the progress callback only ever on the caller's.
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()
    assert {t for t, _ in progress} <= {threading.get_ident()}
    assert [p.batch_accepted for _, p in progress] == [tuple(call) for call in sent[:-1]]
    assert not [t for t in threading.enumerate() if t.name.startswith("mailbridge-upload")]


def test_a_failed_last_call_leaves_nothing_read_unaccounted(make_client: MakeClient) -> None:
    client = make_client(upload_batch_size=BATCH)
    group = client.create_group("g")
    whole = list(_rows(95))
    valid = _valid(whole)
    calls = -(-len(valid) // BATCH)
    _failing_at(client, calls)
    with pytest.raises(mailbridge.AuthenticationError) as caught:
        client.upload(group, whole)
    report, not_sent = caught.value.partial_result, caught.value.not_sent
    _check_exact(report, not_sent, _stored(client))
    assert report.rows == len(whole)  # every row was read
    assert not_sent == tuple(valid[(calls - 1) * BATCH :])  # the last call's, nothing else left
    assert report.accepted == (calls - 1) * BATCH


def test_ctrl_c_while_reading_finishes_the_call_in_flight_and_reports_exactly(make_client: MakeClient) -> None:
    client = make_client(upload_batch_size=BATCH)
    group = client.create_group("g")
    with pytest.raises(KeyboardInterrupt) as caught:
        client.upload(group, _rows(100, interrupt_at=57))
    report: mailbridge.UploadReport = caught.value.partial_result  # type: ignore[attr-defined]
    not_sent: tuple[str, ...] = caught.value.not_sent  # type: ignore[attr-defined]
    stored = _stored(client)
    _check_exact(report, not_sent, stored)
    assert report.rows == 56  # rows 1-56 were read, row 57 never came
    sent = backend_of(client).calls_to("upload_batch")
    assert stored == {e for call in sent for e in call}  # every call made finished and is counted
    assert report.accepted == sum(len(c) for c in sent)
    expected = _valid(list(_rows(56)))
    assert set(not_sent) == set(expected) - stored  # the batch being built
    assert not [t for t in threading.enumerate() if t.name.startswith("mailbridge-upload")]


def test_ctrl_c_while_a_call_is_in_flight_waits_for_its_outcome(make_client: MakeClient) -> None:
    """Ctrl-C (a real SIGINT) arrives while the upload waits for the worker's call: it waits on for
    that call and counts it as accepted (it is on disk), and the batch read meanwhile as not sent."""
    client = make_client(upload_batch_size=BATCH)
    group = client.create_group("g")
    backend = backend_of(client)
    original = backend.upload_batch
    release = threading.Event()

    def slow(group: mailbridge.Group, batch: list[mailbridge.Recipient]) -> mailbridge.BatchResult:
        release.wait()  # the first call stays in flight until after the interrupt
        return original(group, batch)

    backend.upload_batch = slow  # type: ignore[method-assign]
    interrupt = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
    finish = threading.Timer(0.6, release.set)
    interrupt.start()
    finish.start()
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            client.upload(group, [f"user{i}@example.com" for i in range(1, 3 * BATCH)])
    finally:
        release.set()
        interrupt.join()
        finish.join()
    report: mailbridge.UploadReport = caught.value.partial_result  # type: ignore[attr-defined]
    not_sent: tuple[str, ...] = caught.value.not_sent  # type: ignore[attr-defined]
    stored = _stored(client)
    _check_exact(report, not_sent, stored)
    assert stored == {f"user{i}@example.com" for i in range(1, BATCH + 1)}
    # Batch 2 was full and waiting for the first call to finish: read, never sent.
    assert not_sent == tuple(f"user{i}@example.com" for i in range(BATCH + 1, 2 * BATCH + 1))
    assert (report.rows, report.accepted, report.batches) == (2 * BATCH, BATCH, 1)
    assert len(backend.calls_to("upload_batch")) == 1


def test_cli_ctrl_c_prints_the_exact_partial_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``recipients upload`` interrupted: the JSON report on stdout says what is on disk, exit 130-style."""
    store = tmp_path / "store"
    path = tmp_path / "list.csv"
    path.write_text("email\n" + "".join(f"user{i}@example.com\n" for i in range(1, 3001)), encoding="utf-8")
    url = f"local://{store}"
    runner = CliRunner()
    assert runner.invoke(cli, ["--url", url, "groups", "create", "news"]).exit_code == 0

    real = command.read_recipients_csv

    class Interrupted:
        """The file's rows, then Ctrl-C at row 2,500."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.inner = real(*args, **kwargs)
            self.lines = self.inner.lines

        def __iter__(self) -> Iterator[Any]:
            for row, item in enumerate(self.inner, start=1):
                if row == 2500:
                    raise KeyboardInterrupt
                yield item

        def close(self) -> None:
            self.inner.close()

    monkeypatch.setattr(command, "read_recipients_csv", Interrupted)
    result = runner.invoke(cli, ["--url", url, "--json", "recipients", "upload", "news", str(path)])
    assert result.exit_code == int(ExitStatus.INTERRUPTED), result.output
    report = json.loads(result.stdout)
    assert report["complete"] is False
    assert report["rows"] == 2499
    db = sqlite3.connect(store / "mailbridge.sqlite3")
    try:
        stored = db.execute("SELECT COUNT(*) FROM members").fetchone()[0]
    finally:
        db.close()
    assert report["accepted"] == stored == 2000
    assert report["not_sent"] == 499
