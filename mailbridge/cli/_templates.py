"""``mailbridge templates list|create|delete``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .._models import Template
from ._app import State, cli, json_flag, pass_state

__all__ = ["templates"]

F = TypeVar("F", bound=Callable[..., Any])


def _dict(t: Template) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "provider": t.provider, "subject": t.subject, "status": t.status}


def _body_options(f: F) -> F:
    """--text-file and --html-file, shared by create and update."""
    f = click.option("--html-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(f)
    return click.option("--text-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(f)


def _read(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8") if path else None


@cli.group()
def templates() -> None:
    """Stored templates (variables written {{name}})."""


@templates.command("list")
@json_flag
@pass_state
def list_templates(state: State) -> None:
    """List templates."""
    items = state.client().templates()
    state.output.data(
        [_dict(t) for t in items],
        lambda: state.output.table(["id", "name", "subject"], [[t.id, t.name, t.subject] for t in items]),
    )


@templates.command("create")
@click.argument("name")
@click.option("--subject", required=True)
@_body_options
@json_flag
@pass_state
def create_template(state: State, name: str, subject: str, text_file: Path | None, html_file: Path | None) -> None:
    """Create a template from files."""
    template = state.client().create_template(
        name,
        subject=subject,
        text=_read(text_file),
        html=_read(html_file),
    )
    state.output.data(_dict(template), lambda: state.output.note(f"created template {template.id}"))


@templates.command("show")
@click.argument("template_id")
@json_flag
@pass_state
def show_template(state: State, template_id: str) -> None:
    """A template in the neutral {{var}} syntax."""
    t = state.client().get_template(template_id)

    def human() -> None:
        click.echo(f"Subject: {t.subject}")
        if t.text:
            click.echo(f"\n{t.text}")
        if t.html:
            click.echo(f"\n{t.html}")

    state.output.data(_dict(t) | {"html": t.html, "text": t.text}, human)


@templates.command("update")
@click.argument("template_id")
@click.option("--subject", required=True)
@_body_options
@json_flag
@pass_state
def update_template(
    state: State, template_id: str, subject: str, text_file: Path | None, html_file: Path | None
) -> None:
    """Replace a template's subject and bodies."""
    template = state.client().update_template(
        template_id,
        subject=subject,
        text=_read(text_file),
        html=_read(html_file),
    )
    state.output.data(_dict(template), lambda: state.output.note(f"updated template {template.id}"))


@templates.command("delete")
@click.argument("template_id")
@json_flag
@pass_state
def delete_template(state: State, template_id: str) -> None:
    """Delete a template."""
    client = state.client()
    template = client.get_template(template_id)
    client.delete_template(template)
    state.output.data({"deleted": template.id}, lambda: state.output.note(f"deleted template {template.id}"))
