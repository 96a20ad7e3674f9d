"""The tencent backend passes the shared contract, against its loopback emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ..contract.suite import BackendContract


class TestTencentContract(BackendContract):
    @pytest.fixture
    def client(self) -> Iterator[mailbridge.Client]:
        with TencentEmulator(port=0, rate_limit=0) as emu, mailbridge.connect(emu.url, sleep=lambda _: None) as client:
            yield client
