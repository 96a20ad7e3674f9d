"""``{{var}}`` template rendering for the local backend (no dependency needed for this)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

__all__ = ["VARIABLE", "render", "variables"]

VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


def variables(text: str | None) -> set[str]:
    """The variable names a template uses."""
    return set(VARIABLE.findall(text or ""))


def render(text: str | None, data: Mapping[str, str], *, escape: bool = False) -> str | None:
    """Fill ``{{name}}`` from ``data``; a missing variable renders empty. HTML-escape if asked."""
    if text is None:
        return None

    def value(match: re.Match[str]) -> str:
        raw = data.get(match.group(1), "")
        return html.escape(raw) if escape else raw

    return VARIABLE.sub(value, text)
