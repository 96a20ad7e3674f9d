"""docs/cli.md is what ``--help`` prints, for every command (regenerated here; it cannot drift)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from mailbridge.cli import cli
from mailbridge.cli._reference import WIDTH, commands, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
REGENERATE = "python -m mailbridge.cli._reference > docs/cli.md"


def test_docs_cli_md_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), f"docs/cli.md is out of date: run {REGENERATE}"


def test_each_section_is_the_commands_own_help_output() -> None:
    sections = dict(re.findall(r"^## (mailbridge[^\n]*)\n\n```text\n(.*?)\n```$", DOC.read_text("utf-8"), re.S | re.M))
    paths = [" ".join(path) for path, _, _ in commands()]
    assert list(sections) == paths
    runner = CliRunner()
    for path in paths:
        args = [*path.split()[1:], "--help"]
        result = runner.invoke(cli, args, terminal_width=WIDTH, max_content_width=WIDTH, prog_name="mailbridge")
        assert result.exit_code == 0, (path, result.output)
        assert result.stdout.rstrip() == sections[path], path


def test_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "cli.md"
    stale.write_text(render().replace("Stop after N rows", "Stop after some rows"), encoding="utf-8")
    command = [sys.executable, "-m", "mailbridge.cli._reference", "--check"]
    done = subprocess.run([*command, str(stale)], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "out of date" in done.stderr
    assert subprocess.run([*command, str(DOC)], capture_output=True, check=False).returncode == 0
