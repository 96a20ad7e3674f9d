"""Shared test configuration: no retries sleep, no stray MAILBRIDGE_URL from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina


@pytest.fixture(autouse=True)
def _fast_retries() -> Iterator[None]:
    """Retries happen (at most 3 attempts, fewer if a RetryPolicy says so) but never sleep."""
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "MAILBRIDGE_URL",
        "MAILBRIDGE_PROVIDERS",
        "ALIBABA_CLOUD_ACCESS_KEY_ID",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "TENCENTCLOUD_SECRET_ID",
        "TENCENTCLOUD_SECRET_KEY",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _template_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Each test has its own template catalog, never the user's data directory (subprocesses inherit it)."""
    monkeypatch.setenv("MAILBRIDGE_TEMPLATE_CATALOG", str(tmp_path_factory.mktemp("catalog") / "templates.sqlite3"))
