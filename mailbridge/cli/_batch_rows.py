"""The rows of a ``send --batch`` file: CSV through the core's reader, or JSON Lines.

Both yield, per row, a dict of column -> string or an :class:`UnreadableRow` naming why the
row cannot be read; row numbers are the position in that sequence (1-based).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

from .._csvio import RecipientsFile, UnreadableRow
from .._exceptions import InvalidRequest

__all__ = ["BatchInput", "CsvRows", "JsonRows", "Row"]

Row = dict[str, str] | UnreadableRow
_JSONL_SUFFIXES = {".jsonl", ".ndjson", ".jsonlines"}
_CHUNK = 1 << 16


class _NamedStream:
    """A binary stream that reports a chosen name (``<stdin>``) in the CSV reader's errors."""

    def __init__(self, handle: IO[bytes], name: str) -> None:
        self._handle, self.name = handle, name

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)


class BatchInput:
    """The batch file, re-readable (standard input is copied to a temporary file), and its digest."""

    def __init__(self, path: Path) -> None:
        self.stdin = str(path) == "-"
        self.name = "<stdin>" if self.stdin else str(path)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        digest = hashlib.sha256()
        if self.stdin:
            self._tmp = tempfile.TemporaryDirectory(prefix="mailbridge-batch-")
            self.path = Path(self._tmp.name) / "stdin"
            with self.path.open("wb") as spool:
                while chunk := sys.stdin.buffer.read(_CHUNK):
                    digest.update(chunk)
                    spool.write(chunk)
        else:
            self.path = path
            try:
                with path.open("rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
            except OSError as exc:
                raise InvalidRequest(f"cannot read {self.name}: {exc.strerror or exc}") from None
        self.digest = digest.hexdigest()

    @property
    def jsonl(self) -> bool:
        """JSON Lines by the name's suffix; else (stdin, other names) if the first character is ``{``."""
        suffix = Path(self.name).suffix.lower()
        if suffix in _JSONL_SUFFIXES:
            return True
        if suffix in {".csv", ".tsv", ".txt"}:
            return False
        with self.path.open("rb") as handle:
            head = handle.read(_CHUNK).removeprefix(b"\xef\xbb\xbf").lstrip()
        return head.startswith(b"{")

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class CsvRows:
    """The rows of a CSV batch file, read by the core's CSV reader (encoding and delimiter detected)."""

    def __init__(self, source: BatchInput, to_column: str | None, encoding: str | None, delimiter: str | None) -> None:
        wanted = (to_column,) if to_column else ("email", "address")
        if source.stdin:
            with source.path.open("rb") as handle:
                stream = cast(IO[bytes], _NamedStream(handle, source.name))
                self.file = RecipientsFile(stream, encoding=encoding, delimiter=delimiter, address_columns=wanted)
        else:
            self.file = RecipientsFile(source.path, encoding=encoding, delimiter=delimiter, address_columns=wanted)
        by_name = {c.lower(): c for c in reversed(self.file.header) if c}
        self.address_column = next(by_name[c.lower()] for c in wanted if c.lower() in by_name)
        self.header: list[str] | None = [c for c in self.file.header if c]

    def __iter__(self) -> Iterator[Row]:
        return iter(self.file)

    def close(self) -> None:
        self.file.close()


def _json_value(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    kind = "an object" if isinstance(value, dict) else "a list"
    raise ValueError(f"{key!r} holds {kind}: template data are strings, numbers or booleans")


class JsonRows:
    """The rows of a JSON Lines batch file: one JSON object per line; blank lines are skipped.

    The file must be UTF-8 (as JSON Lines says); it is checked whole before anything is sent.
    A line that is not a JSON object of strings, numbers, booleans or nulls (a null is an
    absent value) is a refused row naming its line.
    """

    def __init__(self, source: BatchInput, to_column: str | None) -> None:
        self.source = source
        self.wanted = (to_column,) if to_column else ("email", "address")
        self.address_column = self.wanted[0]
        self.header: list[str] | None = None
        offset = 0
        with source.path.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                try:
                    (line.removeprefix(b"\xef\xbb\xbf") if number == 1 else line).decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InvalidRequest(
                        f"{source.name}: line {number} is not UTF-8 (byte 0x{line[exc.start]:02x} at byte offset "
                        f"{offset + exc.start}); JSON Lines files are UTF-8: nothing was sent"
                    ) from None
                offset += len(line)

    def __iter__(self) -> Iterator[Row]:
        with self.source.path.open("rb") as handle:
            for number, raw in enumerate(handle, 1):
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
                if text:
                    yield self._row(number, text)

    def _row(self, number: int, text: str) -> Row:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return UnreadableRow(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})", text[:200])
        if not isinstance(value, dict):
            return UnreadableRow(f"line {number}: a JSON object is needed, not {type(value).__name__}", text[:200])
        row: dict[str, str] = {}
        try:
            for key, item in value.items():
                converted = _json_value(key, item)
                if converted is not None:
                    row[key] = converted
        except ValueError as exc:
            return UnreadableRow(f"line {number}: {exc}", text[:200])
        if self.address_column not in row:  # the column's name in another case, or address for email
            for wanted in self.wanted:
                found = next((k for k in row if k.lower() == wanted.lower()), None)
                if found is not None:
                    row[self.address_column] = row[found]
                    break
        return row

    def close(self) -> None:
        pass
