"""``mailbridge deliveries``: the delivery log over any time window."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import click

from .._models import DeliveryStatus
from ._app import State, cli, json_flag, pass_state

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


@cli.command()
@click.option("--since", default="1d", show_default=True, help="Start: 30m, 24h, 7d, 2w, or ISO date/time.")
@click.option("--until", help="End (default now): ISO date/time or a relative time.")
@click.option("--recipient", help="Only this recipient.")
@click.option("--sender", help="Only this sender address.")
@click.option("--message-id", help="Only this message.")
@click.option("--status", type=click.Choice([s.value for s in DeliveryStatus]), help="Only this status.")
@click.option("--limit", type=int, help="Stop after this many events.")
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
) -> None:
    """Delivery events in a window of any length (split and paged as the provider needs)."""
    events_iter = state.client().deliveries(
        parse_when(since),
        parse_when(until) if until else None,
        recipient=recipient,
        sender=sender,
        message_id=message_id,
        status=status,
    )
    events = list(itertools.islice(events_iter, limit) if limit else events_iter)

    def human() -> None:
        state.output.table(
            ["time", "recipient", "status", "subject", "detail"],
            [
                [
                    e.time.isoformat(timespec="seconds") if e.time else "",
                    e.recipient,
                    e.status.value,
                    e.subject,
                    e.raw_detail,
                ]
                for e in events
            ],
        )

    state.output.data([e.as_dict() for e in events], human)
