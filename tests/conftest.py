"""Shared test configuration, from mailbridge's own pytest plugin (``mailbridge.testing.plugin``): retries never
sleep, no MAILBRIDGE_URL nor any installed backend's declared environment variables leak in, and each test has
its own template catalog. A new provider needs nothing here: its backend declares its ``environment``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .failover_modes import Failovers


@pytest.fixture(autouse=True)
def _isolated(mailbridge_no_retry_waits: None, mailbridge_clean_env: None, mailbridge_template_catalog: object) -> None:
    """Every test runs as the three fixtures say."""


@pytest.fixture(params=["sync", "async"])
def failovers(request: pytest.FixtureRequest) -> Iterator[Failovers]:
    """Failover clients for a test that runs twice: plain ``FailoverClient`` and behind ``AsyncFailoverClient``
    (see tests/failover_modes.py)."""
    made = Failovers(request.param)
    yield made
    made.close()
