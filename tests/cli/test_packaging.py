"""The README's editable install type-checks for users: mypy, run from outside the repository, finds mailbridge.

setuptools' default editable install of this project (packages in ``.`` and ``plugins/``) is an
import hook (a ``__editable___*_finder.py``) that mypy cannot follow ("Cannot find implementation or
library stub for module named 'mailbridge'"). ``editable_mode=strict``, as the README installs, puts a
tree of links on ``sys.path`` instead, which mypy reads like any installed package with ``py.typed``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["mailbridge", "mailbridge_local", "mailbridge_aliyun", "mailbridge_tencent", "mailbridge_smtp"]
USER_CODE = """\
import mailbridge

client = mailbridge.connect("local:///tmp/mailbridge")
group: mailbridge.Group = client.get_or_create_group("customers")
wrong: int = client.get_or_create_group("customers")
"""


def _project(tmp: Path) -> Path:
    """A copy of what the install reads (pyproject, README, the packages): the repository stays untouched."""
    copy = tmp / "project"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "mailbridge", copy / "mailbridge", ignore=ignore)
    shutil.copytree(ROOT / "plugins", copy / "plugins", ignore=ignore)
    return copy


def _venv(tmp: Path, name: str) -> Path:
    """A fresh environment that borrows this one's dependencies (and setuptools) through a .pth line: offline."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / name)], check=True)
    python = tmp / name / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "zz_borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _install(python: Path, project: Path, *settings: str) -> None:
    command = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    done = subprocess.run([*command, "-e", str(project), *settings], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def _mypy(python: Path, tmp: Path) -> str:
    user = tmp / "user"
    user.mkdir(exist_ok=True)
    (user / "app.py").write_text(USER_CODE)
    command = [sys.executable, "-m", "mypy", "--strict", "--python-executable", str(python)]
    command += ["--cache-dir", str(tmp / "mypy-cache"), "app.py"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}  # only the install counts
    done = subprocess.run(command, cwd=user, capture_output=True, text=True, check=False, env=env)
    return done.stdout + done.stderr


@pytest.mark.slow
def test_mypy_finds_mailbridge_after_the_readmes_editable_install(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -q -e . --config-settings editable_mode=strict" in readme  # the first command
    project = _project(tmp_path)
    python = _venv(tmp_path, "strict")
    _install(python, project, "--config-settings", "editable_mode=strict")
    output = _mypy(python, tmp_path)
    # Found, and typed: the one wrong line is reported with mailbridge's own type, nothing else.
    assert 'app.py:5: error: Incompatible types in assignment (expression has type "Group"' in output, output
    assert "Found 1 error in 1 file" in output and "import-not-found" not in output, output


@pytest.mark.slow
def test_the_default_editable_install_is_what_mypy_cannot_follow(tmp_path: Path) -> None:
    """The control: without strict mode the same check fails, so the test above can fail."""
    project = _project(tmp_path)
    python = _venv(tmp_path, "default")
    _install(python, project)
    assert 'Cannot find implementation or library stub for module named "mailbridge"' in _mypy(python, tmp_path)


@pytest.mark.slow
def test_the_wheel_ships_py_typed_for_every_package(tmp_path: Path) -> None:
    project = _project(tmp_path)
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
    command += ["-w", str(tmp_path / "dist"), str(project)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("mailbridge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"{package}/py.typed" for package in PACKAGES} <= names
    assert "mailbridge/cli/demo_recipients.csv" in names
