"""``mailbridge send``: one message (split as needed), or a template to a whole group."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import click

from .._exceptions import InvalidRequest
from .._models import Attachment, Message, SendResult
from ._app import State, cli, json_flag, pass_state
from ._batch import BatchOptions, batch_options, send_batch
from ._message_file import read_message_file

__all__ = ["send"]


def _pairs(values: tuple[str, ...], sep: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        if sep not in item:
            raise click.BadParameter(f"{item!r} is not {what}")
        key, _, value = item.partition(sep)
        out[key.strip()] = value.strip()
    return out


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"{path}: not UTF-8 text (byte offset {exc.start}); save it as UTF-8") from None


_COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2", "xz": "application/x-xz"}


def _attachment(path: Path) -> Attachment:
    """A file to attach, its content type guessed from its name (mimetypes), else application/octet-stream."""
    guessed, encoding = mimetypes.guess_type(path.name, strict=False)
    if encoding:  # report.csv.gz is a gzip file, whatever it holds
        guessed = _COMPRESSED.get(encoding)
    content_type = guessed or "application/octet-stream"
    return Attachment(filename=path.name, content=path.read_bytes(), content_type=content_type)


@cli.command()
@click.option(
    "--message-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object with Message fields (flags override it).",
)
@click.option("--from", "sender", help="Sender address.")
@click.option("--from-name", "sender_name", help="Sender display name.")
@click.option("--to", multiple=True, help="Recipient (repeatable).")
@click.option("--cc", multiple=True, help="Cc recipient (repeatable).")
@click.option("--bcc", multiple=True, help="Bcc recipient (repeatable).")
@click.option("--reply-to", help="Reply-to address.")
@click.option("--subject", help="Subject line.")
@click.option("--text", help="Plain-text body.")
@click.option(
    "--text-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Plain-text body from a file."
)
@click.option("--html", help="HTML body.")
@click.option(
    "--html-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="HTML body from a file."
)
@click.option(
    "--attach",
    "attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Attach FILE (repeatable; content type from its name; checked against the provider's limits first).",
)
@click.option("--template", help="Template name (or id) to send instead of a body; works on every provider.")
@click.option("--template-id", help="One provider's template id (prefer --template).")
@click.option("--data", multiple=True, help="Template data KEY=VALUE (repeatable).")
@click.option("--tag", help="Tag for statistics.")
@click.option("--header", multiple=True, help="Custom header 'Name: value' (repeatable).")
@click.option("--option", "options", multiple=True, help="Provider-only parameter KEY=VALUE (repeatable).")
@click.option("--group", help="Send to every member of this group (batch send) instead of --to.")
@click.option("--each", is_flag=True, help="One private copy per --to address (default: one shared email).")
@batch_options
@json_flag
@pass_state
def send(state: State, /, message_file: Path | None, group: str | None, each: bool, **flags: Any) -> None:
    """Send a message, or a template to a group with --group."""
    batch = BatchOptions.pop(flags)
    fields: dict[str, Any] = read_message_file(message_file) if message_file else {}
    text_file, html_file = flags.pop("text_file"), flags.pop("html_file")
    flags["text"] = flags["text"] or _read(text_file)
    flags["html"] = flags["html"] or _read(html_file)
    flags["template_data"] = _pairs(flags.pop("data"), "=", "KEY=VALUE") or None
    flags["headers"] = _pairs(flags.pop("header"), ":", "'Name: value'") or None
    flags["provider_options"] = _pairs(flags.pop("options"), "=", "KEY=VALUE") or None
    attached = [_attachment(path) for path in flags.pop("attach")]
    if attached:  # after those of --message-file
        flags["attachments"] = [*fields.get("attachments", ()), *attached]
    for key, value in flags.items():
        if value not in (None, ()):
            fields[key] = list(value) if isinstance(value, tuple) else value
    if not fields.get("sender"):
        raise click.UsageError("--from (or 'sender' in --message-file) is required")
    fields.setdefault("to", [])
    try:
        message = Message(**fields)
    except TypeError as exc:
        raise InvalidRequest(f"invalid message fields: {exc}") from exc
    if batch.file is not None:
        if group or each:
            raise click.UsageError("--batch sends one message per row: leave out --group and --each")
        return send_batch(state, message, batch)
    client = state.sender()
    if group:
        result: SendResult = client.send_to_group(group, message)
    elif each:  # one call per address, each through the client's own send (failover included)
        if message.cc or message.bcc:
            raise click.UsageError("--each sends one copy per --to address; --cc/--bcc would get every copy")
        result = SendResult([r for a in message.to for r in client.send(message.evolve(to=(a,))).receipts])
    else:
        result = client.send(message)

    def human() -> None:
        state.output.table(
            ["provider", "message id", "recipients", "request id"],
            [
                [r.provider, r.batch_id or ", ".join(r.message_ids), len(r.accepted), r.request_id]
                for r in result.receipts
            ],
        )

    state.output.data(result.as_dict(), human)
