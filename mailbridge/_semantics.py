"""The generated tables of ``docs/semantics.md``, from the installed backends' declarations.

``python -m mailbridge._semantics docs/semantics.md`` rewrites every block between
``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->``; ``--check`` only reports whether
the file is current (a test runs it, so the page cannot drift from the code).
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from ._backend import Backend
from ._bounce import refine_status
from ._limits import Feature, Limits
from ._models import DeliveryStatus
from ._registry import available_providers

__all__ = ["main", "render", "update"]

_BLOCK = re.compile(r"(<!-- generated:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _backends() -> dict[str, type[Backend]]:
    return dict(sorted(available_providers().items()))


def _features(found: Mapping[str, type[Backend]]) -> str:
    rows = [
        [f"`{f.value}`", *("yes" if cls.limits.supports(f) else "**no**" for cls in found.values())] for f in Feature
    ]
    return _table(["feature", *found], rows)


def _limit(limits: Limits, name: str) -> str:
    value = getattr(limits, name)
    if name == "delivery_query_window" and limits.delivery_query_by_day:
        return "1 calendar day"
    if isinstance(value, dt.timedelta):
        return f"{value.days} days"
    if isinstance(value, frozenset):
        return ", ".join(sorted(value)) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value is None else str(value)


_LIMITS = [
    ("recipients_per_send", "`to` addresses in one shared email (one call)"),
    ("cc_per_send", "cc per send"),
    ("bcc_per_send", "bcc per send"),
    ("upload_batch_size", "addresses per upload call"),
    ("max_group_size", "addresses per group (split past it)"),
    ("max_groups", "groups per account"),
    ("group_name_length", "group name length"),
    ("remove_batch_size", "addresses per remove call"),
    ("async_upload", "upload imports asynchronously"),
    ("dedups_members", "provider skips addresses the group has (else the core reads the group first)"),
    ("delivery_query_window", "one delivery query spans"),
    ("delivery_retention", "delivery data kept"),
    ("delivery_filters", "delivery filters the provider applies"),
    ("unsupported_delivery_filters", "delivery filters refused (UnsupportedFeature)"),
]


def _limits(found: Mapping[str, type[Backend]]) -> str:
    rows = [[label, *(_limit(cls.limits, name) for cls in found.values())] for name, label in _LIMITS]
    return _table(["limit", *found], rows)


def _codes(found: Mapping[str, type[Backend]]) -> str:
    rows = [
        [name, f"`{raw}`", status.value] for name, cls in found.items() for raw, status in cls.delivery_codes.items()
    ]
    return _table(["backend", "raw code", "neutral status (before the SMTP reply refines it)"], rows)


_REPLIES = [
    "250 2.0.0 OK",
    "550 5.1.1 mailbox does not exist",
    "551 user unknown",
    "554 5.7.1 rejected as spam",
    "552 5.2.2 mailbox full",
    "421 4.4.0 connection failed",
    "dropped (no SMTP reply)",
]


def _refinement() -> str:
    bases = [DeliveryStatus.REJECTED, DeliveryStatus.FAILED, DeliveryStatus.PENDING]
    rows = []
    for reply in _REPLIES:
        cells = []
        for base in bases:
            status, bounce = refine_status(base, reply)
            cells.append(f"{status.value}" + (f", {bounce.value}" if bounce else ""))
        rows.append([f"`{reply}`", *cells])
    return _table(["reply quoted by the provider", *(f"provider said {b.value}" for b in bases)], rows)


_RENDERERS: dict[str, Callable[[Mapping[str, type[Backend]]], str]] = {
    "features": _features,
    "limits": _limits,
    "delivery_codes": _codes,
    "smtp_refinement": lambda found: _refinement(),
}


def render() -> dict[str, str]:
    """Every generated block, by name."""
    found = _backends()
    return {name: fn(found) for name, fn in _RENDERERS.items()}


def update(text: str) -> str:
    """``text`` with every generated block replaced by its current rendering."""
    blocks = render()

    def replace(match: re.Match[str]) -> str:
        return match.group(1) + blocks[match.group("name")] + match.group(4)

    return _BLOCK.sub(replace, text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or [Path("docs/semantics.md")]
    stale = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        new = update(text)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    if check and stale:
        print(f"out of date: {', '.join(map(str, stale))} (run python -m mailbridge._semantics)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
