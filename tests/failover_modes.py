"""The failover tests judge both clients: ``FailoverClient`` and ``AsyncFailoverClient``.

The ``failovers`` fixture (tests/conftest.py) runs a test twice. In the ``sync`` run it hands out
the :class:`mailbridge.FailoverClient` the test built; in the ``async`` run the same client behind an
:class:`mailbridge.AsyncFailoverClient` (:class:`AsyncDriven`): each blocking method the test calls
runs that client's coroutine on one event loop kept for the client's life, so native Direct Mail
connections stay on their loop. The tests' assertions (emulator request logs, outboxes, attempts,
errors) are the same for both.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import mailbridge

MODES = ("sync", "async")
REPO = Path(__file__).resolve().parents[1]


def worker_env() -> dict[str, str]:
    """The environment of a worker process whose script imports ``tests.failover_modes``."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


class AsyncDriven:
    """A :class:`FailoverClient`'s blocking methods, each run through an :class:`AsyncFailoverClient`.

    ``aclient`` is that async client and ``sync`` the failover client it drives (its health,
    members and group methods, which have no async face, are reached through attribute access).
    """

    def __init__(self, client: mailbridge.FailoverClient) -> None:
        self.sync = client
        self.aclient = mailbridge.AsyncFailoverClient(client)
        self._runner: asyncio.Runner | None = asyncio.Runner()

    def run(self, coro: Any) -> Any:
        """Run one coroutine on this client's loop."""
        assert self._runner is not None, "closed"
        return self._runner.run(coro)

    def send(self, message: mailbridge.Message, **options: Any) -> mailbridge.SendResult:
        return self.run(self.aclient.send(message, **options))

    def send_to_group(self, group: str, message: mailbridge.Message, **options: Any) -> mailbridge.SendResult:
        return self.run(self.aclient.send_to_group(group, message, **options))

    def send_many(self, messages: Iterable[mailbridge.Message], **options: Any) -> Iterator[mailbridge.SendOutcome]:
        async def every() -> list[mailbridge.SendOutcome]:
            async with self.aclient.send_many(messages, **options) as outcomes:
                return [o async for o in outcomes]

        return iter(self.run(every()))

    def healthy(self) -> dict[str, bool]:
        return self.aclient.healthy()

    def create_group(self, name: str, description: str | None = None) -> Any:
        return self.run(self.aclient.create_group(name, description))

    def get_or_create_group(self, name: str, description: str | None = None) -> Any:
        return self.run(self.aclient.get_or_create_group(name, description))

    def upload(self, group: str, recipients: Iterable[Any], **options: Any) -> Any:
        return self.run(self.aclient.upload(group, recipients, **options))

    def close(self) -> None:
        if self._runner is not None:
            try:
                self.run(self.aclient.aclose())
            finally:
                self._runner.close()
                self._runner = None

    def __enter__(self) -> AsyncDriven:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sync, name)


class Failovers:
    """Builds the failover clients of one test run in its mode (``sync`` or ``async``); closes what it built."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._driven: list[AsyncDriven] = []

    def wrap(self, client: mailbridge.FailoverClient) -> Any:
        """``client`` itself (sync), or it behind an async client (async)."""
        if self.mode == "sync":
            return client
        driven = AsyncDriven(client)
        self._driven.append(driven)
        return driven

    def __call__(self, clients: Sequence[mailbridge.Client], **options: Any) -> Any:
        """``FailoverClient(clients, **options)`` in this run's mode."""
        return self.wrap(mailbridge.FailoverClient(clients, **options))

    def connect(self, url: str) -> Any:
        """``connect_failover(url)`` in this run's mode."""
        return self.wrap(mailbridge.connect_failover(url))

    def close(self) -> None:
        for driven in self._driven:
            driven.close()
