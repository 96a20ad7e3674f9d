"""``mailbridge recipients upload|list|remove``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .._client import UploadProgress
from .._csvio import read_recipients_csv, write_rejected_csv
from .._exceptions import MailbridgeError
from .._models import UploadReport
from ._app import State, cli, json_flag, pass_state
from ._exit import ExitStatus

__all__ = ["recipients"]


@cli.group()
def recipients() -> None:
    """Members of recipient groups."""


def _write_rejected(report: UploadReport, path: Path) -> Path | None:
    if not report.rejected:
        return None
    write_rejected_csv(path, report.rejected)
    return path


@recipients.command("upload")
@click.argument("group")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--encoding", help="The file's encoding (default: detected: BOM, UTF-8, else GB18030).")
@click.option(
    "--delimiter",
    type=click.Choice([",", ";", "tab"]),
    help="Field delimiter (default: detected from the header line).",
)
@click.option("--skip-existing", is_flag=True, help="Read the group first; send only addresses not yet in it.")
@click.option("--wait", is_flag=True, help="Wait until an asynchronous import has finished.")
@click.option(
    "--rejected",
    "rejected_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write rejected rows (default: FILE.rejected.csv, stdin.rejected.csv for -; only if any).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: if a terminal).")
@json_flag
@pass_state
def upload(
    state: State,
    group: str,
    file: Path,
    encoding: str | None,
    delimiter: str | None,
    skip_existing: bool,
    wait: bool,
    rejected_path: Path | None,
    progress: bool | None,
) -> None:
    """Upload recipients from a CSV FILE (header row with an 'email' column; - for stdin) into GROUP.

    Other columns: name, nickname, gender, birthday, mobile; anything else is template data.
    A file that cannot be decoded is refused before anything is uploaded.
    """
    rows = read_recipients_csv(
        "-" if str(file) == "-" else file, encoding=encoding, delimiter="\t" if delimiter == "tab" else delimiter
    )
    default_rejected = Path("stdin.rejected.csv") if str(file) == "-" else file.with_suffix(".rejected.csv")
    rejected_to = rejected_path or default_rejected
    client = state.client()
    show = sys.stderr.isatty() if progress is None else progress
    with click.progressbar(
        length=max(rows.lines - 2, 0), label=f"uploading to {group}", file=sys.stderr, hidden=not show, show_pos=True
    ) as bar:
        done = 0

        def on_progress(p: UploadProgress) -> None:
            nonlocal done
            bar.update(p.rows_read - done)
            done = p.rows_read

        try:
            report = client.upload(group, rows, skip_existing=skip_existing, wait=wait, progress=on_progress)
        except MailbridgeError as exc:
            if isinstance(exc.partial_result, UploadReport):  # what was done before the failure, on record
                partial = exc.partial_result
                written = _write_rejected(partial, rejected_to)
                payload = partial.as_dict() | {"rejected_file": str(written) if written else None, "complete": False}
                state.output.data(
                    payload,
                    lambda: state.output.note(
                        f"upload stopped after {partial.accepted} accepted, {len(partial.rejected)} rejected"
                        + (f"; rejected rows written to {written}" if written else "")
                    ),
                )
            raise
        finally:
            rows.close()
    written = _write_rejected(report, rejected_to)
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
