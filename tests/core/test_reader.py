"""ResponseReader (typed reads of provider answers) and follow_pages (bounded listings), unit by unit."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings

from mailbridge import Page, ProviderUnavailable, ResponseReader, follow_pages

from ..responses import garbage


def reader(data: Any) -> ResponseReader:
    return ResponseReader(data, provider="p", action="Act")


@pytest.mark.parametrize(
    ("value", "expected"), [(5, 5), ("5", 5), (" 42 ", 42), (7.0, 7), ("-3", -3), (None, None), ("", None)]
)
def test_integers_accept_numbers_and_digit_strings(value: Any, expected: int | None) -> None:
    assert reader({"n": value}).integer("n") == expected


@pytest.mark.parametrize("value", [True, 1.5, "1e3", "x", [1], {"a": 1}, 2**63, 1e30, float("inf"), "1" * 21, "١٢"])
def test_anything_else_is_not_an_integer(value: Any) -> None:
    with pytest.raises(ProviderUnavailable, match=r"Act has an unexpected shape: n is .*, expected an integer"):
        reader({"n": value}).integer("n")


def test_counts_are_not_negative_and_required_fields_are_there() -> None:
    with pytest.raises(ProviderUnavailable, match="expected a count"):
        reader({"n": -1}).count("n")
    with pytest.raises(ProviderUnavailable, match="n is missing"):
        reader({}).count("n", required=True)
    with pytest.raises(ProviderUnavailable, match="Total is missing, expected the field"):
        reader({"RequestId": "r"}).expect("Total")
    reader({"Total": None}).expect("Total")  # present, even if null


def test_strings_flags_and_containers() -> None:
    r = reader({"s": 12, "f": 1.0, "b": 1, "l": [{"a": 1}], "one": {"a": 2}, "ss": ["x"]})
    assert r.string("s") == "12" and r.string("f") == "1" and r.text("missing") == ""
    assert r.flag("b") is True
    assert [x.integer("a") for x in r.records("l")] == [1]
    assert [x.integer("a") for x in r.records("one", single=True)] == [2]
    assert r.strings("ss") == ["x"]
    for method, key in ((r.string, "l"), (r.flag, "s"), (r.records, "one"), (r.strings, "l"), (r.object, "ss")):
        with pytest.raises(ProviderUnavailable):
            method(key)


def test_times() -> None:
    r = reader({"t": 1619601108, "ms": 1619601108123, "zero": 0, "cst": "2021-04-28T17:11Z", "bad": "soon"})
    assert r.epoch("t") == dt.datetime(2021, 4, 28, 9, 11, 48, tzinfo=dt.UTC)
    assert r.epoch("ms") == r.epoch("t")
    assert r.epoch("zero") is None and r.epoch("missing") is None
    cst = dt.timezone(dt.timedelta(hours=8))
    assert r.local_time("cst", ("%Y-%m-%dT%H:%M",), cst) == dt.datetime(2021, 4, 28, 9, 11, tzinfo=dt.UTC)
    assert r.local_time("bad", ("%Y-%m-%dT%H:%M",), cst) is None
    with pytest.raises(ProviderUnavailable, match="expected an integer"):
        reader({"t": 1e30}).epoch("t")
    with pytest.raises(ProviderUnavailable, match="expected a time"):
        reader({"t": 10**18}).epoch("t")  # milliseconds past year 9999


def test_the_error_names_the_path_and_carries_the_scrubbed_body() -> None:
    body = {"RequestId": "R-9", "Password": "s3cret", "data": {"rows": [{"n": "x"}]}}
    row = reader(body).object("data").records("rows")[0]  # type: ignore[union-attr]
    with pytest.raises(ProviderUnavailable) as info:
        row.integer("n")
    error = info.value
    assert error.message == "the answer to Act has an unexpected shape: data.rows[0].n is str 'x', expected an integer"
    assert error.request_id == "R-9" and error.raw["Password"] == "***" and error.retryable


def test_a_body_that_is_not_an_object_is_a_wrong_shape() -> None:
    with pytest.raises(ProviderUnavailable, match="the body is list"):
        reader([1, 2])


@settings(max_examples=200, deadline=None)
@given(value=garbage)
def test_every_accessor_returns_or_raises_provider_unavailable(value: Any) -> None:
    """Garbage in any field: each accessor returns or raises ProviderUnavailable, nothing else."""
    r = reader({"k": value})
    for method in (r.string, r.integer, r.count, r.flag, r.epoch, r.records, r.object, r.strings):
        with contextlib.suppress(ProviderUnavailable):
            method("k")
    with contextlib.suppress(ProviderUnavailable):
        r.local_time("k", ("%Y-%m-%d",), dt.UTC)


# --------------------------------------------------------------------------- follow_pages


def pages_of(answers: dict[str | None, Page[int]]) -> tuple[list[int], list[str | None]]:
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> Page[int]:
        asked.append(cursor)
        return answers[cursor]

    items = [i for page in follow_pages(fetch, provider="p", operation="op", max_pages=5) for i in page.items]
    return items, asked


def test_follow_pages_reads_an_honest_listing() -> None:
    items, asked = pages_of({None: Page([1, 2], "a"), "a": Page([3, 4], "b"), "b": Page([5])})
    assert items == [1, 2, 3, 4, 5] and asked == [None, "a", "b"]


@pytest.mark.parametrize(
    ("answers", "items", "asked"),
    [
        ({None: Page([1], "a"), "a": Page([1], "b")}, [1], [None, "a"]),  # the same page again
        ({None: Page([], "a")}, [], [None]),  # an empty page that says "more"
        ({None: Page([1], "a"), "a": Page([2], "a")}, [1, 2], [None, "a"]),  # the cursor does not advance
        ({None: Page([1], "a"), "a": Page([2], "b"), "b": Page([3], "a")}, [1, 2, 3], [None, "a", "b"]),  # a cycle
    ],
)
def test_follow_pages_stops_cleanly_on_a_misbehaving_server(
    answers: dict[str | None, Page[int]], items: list[int], asked: list[str | None]
) -> None:
    assert pages_of(answers) == (items, asked)


def test_follow_pages_raises_at_the_cap() -> None:
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> Page[int]:
        asked.append(cursor)
        n = len(asked)
        return Page([n], str(n))

    with pytest.raises(ProviderUnavailable, match="still had more after 5 pages of op") as info:
        list(follow_pages(fetch, provider="p", operation="op", max_pages=5))
    assert len(asked) == 5 and not info.value.retryable and info.value.failover_eligible
