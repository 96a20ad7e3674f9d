"""``mailbridge recipients upload|list|remove``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._client import UploadProgress
from .._csvio import read_recipients_csv, write_rejected_csv
from ._app import State, cli, json_flag, pass_state
from ._exit import ExitStatus

__all__ = ["recipients"]


def _count_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


@cli.group()
def recipients() -> None:
    """Members of recipient groups."""


@recipients.command("upload")
@click.argument("group")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-existing", is_flag=True, help="Read the group first; send only addresses not yet in it.")
@click.option("--wait", is_flag=True, help="Wait until an asynchronous import has finished.")
@click.option(
    "--rejected",
    "rejected_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write rejected rows (default: FILE.rejected.csv, only if any).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: if a terminal).")
@json_flag
@pass_state
def upload(
    state: State,
    group: str,
    file: Path,
    skip_existing: bool,
    wait: bool,
    rejected_path: Path | None,
    progress: bool | None,
) -> None:
    """Upload recipients from a CSV FILE (header row with an 'email' column) into GROUP.

    Other columns: name, nickname, gender, birthday, mobile; anything else is template data.
    """
    client = state.client()
    show = sys.stderr.isatty() if progress is None else progress
    total = _count_rows(file) if show else 0
    with click.progressbar(
        length=total, label=f"uploading to {group}", file=sys.stderr, hidden=not show, show_pos=True
    ) as bar:
        done = 0

        def on_progress(p: UploadProgress) -> None:
            nonlocal done
            bar.update(p.rows_read - done)
            done = p.rows_read

        report = client.upload(
            group, read_recipients_csv(file), skip_existing=skip_existing, wait=wait, progress=on_progress
        )
    written = None
    if report.rejected:
        written = rejected_path or file.with_suffix(".rejected.csv")
        write_rejected_csv(written, report.rejected)
    payload = report.as_dict() | {"rejected_file": str(written) if written else None}

    def human() -> None:
        state.output.table(
            ["group", "accepted", "rejected", "duplicates", "existing", "calls", "processing"],
            [
                [
                    report.group.name,
                    report.accepted,
                    len(report.rejected),
                    len(report.duplicates),
                    report.existing,
                    report.batches,
                    "yes" if report.processing else "no",
                ]
            ],
        )
        if written:
            state.output.note(f"{len(report.rejected)} rejected rows written to {written}")
        for note in report.notes:
            state.output.note(note)

    state.output.data(payload, human)
    if report.rejected or report.unattributed_rejected:
        click.get_current_context().exit(int(ExitStatus.PARTIAL))


@recipients.command("list")
@click.argument("group")
@json_flag
@pass_state
def list_recipients(state: State, group: str) -> None:
    """List a group's members."""
    members = list(state.client().members(group))
    payload = [
        {
            "email": m.email,
            "valid": m.valid,
            "invalid_reason": m.invalid_reason,
            **m.recipient.profile(),
            "data": m.recipient.data,
        }
        for m in members
    ]

    def human() -> None:
        state.output.table(
            ["email", "valid", "name", "data"],
            [
                [
                    m.email,
                    "-" if m.valid is None else ("yes" if m.valid else f"no: {m.invalid_reason}"),
                    m.recipient.name,
                    ", ".join(f"{k}={v}" for k, v in m.recipient.data.items()),
                ]
                for m in members
            ],
        )

    state.output.data(payload, human)


@recipients.command("remove")
@click.argument("group")
@click.argument("emails", nargs=-1, required=True)
@json_flag
@pass_state
def remove_recipients(state: State, group: str, emails: tuple[str, ...]) -> None:
    """Remove addresses from a group."""
    count = state.client().remove(group, emails)
    state.output.data({"removed": count}, lambda: state.output.note(f"removed {count} address(es)"))
