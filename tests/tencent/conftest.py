"""Fixtures shared by the tencent tests: a running emulator and a client on it.

Imports are asynchronous on the emulator as on SES (``upload_delay`` seconds "uploading"); the
emulator runs on a :class:`FakeClock` that the client's waits advance, so a test sees the
asynchronous states without spending the time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ._support import FakeClock, connect, emulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[TencentEmulator]:
    with emulator(clock=clock) as server:
        yield server


@pytest.fixture
def client(emu: TencentEmulator, clock: FakeClock) -> Iterator[mailbridge.Client]:
    with connect(emu.url, sleep=clock.sleep, clock=clock) as c:
        yield c
