"""Confirmation for destructive commands: ask on a terminal, require ``--yes`` everywhere else.

A destructive command never proceeds silently: on a terminal it asks (default no) and says
what will be destroyed; without a terminal (a script, a pipe, cron) and without ``--yes`` it
refuses with one error line and exit status 10 (``NOT_CONFIRMED``), having changed nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ._exit import ExitStatus

__all__ = ["NotConfirmed", "confirm", "is_terminal", "yes_option"]

F = TypeVar("F", bound=Callable[..., Any])


class NotConfirmed(click.ClickException):
    """A destructive command was not confirmed; nothing was changed."""

    exit_code = int(ExitStatus.NOT_CONFIRMED)


def yes_option(f: F) -> F:
    """``--yes`` / ``-y`` for a destructive command."""
    return click.option(
        "--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal)."
    )(f)


def is_terminal() -> bool:
    """Whether a person can answer a question: stdin and stderr (where the question goes) are terminals."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm(action: str, *, yes: bool, stdin_used: bool = False) -> None:
    """Go on only if ``yes`` or a person on the terminal says so; else raise :class:`NotConfirmed`.

    ``action`` says what will be destroyed ("delete group 'customers' and its 9,521 members
    on aliyun"). ``stdin_used``: the command read its input from stdin, so it cannot ask there.
    """
    if yes:
        return
    if stdin_used:
        raise NotConfirmed(f"not confirmed: {action} (input came from stdin, so add --yes)")
    if not is_terminal():
        raise NotConfirmed(f"not confirmed: {action} (not on a terminal: add --yes)")
    try:
        agreed = click.confirm(action[:1].upper() + action[1:] + "?", default=False, err=True)
    except click.Abort:  # end of input or Ctrl-C at the question
        agreed = False
    if not agreed:
        raise NotConfirmed(f"not confirmed: {action}; nothing was changed")
