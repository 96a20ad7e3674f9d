"""``mailbridge suppressions list|add|remove|export``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click

from ._app import State, cli, json_flag, pass_state

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


@cli.group()
def suppressions() -> None:
    """The suppression list: addresses the provider will not send to."""


@suppressions.command("list")
@json_flag
@pass_state
def list_suppressions(state: State) -> None:
    """Every suppressed address (reason bounce/complaint/unsubscribe/manual; scope account/shared)."""
    items = list(state.client().suppressions())
    state.output.data(
        [s.as_dict() for s in items],
        lambda: state.output.table(
            ["address", "reason", "since", "scope"],
            [[s.address, s.reason.value, s.since.isoformat() if s.since else "", s.scope] for s in items],
        ),
    )


@suppressions.command("add")
@click.argument("addresses", nargs=-1)
@click.option("--file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), help="One address a line.")
@json_flag
@pass_state
def add(state: State, addresses: tuple[str, ...], file: Path | None) -> None:
    """Suppress addresses (checked before any call)."""
    done = state.client().suppress(_addresses(addresses, file))
    state.output.data({"suppressed": done}, lambda: state.output.note(f"suppressed {len(done)} address(es)"))


@suppressions.command("remove")
@click.argument("addresses", nargs=-1)
@click.option("--file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), help="One address a line.")
@json_flag
@pass_state
def remove(state: State, addresses: tuple[str, ...], file: Path | None) -> None:
    """Take addresses off the suppression lists (absent ones are no error)."""
    done = state.client().unsuppress(_addresses(addresses, file))
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
