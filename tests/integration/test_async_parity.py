"""The async client has the sync client's methods (issue 15: "an async client with the same methods").

Every public method of :class:`mailbridge.Client` has a counterpart on :class:`mailbridge.AsyncClient` (``close``
is ``aclose``); a method that calls the provider is awaited there (a coroutine function, or an async iterator for
a listing), and the set-up calls that run the sync client in a worker thread (sender domains and addresses) give
the sync client's results and errors, with the event loop free while they wait.
"""

from __future__ import annotations

import asyncio
import collections.abc
import datetime as dt
import inspect
from collections.abc import Iterator

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator

import mailbridge

from .test_async_native import SENDER, async_client
from .test_async_native_reads import sync_client

PLAIN = {"delivery_windows"}  # worked out from the declared limits: nothing to await
RENAMED = {"close": "aclose"}


def _public(cls: type) -> dict[str, object]:
    return {name: value for name, value in vars(cls).items() if not name.startswith("_") and callable(value)}


def _all_public(cls: type) -> dict[str, object]:
    found: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        found.update(_public(klass))
    return found


def test_every_sync_method_has_an_awaited_counterpart() -> None:
    sync, awaited = _all_public(mailbridge.Client), _all_public(mailbridge.AsyncClient)
    missing = sorted(RENAMED.get(name, name) for name in sync if RENAMED.get(name, name) not in awaited)
    assert missing == []
    for name, method in sync.items():
        if name in PLAIN or name in RENAMED or isinstance(method, (classmethod, staticmethod, property)):
            continue
        counterpart = awaited[name]
        returns = str(inspect.signature(counterpart).return_annotation)
        listing = returns.startswith(("AsyncGenerator", "AsyncIterator", "AsyncSendMany"))  # iterated with async for
        assert inspect.iscoroutinefunction(counterpart) or listing, f"AsyncClient.{name} is not awaited"
    assert inspect.iscoroutinefunction(awaited["aclose"])
    assert not inspect.iscoroutinefunction(awaited["delivery_windows"])


@pytest.fixture
def emu() -> Iterator[AliyunEmulator]:
    with AliyunEmulator() as emulator:
        emulator.add_sender(SENDER)
        yield emulator


def test_sender_domains_and_addresses_through_the_async_client_equal_the_sync_ones(emu: AliyunEmulator) -> None:
    with sync_client(emu.url) as client:
        expected_senders = client.senders()
        expected_sender = client.sender(SENDER)
    ticks: list[int] = []

    async def ticking() -> None:  # the loop keeps running while a threaded call waits
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    async def scenario() -> tuple[object, ...]:
        ticker = asyncio.create_task(ticking())
        try:
            async with async_client(emu.url) as client:
                senders = await client.senders()
                sender = await client.sender(SENDER)
                created = await client.create_domain("mb-async.example.com")
                listed = [d.name for d in await client.domains()]
                described = await client.domain("mb-async.example.com")
                with pytest.raises(mailbridge.NotFound):
                    await client.sender("nobody@mail.example.com")
                await client.delete_domain("mb-async.example.com")
                after = [d.name for d in await client.domains()]
                windows = client.delivery_windows(
                    dt.datetime(2026, 11, 1, tzinfo=dt.UTC), dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
                )
                return senders, sender, created, listed, described, after, windows
        finally:
            ticker.cancel()

    senders, sender, created, listed, described, after, windows = asyncio.run(scenario())
    assert senders == expected_senders and sender == expected_sender
    assert created.name == "mb-async.example.com" and created.records  # the DNS records to publish
    assert "mb-async.example.com" in listed and "mb-async.example.com" not in after
    assert described.name == "mb-async.example.com"
    assert isinstance(windows, collections.abc.Sequence) and windows[0][0] == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert len(ticks) > 1
    actions = [r["action"] for r in emu.server.requests]
    assert actions.count("DeleteDomain") == 1 and actions.count("CreateDomain") == 1


def test_suppressed_keys_through_the_async_client_equal_the_sync_ones(emu: AliyunEmulator) -> None:
    with sync_client(emu.url) as client:
        client.suppress(["Blocked@Example.com", "two@example.com"])
        expected = client.suppressed_keys()

    async def scenario() -> set[str]:
        async with async_client(emu.url) as client:
            return await client.suppressed_keys()

    assert asyncio.run(scenario()) == expected == {"blocked@example.com", "two@example.com"}
