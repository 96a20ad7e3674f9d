"""The results file of ``send --batch``: one CSV line per row, read back by ``--resume``."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from pathlib import Path
from typing import IO

import click

from .._exceptions import InvalidRequest
from .._scrub import scrub_text

__all__ = ["MAYBE_SENT", "NOT_SENT", "REJECTED", "RESULT_COLUMNS", "SENT", "ResultsFile", "one_line"]

RESULT_COLUMNS = ["row", "address", "status", "provider", "message_id", "error", "reason", "maybe_sent"]
SENT, MAYBE_SENT, NOT_SENT, REJECTED = "sent", "maybe_sent", "not_sent", "rejected"
_RETRIED = frozenset({NOT_SENT, REJECTED})  # certainly not sent: --resume tries these rows again


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` on one line, without control characters or the secrets the process knows."""
    return scrub_text(" ".join(_CONTROL.sub(" ", text).split()))


class ResultsFile:
    """The results CSV: read back for ``--resume``, then appended to a line per row, flushed each time."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        # row -> address of rows sent or maybe sent (None: a damaged line): never sent again
        self.done: dict[int, str | None] = {}
        self.retried: set[int] = set()  # rows recorded as certainly not sent
        self._exists = path.exists() and path.stat().st_size > 0
        if self._exists and not resume:
            raise click.UsageError(
                f"{path} exists: add --resume to continue the batch it records, or give another --results file"
            )
        self._cut = self._load() if self._exists else False
        self.handle: IO[str] | None = None

    def open(self) -> None:
        """Open for appending (the header first in a new file), just before the first row is sent."""
        try:
            self.handle = self.path.open("a", newline="", encoding="utf-8")
        except OSError as exc:
            raise InvalidRequest(f"cannot write the results file {self.path}: {exc.strerror or exc}") from None
        self.writer = csv.writer(self.handle)
        if not self._exists:
            self.writer.writerow(RESULT_COLUMNS)
        elif self._cut:
            self.handle.write("\n")  # the last line was cut short (a crash): never continue it
        self.handle.flush()

    def _load(self) -> bool:
        try:
            text = self.path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError as exc:
            raise InvalidRequest(f"cannot read the results file {self.path}: {exc.strerror or exc}") from None
        # NULs: the zero-filled tail a power loss can leave; the csv module refuses them.
        reader = csv.reader(io.StringIO(text.replace("\x00", ""), newline=""))
        header = next(reader, [])
        if header != RESULT_COLUMNS:
            raise InvalidRequest(
                f"{self.path} is not a mailbridge batch results file (its header is {','.join(header)[:100]!r})"
            )
        for fields in reader:
            record = dict(zip(RESULT_COLUMNS, fields, strict=False))
            try:
                number = int(record.get("row", ""))
            except ValueError:
                continue  # no row number: nothing to attribute (a line cut before its first comma)
            status = record.get("status", "")
            if status in _RETRIED and record.get("maybe_sent") == "false":
                self.retried.add(number)
            elif status in (SENT, MAYBE_SENT) and record.get("maybe_sent") in ("true", "false"):
                self.done[number] = record.get("address", "")
            else:  # a damaged line (a crash cut it): maybe sent, never sent again
                self.done[number] = self.done.get(number)
        return not text.endswith(("\n", "\r"))

    def write(self, number: int, address: str, status: str, **fields: str) -> None:
        assert self.handle is not None
        self.writer.writerow(
            [
                number,
                one_line(address),  # a refused row's address may hold anything (line breaks, controls)
                status,
                fields.get("provider", ""),
                fields.get("message_id", ""),
                fields.get("error", ""),
                fields.get("reason", ""),
                "true" if status == MAYBE_SENT else "false",
            ]
        )
        self.handle.flush()

    def close(self) -> None:
        """Flush and fsync: every line written is on disk when the command exits."""
        if self.handle is None:
            return
        with contextlib.suppress(OSError, ValueError):
            self.handle.flush()
            os.fsync(self.handle.fileno())
        self.handle.close()
        self.handle = None
