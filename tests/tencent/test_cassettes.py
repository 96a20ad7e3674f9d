"""Replay every tencent cassette offline, and prove no cassette holds a secret.

Re-record (see cassettes/README.md)::

    MAILBRIDGE_RECORD_CASSETTES=emulator .venv/bin/pytest tests/tencent/test_cassettes.py
    MAILBRIDGE_RECORD_CASSETTES=live TENCENTCLOUD_SECRET_ID=... TENCENTCLOUD_SECRET_KEY=... \\
        .venv/bin/pytest tests/tencent/test_cassettes.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from mailbridge_tencent.emulator import TEST_SECRET_ID, TEST_SECRET_KEY

import mailbridge

from ._scenarios import SCENARIOS, Scenario
from ._support import CASSETTES, REPLAY_URL, SCRUBBED_HEADERS, connect, emulator, make_vcr

# Read at import: the shared conftest removes TENCENTCLOUD_* from the environment of each test.
RECORD = os.environ.get("MAILBRIDGE_RECORD_CASSETTES", "")
LIVE_ID = os.environ.get("TENCENTCLOUD_SECRET_ID", "")
LIVE_KEY = os.environ.get("TENCENTCLOUD_SECRET_KEY", "")
LIVE_REGION = os.environ.get("TENCENTCLOUD_REGION", "ap-guangzhou")


def _run(scenario: Scenario, client: mailbridge.Client) -> None:
    if scenario.raises is None:
        scenario.run(client)
    else:
        with pytest.raises(scenario.raises):
            scenario.run(client)


def _record(scenario: Scenario) -> None:
    path = f"{scenario.name}.yaml"
    if RECORD == "live":
        if not scenario.live:
            pytest.skip("needs the emulator (faults or special state)")
        if not (LIVE_ID and LIVE_KEY):
            pytest.fail("live recording needs TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY")
        (CASSETTES / path).unlink(missing_ok=True)
        with make_vcr("all").use_cassette(path), connect(f"tencent://{LIVE_ID}:{LIVE_KEY}@{LIVE_REGION}") as c:
            _run(scenario, c)
        return
    (CASSETTES / path).unlink(missing_ok=True)
    with emulator(**scenario.options) as emu:
        if scenario.prepare is not None:
            scenario.prepare(emu)
        url = emu.url.replace(TEST_SECRET_KEY, scenario.secret_key or TEST_SECRET_KEY)
        with make_vcr("all").use_cassette(path), connect(url) as client:
            _run(scenario, client)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_cassette_replays(scenario: Scenario) -> None:
    """The scenario gives the same result from its cassette, with no network at all."""
    if RECORD:
        _record(scenario)
    url = REPLAY_URL.replace(TEST_SECRET_KEY, scenario.secret_key or TEST_SECRET_KEY)
    with make_vcr("none").use_cassette(f"{scenario.name}.yaml") as cassette, connect(url) as client:
        _run(scenario, client)
        assert cassette.all_played, "the scenario made fewer calls than were recorded"


def test_every_scenario_has_a_cassette_and_back() -> None:
    """One cassette per scenario, and no stale cassette without a scenario."""
    on_disk = {p.stem for p in CASSETTES.glob("*.yaml")}
    assert on_disk == {s.name for s in SCENARIOS}


def test_scenarios_cover_every_neutral_error_class() -> None:
    """Every error class a provider call can map to has a cassette."""
    covered = {s.raises for s in SCENARIOS if s.raises}
    expected = {
        mailbridge.AuthenticationError,
        mailbridge.PermissionDenied,
        mailbridge.RateLimited,
        mailbridge.QuotaExceeded,
        mailbridge.ContentRejected,
        mailbridge.ResourceBusy,
        mailbridge.ProviderUnavailable,
        mailbridge.OutcomeUnknown,
        mailbridge.InvalidRequest,
        mailbridge.InvalidAddress,
        mailbridge.LimitExceeded,
        mailbridge.NotFound,
        mailbridge.GroupNotFound,
        mailbridge.TemplateNotFound,
        mailbridge.SenderNotFound,
        mailbridge.AlreadyExists,
        mailbridge.ConfigurationError,
        mailbridge.UnsupportedFeature,
    }
    assert expected <= covered


@pytest.mark.parametrize("path", sorted(CASSETTES.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_holds_no_secret(path: Path) -> None:
    """No credential, signature, timestamp or trace id was written to the cassette."""
    text = path.read_text(encoding="utf-8")
    for secret in (TEST_SECRET_KEY, TEST_SECRET_ID, LIVE_ID, LIVE_KEY):
        if secret:
            assert secret not in text
    assert "TC3-HMAC-SHA256" not in text
    for header in SCRUBBED_HEADERS:
        assert not re.search(rf"^\s*{re.escape(header)}:", text, re.I | re.M), header
    assert "x-tc-action" in text.lower()  # requests are matched on it, so it must be there (any case)
