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
    """The version is written once, in pyproject.toml; the package reads it from the installed metadata."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    assert mailbridge.__version__ == version("mailbridge") == pyproject["project"]["version"]


def test_testing_is_public_small_and_light() -> None:
    """``mailbridge.testing`` lists its names, and importing it (and its Outbox) loads no backend, pytest or vcrpy."""
    import subprocess
    import sys

    import mailbridge.testing

    assert sorted(mailbridge.testing.__all__) == sorted(dir(mailbridge.testing))
    assert all(getattr(mailbridge.testing, name) for name in mailbridge.testing.__all__)
    script = (
        "import sys, mailbridge.testing; mailbridge.testing.Outbox; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pytest', '_pytest', 'vcr', 'mailbridge_local', 'mailbridge_aliyun', 'mailbridge_tencent', "
        "'mailbridge_smtp'}))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
