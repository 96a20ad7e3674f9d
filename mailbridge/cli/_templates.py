"""``mailbridge templates list|create|show|update|delete``: templates by name (or id)."""

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
    return {"id": t.id, "name": t.name, "provider": t.provider, "status": t.status}


def _full(t: Template) -> dict[str, Any]:
    """Every part, and the ones unknown (``missing``: the provider cannot store them, no catalog record)."""
    return _dict(t) | {"subject": t.subject, "html": t.html, "text": t.text, "missing": list(t.missing)}


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
    """List templates (name, id, status; `templates show NAME` for the content)."""
    items = state.client().templates()
    state.output.data(
        [_dict(t) for t in items],
        lambda: state.output.table(["name", "id", "status"], [[t.name, t.id, t.status] for t in items]),
    )


@templates.command("create")
@click.argument("name")
@click.option("--subject", required=True)
@_body_options
@json_flag
@pass_state
def create_template(state: State, name: str, subject: str, text_file: Path | None, html_file: Path | None) -> None:
    """Create template NAME from files; every part is kept on every provider (see README, Templates)."""
    template = state.client().create_template(
        name,
        subject=subject,
        text=_read(text_file),
        html=_read(html_file),
    )
    state.output.data(
        _full(template), lambda: state.output.note(f"created template {template.name!r} (id {template.id})")
    )


@templates.command("show")
@click.argument("template")
@json_flag
@pass_state
def show_template(state: State, template: str) -> None:
    """TEMPLATE (a name, or an id) in the neutral {{var}} syntax."""
    t = state.client().get_template(template)

    def human() -> None:
        click.echo(f"Template: {t.name} (id {t.id}, {t.provider}, {t.status or 'status unknown'})")
        click.echo(f"Subject: {t.subject if t.subject is not None else '(unknown)'}")
        if t.text:
            click.echo(f"\n{t.text}")
        if t.html:
            click.echo(f"\n{t.html}")
        if t.missing:
            state.output.note(
                f"unknown: {', '.join(t.missing)} ({t.provider} cannot store it and the template catalog "
                "has no record: the template was made or changed outside mailbridge; `templates update` sets it)"
            )

    state.output.data(_full(t), human)


@templates.command("update")
@click.argument("template")
@click.option("--subject", required=True)
@_body_options
@json_flag
@pass_state
def update_template(state: State, template: str, subject: str, text_file: Path | None, html_file: Path | None) -> None:
    """Replace the subject and bodies of TEMPLATE (a name, or an id)."""
    updated = state.client().update_template(
        template,
        subject=subject,
        text=_read(text_file),
        html=_read(html_file),
    )
    state.output.data(_full(updated), lambda: state.output.note(f"updated template {updated.name!r} (id {updated.id})"))


@templates.command("delete")
@click.argument("template")
@json_flag
@pass_state
def delete_template(state: State, template: str) -> None:
    """Delete TEMPLATE (a name, or an id)."""
    client = state.client()
    found = client.get_template(template)
    client.delete_template(found)
    state.output.data(
        {"deleted": found.id, "name": found.name},
        lambda: state.output.note(f"deleted template {found.name!r} (id {found.id})"),
    )
