"""The Celery recipe (docs/recipes/celery_app.py) with real worker processes, a real redis-server and the SES emulator.

Two workers (four threads each) send 200 messages through one Redis: its rate limiter keeps them
together under SES's 20 requests/s, and its idempotency keys make a redelivered task send at most
once. One worker is killed with SIGKILL mid-run; its unacknowledged tasks are redelivered to the
other worker after the broker's visibility timeout.
"""

from __future__ import annotations

import collections
import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mailbridge_tencent.emulator import TencentEmulator

from ..redis_server import redis_server

pytestmark = pytest.mark.slow

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"
COUNT = 200


@pytest.fixture
def recipe_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[dict[str, str], TencentEmulator]]:
    with TencentEmulator(rate=20, upload_delay=0) as ses, redis_server(tmp_path) as redis_url:
        base = redis_url.rsplit("/", 1)[0]
        settings = {
            "CELERY_BROKER_URL": f"{base}/0",
            "CELERY_RESULT_BACKEND": f"{base}/1",
            "MAILBRIDGE_STATE": f"{base}/2",
            "MAILBRIDGE_URL": ses.url,
            "CELERY_VISIBILITY_TIMEOUT": "4",
            # Two workers, the emulator and redis on a shared 2-core CI host: calls arrive up to ~120 ms late.
            "MAILBRIDGE_RATE_MARGIN": "0.2",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        path = os.pathsep.join(p for p in (str(RECIPES), os.environ.get("PYTHONPATH", "")) if p)
        yield {**os.environ, "PYTHONPATH": path}, ses


def import_recipe(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The recipe's module as the producer imports it (configured from the environment)."""
    monkeypatch.syspath_prepend(str(RECIPES))
    sys.modules.pop("celery_app", None)
    return importlib.import_module("celery_app")


def worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool", "threads"]
    command += ["--concurrency", "4", "--hostname", f"{name}@test", "--loglevel", "WARNING"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("wb") as out:  # the worker keeps its own copy of the descriptor
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def test_workers_share_the_rate_and_a_killed_worker_sends_nothing_twice(
    recipe_env: tuple[dict[str, str], TencentEmulator], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env, ses = recipe_env
    recipe = import_recipe(monkeypatch)
    try:
        victim = worker(env, "victim", tmp_path / "victim.log")
        survivor = worker(env, "survivor", tmp_path / "survivor.log")
        try:
            deadline = time.monotonic() + 60
            while len(recipe.app.control.ping(timeout=0.5)) < 2:  # both workers are up (as in production)
                assert time.monotonic() < deadline, (tmp_path / "victim.log").read_text()
            orders = [
                {"sender": "shop@mail.example.com", "to": [f"u{i}@example.com"], "subject": f"order {i}", "text": "t"}
                for i in range(COUNT)
            ]
            pending = [recipe.send_mail.delay(f"order-{i}", order) for i, order in enumerate(orders)]
            deadline = time.monotonic() + 60
            while len(ses.sent_mail) < 40:  # both workers are sending by now
                assert time.monotonic() < deadline, (tmp_path / "victim.log").read_text()
                assert victim.poll() is None and survivor.poll() is None
                time.sleep(0.05)
            victim.send_signal(signal.SIGKILL)  # mid-task: its threads hold claimed, unacknowledged tasks
            victim.wait(timeout=10)
            results: list[dict[str, Any]] = [r.get(timeout=120) for r in pending]
        finally:
            for proc in (victim, survivor):
                if proc.poll() is None:
                    proc.terminate()
            for proc in (victim, survivor):
                proc.wait(timeout=30)
    finally:
        recipe.app.close()

    assert ses.server.throttled == 0, f"the emulator throttled {ses.server.throttled} calls"
    at_provider = collections.Counter(address for mail in ses.sent_mail for address in mail["to"])
    assert max(at_provider.values()) == 1, "a message was sent twice"
    by_status = collections.defaultdict(set)
    for result in results:
        by_status[result["status"]].add(int(result["key"].removeprefix("order-")))
    assert set(by_status) <= {"sent", "maybe-sent"}, results
    sent, maybe = by_status["sent"], by_status["maybe-sent"]
    assert len(sent) + len(maybe) == COUNT
    delivered = {int(address[1:].split("@")[0]) for address in at_provider}
    assert sent <= delivered, "every 'sent' is at the provider"
    assert delivered <= sent | maybe, "nothing reached the provider that was not reported sent or maybe-sent"
    redelivered = [r for r in results if r["redelivered"]]
    assert redelivered, "the killed worker's tasks were redelivered"
    assert {r["worker"] for r in redelivered} == {"survivor@test"}
    assert maybe, "tasks whose first attempt died mid-send are reported maybe-sent, not resent"
    assert {int(r["key"].removeprefix("order-")) for r in redelivered} >= maybe
    assert len(sent) >= COUNT - 8, "only the killed worker's in-flight tasks (4 threads) are in doubt"
