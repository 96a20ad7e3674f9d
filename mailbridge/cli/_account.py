"""``mailbridge account``, ``mailbridge statistics`` and ``mailbridge tags ...``: the Python API's views."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import attrs
import click

from .._exceptions import InvalidRequest, NotFound
from .._models import AccountSummary, StatisticsRow, Tag
from ._app import State, cli, json_flag, pass_state
from ._confirm import confirm, yes_option
from ._output import Column, Listing, listing_options

__all__ = ["account", "parse_day", "statistics", "tags"]

_DAYS_AGO = re.compile(r"^(\d{1,7})d$")


def parse_day(value: str, today: dt.date | None = None) -> dt.date:
    """``today``, ``yesterday``, ``7d`` (days ago) or an ISO date ``2026-11-30``."""
    today = today or dt.datetime.now(dt.UTC).date()
    text = value.strip().lower()
    if text == "today":
        return today
    if text == "yesterday":
        return today - dt.timedelta(days=1)
    if match := _DAYS_AGO.match(text):
        try:
            return today - dt.timedelta(days=int(match.group(1)))
        except OverflowError:
            raise click.BadParameter(f"{value!r} is further back than any date (year 1)") from None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use today, yesterday, 7d or an ISO date (2026-11-30)") from None


def _account_dict(summary: AccountSummary) -> dict[str, Any]:
    return attrs.asdict(summary)


@cli.command()
@json_flag
@pass_state
def account(state: State) -> None:
    """Quota and standing of the account behind --url (daily and monthly quota, what is left)."""
    summary = state.client().account()

    def human() -> None:
        rows = [[name.replace("_", " "), value] for name, value in _account_dict(summary).items() if name != "extra"]
        state.output.table(["field", "value"], [[n, "-" if v is None else v] for n, v in rows])
        if summary.extra:
            state.output.note(f"{len(summary.extra)} more {summary.provider} fields with --json (under 'extra')")

    state.output.data(_account_dict(summary), human)


def _day(row: StatisticsRow) -> dict[str, Any]:
    return attrs.asdict(row) | {"date": row.date.isoformat()}


STATISTICS: Listing[StatisticsRow] = Listing(
    columns=[
        Column("date", 10, lambda r: r.date.isoformat()),
        Column("requested", 9, lambda r: r.requested),
        Column("delivered", 9, lambda r: r.delivered),
        Column("bounced", 7, lambda r: r.bounced),
        Column("opened", 6, lambda r: "-" if r.opened is None else r.opened),
        Column("clicked", 7, lambda r: "-" if r.clicked is None else r.clicked),
        Column("unsubscribed", 12, lambda r: "-" if r.unsubscribed is None else r.unsubscribed),
        Column("complained", 0, lambda r: "-" if r.complained is None else r.complained),
    ],
    record=_day,
    fields=[f.name for f in attrs.fields(StatisticsRow)],
)


@cli.command()
@click.option("--since", default="7d", show_default=True, help="First day: today, yesterday, 7d (days ago) or ISO.")
@click.option("--until", default="today", show_default=True, help="Last day (inclusive), the same forms.")
@listing_options
@json_flag
@pass_state
def statistics(state: State, since: str, until: str, limit: int | None, fmt: str | None) -> None:
    """Daily volumes (requested, delivered, bounced; opens and clicks where the provider counts them)."""
    start, end = parse_day(since), parse_day(until)
    if end < start:
        raise InvalidRequest(f"--until {end.isoformat()} is before --since {start.isoformat()}")
    state.output.stream(state.client().statistics(start, end), STATISTICS, fmt=fmt, limit=limit)


TAGS: Listing[Tag] = Listing(
    columns=[
        Column("name", 28, lambda t: t.name),
        Column("id", 12, lambda t: t.id),
        Column("description", 0, lambda t: t.description),
    ],
    record=attrs.asdict,
    fields=["name", "id", "description"],
)


@cli.group()
def tags() -> None:
    """Send tags, for statistics by tag (where the provider manages them)."""


def _tag(state: State, name: str) -> Tag:
    found = next((t for t in state.client().tags() if t.name == name), None)
    if found is None:
        raise NotFound(f"no tag named {name!r} on {state.client().provider}", provider=state.client().provider)
    return found


@tags.command("list")
@listing_options
@json_flag
@pass_state
def list_tags(state: State, limit: int | None, fmt: str | None) -> None:
    """List tags."""
    state.output.stream(state.client().tags(), TAGS, fmt=fmt, limit=limit)


@tags.command("create")
@click.argument("name")
@click.option("--description", help="A description stored with the tag.")
@json_flag
@pass_state
def create_tag(state: State, name: str, description: str | None) -> None:
    """Create tag NAME (send with it: send --tag NAME)."""
    tag = state.client().create_tag(name, description)
    state.output.data(attrs.asdict(tag), lambda: state.output.note(f"created tag {tag.name!r} (id {tag.id})"))


@tags.command("rename")
@click.argument("name")
@click.argument("new_name")
@json_flag
@pass_state
def rename_tag(state: State, name: str, new_name: str) -> None:
    """Rename tag NAME to NEW_NAME."""
    tag = state.client().rename_tag(_tag(state, name), new_name)
    state.output.data(attrs.asdict(tag), lambda: state.output.note(f"renamed tag {name!r} to {tag.name!r}"))


@tags.command("delete")
@click.argument("name")
@yes_option
@json_flag
@pass_state
def delete_tag(state: State, name: str, yes: bool) -> None:
    """Delete tag NAME (asks first; --yes off a terminal)."""
    tag = _tag(state, name)
    confirm(f"delete tag {tag.name!r} (id {tag.id}) on {state.client().provider}", yes=yes)
    state.client().delete_tag(tag)
    state.output.data({"deleted": tag.name, "id": tag.id}, lambda: state.output.note(f"deleted tag {tag.name!r}"))
