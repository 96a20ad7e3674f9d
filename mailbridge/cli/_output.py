"""Output helpers: data on stdout (a table, JSON or CSV), progress and notes on stderr.

Listings stream: each row is written as soon as its page has arrived, never after collecting
everything. A table has fixed column widths (a longer value widens its own row only, nothing
is cut), JSON is one array with one element per line, CSV has a header row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

import click
from attrs import frozen

__all__ = ["FORMATS", "Column", "Listing", "Output", "listing_options"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "csv")
# C0/C1 controls (ESC above all): a provider's or a CSV's text must not drive the terminal a table is shown on.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@frozen
class Column(Generic[T]):
    """One table column: its header, its width (the last column is never padded) and its cell."""

    header: str
    width: int
    cell: Callable[[T], Any]


@frozen
class Listing(Generic[T]):
    """How one kind of row is shown: table columns, and the record JSON and CSV print (CSV: ``fields``)."""

    columns: Sequence[Column[T]]
    record: Callable[[T], dict[str, Any]]
    fields: Sequence[str]


def listing_options(f: F) -> F:
    """``--limit N`` and ``--format table|json|csv``, shared by every listing command."""
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        help="table (default), json (an array, one element per line; the default with --json) or csv (header row).",
    )(f)
    return click.option(
        "--limit", type=click.IntRange(min=1), metavar="N", help="Stop after N rows (fewer provider calls too)."
    )(f)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Output:
    """Where a command's results go. ``json_mode`` is set by ``--json``, ``quiet`` by ``--quiet``."""

    def __init__(self, json_mode: bool = False, quiet: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet

    def data(self, value: Any, human: Callable[[], None]) -> None:
        """Print ``value`` as JSON in --json mode, else call ``human`` to print it for people."""
        if self.json_mode:
            click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
        else:
            human()

    def note(self, text: str) -> None:
        """A line for people, on stderr (never mixed with data); none with --quiet."""
        if not self.quiet:
            click.echo(text, err=True)

    @staticmethod
    def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A plain aligned table on stdout (for a few rows already at hand; listings use :meth:`stream`)."""
        cells = [[_CONTROL.sub("?", "" if v is None else str(v)) for v in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
        line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
        click.echo(line.rstrip())
        for row in cells:
            click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())

    def format_for(self, fmt: str | None) -> str:
        """The format a listing prints: ``--format``, else json with --json, else table."""
        if fmt is None:
            return "json" if self.json_mode else "table"
        if self.json_mode and fmt != "json":
            raise click.UsageError(f"--json and --format {fmt} contradict each other; give one of them")
        return fmt

    def stream(self, items: Iterable[T], listing: Listing[T], *, fmt: str | None, limit: int | None) -> int:
        """Write ``items`` as they come, at most ``limit`` of them; returns how many were written.

        Stopping at ``limit`` closes the iterator, so no further page is fetched. If the
        iterator fails half-way, the rows so far are on stdout and a JSON array is left
        unterminated (invalid on purpose: the exit code and the error line say why).
        """
        chosen = self.format_for(fmt)
        write = {"table": self._table_rows, "json": self._json_rows, "csv": self._csv_rows}[chosen]
        iterator = iter(items)
        count = 0

        def limited() -> Iterable[T]:
            nonlocal count
            for item in iterator:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return

        try:
            write(limited(), listing)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        return count

    @staticmethod
    def _table_rows(items: Iterable[T], listing: Listing[T]) -> None:
        columns = listing.columns
        last = len(columns) - 1

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c if i == last else c.ljust(columns[i].width) for i, c in enumerate(cells)).rstrip()

        click.echo(line([c.header.upper() for c in columns]))
        for item in items:
            click.echo(line([_CONTROL.sub("?", " ".join(_text(c.cell(item)).split())) for c in columns]))

    @staticmethod
    def _json_rows(items: Iterable[T], listing: Listing[T]) -> None:
        click.echo("[")
        pending: str | None = None
        try:
            for item in items:
                if pending is not None:
                    click.echo(pending + ",")
                pending = json.dumps(listing.record(item), ensure_ascii=False, default=str)
        except BaseException:
            if pending is not None:
                click.echo(pending + ",")  # every row read is shown; the array stays open
            raise
        if pending is not None:
            click.echo(pending)
        click.echo("]")

    @staticmethod
    def _csv_rows(items: Iterable[T], listing: Listing[T]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")

        def emit(values: Sequence[str]) -> None:
            writer.writerow(values)
            click.echo(buffer.getvalue(), nl=False)
            buffer.seek(0)
            buffer.truncate()

        emit(list(listing.fields))
        for item in items:
            record = listing.record(item)
            emit([_csv_value(record.get(name)) for name in listing.fields])
