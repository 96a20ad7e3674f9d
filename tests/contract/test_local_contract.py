"""The local backend passes the contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import mailbridge

from .suite import BackendContract


class TestLocalContract(BackendContract):
    @pytest.fixture
    def client(self, tmp_path: Path) -> Iterator[mailbridge.Client]:
        with mailbridge.connect(f"local://{tmp_path}") as client:
            yield client
