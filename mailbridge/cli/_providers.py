"""``mailbridge providers``: installed backends and their declared limits and features."""

from __future__ import annotations

import datetime as dt

from .._limits import Feature, Limits
from .._registry import available_providers
from ._app import State, cli, json_flag, pass_state

_SHOWN = [
    ("upload_batch_size", "recipients per upload call"),
    ("max_group_size", "recipients per group"),
    ("max_groups", "groups per account"),
    ("recipients_per_send", "recipients per send"),
    ("cc_per_send", "cc per send"),
    ("bcc_per_send", "bcc per send"),
    ("subject_length", "subject length"),
    ("sender_name_length", "sender name length"),
    ("headers_per_send", "custom headers per send"),
    ("template_data_bytes", "template data bytes per recipient"),
    ("delivery_query_window", "delivery query window"),
    ("delivery_retention", "delivery data kept"),
    ("delivery_page_size", "delivery page size"),
    ("async_upload", "asynchronous upload"),
]


def _cell(limits: Limits, name: str) -> str:
    value = getattr(limits, name)
    if name == "delivery_query_window" and limits.delivery_query_by_day:
        return "1 calendar day"
    if isinstance(value, dt.timedelta):
        return f"{value.days} days" if value.days else f"{value.total_seconds():.0f}s"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value is None else str(value)


@cli.command()
@json_flag
@pass_state
def providers(state: State) -> None:
    """Installed backends with a limits and feature matrix (generated from their declarations)."""
    found = available_providers()
    payload = [
        {
            "name": name,
            "display_name": cls.display_name,
            "module": cls.__module__,
            "limits": cls.limits.as_dict(),
        }
        for name, cls in found.items()
    ]

    def human() -> None:
        names = list(found)
        rows: list[list[str]] = []
        for attr, label in _SHOWN:
            rows.append([label, *(_cell(found[n].limits, attr) for n in names)])
        operations = sorted({op for n in names for op in found[n].limits.rates})
        for op in operations:
            label = "rate: every other call" if op == "*" else f"rate: {op.replace('_', ' ')}"
            rows.append([label, *(str(found[n].limits.rates.get(op) or "-") for n in names)])
        for feature in Feature:
            rows.append([feature.value, *("yes" if found[n].limits.supports(feature) else "-" for n in names)])
        state.output.table(["", *names], rows)

    state.output.data(payload, human)


__all__ = ["providers"]
