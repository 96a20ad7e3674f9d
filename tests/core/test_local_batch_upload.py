"""The batched local upload keeps the exact per-row report, and a failed batch leaves nothing half-written.

The local backend writes each upload call in one transaction with one ``executemany``, and the
core takes the fast paths of :meth:`Recipient.coerce` and of the JSON it stores. These tests judge
the outcome by what is on disk (the SQLite file, read with :mod:`sqlite3` directly) and by
expectations worked out from the file with the ``csv`` module and email-validator, not by the
code under test.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from click.testing import CliRunner
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

import mailbridge
from mailbridge.cli import cli


def _members(store: Path, group: str) -> dict[str, tuple[str, dict[str, str], dict[str, str]]]:
    db = sqlite3.connect(store / "mailbridge.sqlite3")
    try:
        rows = db.execute(
            "SELECT m.key, m.email, m.profile, m.data FROM members m JOIN groups g ON g.id = m.group_id"
            " WHERE g.name = ?",
            (group,),
        ).fetchall()
    finally:
        db.close()
    return {k: (e, json.loads(p), json.loads(d)) for k, e, p, d in rows}


def _craft(path: Path, rows: int) -> None:
    """Valid rows, invalid addresses, repeats in another case, a row with too many fields, blank lines."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write("email,name,plan\n")
        for i in range(rows):
            if i % 97 == 13:
                handle.write(f"bad{i}@@example.com,Bad {i},free\n")
            elif i % 89 == 7:
                handle.write(f"USER{i - 1}@Example{(i - 1) % 5}.com,Again,pro\n")  # repeat of the previous row
            elif i % 401 == 11:
                handle.write(f"user{i}@example.com,too,many,fields\n")
            elif i % 503 == 17:
                handle.write(",,\n")  # a blank row
            else:
                handle.write(f"user{i}@example{i % 5}.com,User {i},{'pro' if i % 2 else ''}\n")


def _expected(path: Path, existing: set[str]) -> dict[str, Any]:
    """The report worked out independently: csv module rows, email-validator verdicts."""
    accepted, dups, rejected, already = [], [], [], 0
    seen: set[str] = set()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        row = 0
        for fields in reader:
            if not "".join(fields).strip():
                continue
            row += 1
            if len(fields) > 3:
                rejected.append((row, "invalid"))
                continue
            email = fields[0]
            try:
                validate_email(email, check_deliverability=False, strict=True)
            except EmailNotValidError:
                rejected.append((row, "invalid"))
                continue
            key = email.casefold()
            if key in seen:
                dups.append(email)
            elif key in existing:
                already += 1
                seen.add(key)
            else:
                seen.add(key)
                accepted.append((email, fields[1], fields[2]))
    return {"accepted": accepted, "duplicates": dups, "rejected": rejected, "existing": already}


def test_batched_upload_keeps_the_exact_per_row_report(tmp_path: Path) -> None:
    store = tmp_path / "store"
    url = f"local://{store}"
    runner = CliRunner()
    assert runner.invoke(cli, ["--url", url, "groups", "create", "news"]).exit_code == 0
    # Members already in the group, spread over several 1,000-row upload calls.
    before = [f"user{i}@example{i % 5}.com" for i in range(0, 3000, 37) if i % 97 != 13 and i % 89 != 7]
    with mailbridge.connect(url) as client:
        client.upload("news", [mailbridge.Recipient(email=e, name="Before") for e in before])
    path = tmp_path / "crafted.csv"
    _craft(path, 3000)
    want = _expected(path, {e.casefold() for e in before})

    result = runner.invoke(cli, ["--url", url, "--json", "recipients", "upload", "news", str(path)])
    assert result.exit_code == 9, result.output  # partial: some rows rejected
    report = json.loads(result.stdout)
    assert report["accepted"] == len(want["accepted"])
    assert report["existing"] == want["existing"] > 0
    assert report["duplicates"] == want["duplicates"]
    assert [(r["row"], r["code"]) for r in report["rejected"]] == want["rejected"]
    with open(report["rejected_file"], newline="") as handle:
        written = list(csv.DictReader(handle))
    assert [int(r["row"]) for r in written] == [row for row, _ in want["rejected"]]

    members = _members(store, "news")
    assert len(members) == len(before) + len(want["accepted"])
    for email, name, plan in want["accepted"]:
        stored_email, profile, data = members[email.casefold()]
        assert stored_email == email and profile == {"name": name} and data == ({"plan": plan} if plan else {})
    for email in before:  # untouched by the second upload: still the first profile
        assert members[email.casefold()][1] == {"name": "Before"}


def test_a_batch_that_fails_midway_leaves_only_what_the_report_says(tmp_path: Path) -> None:
    """A write failing inside a batch (a trigger aborts at one row) rolls the whole batch back:
    the store holds exactly the earlier batches, which the partial report counts as accepted."""
    store = tmp_path / "store"
    with mailbridge.connect(f"local://{store}", retry=mailbridge.RetryPolicy(attempts=1)) as client:
        client.create_group("news")
        db = sqlite3.connect(store / "mailbridge.sqlite3")
        # RAISE(FAIL) keeps the rows this statement wrote before the failing one: the transaction must undo them.
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON members WHEN NEW.email = 'user2500@example.com'"
            " BEGIN SELECT RAISE(FAIL, 'simulated disk failure'); END"
        )
        db.commit()
        db.close()
        emails = [f"user{i}@example.com" for i in range(4000)]
        with pytest.raises(mailbridge.MailbridgeError) as caught:
            client.upload("news", emails)
    partial = caught.value.partial_result
    assert isinstance(partial, mailbridge.UploadReport)
    assert partial.accepted == 2000 and partial.batches == 2
    # The failed call's addresses and the next batch's, read and checked while it ran: none uploaded.
    assert caught.value.not_sent == tuple(emails[2000:4000])
    assert (partial.rows, partial.not_sent) == (4000, 2000)
    members = _members(store, "news")
    assert sorted(members) == sorted(emails[:2000])


def test_existing_members_are_named_per_batch(tmp_path: Path) -> None:
    with mailbridge.connect(f"local://{tmp_path}") as client:
        group = client.create_group("g")
        backend = client.backend
        first = backend.upload_batch(group, [mailbridge.Recipient(email=f"u{i}@example.com") for i in range(5)])
        assert first.accepted == tuple(f"u{i}@example.com" for i in range(5)) and first.existing == ()
        again = [mailbridge.Recipient(email=e) for e in ["U1@example.com", "new@example.com", "u3@example.com"]]
        second = backend.upload_batch(group, again)
        assert second.accepted == ("new@example.com",)
        assert second.existing == ("U1@example.com", "u3@example.com")
        assert [m.email for m in client.members(group)] == [*(f"u{i}@example.com" for i in range(5)), "new@example.com"]


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)


def _dumps(value: dict[str, str]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["Ann@Example.com", "b.c@example.org", "x+y@example.net"]), text, text),
        max_size=3,
    ),
    st.dictionaries(text, text, max_size=4),
)
def test_stored_text_is_json_dumps(people: list[tuple[str, str, str]], data: dict[str, str]) -> None:
    """Whatever text the core lets through (no NUL, no lone surrogate) is stored as compact, sorted
    JSON exactly as json.dumps writes it, read from the file with sqlite3."""
    people = [p for p in people if "\x00" not in p[1] + p[2]]
    data = {k: v for k, v in data.items() if "\x00" not in k + v}
    recipients = {
        p[0].casefold(): mailbridge.Recipient(email=p[0], name=p[1] or None, mobile=p[2] or None, data=data)
        for p in people
    }
    with tempfile.TemporaryDirectory() as tmp, mailbridge.connect(f"local://{tmp}") as client:
        group = client.create_group("g")
        result = client.backend.upload_batch(group, list(recipients.values()))
        assert result.accepted == tuple(r.email for r in recipients.values())
        db = sqlite3.connect(Path(tmp) / "mailbridge.sqlite3")
        try:
            rows = db.execute("SELECT key, email, profile, data, seq FROM members ORDER BY seq").fetchall()
        finally:
            db.close()
    assert [(k, e, p, d) for k, e, p, d, _ in rows] == [
        (key, r.email, _dumps(r.profile()), _dumps(r.data)) for key, r in recipients.items()
    ]
    assert [seq for *_, seq in rows] == list(range(1, len(rows) + 1))


columns = st.one_of(
    st.sampled_from(["email", "Email", " EMAIL ", "address", "name", "Name", "nickname", "gender", "mobile"]),
    st.sampled_from(["birthday", "data", "plan", " plan", "city", ""]),
    text,
)
values = st.one_of(text, st.none(), st.integers(-5, 5), st.floats(allow_nan=False), st.booleans(), st.just([1]))


def _outcome(value: Any) -> Any:
    try:
        return mailbridge.Recipient.coerce(value)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(columns, values, max_size=7))
def test_coerce_fast_path_is_the_general_path(row: dict[str, Any]) -> None:
    """A plain dict takes the per-header plan; any other mapping the general code: same result."""
    assert _outcome(row) == _outcome(MappingProxyType(row))


def test_existing_members_are_named_after_removals_and_a_deleted_group_is_not_found(tmp_path: Path) -> None:
    """The rows a call wrote are told from the ignored ones also when removals freed the largest
    row numbers; a call into a group deleted meanwhile is GroupNotFound and writes nothing."""
    with mailbridge.connect(f"local://{tmp_path}") as client:
        group = client.create_group("g")
        other = client.create_group("other")
        backend = client.backend
        backend.upload_batch(group, [mailbridge.Recipient(email=f"u{i}@example.com") for i in range(6)])
        backend.upload_batch(other, [mailbridge.Recipient(email="o@example.com")])
        backend.remove_members(other, ["o@example.com"])
        backend.remove_members(group, ["u5@example.com", "u4@example.com"])
        mixed = [
            mailbridge.Recipient(email=e)
            for e in ["U0@example.com", "u4@example.com", "n@example.com", "u3@example.com"]
        ]
        result = backend.upload_batch(group, mixed)
        assert result.accepted == ("u4@example.com", "n@example.com")
        assert result.existing == ("U0@example.com", "u3@example.com")
        assert [m.email for m in client.members(group)] == [
            *(f"u{i}@example.com" for i in range(4)),
            "u4@example.com",
            "n@example.com",
        ]
        client.delete_group(other)
        with pytest.raises(mailbridge.GroupNotFound):
            backend.upload_batch(other, [mailbridge.Recipient(email="late@example.com")])
        assert "late@example.com" not in _members(tmp_path, "g") and len(_members(tmp_path, "other")) == 0
