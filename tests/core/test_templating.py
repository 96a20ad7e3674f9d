"""Neutral {{var}} templates and their translation to a provider's syntax, both ways."""

from __future__ import annotations

import pytest

import mailbridge
from mailbridge import NEUTRAL_SYNTAX, TemplateSyntax, render_template

SINGLE = TemplateSyntax("single-brace cloud", "{", "}")
DOLLAR = TemplateSyntax("dollar cloud", "${", "}")


def test_render_fills_variables_and_escapes_html() -> None:
    assert render_template("Hi {{ name }}, {{missing}}!", {"name": "Ada"}) == "Hi Ada, !"
    assert render_template("<b>{{name}}</b>", {"name": "<Ada>"}, escape=True) == "<b>&lt;Ada&gt;</b>"


@pytest.mark.parametrize("syntax", [SINGLE, DOLLAR])
def test_round_trip(syntax: TemplateSyntax) -> None:
    """Neutral -> provider -> neutral gives the original back."""
    neutral = "Dear {{name}}, your {{plan}} plan"
    provider = syntax.to_provider(neutral)
    assert provider == f"Dear {syntax.opener}name{syntax.closer}, your {syntax.opener}plan{syntax.closer} plan"
    assert syntax.from_provider(provider) == neutral


@pytest.mark.parametrize("syntax", [SINGLE, DOLLAR])
def test_same_text_for_same_data(syntax: TemplateSyntax) -> None:
    """The provider's renderer and the neutral renderer produce the same text."""
    neutral = "Hello {{name}} from {{city}}"
    data = {"name": "Ada", "city": "London"}
    assert syntax.render(syntax.to_provider(neutral), data) == render_template(neutral, data)


def test_literal_braces_that_a_provider_would_misread_are_refused() -> None:
    with pytest.raises(mailbridge.InvalidRequest, match=r"literal text '\{color\}' would be read as a variable"):
        SINGLE.to_provider("body {color} and {{name}}")
    assert SINGLE.to_provider("css { color: red } {{name}}") == "css { color: red } {name}"


def test_constructs_without_an_equivalent_are_named() -> None:
    with pytest.raises(mailbridge.InvalidRequest, match=r"construct '\{\{name\|upper\}\}' cannot be expressed"):
        SINGLE.to_provider("{{name|upper}}")
    with pytest.raises(mailbridge.InvalidRequest, match="would be read as a neutral variable"):
        SINGLE.from_provider("{{literal}} and {name}")


def test_neutral_syntax_is_identity() -> None:
    assert NEUTRAL_SYNTAX.to_provider("Hi {{name}}") == "Hi {{name}}"
    assert NEUTRAL_SYNTAX.from_provider("Hi {{name}}") == "Hi {{name}}"
