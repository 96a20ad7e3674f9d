"""``mailbridge groups list|create|delete|show``."""

from __future__ import annotations

from typing import Any

import click

from .._models import Group
from ._app import State, cli, json_flag, pass_state

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
@json_flag
@pass_state
def list_groups(state: State, keyword: str | None) -> None:
    """List groups."""
    items = list(state.client().groups(keyword))
    state.output.data([group_dict(g) for g in items], lambda: _show(state, items))


@groups.command("show")
@click.argument("name")
@json_flag
@pass_state
def show_group(state: State, name: str) -> None:
    """Show one group with its current count and import status."""
    group = state.client().refresh_group(name)
    state.output.data(group_dict(group), lambda: _show(state, [group]))


@groups.command("create")
@click.argument("name")
@click.option("--description", help="A description stored with the group.")
@json_flag
@pass_state
def create_group(state: State, name: str, description: str | None) -> None:
    """Create an empty group."""
    group = state.client().create_group(name, description)
    state.output.data(group_dict(group), lambda: _show(state, [group]))


@groups.command("delete")
@click.argument("name")
@json_flag
@pass_state
def delete_group(state: State, name: str) -> None:
    """Delete a group and its members."""
    client = state.client()
    group = client.get_group(name)
    client.delete_group(group)
    state.output.data({"deleted": group.name, "id": group.id}, lambda: state.output.note(f"deleted {group.name}"))
