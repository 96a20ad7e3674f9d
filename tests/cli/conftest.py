"""Shared helpers of the CLI tests: run ``mailbridge`` in-process on a local backend in tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mailbridge.cli import cli

Run = Callable[..., Result]


@pytest.fixture
def local_url(tmp_path: Path) -> str:
    return f"local://{tmp_path / 'data'}"


@pytest.fixture
def run(local_url: str) -> Run:
    """``run(*args, expect=0, url=None, input=None)``: the result, its exit status checked."""

    def invoke(*args: str, expect: int = 0, url: str | None = None, input: str | None = None) -> Result:
        result = CliRunner().invoke(cli, ["--url", url or local_url, *args], input=input)
        assert result.exit_code == expect, (args, result.exit_code, result.stdout[-2000:], result.stderr[-2000:])
        assert "Traceback" not in result.stdout + result.stderr
        return result

    return invoke


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)
