"""``mailbridge emulator NAME``: run a provider emulator on loopback (plugins register them)."""

from __future__ import annotations

import click

from .._registry import load_emulator
from ._app import cli

__all__ = ["emulator"]


@cli.command()
@click.argument("name")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", type=int, help="Port (default: the emulator's own).")
@click.option("--option", "options", multiple=True, help="Emulator option KEY=VALUE (repeatable).")
def emulator(name: str, host: str, port: int | None, options: tuple[str, ...]) -> None:
    """Run the emulator of provider NAME until interrupted (Ctrl-C)."""
    serve = load_emulator(name)
    kwargs = dict(o.split("=", 1) for o in options if "=" in o)
    if port is not None:
        kwargs["port"] = port  # type: ignore[assignment]
    serve(host=host, **kwargs)
