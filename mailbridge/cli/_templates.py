"""``mailbridge templates list|create|show|update|delete``: templates by name (or id)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .._models import Template
from ._app import State, cli, json_flag, pass_state
from ._confirm import confirm, yes_option
from ._output import Column, Listing, listing_options

__all__ = ["templates"]

F = TypeVar("F", bound=Callable[..., Any])


def _dict(t: Template) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "provider": t.provider, "status": t.status}


def _full(t: Template) -> dict[str, Any]:
    """Every part, and the ones unknown (``missing``: the provider cannot store them, no catalog record)."""
    return _dict(t) | {"subject": t.subject, "html": t.html, "text": t.text, "missing": list(t.missing)}


def _body_options(f: F) -> F:
    """--text-file and --html-file, shared by create and update."""
    f = click.option(
        "--html-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="HTML body (UTF-8 file)."
    )(f)
    return click.option(
        "--text-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Plain-text body (UTF-8 file).",
    )(f)


LISTING: Listing[Template] = Listing(
    columns=[
        Column("name", 28, lambda t: t.name),
        Column("id", 14, lambda t: t.id),
        Column("status", 0, lambda t: t.status),
    ],
    record=_dict,
    fields=["name", "id", "provider", "status"],
)


def _read(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8") if path else None


@cli.group()
def templates() -> None:
    """Stored templates (variables written {{name}})."""


@templates.command("list")
@listing_options
@json_flag
@pass_state
def list_templates(state: State, limit: int | None, fmt: str | None) -> None:
    """List templates (name, id, status; `templates show NAME` for the content)."""
    state.output.stream(state.client().templates(), LISTING, fmt=fmt, limit=limit)


@templates.command("create")
@click.argument("name")
@click.option("--subject", required=True, help="Subject line (may use {{variables}}).")
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
@click.option("--subject", required=True, help="Subject line (may use {{variables}}).")
@_body_options
@yes_option
@json_flag
@pass_state
def update_template(
    state: State, template: str, subject: str, text_file: Path | None, html_file: Path | None, yes: bool
) -> None:
    """Replace the subject and bodies of TEMPLATE (a name, or an id); the old content is lost (asks first)."""
    client = state.client()
    found = client.get_template(template)
    confirm(f"replace the subject and bodies of template {found.name!r} (id {found.id}) on {client.provider}", yes=yes)
    updated = client.update_template(
        found,
        subject=subject,
        text=_read(text_file),
        html=_read(html_file),
    )
    state.output.data(_full(updated), lambda: state.output.note(f"updated template {updated.name!r} (id {updated.id})"))


@templates.command("delete")
@click.argument("template")
@yes_option
@json_flag
@pass_state
def delete_template(state: State, template: str, yes: bool) -> None:
    """Delete TEMPLATE (a name, or an id); asks first (--yes off a terminal)."""
    client = state.client()
    found = client.get_template(template)
    confirm(f"delete template {found.name!r} (id {found.id}) on {client.provider}", yes=yes)
    client.delete_template(found)
    state.output.data(
        {"deleted": found.id, "name": found.name},
        lambda: state.output.note(f"deleted template {found.name!r} (id {found.id})"),
    )
