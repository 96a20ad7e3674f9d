"""The root ``mailbridge`` command: global options, the lazy client, one-line errors."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from .._client import Client
from .._connect import URL_ENV, connect, connect_failover
from .._exceptions import MailbridgeError
from .._failover import FailoverClient
from .._scrub import scrub_text
from .._url import ProviderURL
from ._confirm import NotConfirmed
from ._exit import ExitStatus, exit_status_for
from ._output import Output
from ._retries import printed

__all__ = ["State", "cli", "json_flag", "pass_state"]

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """Per-invocation state shared by every subcommand."""

    def __init__(
        self, url: str | None, json_mode: bool, traceback: bool, ignore_unsupported: bool, quiet: bool = False
    ) -> None:
        self.url = url
        self.output = Output(json_mode, quiet)
        self.traceback = traceback
        self.ignore_unsupported = ignore_unsupported
        self._client: Client | None = None
        self._failover: FailoverClient | None = None

    def client(self) -> Client:
        """Connect on first use (commands such as ``providers`` never connect)."""
        if self._client is None:
            self._client = connect(self.url, ignore_unsupported_features=self.ignore_unsupported)
        return self._client

    def sender(self) -> Client | FailoverClient:
        """The client for sending: a FailoverClient when the URL is ``failover://``."""
        text = self.url or os.environ.get(URL_ENV) or ""
        if text.startswith("failover://"):
            if self._failover is None:
                self._failover = connect_failover(_with_ignore_unsupported(text) if self.ignore_unsupported else text)
            return self._failover
        return self.client()

    def close(self) -> None:
        for client in (self._client, self._failover):
            if client is not None:
                client.close()


pass_state = click.make_pass_decorator(State)


def _with_ignore_unsupported(url: str) -> str:
    """A ``failover://`` URL whose members all drop unsupported fields (``--ignore-unsupported``)."""
    if "ignore_unsupported_features" in ProviderURL.parse(url).params:
        return url  # the URL says it itself (true or false): it wins
    return url + ("&" if "?" in url else "?") + "ignore_unsupported_features=true"


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(State).output.json_mode = True


def json_flag(f: F) -> F:
    """Accept ``--json`` after a subcommand too (``mailbridge groups list --json``)."""
    return click.option("--json", "json_", is_flag=True, expose_value=False, callback=_set_json, help="Output JSON.")(f)


class _Root(click.Group):
    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Like click's, but a usage error is one line too (``mailbridge: error: ...``, exit 2)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        given = list(sys.argv[1:] if args is None else args)
        for position, arg in enumerate(given, start=1):
            if any("\ud800" <= c <= "\udfff" for c in arg):  # undecodable bytes, surrogate-escaped by Python
                click.echo(f"mailbridge: error: argument {position} is not valid UTF-8 text", err=True)
                sys.exit(int(ExitStatus.USAGE))
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NotConfirmed as exc:
            click.echo(f"mailbridge: error: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            where = exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else "mailbridge"
            text = " ".join(exc.format_message().split())
            click.echo(f"mailbridge: error: {text} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("mailbridge: aborted", err=True)
            sys.exit(int(ExitStatus.ERROR))
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MailbridgeError as exc:
            state = ctx.find_object(State)
            if state is not None and state.traceback:
                raise
            status = exit_status_for(exc)
            if state is not None and state.output.json_mode:
                click.echo(json.dumps(exc.context(), ensure_ascii=False), err=True)
            else:
                click.echo(f"mailbridge: error: {' '.join(str(exc).split())}", err=True)
            ctx.exit(int(status))
        except KeyboardInterrupt:
            click.echo("mailbridge: interrupted", err=True)
            ctx.exit(int(ExitStatus.INTERRUPTED))
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click prints these itself (usage errors exit 2)
        except Exception as exc:  # the funnel: never a traceback without --traceback
            state = ctx.find_object(State)
            if state is not None and state.traceback:
                raise
            detail = scrub_text(" ".join(str(exc).split()))[:500] or "no detail"
            if isinstance(exc, OSError) and exc.filename:
                message = scrub_text(f"{exc.strerror or type(exc).__name__}: {exc.filename}")
            else:
                message = f"unexpected {type(exc).__name__}: {detail} (run with --traceback for details)"
            if state is not None and state.output.json_mode:
                click.echo(json.dumps({"error": type(exc).__name__, "message": message}, ensure_ascii=False), err=True)
            else:
                click.echo(f"mailbridge: error: {message}", err=True)
            ctx.exit(int(ExitStatus.ERROR))


@click.group(cls=_Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar=URL_ENV,
    metavar="URL",
    help=f"Provider URL, e.g. local:///path, aliyun://?region=cn-hangzhou (default: ${URL_ENV}, "
    "else local://.mailbridge).",
)
@click.option("--json", "json_mode", is_flag=True, help="Print results as JSON on stdout.")
@click.option("--traceback", is_flag=True, help="Show the full Python traceback on errors.")
@click.option(
    "--ignore-unsupported",
    is_flag=True,
    help="Drop fields the provider cannot honour instead of failing (every member of a failover:// URL too).",
)
@click.option("--quiet", "-q", is_flag=True, help="No notes or retry lines on stderr (errors still are).")
@click.version_option(package_name="mailbridge", prog_name="mailbridge", help="Show the version and exit.")
@click.pass_context
def cli(
    ctx: click.Context, url: str | None, json_mode: bool, traceback: bool, ignore_unsupported: bool, quiet: bool
) -> None:
    """mailbridge: one interface to Alibaba Cloud Direct Mail, Tencent Cloud SES and a local backend.

    Results go to stdout (tables, or JSON with --json); progress and errors to stderr.
    Exit codes: 0 ok, 1 error, 2 usage, 3 configuration, 4 invalid request, 5 not found,
    6 authentication, 7 provider failure (retry later), 8 outcome unknown (maybe sent),
    9 partial (some input rejected), 10 not confirmed (a destructive command without --yes
    off a terminal, or answered no), 130 interrupted.

    Shell completion: eval "$(_MAILBRIDGE_COMPLETE=bash_source mailbridge)" (zsh_source, fish_source).
    """
    existing = ctx.find_object(State)
    state = State(url, json_mode or bool(existing and existing.output.json_mode), traceback, ignore_unsupported, quiet)
    ctx.obj = state
    ctx.call_on_close(state.close)
    ctx.with_resource(printed(None if quiet else lambda line: click.echo(line, err=True)))


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="mailbridge", args=sys.argv[1:])
