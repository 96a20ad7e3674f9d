"""``mailbridge groups list|create|delete|show``."""

from __future__ import annotations

from typing import Any

import click

from .._models import Group
from ._app import State, cli, json_flag, pass_state
from ._confirm import confirm, yes_option
from ._output import Column, Listing, listing_options

__all__ = ["group_dict", "groups"]


def group_dict(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "provider": group.provider,
        "description": group.description,
        "recipient_count": group.recipient_count,
        "status": group.status.value,
        "created_at": group.created_at.isoformat() if group.created_at else None,
    }


LISTING: Listing[Group] = Listing(
    columns=[
        Column("name", 24, lambda g: g.name),
        Column("id", 12, lambda g: g.id),
        Column("recipients", 10, lambda g: g.recipient_count),
        Column("status", 10, lambda g: g.status.value),
        Column("description", 0, lambda g: g.description),
    ],
    record=group_dict,
    fields=["name", "id", "provider", "description", "recipient_count", "status", "created_at"],
)


def _show(state: State, items: list[Group]) -> None:
    state.output.table(
        ["name", "id", "recipients", "status", "description"],
        [[g.name, g.id, g.recipient_count, g.status.value, g.description] for g in items],
    )


@cli.group()
def groups() -> None:
    """Recipient groups (Direct Mail receiver lists, SES receivers)."""


@groups.command("list")
@click.option("--keyword", help="Only groups whose name contains this.")
@listing_options
@json_flag
@pass_state
def list_groups(state: State, keyword: str | None, limit: int | None, fmt: str | None) -> None:
    """List groups (streamed page by page)."""
    state.output.stream(state.client().groups(keyword), LISTING, fmt=fmt, limit=limit)


@groups.command("show")
@click.argument("name")
@json_flag
@pass_state
def show_group(state: State, name: str) -> None:
    """Show group NAME with its current member count and import status."""
    group = state.client().refresh_group(name)
    state.output.data(group_dict(group), lambda: _show(state, [group]))


@groups.command("create")
@click.argument("name")
@click.option("--description", help="A description stored with the group.")
@click.option(
    "--exist-ok", is_flag=True, help="If the group exists already, show it instead of failing (safe to rerun)."
)
@json_flag
@pass_state
def create_group(state: State, name: str, description: str | None, exist_ok: bool) -> None:
    """Create an empty group NAME (names are unique per account)."""
    client = state.client()
    group = client.get_or_create_group(name, description) if exist_ok else client.create_group(name, description)
    state.output.data(group_dict(group), lambda: _show(state, [group]))


@groups.command("delete")
@click.argument("name")
@yes_option
@json_flag
@pass_state
def delete_group(state: State, name: str, yes: bool) -> None:
    """Delete group NAME and all its members (asks first; --yes off a terminal)."""
    client = state.client()
    group = client.get_group(name)
    members = group.recipient_count
    count = f"its {members:,} member{'' if members == 1 else 's'}" if members is not None else "all its members"
    confirm(f"delete group {group.name!r} and {count} on {client.provider}", yes=yes)
    client.delete_group(group)
    state.output.data({"deleted": group.name, "id": group.id}, lambda: state.output.note(f"deleted {group.name}"))
