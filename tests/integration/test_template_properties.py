"""Property: whatever neutral template a user writes, a fresh client reads back exactly its subject, html and text
on both emulators, or the create is refused (InvalidRequest) before any create call. Never a silent change.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

_NAMES = itertools.count()
_VAR = st.tuples(
    st.sampled_from(["{{%s}}", "{{ %s }}", "{{%s }}"]), st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True)
).map(lambda t: t[0] % t[1])
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
_PIECES = st.lists(st.one_of(_TEXT, _VAR), min_size=1, max_size=6).map("".join)
_SUBJECT = _PIECES.filter(lambda s: "\r" not in s and "\n" not in s and s.strip() != "" and len(s) <= 80)
_BODY = st.one_of(st.none(), _PIECES)


@pytest.fixture(scope="module")
def clouds() -> Iterator[dict[str, Any]]:
    with AliyunEmulator() as dm, TencentEmulator(rate=0) as ses:
        yield {"aliyun": (dm, dm.url + "&rate_limit=off"), "tencent": (ses, ses.url + "&rate_limit=off")}


def _creates(kind: str, emulator: Any) -> int:
    if kind == "aliyun":
        return len(emulator.calls("CreateTemplate"))
    return sum(1 for r in emulator.requests if r["action"] == "CreateEmailTemplate")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["aliyun", "tencent"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=_SUBJECT, html=_BODY, text=_BODY)
def test_parts_read_back_exactly_or_are_refused_before_the_call(
    clouds: dict[str, Any], kind: str, subject: str, html: str | None, text: str | None
) -> None:
    if not (html or text):
        return
    emulator, url = clouds[kind]
    name = f"p{next(_NAMES)}"
    before = _creates(kind, emulator)
    with mailbridge.connect(url) as client:
        try:
            client.create_template(name, subject=subject, html=html, text=text)
        except mailbridge.InvalidRequest:
            event("refused before the call")
            assert _creates(kind, emulator) == before, "refused after the create call"
            return
    event("created")
    with mailbridge.connect(url) as fresh:
        read = fresh.get_template(name)
    assert (read.parts(), read.missing) == ({"subject": subject, "html": html, "text": text}, ())
