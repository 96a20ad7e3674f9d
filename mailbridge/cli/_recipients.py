"""``mailbridge recipients upload|list|remove``."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from .._client import UploadProgress
from .._csvio import read_recipients_csv, write_rejected_csv
from .._exceptions import MailbridgeError
from .._limits import Feature
from .._models import Member, Recipient, UploadReport
from ._app import State, cli, json_flag, pass_state
from ._confirm import confirm, yes_option
from ._exit import ExitStatus
from ._output import Column, Listing, listing_options

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
@click.option(
    "--split", is_flag=True, help="Fill numbered lists (GROUP-2, GROUP-3, ...) past the provider's group size."
)
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
    split: bool,
    wait: bool,
    rejected_path: Path | None,
    progress: bool | None,
) -> None:
    """Upload recipients from a CSV FILE (header row with an 'email' column; - for stdin) into GROUP.

    Other columns: name, nickname, gender, birthday, mobile; anything else is template data.
    A file that cannot be decoded is refused before anything is uploaded.
    The file is counted first: if its new addresses cannot fit the provider's group size,
    nothing is uploaded (unless --split). Every row is reported once: accepted (new),
    existing (already in the group), duplicates (repeated in the file), rejected (written to
    the rejected file with row, address, reason, code) or unattributed (refused by a
    count-only provider without naming it).
    """
    rows = read_recipients_csv(
        "-" if str(file) == "-" else file, encoding=encoding, delimiter="\t" if delimiter == "tab" else delimiter
    )
    default_rejected = Path("stdin.rejected.csv") if str(file) == "-" else file.with_suffix(".rejected.csv")
    rejected_to = rejected_path or default_rejected
    client = state.client()
    # Everything loaded so far lives as long as the process: the collector's full passes over a
    # long upload (its batches survive into the oldest generation) need not walk it every time
    # (1,000,000 rows: ~0.5 s CPU less, benchmarks/README.md). Nothing is switched off.
    gc.freeze()
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
            report = client.upload(
                group, rows, skip_existing=skip_existing, split=split, wait=wait, progress=on_progress
            )
        except (MailbridgeError, KeyboardInterrupt) as exc:  # Ctrl-C: the upload waited for its call in flight
            partial = getattr(exc, "partial_result", None)
            if isinstance(partial, UploadReport):  # what was done before the failure, on record
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
            ["group", "rows", "accepted", "existing", "duplicates", "rejected", "unattributed", "calls", "processing"],
            [
                [
                    ", ".join(g.name for g in report.groups) or report.group.name,
                    report.rows,
                    report.accepted,
                    report.existing,
                    len(report.duplicates),
                    len(report.rejected),
                    report.unattributed_rejected,
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


def _member(m: Member) -> dict[str, Any]:
    return {
        "email": m.email,
        "valid": m.valid,
        "invalid_reason": m.invalid_reason,
        **m.recipient.profile(),
        "data": m.recipient.data,
    }


MEMBERS: Listing[Member] = Listing(
    columns=[
        Column("email", 32, lambda m: m.email),
        Column("valid", 5, lambda m: "-" if m.valid is None else ("yes" if m.valid else f"no: {m.invalid_reason}")),
        Column("name", 16, lambda m: m.recipient.name),
        Column("data", 0, lambda m: ", ".join(f"{k}={v}" for k, v in m.recipient.data.items())),
    ],
    record=_member,
    fields=["email", "valid", "invalid_reason", *Recipient.PROFILE_FIELDS, "data"],
)


@recipients.command("list")
@click.argument("group")
@listing_options
@json_flag
@pass_state
def list_recipients(state: State, group: str, limit: int | None, fmt: str | None) -> None:
    """List GROUP's members, streamed page by page (--format csv for a spreadsheet)."""
    state.output.stream(state.client().members(group), MEMBERS, fmt=fmt, limit=limit)


def _addresses(emails: tuple[str, ...]) -> Iterator[str]:
    """The arguments, with ``-`` read from stdin: one address per line (blank lines and # comments skipped)."""
    for value in emails:
        if value != "-":
            yield value
            continue
        for line in sys.stdin:
            text = line.split("#", 1)[0].strip()
            if text:
                yield text


@recipients.command("remove")
@click.argument("group")
@click.argument("emails", nargs=-1, required=True)
@yes_option
@json_flag
@pass_state
def remove_recipients(state: State, group: str, emails: tuple[str, ...], yes: bool) -> None:
    """Remove addresses EMAILS (or, with -, those on stdin, one a line) from GROUP.

    Asks first (--yes off a terminal, and always with -). Reports exactly: removed (were
    members), not members, repeats and invalid entries.
    """
    client = state.client()
    if not client.limits.supports(Feature.REMOVE_RECIPIENTS):  # said before asking a question for nothing
        client.backend.unsupported(Feature.REMOVE_RECIPIENTS)
    found = client.get_group(group)
    members = f" ({found.recipient_count:,} members)" if found.recipient_count is not None else ""
    where = f"from group {found.name!r}{members} on {client.provider}"
    if "-" in emails and not yes:  # refused before reading stdin: the question could not be answered there
        confirm(f"remove the addresses read from stdin {where}", yes=False, stdin_used=True)
    addresses = list(_addresses(emails))
    confirm(f"remove {len(addresses):,} address{'' if len(addresses) == 1 else 'es'} {where}", yes=yes)
    report = client.remove(found, addresses)

    def human() -> None:
        state.output.table(
            ["group", "removed", "not_members", "duplicates", "rejected"],
            [[report.group.name, *report.counts().values()]],
        )
        if report.not_members:
            state.output.note("not members: " + ", ".join(report.not_members))
        for r in report.rejected:
            state.output.note(f"rejected {r.email!r}: {r.reason}")

    state.output.data(report.as_dict(), human)
    if report.rejected:
        click.get_current_context().exit(int(ExitStatus.PARTIAL))
