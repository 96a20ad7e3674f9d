"""Names of the numbered lists a group is split into when it outgrows one provider list.

``migrate`` plans ``news-1``, ``news-2``, ... up front; ``upload(split=True)`` keeps the
list it was given and continues with the next number (``news`` -> ``news-2``;
``news-1`` -> ``news-2``), so both fill the same lists.
"""

from __future__ import annotations

import re

__all__ = ["part_name", "part_names", "split_base"]

_NUMBERED = re.compile(r"^(?P<base>.+)-(?P<index>[1-9][0-9]*)$")


def part_name(base: str, index: int) -> str:
    """The ``index``-th (1-based) numbered list of ``base``."""
    return f"{base}-{index}"


def part_names(name: str, parts: int) -> list[str]:
    """The lists a group of ``parts`` parts is planned into (``[name]`` when it fits one)."""
    return [name] if parts <= 1 else [part_name(name, i) for i in range(1, parts + 1)]


def split_base(name: str) -> tuple[str, int]:
    """The base name and the index of the list after ``name`` (``news-3`` -> ``("news", 4)``)."""
    if match := _NUMBERED.match(name):
        return match["base"], int(match["index"]) + 1
    return name, 2
