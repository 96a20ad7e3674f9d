"""The public surface is curated (httpx's habit)."""

from __future__ import annotations

import types

import mailbridge


def test_all_lists_exactly_the_public_names() -> None:
    public = sorted(
        n
        for n in dir(mailbridge)
        if not n.startswith("_")
        and n != "annotations"
        and not isinstance(getattr(mailbridge, n), types.ModuleType)  # subpackages like mailbridge.cli
    )
    assert sorted(mailbridge.__all__) == public


def test_exports_show_the_public_module() -> None:
    assert mailbridge.Client.__module__ == "mailbridge"
    assert mailbridge.MailbridgeError.__module__ == "mailbridge"


def test_version_from_metadata() -> None:
    assert mailbridge.__version__ == "0.1.0"
