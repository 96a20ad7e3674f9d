"""``mailbridge deliveries``: the delivery log over any time window."""

from __future__ import annotations

import datetime as dt
import re

import click

from .._models import DeliveryEvent, DeliveryStatus
from ._app import State, cli, json_flag, pass_state
from ._output import Column, Listing, listing_options

__all__ = ["deliveries", "parse_when"]

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """'30m', '24h', '7d', '2w' (ago), or an ISO date/datetime (UTC unless it says otherwise)."""
    now = now or dt.datetime.now(dt.UTC)
    text = value.strip()
    if match := _RELATIVE.match(text):
        try:
            return now - dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except (OverflowError, ValueError):
            raise click.BadParameter(f"{value!r} is further back than any date (year 1)") from None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use 30m, 24h, 7d, 2w or an ISO date/time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


EVENTS: Listing[DeliveryEvent] = Listing(
    columns=[
        Column("time", 25, lambda e: e.time.isoformat(timespec="seconds") if e.time else ""),
        Column("recipient", 30, lambda e: e.recipient),
        Column("status", 16, lambda e: e.status.value),
        Column("bounce", 6, lambda e: e.bounce_type.value if e.bounce_type else ""),
        Column("subject", 24, lambda e: e.subject),
        Column("reason", 0, lambda e: e.reason or ""),
    ],
    record=lambda e: e.as_dict(),
    fields=[
        "time",
        "recipient",
        "status",
        "bounce_type",
        "reason",
        "subject",
        "sender",
        "message_id",
        "tag",
        "provider",
        "raw_status",
        "raw_detail",
        "event_id",
    ],
)


@cli.command()
@click.option("--since", default="1d", show_default=True, help="Start: 30m, 24h, 7d, 2w, or ISO date/time.")
@click.option("--until", help="End (default now): ISO date/time or a relative time.")
@click.option("--recipient", help="Only this recipient.")
@click.option("--sender", help="Only this sender address.")
@click.option("--message-id", help="Only this message.")
@click.option("--status", type=click.Choice([s.value for s in DeliveryStatus]), help="Only this status.")
@listing_options
@json_flag
@pass_state
def deliveries(
    state: State,
    since: str,
    until: str | None,
    recipient: str | None,
    sender: str | None,
    message_id: str | None,
    status: str | None,
    limit: int | None,
    fmt: str | None,
) -> None:
    """Delivery events in a window of any length (split and paged as the provider needs).

    Statuses mean the same on every provider (docs/semantics.md): the same bounce is the same
    status and bounce type everywhere. A filter the provider cannot answer (--status opened
    where opens are not reported, --since past what it keeps) is an error, not an empty table.
    """
    events_iter = state.client().deliveries(
        parse_when(since),
        parse_when(until) if until else None,
        recipient=recipient,
        sender=sender,
        message_id=message_id,
        status=status,
    )
    state.output.stream(events_iter, EVENTS, fmt=fmt, limit=limit)
