"""The optional asyncio side of a backend: what a plugin implements to work without threads.

A backend whose provider speaks an HTTP API it already drives with httpx can return an
:class:`AsyncBackend` from :meth:`Backend.async_backend`; :func:`mailbridge.connect_async`
then sends through it on the event loop, with the same validation, pacing, retries and
outcome rule as the synchronous client. ``send`` and ``aclose`` are required; any of
:data:`ASYNC_METHODS` may be added too, each an ``async def`` with the signature and contract
of the :class:`Backend` method of that name, and is found per method (:func:`async_method`):
what an async backend does not offer (and everything of a backend returning None) runs the
synchronous method in a worker thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from ._models import Message, SendReceipt

__all__ = ["ASYNC_METHODS", "AsyncBackend", "async_method"]

#: The :class:`Backend` methods an :class:`AsyncBackend` may also offer, awaited (each optional).
ASYNC_METHODS = frozenset(
    {
        "send_to_group",
        "create_group",
        "delete_group",
        "find_members",
        "remove_members",
        "create_tag",
        "rename_tag",
        "delete_tag",
        "create_template",
        "update_template",
        "delete_template",
        "list_groups",
        "get_group",
        "list_members",
        "query_deliveries",
        "account_summary",
        "statistics",
        "list_tags",
        "list_templates",
        "get_template",
    }
)


@runtime_checkable
class AsyncBackend(Protocol):
    """A backend's native asyncio sends (see :meth:`Backend.async_backend`) and, optionally, any of
    :data:`ASYNC_METHODS`.

    ``send`` has the contract of :meth:`Backend.send`: one provider call, every failure a
    neutral error, :class:`OutcomeUnknown` when the request may have reached the provider.
    """

    async def send(self, message: Message) -> SendReceipt:
        """Send one checked message (at most ``limits.recipients_per_send`` in ``to``)."""
        ...

    async def aclose(self) -> None:
        """Release the connections (called by the async client's ``aclose``)."""
        ...


def async_method(native: AsyncBackend | None, name: str) -> Callable[..., Awaitable[Any]] | None:
    """``native``'s awaited counterpart of :class:`Backend` method ``name`` (one of :data:`ASYNC_METHODS`),
    or None when it has none (the caller then runs the synchronous method in a worker thread)."""
    if name not in ASYNC_METHODS:
        raise ValueError(f"{name!r} is not an optional AsyncBackend method")  # a caller's typo, not a user error
    method = getattr(native, name, None) if native is not None else None
    return method if callable(method) else None
