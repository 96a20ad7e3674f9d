"""Recipient files as spreadsheets write them, and as fuzzers break them.

The fixture files in ``tests/data/`` (see ``make_fixtures.py``) upload on all three backends; a
file that cannot be decoded uploads nothing (no request at the emulators) and says where it
broke; fuzzed CSV bytes end in an upload report or a mailbridge error, never a crash.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_local import LocalBackend
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import InvalidRequest, UnreadableRow, read_recipients_csv
from mailbridge.cli import ExitStatus, cli

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = {
    "recipients_gbk.csv": ("gb18030", ",", {"zhang.wei@example.com": "张伟", "chen.jing@example.com": "陈静"}, 5),
    "recipients_utf8_bom_semicolon.csv": ("utf-8-sig", ";", {"zoe@example.com": "Zoë Müller"}, 4),
    "recipients_utf16.txt": ("utf-16", "\t", {"li.na@example.com": "李娜", "jurgen@example.com": "Jürgen Weiß"}, 9),
}


class CountingLocal(LocalBackend):
    name = "local"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.uploads = 0

    def upload_batch(self, group: mailbridge.Group, recipients: Any) -> mailbridge.BatchResult:
        self.uploads += 1
        return super().upload_batch(group, recipients)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[mailbridge.Client]:
    with mailbridge.Client(CountingLocal(tmp_path / "local")) as client:
        yield client


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, Any]]:
    ali = AliyunEmulator()
    ten = TencentEmulator(port=0, rate=0)
    with ali, ten:
        yield {"aliyun": ali, "tencent": ten}


def _url(name: str, emulators: dict[str, Any], tmp_path: Path) -> str:
    if name == "local":
        return f"local://{tmp_path / 'cli-local'}"
    return f"{emulators[name].url}&rate_limit=off"


def _upload_requests(name: str, emulators: dict[str, Any]) -> int:
    if name == "aliyun":
        return sum(r["action"] == "SaveReceiverDetail" for r in emulators["aliyun"].server.requests)
    if name == "tencent":
        return sum(r["action"].startswith("CreateReceiverDetail") for r in emulators["tencent"].requests)
    return 0


# --------------------------------------------------------------------------- real-world files


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_detection_of_the_fixture_files(fixture: str) -> None:
    encoding, delimiter, names, count = FIXTURES[fixture]
    rows = read_recipients_csv(DATA / fixture)
    assert (rows.encoding, rows.delimiter) == (encoding, delimiter)
    parsed = [r for r in rows if isinstance(r, dict)]
    assert len(parsed) == count
    by_email = {r["email"]: r["name"] for r in parsed}
    assert {e: by_email[e] for e in names} == names
    if fixture == "recipients_utf8_bom_semicolon.csv":
        assert next(r for r in parsed if r["email"] == "francois@example.com")["city"] == "Paris; 8e"


@pytest.mark.parametrize("provider", ["local", "aliyun", "tencent"])
@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_fixture_files_upload_on_every_backend(
    provider: str, fixture: str, emulators: dict[str, Any], tmp_path: Path
) -> None:
    _, _, names, count = FIXTURES[fixture]
    url = _url(provider, emulators, tmp_path)
    group = fixture.split(".", maxsplit=1)[0].replace("_", "-")[:28]
    with mailbridge.connect(url) as client:
        client.create_group(group)
    args = ["--url", url, "--json", "recipients", "upload", group, str(DATA / fixture), "--wait"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["accepted"] == count and report["rejected"] == []
    with mailbridge.connect(url) as client:
        members = {m.email: m for m in client.members(group)}
    assert set(names) <= set(members)
    for address, name in names.items():
        recipient = members[address].recipient
        if recipient.name is not None or "name" in recipient.data:
            assert (recipient.name or recipient.data["name"]) == name


@pytest.mark.parametrize("provider", ["local", "aliyun", "tencent"])
def test_an_undecodable_file_uploads_nothing_and_says_where(
    provider: str, emulators: dict[str, Any], tmp_path: Path
) -> None:
    url = _url(provider, emulators, tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["--url", url, "groups", "create", f"undecodable-{provider}"]).exit_code in (0, 4)
    before = _upload_requests(provider, emulators)
    args = ["--url", url, "recipients", "upload", f"undecodable-{provider}", str(DATA / "undecodable.csv")]
    result = runner.invoke(cli, args)
    assert result.exit_code == int(ExitStatus.INVALID_REQUEST)
    (line,) = result.stderr.strip().splitlines()
    assert "nothing was uploaded" in line and "byte 0xeb" in line and "line 1501" in line
    assert _upload_requests(provider, emulators) == before
    with mailbridge.connect(url) as client:
        assert list(client.members(f"undecodable-{provider}")) == []


def test_encoding_can_be_forced_and_stdin_read(local: mailbridge.Client, tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("email,name\nzoe@example.com,Zoë\nfrancois@example.com,François\n".encode("latin-1"))
    with pytest.raises(InvalidRequest, match="cannot decode"):
        read_recipients_csv(latin)
    rows = list(read_recipients_csv(latin, encoding="latin-1"))
    assert rows == [{"email": "zoe@example.com", "name": "Zoë"}, {"email": "francois@example.com", "name": "François"}]
    url = f"local://{tmp_path / 'stdin'}"
    runner = CliRunner()
    runner.invoke(cli, ["--url", url, "groups", "create", "g"])
    result = runner.invoke(
        cli,
        ["--url", url, "--json", "recipients", "upload", "g", "-", "--encoding", "latin-1"],
        input=latin.read_bytes(),
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 2
    with pytest.raises(InvalidRequest, match="unknown encoding"):
        read_recipients_csv(latin, encoding="no-such-codec")


def test_a_field_longer_than_128_kib_is_read(local: mailbridge.Client, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(f'email,notes\nada@example.com,"{"x" * 200_000}"\n', encoding="utf-8")
    (row,) = list(read_recipients_csv(path))
    assert isinstance(row, dict) and len(row["notes"]) == 200_000
    group = local.create_group("long")
    assert local.upload(group, read_recipients_csv(path)).accepted == 1


def test_broken_rows_become_rejected_rows(local: mailbridge.Client, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(
        b"email,name\nada@example.com,Ada\nbob@example.com,Bob,extra,fields\nnul@example.com,N\x00ul\n"
        b'\n\ncarol@example.com,Carol\nlast@example.com,"unterminated\n'
    )
    group = local.create_group("broken")
    report = local.upload(group, read_recipients_csv(path))
    assert report.accepted == 2  # ada, carol
    reasons = {r.row: r.reason for r in report.rejected}
    assert "has 4 fields, the header has 2" in reasons[2]
    assert len(report.rejected) == 3, report.rejected
    out = tmp_path / "rejected.csv"
    mailbridge.write_rejected_csv(out, report.rejected)
    with out.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 3


# --------------------------------------------------------------------------- upload() inputs


JUNK: list[Any] = [
    None,
    5,
    b"bytes@example.com",
    ("tuple@example.com", "Tuple"),
    ["list@example.com"],
    {"email": 5},
    {"email": "badname@example.com", "name": b"x"},
    {1: "x", "email": "intkey@example.com"},
    {"email": "nested@example.com", "city": {"a": 1}},
    {"email": "extra@example.com", None: ["spill", "over"]},
    object(),
]
GOOD: list[Any] = [
    "plain@example.com",
    {"email": "number@example.com", "age": 42, "score": 1.5, "name": None},
    mailbridge.Recipient("recipient@example.com", name="R"),
    {"email": "blankextra@example.com", None: ["", " "]},
]


@pytest.mark.parametrize("provider", ["local", "aliyun", "tencent"])
def test_upload_rejects_undocumented_rows_with_a_reason(
    provider: str, emulators: dict[str, Any], tmp_path: Path
) -> None:
    url = _url(provider, emulators, tmp_path)
    with mailbridge.connect(url, retry=mailbridge.RetryPolicy(attempts=1)) as client:
        group = client.create_group(f"junk-{provider}-{tmp_path.name[-4:]}")
        report = client.upload(group, [*JUNK, *GOOD], wait=True)
        assert report.accepted == len(GOOD)
        assert [r.row for r in report.rejected] == list(range(1, len(JUNK) + 1))
        reasons = [r.reason for r in report.rejected]
        assert all(r.startswith("unreadable row:") for i, r in enumerate(reasons) if i != 5)
        assert reasons[5].startswith("invalid address")  # {"email": 5}: numbers are written out, then checked
        assert "not NoneType" in reasons[0] and "not bytes" in reasons[2] and "csv.DictReader" in reasons[3]
        assert "'name' must be text or a number, not bytes" in reasons[6]
        assert "more fields than the header" in reasons[9]
        members = {m.email: m.recipient for m in client.members(group)}
    assert set(members) == {
        "plain@example.com",
        "number@example.com",
        "recipient@example.com",
        "blankextra@example.com",
    }
    number = members["number@example.com"]
    if number.data:  # where the backend lists template data back
        assert number.data["age"] == "42" and number.data["score"] == "1.5"


# --------------------------------------------------------------------------- fuzzed CSV bytes

name_text = st.text(alphabet=st.sampled_from("abcxyz ÀéöüßŁ中文张伟李娜😀,;\t\"'\n"), max_size=12)
address = st.one_of(
    st.builds(
        lambda u, d: f"{u}@{d}",
        st.text(alphabet="abcdefgh0123.", min_size=1, max_size=8),
        st.sampled_from(["example.com", "mail.example.org"]),
    ),
    st.sampled_from(["not-an-address", "", "a@b", "x" * 70 + "@example.com"]),
)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, str | None, list[dict[str, str]], bool, str]:
    """CSV bytes, the encoding to force (None: detect), the rows written, whether bytes were broken, the encoding."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    rows = draw(st.lists(st.fixed_dictionaries({"email": address, "name": name_text}), max_size=25))
    long = draw(st.sampled_from([0, 0, 0, 0, 140_000]))
    if long and rows:
        rows[0] = {**rows[0], "name": "y" * long}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["email", "name"], delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    text = buffer.getvalue()
    if draw(st.booleans()):  # a broken row: an extra field or an unterminated quote
        text += draw(st.sampled_from([f"x@example.com{delimiter}X{delimiter}spill\r\n", 'q@example.com,"open\r\n']))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32", "gb18030", "latin-1"]))
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        encoding = "utf-8"
        data = text.encode(encoding)
    broken = draw(st.booleans()) and bool(data)
    if broken:  # garbage bytes somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    forced = "latin-1" if encoding == "latin-1" else draw(st.sampled_from([None, None, encoding]))
    return data, forced, rows, broken, encoding


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(example=csv_files())
def test_fuzzed_csv_ends_in_a_report_or_an_error_before_any_upload(
    local: mailbridge.Client, tmp_path: Path, example: tuple[bytes, str | None, list[dict[str, str]], bool, str]
) -> None:
    data, forced, rows, broken, encoding = example
    backend: CountingLocal = local.backend  # type: ignore[assignment]
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    before = backend.uploads
    try:
        source = read_recipients_csv(path, encoding=forced)
    except InvalidRequest as exc:
        assert broken, f"a clean file was refused: {exc}"
        assert backend.uploads == before
        return
    read = list(source)
    # GB18030 bytes that are valid UTF-8 too are read as UTF-8 (UTF-8 is tried first).
    ambiguous = forced is None and encoding == "gb18030" and source.encoding == "utf-8"
    if not broken and not ambiguous:
        written = [{k: v.strip() for k, v in r.items()} for r in rows if (r["email"] + r["name"]).strip()]
        assert [r for r in read if isinstance(r, dict)][: len(written)] == written
    group = local.create_group(f"fuzz-{uuid.uuid4().hex[:12]}")
    report = local.upload(group, read)  # a MailbridgeError here would fail the test: rows are rejected instead
    assert report.accepted + len(report.rejected) + len(report.duplicates) == len(read)


def test_unreadable_rows_are_public(tmp_path: Path) -> None:
    assert UnreadableRow("why").reason == "why"


def test_a_failed_upload_still_writes_the_report_and_the_rejected_file(tmp_path: Path) -> None:
    """Direct Mail fails every SaveReceiverDetail: exit 7, the partial report on stdout, row 2 on file."""
    path = tmp_path / "people.csv"
    path.write_text("email\nada@example.com\nnot-an-address\n" + "".join(f"u{i}@example.com\n" for i in range(600)))
    rejected = tmp_path / "people.rejected.csv"
    with AliyunEmulator() as emu:
        url = f"{emu.url}&rate_limit=off"
        with mailbridge.connect(url) as client:
            client.create_group("failing")
        emu.inject("error", action="SaveReceiverDetail", times=None, status=400, code="InvalidParameter")
        result = CliRunner().invoke(cli, ["--url", url, "--json", "recipients", "upload", "failing", str(path)])
    assert result.exit_code == int(ExitStatus.INVALID_REQUEST), result.output
    partial = json.loads(result.stdout)
    assert partial["complete"] is False and partial["accepted"] == 0
    assert [r["row"] for r in partial["rejected"]] == [2] and partial["rejected_file"] == str(rejected)
    with rejected.open(encoding="utf-8") as handle:
        assert [r["email"] for r in csv.DictReader(handle)] == ["not-an-address"]
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_binary_stream_is_read_like_a_file() -> None:
    rows = read_recipients_csv(io.BytesIO("email;name\r\nzoe@example.com;Zoë\r\n".encode("utf-16")))
    assert (rows.name, rows.encoding, rows.delimiter) == ("<stream>", "utf-16", ";")
    assert list(rows) == [{"email": "zoe@example.com", "name": "Zoë"}]
    assert list(rows) == [{"email": "zoe@example.com", "name": "Zoë"}]  # iterable again: the stream was spooled
    rows.close()
