"""A provider plugin written outside this repository, as its author would: a distribution in a temporary
directory with its own ``mailbridge.providers`` entry point, its backend, and its own tests built only on the
shipped ``mailbridge.testing`` tools (the contract suite, the pytest fixtures, the cassette leak finder).

It is pip-installed into this test environment (no build isolation, no dependencies, no index: offline), its
pytest runs in a subprocess and must pass, ``mailbridge.connect("toy://...")`` must find it, and it is
uninstalled afterwards so that no other test sees it.
"""

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

PYPROJECT = """
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "mailbridge-toy"
version = "0.1.0"
description = "A toy send-only mailbridge provider"
dependencies = ["mailbridge"]

[project.entry-points."mailbridge.providers"]
toy = "mailbridge_toy:ToyBackend"

[tool.setuptools]
packages = ["mailbridge_toy"]
"""

BACKEND = '''
"""A send-only provider that writes each message as JSON into the directory of its URL (toy:///DIR)."""

import json
import uuid
from pathlib import Path

from mailbridge import Backend, ConfigurationError, Feature, Limits, SendReceipt


class ToyBackend(Backend):
    name = "toy"
    display_name = "Toy Mail"
    limits = Limits(upload_batch_size=1, recipients_per_send=3, subject_length=200,
                    features={Feature.HTML_BODY, Feature.TEXT_BODY})
    secret_fields = Backend.secret_fields | {"X-Toy-Key"}
    environment = frozenset({"TOY_API_KEY"})

    def __init__(self, directory):
        self.directory = directory

    @classmethod
    def from_url(cls, url):
        if not url.path:
            raise ConfigurationError("toy:///DIR: the directory is missing")
        return cls(Path(url.path))

    def send(self, message):
        message_id = uuid.uuid4().hex
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {"to": list(message.to), "subject": message.subject}
        (self.directory / f"{message_id}.json").write_text(json.dumps(record))
        return SendReceipt(self.name, [message_id], message.to)
'''

TESTS = '''
import json
import os
from pathlib import Path

import pytest

import mailbridge
from mailbridge.testing import BackendContract, find_leaks


class TestToyContract(BackendContract):
    """The shipped contract suite: the send tests run, the group and delivery ones skip (not declared)."""

    sender = "me@example.com"

    def make_client(self, tmp_path):
        return mailbridge.connect(f"toy://{tmp_path}/sent")


def test_what_the_toy_wrote(tmp_path):
    with mailbridge.connect(f"toy://{tmp_path}") as client:
        client.send(mailbridge.Message(sender="me@example.com", to=["a@example.com"], subject="s", text="t"))
    (written,) = tmp_path.glob("*.json")
    assert json.loads(written.read_text()) == {"to": ["a@example.com"], "subject": "s"}


def test_local_fixture_and_outbox(mailbridge_local, mailbridge_outbox):
    mailbridge_local.send(mailbridge.Message(sender="me@example.com", to=["b@example.com"], subject="Hi", text="t"))
    mailbridge_outbox.assert_sent(to="b@example.com", subject="Hi", count=1)


def test_an_emulator_fixture(mailbridge_emulator_tencent):
    with mailbridge.connect(mailbridge_emulator_tencent.url) as client:
        assert client.send(mailbridge.Message(sender="noreply@mail.example.com", to=["c@example.com"],
                                              subject="s", text="t")).message_ids


def test_declared_environment_is_cleared(mailbridge_clean_env):
    assert "TOY_API_KEY" not in os.environ


def test_declared_secret_field_is_scrubbed_and_checked():
    error = mailbridge.ProviderUnavailable("boom", provider="toy", raw={"X-Toy-Key": "k-0123456789"})
    assert error.raw == {"X-Toy-Key": "***"}
    assert find_leaks("X-Toy-Key=k-0123456789") and not find_leaks("X-Toy-Key=<scrubbed>")
'''


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)


@pytest.fixture
def toy_distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("toy-distribution")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "mailbridge_toy").mkdir()
    (root / "mailbridge_toy" / "__init__.py").write_text(BACKEND)
    (root / "tests").mkdir()
    (root / "tests" / "test_toy.py").write_text(TESTS)
    installed = _pip("install", "--no-build-isolation", "--no-deps", "--no-index", str(root))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    try:
        yield root
    finally:
        removed = _pip("uninstall", "--yes", "mailbridge-toy")
        assert removed.returncode == 0, removed.stdout + removed.stderr


@pytest.mark.slow
def test_a_third_party_plugin_uses_the_shipped_testing_tools(toy_distribution: Path) -> None:
    env = {**os.environ, "TOY_API_KEY": "must-be-cleared-by-the-fixture", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-W", "error", "tests"],
        cwd=toy_distribution,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    summary = tests.stdout.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|skipped|failed|errors?)", summary)}
    # The contract's send and refusal tests + the toy's own 5 pass; what needs an undeclared capability skips.
    assert counts.get("passed", 0) >= 10 and counts.get("skipped", 0) >= 7 and set(counts) == {"passed", "skipped"}
    for capability in ("groups", "deliveries", "templates", "domains", "suppressions"):
        assert f"toy does not declare {capability}" in tests.stdout

    found = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
            import json, mailbridge
            client = mailbridge.connect("toy:///tmp/mailbridge-toy-probe")
            print(json.dumps({"provider": client.provider, "module": type(client.backend).__module__,
                              "listed": "toy" in mailbridge.available_providers(),
                              "features": sorted(client.limits.features)}))
            """
            ),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == {
        "provider": "toy",
        "module": "mailbridge_toy",
        "listed": True,
        "features": ["html_body", "text_body"],
    }


def test_the_toy_is_gone_afterwards() -> None:
    """Whatever order the tests ran in, no toy provider is left installed for the others."""
    import mailbridge

    assert "toy" not in mailbridge.available_providers()
