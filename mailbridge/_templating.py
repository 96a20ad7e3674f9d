"""Template variable syntaxes: the neutral ``{{name}}`` and each provider's own.

A stored :class:`~mailbridge.Template` always uses the neutral syntax. A backend declares
its provider's syntax as a :class:`TemplateSyntax`; the backend translates with
:meth:`TemplateSyntax.to_provider` when it writes a template and with
:meth:`TemplateSyntax.from_provider` when it reads one. A construct one side cannot
express raises :class:`InvalidRequest` naming it, instead of being mangled silently.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from attrs import frozen

from ._exceptions import InvalidRequest

__all__ = ["NEUTRAL_SYNTAX", "TemplateSyntax", "render_template", "variables"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NEUTRAL_SYNTAX_VAR = re.compile(r"\{\{\s*(" + _NAME + r")\s*\}\}")
_NEUTRAL_SYNTAX_ANY = re.compile(r"\{\{(.*?)\}\}", re.S)


def variables(text: str | None) -> set[str]:
    """The variable names a neutral template uses."""
    return set(_NEUTRAL_SYNTAX_VAR.findall(text or ""))


def render_template(text: str | None, data: Mapping[str, str], *, escape: bool = False) -> str | None:
    """Fill neutral ``{{name}}`` variables from ``data`` (missing ones render empty)."""
    if text is None:
        return None

    def value(match: re.Match[str]) -> str:
        raw = str(data.get(match.group(1), ""))
        return html.escape(raw) if escape else raw

    return _NEUTRAL_SYNTAX_VAR.sub(value, text)


def _check_neutral(text: str, provider: str) -> None:
    for match in _NEUTRAL_SYNTAX_ANY.finditer(text):
        if not _NEUTRAL_SYNTAX_VAR.fullmatch(match.group(0)):
            raise InvalidRequest(
                f"template construct {match.group(0)!r} cannot be expressed on {provider}: "
                "only plain variables like {{name}} translate between providers"
            )


@frozen
class TemplateSyntax:
    """One provider's variable syntax: ``opener + name + closer`` (e.g. ``{`` ``}``).

    **Parameters:** ``provider`` (for error messages), ``opener``, ``closer``.
    """

    provider: str
    opener: str
    closer: str

    @property
    def _pattern(self) -> re.Pattern[str]:
        o, c = re.escape(self.opener), re.escape(self.closer)
        if self.opener == "{":  # a single brace must not be part of a double one
            return re.compile(r"(?<!\{)\{\s*(" + _NAME + r")\s*\}(?!\})")
        return re.compile(o + r"\s*(" + _NAME + r")\s*" + c)

    def to_provider(self, text: str | None) -> str | None:
        """Neutral -> provider. Raises if the text holds something the provider would misread."""
        if text is None:
            return None
        _check_neutral(text, self.provider)
        if self.opener != "{{" or self.closer != "}}":
            stripped = _NEUTRAL_SYNTAX_VAR.sub("", text)
            if clash := self._pattern.search(stripped):
                raise InvalidRequest(
                    f"literal text {clash.group(0)!r} would be read as a variable on {self.provider}; "
                    "rephrase it (for example add a space inside the braces)"
                )
        return _NEUTRAL_SYNTAX_VAR.sub(lambda m: f"{self.opener}{m.group(1)}{self.closer}", text)

    def from_provider(self, text: str | None) -> str | None:
        """Provider -> neutral. Raises if the provider text holds a literal neutral-looking ``{{...}}``."""
        if text is None:
            return None
        if self.opener != "{{" or self.closer != "}}":
            stripped = self._pattern.sub("", text)
            if clash := _NEUTRAL_SYNTAX_ANY.search(stripped):
                raise InvalidRequest(
                    f"{self.provider} template text {clash.group(0)!r} would be read as a neutral variable"
                )
        else:
            _check_neutral(text, self.provider)
        return self._pattern.sub(lambda m: "{{" + m.group(1) + "}}", text)

    def render(self, text: str | None, data: Mapping[str, str]) -> str | None:
        """Fill the provider's own variables (what the provider's renderer would do)."""
        if text is None:
            return None
        return self._pattern.sub(lambda m: str(data.get(m.group(1), "")), text)


NEUTRAL_SYNTAX = TemplateSyntax("mailbridge", "{{", "}}")
