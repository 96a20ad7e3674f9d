"""The README's Python quick start runs unchanged on local, aliyun and tencent, changing only the URL."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

README = Path(__file__).resolve().parents[1] / "README.md"
LOCAL_URL = "local:///tmp/mailbridge"


def quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python quick start", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README lost its Python quick start"
    code = match.group(1)
    assert f'"{LOCAL_URL}"' in code, "the snippet's URL changed: update this test"
    return code


@pytest.fixture(params=["local", "aliyun", "tencent"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "local":
        yield f"local://{tmp_path / 'data'}"
    elif request.param == "aliyun":
        with AliyunEmulator() as dm:
            yield dm.url
    else:
        with TencentEmulator(upload_delay=0.5) as ses:  # the import is asynchronous, as on SES, but short
            yield ses.url


def test_readme_snippet_runs_on_every_backend(url: str, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("email,name,plan\nada@example.com,Ada,pro\ngrace@example.org,Grace,team\n")
    code = quick_start().replace(LOCAL_URL, url)
    command = [sys.executable, "-c", code]
    first, second = (
        subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
        for _ in range(2)
    )
    assert first.returncode == 0, first.stderr[-3000:]
    lines = first.stdout.splitlines()
    assert lines[0].startswith("2 ()"), lines  # two accepted, no duplicates
    assert any("ada@example.com" in line for line in lines[2:]), "the send did not show up in deliveries"
    # Re-runnable: the second run finds the group (no AlreadyExists) and the upload finds both members there.
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout.splitlines()[0].startswith("0 ()"), second.stdout
