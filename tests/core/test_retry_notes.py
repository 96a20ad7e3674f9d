"""A library user who never configured logging sees one concise line per retry of mailbridge's, not stamina's bare
``stamina.retry_scheduled``; the application's own stamina retries and hooks behave as before; the CLI prints one
line per retry, none with --quiet. Real processes: Python's last-resort handler is what such a user has."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from mailbridge_tencent.emulator import TencentEmulator

from mailbridge._retry_notes import _SilentForMailbridge, ensure_hooks, note_retry

LIBRARY_USER = textwrap.dedent(
    """
    import json, sys
    import stamina
    from stamina.instrumentation import get_on_retry_hooks, set_on_retry_hooks
    from mailbridge_aliyun.emulator import AliyunEmulator
    import mailbridge

    seen = []  # what the application's own hooks saw: (which hook, retry number, error class)
    early = lambda d: seen.append(["early", d.retry_num, type(d.caused_by).__name__])
    set_on_retry_hooks([*get_on_retry_hooks(), early])
    policy = mailbridge.RetryPolicy(attempts=3, wait_initial=0.01, wait_jitter=0)
    with AliyunEmulator() as emu:
        emu.add_sender("noreply@mail.example.com")
        client = mailbridge.connect(emu.url, retry=policy, template_catalog="off")
        message = mailbridge.Message(sender="noreply@mail.example.com", to="u@example.com", subject="s", text="t")
        emu.inject("error", action="SingleSendMail", times=1, status=503, code="ServiceUnavailable", message="busy")
        client.send(message)
        print("--- the application's own retry", file=sys.stderr, flush=True)
        failures = [ValueError("once")]

        @stamina.retry(on=ValueError, attempts=2, wait_initial=0.01, wait_jitter=0)
        def app_call():
            if failures:
                raise failures.pop()

        app_call()
        print("--- the application replaces stamina's hooks", file=sys.stderr, flush=True)
        set_on_retry_hooks([lambda d: seen.append(["late", d.retry_num, type(d.caused_by).__name__])])
        emu.inject("error", action="SingleSendMail", times=2, status=503, code="ServiceUnavailable", message="busy")
        client.send(message)
        client.close()
    print(json.dumps(seen))
    """
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILBRIDGE_")}
    env["MAILBRIDGE_TEMPLATE_CATALOG"] = "off"
    return env


def test_a_library_user_sees_one_concise_line_per_retry_and_the_application_s_retries_as_before() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY_USER], capture_output=True, text=True, timeout=60, env=_env(), check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "retrying in 0.0 s: provider unavailable (aliyun, attempt 2 of 3)",
        "--- the application's own retry",
        "stamina.retry_scheduled",  # stamina's own line for the application's retry, as ever
        "--- the application replaces stamina's hooks",
        "retrying in 0.0 s: provider unavailable (aliyun, attempt 2 of 3)",
        "retrying in 0.0 s: provider unavailable (aliyun, attempt 3 of 3)",
    ]
    # The application's hooks see mailbridge's retries too, also a hook installed after mailbridge's first retry.
    assert json.loads(done.stdout) == [
        ["early", 1, "ProviderUnavailable"],
        ["early", 1, "ValueError"],
        ["late", 1, "ProviderUnavailable"],
        ["late", 2, "ProviderUnavailable"],
    ]


@pytest.fixture
def ses() -> Iterator[TencentEmulator]:
    with TencentEmulator(rate=0) as emulator:
        yield emulator


@pytest.mark.parametrize("quiet", [False, True])
def test_the_cli_prints_one_line_per_retry_and_none_with_quiet(ses: TencentEmulator, quiet: bool) -> None:
    ses.inject("reset", action="ListReceivers", times=1)
    command = [str(Path(sys.executable).with_name("mailbridge")), *(["--quiet"] if quiet else []), "groups", "list"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={**_env(), "MAILBRIDGE_URL": ses.url}, check=False
    )
    assert done.returncode == 0, done.stderr
    if quiet:
        assert done.stderr == ""
    else:
        assert re.fullmatch(r"retrying in 0\.[2-7] s: provider unavailable \(tencent, attempt 2 of 5\)\n", done.stderr)
    assert done.stdout.split()[:2] == ["NAME", "ID"]


def test_only_stamina_s_line_writing_hooks_are_silenced_for_mailbridge() -> None:
    """stamina's logging and structlog hooks are wrapped; any other hook (Prometheus, the application's) is kept."""
    from stamina.instrumentation import get_on_retry_hooks, set_on_retry_hooks

    def own(details: object) -> None:
        pass

    def fake_structlog(details: object) -> None:  # stands for stamina's structlog hook (structlog is not installed)
        pass

    fake_structlog.__module__ = "stamina.instrumentation._structlog"
    previous = get_on_retry_hooks()
    try:
        set_on_retry_hooks([own, fake_structlog])
        ensure_hooks()
        hooks = get_on_retry_hooks()
        assert hooks[0] is own and hooks[2] is note_retry and len(hooks) == 3
        assert isinstance(hooks[1], _SilentForMailbridge) and hooks[1].hook is fake_structlog
        ensure_hooks()
        assert get_on_retry_hooks() is hooks  # once: nothing wrapped twice
        set_on_retry_hooks([*hooks, own])  # the application adds to what it found
        ensure_hooks()
        assert get_on_retry_hooks()[1:] == (hooks[1], own, note_retry)
    finally:
        set_on_retry_hooks(previous)
