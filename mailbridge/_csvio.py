"""Recipients from CSV files as spreadsheets export them (header row with an ``email`` column).

The encoding is detected, never guessed silently: a byte-order mark (UTF-8, UTF-16, UTF-32)
decides; else the file must be valid UTF-8; else valid GB18030 (what Chinese Excel saves,
a superset of GBK) without private-use characters. Anything else is refused, naming the byte
offset and line, before a single row is read, so an upload never starts on a file it cannot
finish; ``encoding=`` forces one. Detection is hand-written on purpose: charset-normalizer
took a GBK file of Chinese names for Korean (cp949) and Latin-1 for cp1250 in our samples,
and a wrong guess silently corrupts every name. The delimiter (``,`` ``;`` or tab) is taken
from the header line. Fields may be of any length. A row the CSV reader cannot split
cleanly (more fields than the header, a NUL, an unterminated quote) becomes an
:class:`UnreadableRow`, which :meth:`mailbridge.Client.upload` reports as a rejected row.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import sys
import tempfile
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import IO

from attrs import frozen

from ._exceptions import InvalidRequest
from ._models import RejectedAddress

__all__ = ["RecipientsFile", "UnreadableRow", "read_recipients_csv", "write_rejected_csv"]

_BOMS = [  # longest first: the UTF-32-LE mark starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_CHUNK = 1 << 16
_DELIMITERS = (",", ";", "\t")
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")
_FIELD_LIMIT = 2**31 - 1  # the csv module's default of 128 KiB refuses long template data


@frozen
class UnreadableRow:
    """A CSV row that could not be read as a recipient; uploads report it as rejected."""

    reason: str
    text: str = ""


class _DecodeFailure(Exception):
    def __init__(self, what: str, offset: int, line: int) -> None:
        super().__init__(what, offset, line)
        self.what, self.offset, self.line = what, offset, line

    def where(self) -> str:
        return f"{self.what} at byte offset {self.offset}, line {self.line}"


def _check_decodes(handle: IO[bytes], encoding: str) -> int:
    """Decode the whole stream strictly; return its line count or raise :class:`_DecodeFailure`."""
    handle.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset, lines = 0, 1
    while True:
        chunk = handle.read(_CHUNK)
        final = not chunk
        try:
            text = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            # exc.object is the decoder's undecoded tail of the previous chunk plus this one.
            data = exc.object if isinstance(exc.object, bytes) else chunk
            start = offset - (len(data) - len(chunk))
            done = data[: exc.start].decode(encoding, errors="replace").count("\n")
            what = f"byte 0x{data[exc.start]:02x}" if exc.start < len(data) else "a truncated character"
            raise _DecodeFailure(what, start + exc.start, lines + done) from None
        except UnicodeError as exc:  # e.g. "UTF-16 stream does not start with BOM"
            raise _DecodeFailure(str(exc), offset, lines) from None
        if encoding == "gb18030" and (match := _PRIVATE_USE.search(text)):
            # Valid GB18030 bytes, but a private-use character no real name holds: Big5 or another codec.
            raise _DecodeFailure("a private-use character", offset, lines + text[: match.start()].count("\n"))
        lines += text.count("\n")
        offset += len(chunk)
        if final:
            return lines


def _sniff_encoding(handle: IO[bytes]) -> str:
    handle.seek(0)
    head = handle.read(4)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    handle.seek(0)
    sample = handle.read(_CHUNK)
    if b"\x00" in sample and len(sample) >= 2:  # UTF-16 without a mark: ASCII text has a NUL in every pair
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > len(sample) // 4 and even == 0:
            return "utf-16-le"
        if even > len(sample) // 4 and odd == 0:
            return "utf-16-be"
    return ""


def _choose_encoding(handle: IO[bytes], name: str, forced: str | None) -> tuple[str, int]:
    if forced:
        try:
            codecs.lookup(forced)
        except LookupError:
            raise InvalidRequest(f"unknown encoding {forced!r}") from None
        candidates = [forced]
    else:
        sniffed = _sniff_encoding(handle)
        candidates = [sniffed] if sniffed else ["utf-8", "gb18030"]
    failures: list[str] = []
    for encoding in candidates:
        try:
            return encoding, _check_decodes(handle, encoding)
        except _DecodeFailure as failure:
            failures.append(f"not {encoding} ({failure.where()})")
    raise InvalidRequest(
        f"{name}: cannot decode the file, nothing was uploaded: {'; '.join(failures)}. "
        "Save it as UTF-8, or give its encoding (--encoding latin-1, big5, shift_jis ...)"
    )


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


class RecipientsFile:
    """The rows of a recipients CSV, checked to decode before the first row is read.

    Iterate for one dict per row (or an :class:`UnreadableRow`); the file is streamed, never
    held in memory. ``encoding``, ``delimiter``, ``lines`` and ``header`` (the column names)
    say what was detected. ``address_columns``: the header must have one of these (any case).
    """

    def __init__(
        self,
        source: str | Path | IO[bytes],
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        address_columns: Collection[str] = ("email", "address"),
    ) -> None:
        if isinstance(source, str | Path):
            self.name = "<stdin>" if str(source) == "-" else str(source)
        else:
            self.name = str(getattr(source, "name", None) or "<stream>")
        self._owned: IO[bytes] | None = None
        self._path: Path | None = None
        if isinstance(source, str | Path) and str(source) != "-":
            self._path = Path(source)
            try:
                handle: IO[bytes] = open(self._path, "rb")  # noqa: SIM115 (closed below)
            except OSError as exc:
                raise InvalidRequest(f"cannot read {self.name}: {exc.strerror or exc}") from None
        else:
            stream = sys.stdin.buffer if isinstance(source, str | Path) else source
            handle = tempfile.TemporaryFile()  # noqa: SIM115 (a stream is read twice: spool it)
            shutil.copyfileobj(stream, handle)
            self._owned = handle
        try:
            self.encoding, self.lines = _choose_encoding(handle, self.name, encoding)
            handle.seek(0)
            first = io.TextIOWrapper(handle, encoding=self.encoding, newline="")
            header = first.readline()
            first.detach()
        finally:
            if self._owned is None:
                handle.close()
        if delimiter is not None and delimiter not in _DELIMITERS:
            raise InvalidRequest(f"delimiter must be one of ',', ';' or a tab, not {delimiter!r}")
        self.delimiter = delimiter or _delimiter(header)
        self.header = [c.strip() for c in next(csv.reader([header], delimiter=self.delimiter), [])]
        wanted = {c.lower() for c in address_columns}
        if not {c.lower() for c in self.header} & wanted:
            self.close()
            shown = "an 'email'" if "email" in wanted else "a " + " or ".join(repr(c) for c in sorted(address_columns))
            raise InvalidRequest(f"{self.name}: the first row must be a header with {shown} column")

    def _open(self) -> IO[bytes]:
        if self._owned is not None:
            self._owned.seek(0)
            return self._owned
        assert self._path is not None
        return open(self._path, "rb")

    def __iter__(self) -> Iterator[dict[str, str] | UnreadableRow]:
        csv.field_size_limit(max(csv.field_size_limit(), _FIELD_LIMIT))
        raw = self._open()
        text = io.TextIOWrapper(raw, encoding=self.encoding, newline="")
        try:
            yield from _rows(text, self.delimiter)
        finally:
            if self._owned is None:
                text.close()
            else:
                text.detach()

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __del__(self) -> None:
        self.close()


def _rows(text: IO[str], delimiter: str) -> Iterator[dict[str, str] | UnreadableRow]:
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    try:
        header = [c.strip() for c in next(reader)]
    except (StopIteration, csv.Error):
        return
    width = len(header)
    named = all(header)  # no empty column name to drop: rows become dicts straight from zip
    strip = str.strip
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield UnreadableRow(f"unreadable CSV row (line {reader.line_num}): {exc}")
            continue
        if not "".join(fields).strip():
            continue  # a blank line, as spreadsheets leave at the end
        if len(fields) > width and any(f.strip() for f in fields[width:]):
            shown = delimiter.join(fields)[:200]
            yield UnreadableRow(
                f"line {reader.line_num} has {len(fields)} fields, the header has {width} "
                "(a delimiter inside an unquoted field?)",
                shown,
            )
            continue
        if named:
            yield dict(zip(header, map(strip, fields), strict=False))
        else:
            yield {k: v.strip() for k, v in zip(header, fields, strict=False) if k}


def read_recipients_csv(
    path: str | Path | IO[bytes], *, encoding: str | None = None, delimiter: str | None = None
) -> RecipientsFile:
    """The recipients in a CSV file (``-`` or a binary stream for standard input).

    Raises :class:`InvalidRequest` at once if the file cannot be decoded (naming the byte and
    line) or has no ``email`` header column. Columns ``email`` (or ``address``), ``name``,
    ``nickname``, ``gender``, ``birthday`` and ``mobile`` map to :class:`Recipient` fields;
    every other column becomes template data. See the module docstring for detection.
    """
    return RecipientsFile(path, encoding=encoding, delimiter=delimiter)


def write_rejected_csv(path: str | Path, rejected: Iterable[RejectedAddress]) -> int:
    """Write rejected addresses (row, email, reason, code); return how many were written."""
    count = 0
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "email", "reason", "code"])
        for r in rejected:
            writer.writerow([r.row or "", r.email, r.reason, r.code or ""])
            count += 1
    return count
