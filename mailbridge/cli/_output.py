"""Output helpers: data on stdout (a table, or JSON with --json), progress and notes on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import click

__all__ = ["Output"]


class Output:
    """Where a command's results go. ``json_mode`` is set by the global ``--json`` flag."""

    def __init__(self, json_mode: bool = False) -> None:
        self.json_mode = json_mode

    def data(self, value: Any, human: Callable[[], None]) -> None:
        """Print ``value`` as JSON in --json mode, else call ``human`` to print it for people."""
        if self.json_mode:
            click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))
        else:
            human()

    @staticmethod
    def note(text: str) -> None:
        """A line for people, on stderr (never mixed with data)."""
        click.echo(text, err=True)

    @staticmethod
    def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A plain aligned table on stdout."""
        cells = [[("" if v is None else str(v)) for v in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
        line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
        click.echo(line.rstrip())
        for row in cells:
            click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())
