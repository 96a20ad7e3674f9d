"""Direct Mail operations as sans-IO plans: what to ask and how to read the answers, without the asking.

An operation of more than "build one request, parse one answer" (paged listings, statistics in
31-day spans, a template look-up before BatchSendMail) is a generator that yields one :class:`Call`
per RPC and is sent the decoded answer of each: a :data:`Plan` (a :mod:`mailbridge._flow` flow). The
synchronous backend and the asyncio one execute the same plans (``drive`` / ``adrive``), one over
:class:`~._transport.DirectMailTransport`, the other over :class:`~._async_transport.AsyncDirectMailTransport`,
so the parameters on the wire and the parsing of every answer are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeAlias, TypeVar

from attrs import frozen

from mailbridge import Operation, Page, ResponseReader
from mailbridge._paging import PageFollower

from . import _parse as parse

__all__ = ["Call", "Plan", "ask", "every_page"]

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
