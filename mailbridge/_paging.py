"""Following a paged listing without trusting the server to end it.

Every listing in mailbridge (the client's groups, members and delivery events, a backend's
own loops over templates or send tasks) goes through :func:`follow_pages` (:func:`afollow_pages`
for an awaited fetch; both, and a backend's sans-IO request plans, drive one :class:`PageFollower`,
so the rules below are written once), which ends on:

* a page without a next cursor (the normal end);
* an empty page, whatever its cursor says (nothing more can come of asking again);
* a cursor already followed, or a page identical to the one before: a server that ignores
  ``Offset``/``NextStart``/``PageNo`` (or an absurd ``TotalCount``) would otherwise be asked
  for ever. The repeated page is not yielded again.

These are clean stops (logged as a warning when the server misbehaved): what was read is
every distinct record the server would give. A server that keeps producing *new* full pages
is stopped after :data:`MAX_PAGES` pages with :class:`ProviderUnavailable` (failover-eligible,
but *not* retryable: asking again would page through the same endless listing again): a
listing cut short there would be silently incomplete, so it is an error rather than a result.
10,000 pages of 100 is a million records, far past every provider's documented group and
list sizes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from ._exceptions import ProviderUnavailable
from ._models import Page

__all__ = ["MAX_PAGES", "PageFollower", "afollow_pages", "follow_pages"]

log = logging.getLogger("mailbridge")
T = TypeVar("T")

#: The most pages one listing follows before :class:`ProviderUnavailable`.
MAX_PAGES = 10_000


class PageFollower(Generic[T]):
    """The rules of the module doc without the fetching (sans-IO), for every way a page is fetched.

    A driver asks :meth:`more` before each fetch (it raises at the page cap), fetches the page for
    :attr:`cursor` and hands it to :meth:`take`, which says whether the page is new (to be yielded).
    :func:`follow_pages`, :func:`afollow_pages` and a backend's own request plans drive it.
    """

    def __init__(self, *, provider: str | None = None, operation: str | None = None, max_pages: int | None = None):
        self.limit = max_pages if max_pages is not None else MAX_PAGES
        self.operation = operation
        self.provider = provider
        self.where = " ".join(p for p in (provider, operation) if p) or "listing"
        self.cursor: str | None = None  # the cursor of the next page to fetch (None: the first)
        self.pages = 0
        self._followed: set[str] = set()
        self._previous: list[T] | None = None
        self._last: Page[T] | None = None  # the page taken last, until :meth:`more` moves past it
        self._done = False

    def more(self) -> bool:
        """Whether another page is to be fetched (for :attr:`cursor`); :class:`ProviderUnavailable` at the cap."""
        page, self._last = self._last, None
        if self._done or page is None:
            return not self._done and self.pages == 0
        following, items = page.next_cursor, list(page.items)
        if not following or not items:
            return False
        if following == self.cursor or following in self._followed:
            log.warning("%s: the server sent cursor %r again; stopping", self.where, following)
            return False
        if self.pages >= self.limit:
            raise ProviderUnavailable(
                f"the server still had more after {self.limit} pages of {self.operation or 'a listing'}; "
                "stopped rather than page for ever",
                provider=self.provider,
                operation=self.operation,
                retryable=False,
            )
        self._followed.add(following)
        self._previous = items
        self.cursor = following
        return True

    def take(self, page: Page[T]) -> bool:
        """Record the page fetched for :attr:`cursor`; False if it repeats the page before (the listing ends)."""
        self.pages += 1
        if self._previous is not None and list(page.items) == self._previous:
            log.warning(
                "%s: page %d repeats the page before (cursor %r ignored); stopping", self.where, self.pages, self.cursor
            )
            self._done = True
            return False
        self._last = page
        return True


def follow_pages(
    fetch: Callable[[str | None], Page[T]],
    *,
    provider: str | None = None,
    operation: str | None = None,
    max_pages: int | None = None,
) -> Iterator[Page[T]]:
    """Yield ``fetch(None)``, then ``fetch(next_cursor)`` ... until the listing ends (see the module doc).

    **Parameters:** ``fetch`` (one page for a cursor, ``None`` for the first), ``provider``
    and ``operation`` *(optional)*: for the error and log text, ``max_pages``
    *(optional)*: the page cap (default :data:`MAX_PAGES`).
    """
    follower: PageFollower[T] = PageFollower(provider=provider, operation=operation, max_pages=max_pages)
    while follower.more():
        if follower.take(page := fetch(follower.cursor)):
            yield page


async def afollow_pages(
    fetch: Callable[[str | None], Awaitable[Page[T]]],
    *,
    provider: str | None = None,
    operation: str | None = None,
    max_pages: int | None = None,
) -> AsyncGenerator[Page[T], None]:
    """:func:`follow_pages` for an awaitable ``fetch``: an async iterator of pages, fetched one by one."""
    follower: PageFollower[T] = PageFollower(provider=provider, operation=operation, max_pages=max_pages)
    while follower.more():
        if follower.take(page := await fetch(follower.cursor)):
            yield page
