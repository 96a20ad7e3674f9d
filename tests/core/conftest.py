"""A scriptable backend for core tests: the real local backend plus call records and injected failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from mailbridge_local import LocalBackend

import mailbridge
from mailbridge import Limits, Message


class ScriptedBackend(LocalBackend):
    """Records every call; ``failures[method]`` lists what the next calls raise (None: succeed)."""

    name = "scripted"

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.calls: list[tuple[str, Any]] = []
        self.failures: dict[str, list[BaseException | None]] = {}

    def _hit(self, method: str, payload: Any) -> None:
        self.calls.append((method, payload))
        queue = self.failures.get(method)
        if queue and (error := queue.pop(0)) is not None:
            raise error

    def calls_to(self, method: str) -> list[Any]:
        return [p for m, p in self.calls if m == method]

    def upload_batch(self, group: mailbridge.Group, recipients: Sequence[mailbridge.Recipient]) -> Any:
        self._hit("upload_batch", [r.email for r in recipients])
        return super().upload_batch(group, recipients)

    def send(self, message: mailbridge.Message) -> mailbridge.SendReceipt:
        self._hit("send", message)
        return super().send(message)

    def query_deliveries(self, query: mailbridge.DeliveryQuery, *, cursor: str | None, page_size: int) -> Any:
        self._hit("query_deliveries", (query, cursor))
        return super().query_deliveries(query, cursor=cursor, page_size=page_size)


MakeClient = Callable[..., mailbridge.Client]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[MakeClient]:
    """Build a client over a ScriptedBackend whose limits are LocalBackend's with ``changes``."""
    clients: list[mailbridge.Client] = []

    def make(client_options: dict[str, Any] | None = None, **changes: Any) -> mailbridge.Client:
        limits: Limits = LocalBackend.limits.evolve(**changes)
        cls = type("Backend", (ScriptedBackend,), {"limits": limits})
        client = mailbridge.Client(cls(tmp_path / f"b{len(clients)}"), **(client_options or {}))
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.close()


def backend_of(client: mailbridge.Client) -> ScriptedBackend:
    assert isinstance(client.backend, ScriptedBackend)
    return client.backend


def msg(**changes: Any) -> Message:
    """A small valid message; keyword arguments replace its fields."""
    fields: dict[str, Any] = {"sender": "me@example.com", "to": ["a@example.com"], "subject": "Hi", "text": "Hello"}
    fields.update(changes)
    return Message(**fields)


class Clock:
    """A clock the test moves by setting ``now``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SleepingClock:
    """A clock that moves only when the code under test sleeps (``time``/``sleep`` pair)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
