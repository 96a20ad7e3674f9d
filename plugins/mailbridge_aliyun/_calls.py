"""Direct Mail operations as sans-IO plans: what to ask and how to read the answers, without the asking.

An operation of more than "build one request, parse one answer" (paged listings, statistics in
31-day spans, a template look-up before BatchSendMail) is a generator that yields one :class:`Call`
per RPC and is sent the decoded answer of each: a :data:`Plan`. The synchronous backend and the
asyncio one execute the same plans (:class:`Steps`), one over :class:`~._transport.DirectMailTransport`,
the other over :class:`~._async_transport.AsyncDirectMailTransport`, so the parameters on the wire and
the parsing of every answer are written once. A failed call raises out of the driver; the plan is
then simply dropped (plans hold no resources).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any, Generic, TypeAlias, TypeVar

from attrs import frozen

from mailbridge import Operation, Page, ResponseReader
from mailbridge._paging import PageFollower

from . import _parse as parse

__all__ = ["Call", "Plan", "Steps", "ask", "every_page"]

T = TypeVar("T")

#: A plan: yields the calls to make, is sent each one's decoded answer, returns the result.
Plan: TypeAlias = Generator["Call", dict[str, Any], T]


@frozen
class Call:
    """One Direct Mail RPC of a plan (``is_send``: a send action, never repeated on an unknown outcome)."""

    action: str
    params: Mapping[str, Any]
    operation: Operation
    is_send: bool = False


def ask(action: str, params: Mapping[str, Any], operation: Operation) -> Plan[ResponseReader]:
    """One read inside a plan (``yield from``): the answer behind typed accessors (a wrong shape is
    ProviderUnavailable)."""
    return parse.reader((yield Call(action, params, operation)), action)


def every_page(fetch: Callable[[str | None], Plan[Page[T]]], *, provider: str, operation: Operation) -> Plan[list[T]]:
    """Every item of a listing whose page for a cursor is the plan ``fetch(cursor)``, bounded as
    :func:`~mailbridge.follow_pages` is (the same :class:`~mailbridge._paging.PageFollower`)."""
    follower: PageFollower[T] = PageFollower(provider=provider, operation=str(operation))
    items: list[T] = []
    while follower.more():
        page = yield from fetch(follower.cursor)
        if follower.take(page):
            items.extend(page.items)
    return items


class Steps(Generic[T]):
    """Drives one plan: iterate it for its calls, set :attr:`answer` to each call's decoded body, then
    read :attr:`result`. The same few lines for a blocking and an awaited transport::

        steps = Steps(plan)
        for call in steps:
            steps.answer = transport(call)  # or: await transport(call)
        return steps.result
    """

    def __init__(self, plan: Plan[T]) -> None:
        self._plan = plan
        self.answer: dict[str, Any] = {}
        self._result: tuple[T] | None = None

    def __iter__(self) -> Iterator[Call]:
        try:
            call = next(self._plan)
            while True:
                yield call
                call = self._plan.send(self.answer)
        except StopIteration as done:
            self._result = (done.value,)

    @property
    def result(self) -> T:
        """What the plan returned (once it has run to its end)."""
        if self._result is None:
            raise RuntimeError("the plan has not finished")  # pragma: no cover - a driver bug
        return self._result[0]
