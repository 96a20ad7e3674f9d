"""Shared helpers for the tencent tests: a fake clock, client builders, the vcr setup.

Cassettes (:mod:`mailbridge.testing.cassettes`) match requests on the HTTP method and path, the ``X-TC-Action``
header and the JSON body (``RequestDate``, which is "today" when recorded, is compared as a placeholder). The
backend's declared ``secret_fields`` (``Authorization``, ``X-TC-Token``, the SMTP ``Password`` ...) are scrubbed,
and ``X-TC-Timestamp`` and ``X-TC-TraceId`` removed, before anything is written or matched.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mailbridge_tencent import TencentBackend
from mailbridge_tencent.emulator import TEST_SECRET_ID, TEST_SECRET_KEY, TencentEmulator

import mailbridge
from mailbridge.testing import cassettes

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes" / "tencent"
SCRUBBED_HEADERS = ["Authorization", "X-TC-Timestamp", "X-TC-TraceId", "X-TC-Token"]  # removed from requests
#: Replays never reach this port: vcrpy answers from the cassette (record_mode="none").
REPLAY_URL = f"tencent://{TEST_SECRET_ID}:{TEST_SECRET_KEY}@ap-guangzhou?endpoint=http://127.0.0.1:9"
# Values that change by day: SES's RequestDate, and the EndDate the backend sends as today's Beijing date when it
# lists the whole suppression list (ListBlackEmailAddress), which a replay after midnight in Beijing would miss.
# GetStatisticsReport's EndDate is placeholdered too; its wire value is checked in test_wire.py, not by cassettes.
_PLACEHOLDERS = {"RequestDate": "<day>", "EndDate": "<day>"}
SCRUBBED = cassettes.SCRUBBED


class FakeClock:
    """The emulator's clock, advanced by the client's ``sleep`` (starts at the real time)."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def connect(url: str, **options: Any) -> mailbridge.Client:
    """A client that never sleeps and (by default) never retries."""
    options.setdefault("retry", mailbridge.RetryPolicy(attempts=1))
    options.setdefault("sleep", lambda _: None)
    return mailbridge.connect(url, **options)


def emulator(**options: Any) -> TencentEmulator:
    options.setdefault("rate", 0)
    return TencentEmulator(port=0, **options)


# --------------------------------------------------------------------------- vcr


def make_vcr(record_mode: str = "none") -> Any:
    """The shared vcrpy set-up (:mod:`mailbridge.testing.cassettes`) with SES's action header and day placeholder."""
    return cassettes.make_vcr(
        CASSETTES,
        record_mode=record_mode,
        secret_fields=TencentBackend.secret_fields,
        drop_headers=SCRUBBED_HEADERS,
        placeholders=_PLACEHOLDERS,
        matchers={"tc_action": cassettes.action_matcher("X-TC-Action")},
    )


def sent(emu: TencentEmulator, action: str) -> list[dict[str, Any]]:
    """The JSON bodies the emulator received for one action, in order."""
    return [r["params"] for r in emu.requests if r["action"] == action]
