"""Following a paged listing without trusting the server to end it.

Every listing in mailbridge (the client's groups, members and delivery events, a backend's
own loops over templates or send tasks) goes through :func:`follow_pages`, which ends on:

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
from collections.abc import Callable, Iterator
from typing import TypeVar

from ._exceptions import ProviderUnavailable
from ._models import Page

__all__ = ["MAX_PAGES", "follow_pages"]

log = logging.getLogger("mailbridge")
T = TypeVar("T")

#: The most pages one listing follows before :class:`ProviderUnavailable`.
MAX_PAGES = 10_000


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
    limit = max_pages if max_pages is not None else MAX_PAGES
    where = " ".join(p for p in (provider, operation) if p) or "listing"
    cursor: str | None = None
    followed: set[str] = set()
    previous: list[T] | None = None
    pages = 0
    while True:
        page = fetch(cursor)
        pages += 1
        items = list(page.items)
        if previous is not None and items == previous:
            log.warning("%s: page %d repeats the page before (cursor %r ignored); stopping", where, pages, cursor)
            return
        yield page
        following = page.next_cursor
        if not following or not items:
            return
        if following == cursor or following in followed:
            log.warning("%s: the server sent cursor %r again; stopping", where, following)
            return
        if pages >= limit:
            raise ProviderUnavailable(
                f"the server still had more after {limit} pages of {operation or 'a listing'}; "
                "stopped rather than page for ever",
                provider=provider,
                operation=operation,
                retryable=False,
            )
        followed.add(following)
        previous = items
        cursor = following
