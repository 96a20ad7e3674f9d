"""The local backend passes the contract (every feature it declares)."""

from __future__ import annotations

from pathlib import Path

import mailbridge
from mailbridge.testing import BackendContract


class TestLocalContract(BackendContract):
    def make_client(self, tmp_path: Path) -> mailbridge.Client:
        return mailbridge.connect(f"local://{tmp_path}")
