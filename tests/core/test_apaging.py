"""afollow_pages: the same bounds as follow_pages for an awaited fetch (one PageFollower drives both)."""

from __future__ import annotations

import asyncio

import pytest

from mailbridge import Page, ProviderUnavailable
from mailbridge._paging import afollow_pages

from .test_reader import pages_of

TABLE = [
    {None: Page([1, 2], "a"), "a": Page([3, 4], "b"), "b": Page([5])},  # an honest listing
    {None: Page([1], "a"), "a": Page([1], "b")},  # the same page again
    {None: Page([], "a")},  # an empty page that says "more"
    {None: Page([1], "a"), "a": Page([2], "a")},  # the cursor does not advance
    {None: Page([1], "a"), "a": Page([2], "b"), "b": Page([3], "a")},  # a cycle
]


def apages_of(
    answers: dict[str | None, Page[int]], *, leave_after: int | None = None
) -> tuple[list[int], list[str | None]]:
    asked: list[str | None] = []

    async def fetch(cursor: str | None) -> Page[int]:
        await asyncio.sleep(0)
        asked.append(cursor)
        return answers[cursor]

    async def read() -> list[int]:
        items: list[int] = []
        pages = afollow_pages(fetch, provider="p", operation="op", max_pages=5)
        async for page in pages:
            items.extend(page.items)
            if leave_after is not None and len(items) >= leave_after:
                await pages.aclose()
                break
        return items

    return asyncio.run(read()), asked


@pytest.mark.parametrize("answers", TABLE)
def test_afollow_pages_ends_where_follow_pages_ends(answers: dict[str | None, Page[int]]) -> None:
    assert apages_of(answers) == pages_of(answers)


def test_leaving_early_asks_for_no_further_page() -> None:
    items, asked = apages_of(TABLE[0], leave_after=2)
    assert items == [1, 2] and asked == [None]


def test_afollow_pages_raises_at_the_cap() -> None:
    asked: list[str | None] = []

    async def fetch(cursor: str | None) -> Page[int]:
        asked.append(cursor)
        return Page([len(asked)], str(len(asked)))

    async def read() -> None:
        async for _ in afollow_pages(fetch, provider="p", operation="op", max_pages=5):
            pass

    with pytest.raises(ProviderUnavailable, match="still had more after 5 pages of op") as info:
        asyncio.run(read())
    assert len(asked) == 5 and not info.value.retryable
