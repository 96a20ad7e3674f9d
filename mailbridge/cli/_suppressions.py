"""``mailbridge suppressions list|add|remove|export``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from .._models import Suppression
from ._app import State, cli, json_flag, pass_state
from ._confirm import confirm, yes_option
from ._output import Column, Listing, listing_options

__all__ = ["suppressions"]


def _addresses(addresses: tuple[str, ...], file: Path | None) -> list[str]:
    """Addresses from the arguments, a file (one per line or a CSV's first column), or stdin for ``-``."""
    found = list(addresses)
    if file is not None:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8-sig")
        for row in csv.reader(text.splitlines()):
            if row and row[0].strip() and row[0].strip().lower() not in ("address", "email"):
                found.append(row[0].strip())
    if not found:
        raise click.UsageError("give addresses as arguments or with --file")
    return found


LISTING: Listing[Suppression] = Listing(
    columns=[
        Column("address", 32, lambda s: s.address),
        Column("reason", 11, lambda s: s.reason.value),
        Column("since", 25, lambda s: s.since.isoformat() if s.since else ""),
        Column("scope", 0, lambda s: s.scope),
    ],
    record=lambda s: s.as_dict(),
    fields=["address", "reason", "since", "scope", "provider"],
)


@cli.group()
def suppressions() -> None:
    """The suppression list: addresses the provider will not send to."""


@suppressions.command("list")
@listing_options
@json_flag
@pass_state
def list_suppressions(state: State, limit: int | None, fmt: str | None) -> None:
    """Every suppressed address (reason bounce/complaint/unsubscribe/manual; scope account/shared), streamed."""
    state.output.stream(state.client().suppressions(), LISTING, fmt=fmt, limit=limit)


@suppressions.command("add")
@click.argument("addresses", nargs=-1)
@click.option("--file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), help="One address a line.")
@json_flag
@pass_state
def add(state: State, addresses: tuple[str, ...], file: Path | None) -> None:
    """Suppress ADDRESSES (or those in --file; all checked before any call)."""
    done = state.client().suppress(_addresses(addresses, file))
    state.output.data({"suppressed": done}, lambda: state.output.note(f"suppressed {len(done)} address(es)"))


@suppressions.command("remove")
@click.argument("addresses", nargs=-1)
@click.option("--file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), help="One address a line.")
@yes_option
@json_flag
@pass_state
def remove(state: State, addresses: tuple[str, ...], file: Path | None, yes: bool) -> None:
    """Take ADDRESSES off the suppression lists, so they can be mailed again (asks first; absent ones are no error)."""
    from_stdin = file is not None and str(file) == "-"
    if from_stdin and not yes:
        confirm("take the addresses read from stdin off the suppression list", yes=False, stdin_used=True)
    found = _addresses(addresses, file)
    client = state.client()
    count = f"{len(found):,} address{'' if len(found) == 1 else 'es'}"
    confirm(f"take {count} off the suppression list on {client.provider} (they can be mailed again)", yes=yes)
    done = client.unsuppress(found)
    state.output.data({"unsuppressed": done}, lambda: state.output.note(f"unsuppressed {len(done)} address(es)"))


@suppressions.command("export")
@click.argument("output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default="-")
@pass_state
def export(state: State, output: Path) -> None:
    """Write the list as CSV (address,reason,since,scope,provider) to OUTPUT (default stdout)."""
    items = state.client().suppressions()
    handle = sys.stdout if str(output) == "-" else output.open("w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(handle)
        writer.writerow(["address", "reason", "since", "scope", "provider"])
        count = 0
        for s in items:
            writer.writerow([s.address, s.reason.value, s.since.isoformat() if s.since else "", s.scope, s.provider])
            count += 1
    finally:
        if handle is not sys.stdout:
            handle.close()
    if str(output) != "-":
        state.output.note(f"wrote {count} suppression(s) to {output}")
