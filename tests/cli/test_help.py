"""Every command and option of the click tree has help text; every argument is named in its command's help."""

from __future__ import annotations

import click
import pytest

from mailbridge.cli._reference import commands

# Contexts made as click makes them (click caches each command's help option on first use).
CONTEXTS = {" ".join(path): ctx for path, _, ctx in commands()}
TREE = [(" ".join(path), command) for path, command, _ in commands()]


def test_the_walk_sees_every_command() -> None:
    paths = {path for path, _ in TREE}
    assert {"mailbridge groups delete", "mailbridge account", "mailbridge tags list", "mailbridge send"} <= paths
    assert len(paths) > 40


@pytest.mark.parametrize(("path", "command"), TREE, ids=[p for p, _ in TREE])
def test_command_and_options_have_help(path: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"{path} has no help text"
    ctx = CONTEXTS.get(path) or click.Context(command, info_name=path.rsplit(" ", 1)[-1])
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            assert (param.help or "").strip(), f"{path} {'/'.join(param.opts)} has no help text"
        elif isinstance(param, click.Argument):
            assert (param.human_readable_name or "").upper() in (command.help or ""), (
                f"{path}: the help text does not explain the argument {param.human_readable_name}"
            )


def test_a_missing_help_is_caught() -> None:
    """The check itself fails on a command or option without help (so it can fail at all)."""

    @click.command()
    @click.option("--bare")
    def bare(bare: str) -> None:
        pass

    with pytest.raises(AssertionError, match="has no help text"):
        test_command_and_options_have_help("mailbridge bare", bare)


def test_the_readme_documents_every_exit_status() -> None:
    import re
    from pathlib import Path

    from mailbridge.cli import ExitStatus

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Scripting: exit codes", 1)[1].split("\n#", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert documented == {int(status) for status in ExitStatus}


def test_shell_completion_as_documented() -> None:
    """``_MAILBRIDGE_COMPLETE`` (click's completion) completes commands and options of the real executable."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    executable = Path(sys.executable).parent / "mailbridge"
    if not executable.exists():
        executable = Path(shutil.which("mailbridge") or "mailbridge")

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_MAILBRIDGE_COMPLETE": "bash_complete", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - 1)
        done = subprocess.run([str(executable)], env=env, capture_output=True, text=True, check=True)
        return done.stdout.splitlines()

    assert complete("mailbridge gro") == ["plain,groups"]
    assert complete("mailbridge groups delete --y") == ["plain,--yes"]
    assert "plain,csv" in complete("mailbridge recipients list g --format c")
    env = {**os.environ, "_MAILBRIDGE_COMPLETE": "bash_source"}
    source = subprocess.run([str(executable)], env=env, capture_output=True, text=True, check=True)
    assert "_mailbridge_completion()" in source.stdout
