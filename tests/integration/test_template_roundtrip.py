"""Issue 11's done-when: ``migrate --setup`` Direct Mail -> SES -> Direct Mail keeps every template's subject,
text and HTML, and compares content on the way (same / differs / updated), with a correct "to do by hand" list.

Direct Mail cannot store a text part and SES cannot store a subject; each side keeps what its cloud
cannot in its own catalog (``template_catalog=`` per URL, so nothing is shared by accident).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

TEMPLATES = {
    "rt-both": (
        "Welcome, {{name}}",
        "<p>Hello {{name}}, welcome to {{plan}}.</p>",
        "Hello {{name}}, welcome to {{plan}}.",
    ),
    "rt-html": ("Order {{order}}", "<p>Order <b>{{order}}</b> ships.</p>", None),
    "rt-text": ("Your code {{ code }}", None, "Code: {{code}}\nValid for 10 minutes.\n<not a tag>"),
    "rt-plain": ("No variables", "<h1>Static</h1>", "Static"),
}


@pytest.fixture
def sides(tmp_path: Path) -> Iterator[dict[str, str]]:
    with AliyunEmulator() as dm, TencentEmulator(rate=0) as ses, AliyunEmulator() as dm2:
        yield {
            "dm": f"{dm.url}&rate_limit=off&template_catalog={tmp_path / 'dm.sqlite3'}",
            "ses": f"{ses.url}&rate_limit=off&template_catalog={tmp_path / 'ses.sqlite3'}",
            "dm2": f"{dm2.url}&rate_limit=off&template_catalog={tmp_path / 'dm2.sqlite3'}",
        }


def setup(source: str, target: str, *extra: str) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-c", "from mailbridge.cli import main; main()", "--json", "migrate", "--setup"]
    done = subprocess.run(
        [*command, *extra, "--from", source, "--to", target], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.stdout, done.stderr
    assert "Traceback" not in done.stderr
    return done.returncode, json.loads(done.stdout)


def todo(report: dict[str, Any]) -> list[str]:
    """The "to do by hand" list (the plan's, printed by the CLI, is the setup's)."""
    assert report["plan"]["manual_steps"] == report["setup"]["manual_steps"]
    return list(report["setup"]["manual_steps"])


def templates(report: dict[str, Any]) -> dict[str, str]:
    return {i["name"]: i["action"] for i in report["setup"]["items"] if i["kind"] == "template"}


def parts(url: str) -> dict[str, dict[str, str | None]]:
    with mailbridge.connect(url) as client:
        found = {t.name: client.get_template(t) for t in client.templates() if t.name in TEMPLATES}
    assert all(t.missing == () for t in found.values())
    return {name: t.parts() for name, t in found.items()}


@pytest.mark.slow
def test_round_trip_keeps_every_part_and_compares_content(sides: dict[str, str]) -> None:
    expected = {n: {"subject": s, "html": h, "text": t} for n, (s, h, t) in TEMPLATES.items()}
    with mailbridge.connect(sides["dm"]) as dm:
        for name, (subject, html, text) in TEMPLATES.items():
            dm.create_template(name, subject=subject, html=html, text=text)

    _code, there = setup(sides["dm"], sides["ses"])
    assert {n: a for n, a in templates(there).items() if n in TEMPLATES} == dict.fromkeys(TEMPLATES, "created")
    assert not any("rt-" in step for step in todo(there)), "a template it just created is 'to do'"
    assert parts(sides["ses"]) == expected

    _code, back = setup(sides["ses"], sides["dm2"])  # SES -> a fresh Direct Mail account
    assert {n: a for n, a in templates(back).items() if n in TEMPLATES} == dict.fromkeys(TEMPLATES, "created")
    assert parts(sides["dm2"]) == expected

    _code, home = setup(sides["ses"], sides["dm"])  # SES -> the original account: nothing to do
    assert {n: a for n, a in templates(home).items() if n in TEMPLATES} == dict.fromkeys(TEMPLATES, "same")

    with mailbridge.connect(sides["dm"]) as dm:  # someone edits one template on the original side
        dm.update_template("rt-both", subject="Welcome, {{name}}", html="<p>Edited</p>", text="Hello {{name}}")
    code, differs = setup(sides["ses"], sides["dm"])
    assert templates(differs)["rt-both"] == "differs"
    detail = next(i["detail"] for i in differs["setup"]["items"] if i["name"] == "rt-both")
    assert detail == "html, text"
    assert any("rt-both" in step and "--update-templates" in step for step in todo(differs))
    assert code == 9
    assert parts(sides["dm"])["rt-both"]["html"] == "<p>Edited</p>", "left alone without --update-templates"

    _code, updated = setup(sides["ses"], sides["dm"], "--update-templates")
    assert templates(updated)["rt-both"] == "updated"
    assert not any("rt-" in step for step in todo(updated))
    assert parts(sides["dm"]) == expected
