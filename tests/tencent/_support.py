"""Shared helpers for the tencent tests: a fake clock, client builders, the vcr setup.

Cassettes match requests on the HTTP method and path, the ``X-TC-Action`` header and the JSON
body (``RequestDate``, which is "today" when recorded, is compared as a placeholder). Mismatch is
signalled with ``AssertionError`` only, as vcrpy requires. ``Authorization``, ``X-TC-Timestamp``,
``X-TC-TraceId`` and ``X-TC-Token`` are removed before anything is written.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import vcr
from mailbridge_tencent.emulator import TEST_SECRET_ID, TEST_SECRET_KEY, TencentEmulator

import mailbridge

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "cassettes" / "tencent"
SCRUBBED_HEADERS = ["Authorization", "X-TC-Timestamp", "X-TC-TraceId", "X-TC-Token"]
#: Replays never reach this port: vcrpy answers from the cassette (record_mode="none").
REPLAY_URL = f"tencent://{TEST_SECRET_ID}:{TEST_SECRET_KEY}@ap-guangzhou?endpoint=http://127.0.0.1:9"
_PLACEHOLDERS = {"RequestDate": "<day>"}
#: Body fields that are secrets: rewritten before a request is matched or written.
_SECRET_FIELDS = ("Password",)
SCRUBBED = "<scrubbed>"


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


def _body(request: Any) -> Any:
    raw = request.body or b""
    try:
        data = json.loads(raw)
    except (ValueError, TypeError):
        return raw
    if isinstance(data, dict):
        for key, placeholder in _PLACEHOLDERS.items():
            if key in data:
                data[key] = placeholder
    return data


def tc_action(r1: Any, r2: Any) -> None:
    assert r1.headers.get("X-TC-Action") == r2.headers.get("X-TC-Action")


def tc_body(r1: Any, r2: Any) -> None:
    assert _body(r1) == _body(r2)


def scrub_request(request: Any) -> Any:
    """Replace secret JSON body fields (the SMTP password) before matching and before writing."""
    try:
        data = json.loads(request.body or b"")
    except (ValueError, TypeError):
        return request
    if isinstance(data, dict) and any(k in data for k in _SECRET_FIELDS):
        for key in _SECRET_FIELDS:
            if key in data:
                data[key] = SCRUBBED
        request.body = json.dumps(data, ensure_ascii=False).encode()
    return request


def make_vcr(record_mode: str = "none") -> vcr.VCR:
    recorder = vcr.VCR(
        before_record_request=scrub_request,
        cassette_library_dir=str(CASSETTES),
        record_mode=record_mode,
        match_on=["method", "path", "tc_action", "tc_body"],
        filter_headers=SCRUBBED_HEADERS,
        decode_compressed_response=True,
    )
    recorder.register_matcher("tc_action", tc_action)
    recorder.register_matcher("tc_body", tc_body)
    return recorder


def sent(emu: TencentEmulator, action: str) -> list[dict[str, Any]]:
    """The JSON bodies the emulator received for one action, in order."""
    return [r["params"] for r in emu.requests if r["action"] == action]
