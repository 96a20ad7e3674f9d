"""Streaming recipients from CSV files (header row required, one column named ``email``)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from ._exceptions import InvalidRequest
from ._models import RejectedAddress

__all__ = ["read_recipients_csv", "write_rejected_csv"]


def read_recipients_csv(path: str | Path, *, encoding: str = "utf-8-sig") -> Iterator[dict[str, str]]:
    """Yield one dict per row, lazily (a million-row file is never held in memory).

    Columns ``email`` (or ``address``), ``name``, ``nickname``, ``gender``, ``birthday`` and
    ``mobile`` map to :class:`Recipient` fields; every other column becomes template data.
    """
    with open(path, newline="", encoding=encoding) as handle:
        reader = csv.DictReader(handle)
        columns = {(c or "").strip().lower() for c in reader.fieldnames or ()}
        if not columns & {"email", "address"}:
            raise InvalidRequest(f"{path}: the first row must be a header with an 'email' column")
        for row in reader:
            yield {k.strip(): (v or "").strip() for k, v in row.items() if k}


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
