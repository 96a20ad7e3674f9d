"""``mailbridge demo``: the main job end to end (group, CSV upload, templated group send, delivery log)."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import tempfile
from pathlib import Path

import click

from .._csvio import read_recipients_csv
from .._models import Message, SendResult, Template, UploadReport
from ._app import State, cli, json_flag, pass_state

__all__ = ["demo"]

GROUP = "demo-customers"
TEMPLATE = "demo-welcome"


@cli.command()
@click.option("--sender", default="hello@demo.example.com", show_default=True, help="Sender address.")
@json_flag
@pass_state
def demo(state: State, sender: str) -> None:
    """Create a group, upload a sample CSV, send it a template, and show the delivery log.

    Runs on the URL given (default: the embedded local backend in ./.mailbridge/); safe to rerun.
    """
    client = state.client()
    out = state.output
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    out.note(f"1/4 group {GROUP!r} on {client.backend.describe()}")
    group = client.get_or_create_group(GROUP, "created by mailbridge demo")

    sample = importlib.resources.files("mailbridge.cli").joinpath("demo_recipients.csv")
    with importlib.resources.as_file(sample) as csv_path, tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "recipients.csv"
        copy.write_bytes(Path(csv_path).read_bytes())
        out.note(f"2/4 uploading {copy.name} (10 rows: one repeat, one bad address)")
        report = client.upload(group, read_recipients_csv(copy), skip_existing=True, wait=True)
    for rejected in report.rejected:
        out.note(f"    rejected row {rejected.row}: {rejected.email}: {rejected.reason}")

    template = next((t for t in client.templates() if t.name == TEMPLATE), None) or _create_template(state)
    out.note(f"3/4 sending template {template.name!r} to every member of {GROUP!r}")
    result = client.send_to_group(group, Message(sender=sender, to=(), template_id=template.id))

    out.note("4/4 delivery log")
    events = list(client.deliveries(started))
    payload = {
        "provider": client.provider,
        "group": group.name,
        "upload": report.as_dict(),
        "send": result.as_dict(),
        "deliveries": [e.as_dict() for e in events],
    }

    def human() -> None:
        out.table(
            ["recipient", "status", "subject", "detail"],
            [[e.recipient, e.status.value, e.subject, e.raw_detail] for e in events],
        )
        out.note(
            f"uploaded {report.accepted} new, {report.existing} already there, {len(report.duplicates)} repeat(s), "
            f"{len(report.rejected)} rejected; {_sent(result, report)}"
        )

    out.data(payload, human)


def _create_template(state: State) -> Template:
    return state.client().create_template(
        TEMPLATE,
        subject="Welcome to the {{plan}} plan, {{name}}",
        text="Hi {{name}},\n\nyour {{plan}} plan is ready. Greetings to {{city}}!\n",
        html="<p>Hi {{name}},</p><p>your <b>{{plan}}</b> plan is ready. Greetings to {{city}}!</p>",
    )


def _sent(result: SendResult, report: UploadReport) -> str:
    if result.accepted:
        return f"sent {len(result.accepted)} message(s)"
    batch = ", ".join(r.batch_id for r in result.receipts if r.batch_id)
    members = report.group.recipient_count
    return f"group send accepted as batch {batch or '?'}" + (f" for {members} member(s)" if members else "")
