"""The Direct Mail backend passes the core's contract suite against the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_aliyun.record import scenario_client

import mailbridge

from ..contract.suite import BackendContract


class TestAliyunContractV3(BackendContract):
    """V3 signatures (the default)."""

    @pytest.fixture
    def client(self) -> Iterator[mailbridge.Client]:
        with AliyunEmulator() as emu, scenario_client(emu.url) as client:
            yield client


class TestAliyunContractV2(BackendContract):
    """V2 (HMAC-SHA1) signatures."""

    @pytest.fixture
    def client(self) -> Iterator[mailbridge.Client]:
        with AliyunEmulator() as emu, scenario_client(emu.url_with(signature="v2")) as client:
            yield client
