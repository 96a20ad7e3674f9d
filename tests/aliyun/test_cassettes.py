"""Replay every recorded scenario with recording off, and prove the cassettes hold no secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from mailbridge_aliyun.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET

from .record import CASSETTE_DIR, SCENARIOS, ScenarioContext, make_vcr, replay_url, scenario_client

CASSETTES = sorted(CASSETTE_DIR.glob("*.yaml"))
ALL_CASSETTES = sorted(CASSETTE_DIR.rglob("*.yaml"))  # scenarios and the contract suite's


def test_every_scenario_has_a_cassette() -> None:
    """One cassette per scenario, and no stray ones."""
    assert {p.stem for p in CASSETTES} == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_replay(name: str) -> None:
    """The scenario runs from its cassette alone (nothing listens on the endpoint) and uses all of it."""
    scenario = SCENARIOS[name]
    url = replay_url(**scenario.url_params)
    if scenario.wrong_secret:
        url = url.replace(TEST_ACCESS_KEY_SECRET, "not-the-secret")
    with make_vcr(record_mode="none").use_cassette(f"{name}.yaml") as cassette, scenario_client(url) as client:
        scenario.run(client, ScenarioContext())
    assert cassette.all_played, f"{name}: {len(cassette.data) - cassette.play_count} recorded calls not made"


def test_replay_fails_when_the_wire_changes() -> None:
    """Matching includes the business parameters: a different request finds no recording."""
    from vcr.errors import CannotOverwriteExistingCassetteException

    from mailbridge import MailbridgeError

    with (
        make_vcr(record_mode="none").use_cassette("groups.yaml"),
        scenario_client(replay_url()) as client,
        pytest.raises((CannotOverwriteExistingCassetteException, MailbridgeError)),
    ):
        client.create_group("not-what-was-recorded")


FORBIDDEN = [
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    "Signature=",
    "SignatureNonce",
    "Timestamp=",
    "AccessKeyId",
    "ACS3-HMAC-SHA256",
    "authorization",
    "x-acs-signature-nonce",
    "x-acs-date",
    "x-acs-content-sha256",
    "not-the-secret",
]


#: AuthorizeFileUpload's answer field and the OSS form field, each with its value scrubbed.
SCRUBBED_KEY_FIELD = re.compile(r'(?:OSS)?AccessKeyId\\?"(?::\s*"|\\r\\n\\r\\n)<scrubbed>')


def test_only_scrubbed_key_fields_are_allowed() -> None:
    allowed = '{"AccessKeyId": "<scrubbed>"} name=\\"OSSAccessKeyId\\"\\r\\n\\r\\n<scrubbed>\\r\\n'
    assert "AccessKeyId" not in SCRUBBED_KEY_FIELD.sub("", allowed)
    leaked = '{"AccessKeyId": "LTAI5tEmulatedOssUploader"} name=\\"OSSAccessKeyId\\"\\r\\n\\r\\nLTAI5tX'
    assert SCRUBBED_KEY_FIELD.sub("", leaked) == leaked


@pytest.mark.parametrize("path", ALL_CASSETTES, ids=[str(p.relative_to(CASSETTE_DIR)) for p in ALL_CASSETTES])
def test_cassette_holds_no_secret(path: Path) -> None:
    """No credential, signature, nonce or signing timestamp anywhere in the file (an attachment grant's
    scrubbed ``AccessKeyId`` / ``OSSAccessKeyId`` field names aside)."""
    text = SCRUBBED_KEY_FIELD.sub("", path.read_text())
    for needle in FORBIDDEN:
        assert needle.lower() not in text.lower(), f"{path.name} contains {needle!r}"
    data = yaml.safe_load(text)
    for interaction in data["interactions"]:
        headers = {k.lower() for k in interaction["request"]["headers"]}
        assert not headers & {"authorization", "x-acs-date", "x-acs-signature-nonce"}
        assert "date" not in {k.lower() for k in interaction["response"]["headers"]}


def test_the_recorder_rerecords_into_a_directory(tmp_path: Path) -> None:
    """``python -m tests.aliyun.record --dir DIR SCENARIO`` writes a scrubbed cassette that replays."""
    from .record import main

    assert main(["--dir", str(tmp_path), "account", "signature_v2"]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["account.yaml", "signature_v2.yaml"]
    text = (tmp_path / "signature_v2.yaml").read_text()
    assert TEST_ACCESS_KEY_ID not in text and "Signature=" not in text
    recorder = make_vcr(record_mode="none", cassette_dir=tmp_path)
    with recorder.use_cassette("account.yaml"), scenario_client(replay_url()) as client:
        SCENARIOS["account"].run(client, ScenarioContext())


def test_the_recorder_refuses_unknown_scenarios_and_live_without_credentials() -> None:
    from .record import main

    with pytest.raises(SystemExit):
        main(["no-such-scenario"])
    with pytest.raises(SystemExit):
        main(["--live"])


def test_the_recorder_runs_as_documented_from_the_repository_root() -> None:
    """``python -m tests.aliyun.record`` (cassettes/README.md) works from the root; the plugin ships no recorder."""
    import importlib.util
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-m", "tests.aliyun.record", "--help"], cwd=root, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "python -m tests.aliyun.record" in out.stdout and "--live" in out.stdout
    assert importlib.util.find_spec("mailbridge_aliyun.record") is None
    assert importlib.util.find_spec("mailbridge_aliyun.cassettes") is None


def test_a_bare_date_matches_on_any_day_but_a_time_still_counts() -> None:
    """The suppression listing asks for the 30 days up to today (Beijing): its cassette replays on a later day,
    while a delivery window's times ("yyyy-MM-dd HH:mm") and every other parameter are still compared."""
    from urllib.parse import urlencode

    from vcr.request import Request

    matcher = make_vcr().matchers["mailbridge_params"]

    def form(**params: str) -> Request:
        body = urlencode({"Action": "QueryInvalidAddress", "Length": "100", **params})
        return Request("POST", "http://127.0.0.1/", body, {"content-type": "application/x-www-form-urlencoded"})

    recorded = form(StartTime="2026-11-01", EndTime="2026-12-01")
    matcher(form(StartTime="2027-01-05", EndTime="2027-02-04"), recorded)
    for changed in (
        form(StartTime="2026-11-01 10:00", EndTime="2026-12-01"),
        form(StartTime="2026-11-01", EndTime="2026-12-01", Length="50"),
    ):
        with pytest.raises(AssertionError):
            matcher(changed, recorded)
    with pytest.raises(AssertionError):
        matcher(form(StartTime="2026-11-01 10:00"), form(StartTime="2026-11-01 11:00"))
