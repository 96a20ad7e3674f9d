"""Property: for any input and any group, every backend's upload and remove reports match one model.

Hypothesis draws rows from a small pool (repeats in other cases, bad rows, addresses already in the
group); the expected categories are computed here, independently of the client, and the reports of
local and the Direct Mail emulator (and SES's, whose reports are count-only) must equal them.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

POOL = ["a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"]
ROW = st.one_of(
    st.sampled_from(POOL),
    st.sampled_from(POOL).map(str.upper),
    st.sampled_from(["not-an-address", "x@", "@example.com"]),
)
_names = itertools.count()


def _off(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "rate_limit=off"


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, mailbridge.Client]]:
    tmp: Path = tmp_path_factory.mktemp("props")
    with contextlib.ExitStack() as stack:
        dm = stack.enter_context(AliyunEmulator(max_lists=1000))
        ses = stack.enter_context(TencentEmulator(rate=0, max_groups=1000, upload_delay=0))
        urls = {"local": f"local://{tmp}", "aliyun": _off(dm.url), "tencent": _off(ses.url)}
        yield {k: stack.enter_context(mailbridge.connect(u, sleep=lambda _: None)) for k, u in urls.items()}


def expected(rows: list[str], present: list[str]) -> dict[str, int]:
    """The model: each row is one of accepted / existing / duplicates / rejected."""
    seen: set[str] = set()
    had = {p.casefold() for p in present}
    counts = dict.fromkeys(("rows", "accepted", "existing", "duplicates", "rejected", "unattributed", "not_sent"), 0)
    counts["rows"] = len(rows)
    for row in rows:
        if "@" not in row or row.startswith("@") or row.endswith("@"):
            counts["rejected"] += 1
        elif row.casefold() in seen:
            counts["duplicates"] += 1
        else:
            seen.add(row.casefold())
            counts["existing" if row.casefold() in had else "accepted"] += 1
    return counts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    present=st.lists(st.sampled_from(POOL), unique=True, max_size=4),
    rows=st.lists(ROW, max_size=12),
    skip_existing=st.booleans(),
)
def test_upload_report_matches_the_model_on_every_backend(
    clients: dict[str, mailbridge.Client], present: list[str], rows: list[str], skip_existing: bool
) -> None:
    name = f"p{next(_names)}"
    want = expected(rows, present)
    for backend, client in clients.items():
        group = client.create_group(name)
        if present:
            client.upload(group, present, wait=True)
        report = client.upload(name, rows, skip_existing=skip_existing, wait=True)
        assert report.counts() == want, (backend, rows, present)
        members = sorted(m.email.casefold() for m in client.members(name))
        assert members == sorted({*(p.casefold() for p in present), *(r.casefold() for r in rows if "@" in r[1:-1])})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(present=st.lists(st.sampled_from(POOL), unique=True, max_size=4), asked=st.lists(ROW, max_size=8))
def test_remove_report_matches_the_model(
    clients: dict[str, mailbridge.Client], present: list[str], asked: list[str]
) -> None:
    name = f"r{next(_names)}"
    had = {p.casefold() for p in present}
    seen: set[str] = set()
    want = {"removed": 0, "not_members": 0, "duplicates": 0, "rejected": 0}
    for a in asked:
        if "@" not in a[1:-1]:
            want["rejected"] += 1
        elif a.casefold() in seen:
            want["duplicates"] += 1
        else:
            seen.add(a.casefold())
            want["removed" if a.casefold() in had else "not_members"] += 1
    for backend in ("local", "aliyun"):  # SES declares no removal
        client = clients[backend]
        client.create_group(name)
        if present:
            client.upload(name, present)
        report = client.remove(name, asked)
        assert report.counts() == want, (backend, asked, present)
        assert sorted(m.email for m in client.members(name)) == sorted(p for p in present if p.casefold() not in seen)
