"""Fixtures for the Direct Mail backend tests: a fresh emulator and a client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator

from mailbridge import Client

from .record import scenario_client


@pytest.fixture(autouse=True)
def _no_env_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up real credentials from the environment."""
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", raising=False)


@pytest.fixture
def emulator() -> Iterator[AliyunEmulator]:
    with AliyunEmulator() as emu:
        yield emu


@pytest.fixture
def client(emulator: AliyunEmulator) -> Iterator[Client]:
    """A client on the emulator: V3 signatures, no rate-limit waits, no retries."""
    with scenario_client(emulator.url) as c:
        yield c
