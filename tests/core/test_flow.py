"""mailbridge._flow: one flow, driven blocking and on an event loop, gives the same answers; errors come back
at the yield that caused them; blocking bookkeeping runs off the loop, the rest on it; a cancelled flow is closed."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

import mailbridge
from mailbridge._flow import Bookkeeping, Flow, adrive, drive


def flow(log: list[str], blocking: bool) -> Flow[tuple[str, ...]]:
    """Two calls: the first fails with a neutral error (caught here), the second answers."""
    where = yield Bookkeeping(threading.get_ident, blocking=blocking)
    log.append("store" if where is not None else "no store")
    try:
        yield "first"
    except mailbridge.ProviderUnavailable as exc:
        log.append(f"caught {exc.message}")
    second = yield "second"
    return ("done", second)


def perform(effect: str) -> str:
    if effect == "first":
        raise mailbridge.ProviderUnavailable("503")
    return effect.upper()


async def aperform(effect: str) -> str:
    await asyncio.sleep(0)
    return perform(effect)


@pytest.mark.parametrize("blocking", [False, True])
def test_the_same_flow_gives_the_same_answer_both_ways(blocking: bool) -> None:
    blocking_log: list[str] = []
    asyncio_log: list[str] = []
    assert drive(flow(blocking_log, blocking), perform) == ("done", "SECOND")
    assert asyncio.run(adrive(flow(asyncio_log, blocking), aperform)) == ("done", "SECOND")
    assert blocking_log == asyncio_log == ["store", "caught 503"]


def test_blocking_bookkeeping_runs_off_the_loop_and_the_rest_on_it() -> None:
    threads: dict[str, int] = {}

    def record(name: str) -> Callable[[], None]:
        return lambda: threads.__setitem__(name, threading.get_ident())

    def two_stores() -> Flow[None]:
        yield Bookkeeping(record("blocking"), blocking=True)
        yield Bookkeeping(record("memory"), blocking=False)

    async def main() -> int:
        await adrive(two_stores(), aperform)
        return threading.get_ident()

    loop = asyncio.run(main())
    assert threads["memory"] == loop and threads["blocking"] != loop


def test_an_error_the_flow_does_not_catch_reaches_the_caller_and_other_errors_pass_through() -> None:
    def uncaught() -> Flow[Any]:
        yield "first"

    with pytest.raises(mailbridge.ProviderUnavailable):
        drive(uncaught(), perform)
    with pytest.raises(mailbridge.ProviderUnavailable):
        asyncio.run(adrive(uncaught(), aperform))

    def broken(effect: str) -> str:
        raise ValueError("a bug below the flow")

    with pytest.raises(ValueError, match="a bug"):
        drive(uncaught(), broken)


def test_a_cancelled_flow_is_closed_at_its_yield() -> None:
    closed: list[str] = []

    def waits() -> Flow[None]:
        try:
            yield "slow"
        finally:
            closed.append("closed")

    async def slow(effect: str) -> None:
        await asyncio.sleep(60)

    async def main() -> None:
        task = asyncio.create_task(adrive(waits(), slow))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert closed == ["closed"]
