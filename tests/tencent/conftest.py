"""Fixtures shared by the tencent tests: a running emulator and a client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ._support import connect, emulator


@pytest.fixture
def emu() -> Iterator[TencentEmulator]:
    with emulator() as server:
        yield server


@pytest.fixture
def client(emu: TencentEmulator) -> Iterator[mailbridge.Client]:
    with connect(emu.url) as c:
        yield c
