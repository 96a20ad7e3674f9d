"""The CLI reference (``docs/cli.md``), generated from the commands' own ``--help`` so it cannot drift.

    python -m mailbridge.cli._reference > docs/cli.md      # regenerate
    python -m mailbridge.cli._reference --check docs/cli.md  # exit 1 if it differs

``tests/cli/test_reference.py`` fails when the committed file is not what this prints.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from ._app import cli

__all__ = ["commands", "render"]

WIDTH = 100  # fixed, so the text does not depend on the terminal that ran the script

HEADER = """\
# mailbridge command line reference

Generated from `mailbridge --help` by `python -m mailbridge.cli._reference > docs/cli.md`; a test fails
when this file differs from what the commands say. Global options (`--url`, `--json`, `--quiet`, ...) go
before the command; `--json` is also accepted after it.

Listings (`groups list`, `recipients list`, `deliveries`, `templates list`, `suppressions list`,
`domains list`, `senders list`, `tags list`, `statistics`) stream: rows are printed as each page arrives.
`--limit N` stops after N rows (and fetches no further page); `--format table|json|csv` picks the output:
`table` has fixed column widths, `json` (the default with `--json`) is one JSON array with one element per
line (`jq -c '.[]'` turns it into JSON Lines), `csv` has a header row. A listing that fails half-way leaves
the rows so far on stdout, an unterminated JSON array, and a non-zero exit status.

Destructive commands (`groups delete`, `recipients remove`, `templates update|delete`, `suppressions
remove`, `domains remove`, `senders remove`, `tags delete`) say what they will destroy and ask on a
terminal; `--yes` skips the question. Without a terminal and without `--yes` they change nothing and exit
with status 10.

Shell completion (click's own): add one of these lines to the shell's startup file.

```sh
eval "$(_MAILBRIDGE_COMPLETE=bash_source mailbridge)"   # ~/.bashrc
eval "$(_MAILBRIDGE_COMPLETE=zsh_source mailbridge)"    # ~/.zshrc
_MAILBRIDGE_COMPLETE=fish_source mailbridge | source    # ~/.config/fish/completions/mailbridge.fish
```
"""


def commands() -> Iterator[tuple[list[str], click.Command, click.Context]]:
    """Every command and group, depth first in name order, with the context its help is printed in."""

    def walk(
        command: click.Command, path: list[str], parent: click.Context | None
    ) -> Iterator[tuple[list[str], click.Command, click.Context]]:
        ctx = command.make_context(
            path[-1], [], parent=parent, resilient_parsing=True, terminal_width=WIDTH, max_content_width=WIDTH
        )
        yield path, command, ctx
        if isinstance(command, click.Group):
            for name in sorted(command.commands):
                yield from walk(command.commands[name], [*path, name], ctx)

    yield from walk(cli, ["mailbridge"], None)


def render() -> str:
    """The whole reference as Markdown."""
    parts = [HEADER]
    for path, command, ctx in commands():
        parts.append(f"\n## {' '.join(path)}\n\n```text\n{command.get_help(ctx).rstrip()}\n```\n")
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if argv[:1] == ["--check"] and len(argv) == 2:
        current = Path(argv[1]).read_text(encoding="utf-8") if Path(argv[1]).exists() else ""
        if current != text:
            print(f"{argv[1]} is out of date: run python -m mailbridge.cli._reference > {argv[1]}", file=sys.stderr)
            return 1
        return 0
    if argv:
        print("usage: python -m mailbridge.cli._reference [--check FILE]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
