"""Typed reads of a decoded provider response: the parser seam of every cloud backend.

A backend wraps the decoded JSON body in a :class:`ResponseReader` and asks for each field
with the type it must have (``reader.count("TotalCount")``, ``reader.records("Data")``). A
missing or ``null`` field is ``None`` (or the default) unless it is ``required``; a field
of the wrong type, a number out of range or a time that is not a time raises one neutral
error, :class:`ProviderUnavailable`, naming the field's path and carrying the scrubbed raw
body. Nothing else escapes a parser (no ``TypeError``, ``ValueError``, ``OverflowError``).

Why :class:`ProviderUnavailable`: these readers parse the answers of reads (and of uploads,
which providers de-duplicate by address, so repeating one is harmless). An answer that is
not the documented shape says the provider (or something in between) is misbehaving: the
same call may well succeed later (``retryable``), and another provider is healthier
(``failover_eligible``). A *send* whose success body cannot be read is a different case,
"maybe sent" (:class:`OutcomeUnknown`), decided by each backend's transport, not here.

Why hand-written and not ``cattrs``/``pydantic``: the rules are the providers' quirks, not a
schema language (Direct Mail sends numbers as digit strings or numbers, wraps a one-record
list in an object, writes times three ways), the error must be a mailbridge error naming the
path and keeping the raw body, and the whole helper is one small module. ``cattrs`` (76 ms to
import) or ``pydantic`` (88 ms, plus a compiled core) would each need one model class per
response shape (some 40) and a translation of their exception groups at every call.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from ._exceptions import ProviderUnavailable, scrub

__all__ = ["CHINA_TIME", "ResponseReader"]

#: China Standard Time (UTC+8, no daylight saving): the clock both Chinese clouds' local times are in.
CHINA_TIME = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

#: Integers a provider may send (ids, counts, timestamps): the JSON int64 range.
INT_RANGE = 2**63
_MISSING: Any = object()
# Seconds since the epoch a datetime can hold (years 1970..9999); larger ones are milliseconds or garbage.
_MAX_EPOCH = 253_402_300_799
_MILLIS = 10**11  # above this (year 5138) a timestamp is read as milliseconds


#: How deep the raw body an error carries may nest (scrubbing and printing it recurse).
_RAW_DEPTH = 64


def _trim(value: Any, depth: int) -> Any:
    """``value`` with whatever nests deeper than ``depth`` levels replaced by a marker."""
    if isinstance(value, Mapping | list | tuple):
        if depth <= 0:
            return f"<{type(value).__name__} nested too deep to keep>"
        if isinstance(value, Mapping):
            return {k: _trim(v, depth - 1) for k, v in value.items()}
        return [_trim(v, depth - 1) for v in value]
    return value


class ResponseReader:
    """One JSON object of a provider answer, read field by field with the type each must have.

    **Parameters:** ``data`` (the decoded object; anything else is reported as a wrong
    shape), ``provider`` (its name, for the error), ``action`` (the provider action, for
    the error text), ``root`` *(optional)*: the whole decoded body the error carries
    (defaults to ``data``), ``path`` *(optional)*: where ``data`` sits in ``root``.
    """

    __slots__ = ("_data", "action", "path", "provider", "root")

    def __init__(self, data: Any, *, provider: str, action: str, root: Any = _MISSING, path: str = "") -> None:
        self.provider = provider
        self.action = action
        self.root = data if root is _MISSING else root
        self.path = path
        if not isinstance(data, Mapping):
            raise self.error(path or "the body", data, "an object")
        self._data: Mapping[str, Any] = data

    def __repr__(self) -> str:
        return f"ResponseReader({self.provider} {self.action} {self.path or '<body>'})"

    def __eq__(self, other: object) -> bool:  # same data: lets a pager see a repeated page
        return isinstance(other, ResponseReader) and self._data == other._data

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ plumbing

    def error(self, where: str, value: Any, expected: str) -> ProviderUnavailable:
        """The neutral error for a field ``where`` holding ``value`` instead of ``expected``."""
        leaf = where.rsplit(".", 1)[-1]
        shown = repr(scrub({leaf: _trim(value, 4)})[leaf])
        if len(shown) > 80:
            shown = shown[:77] + "..."
        found = "missing" if value is None else f"{type(value).__name__} {shown}"
        request_id = None
        if isinstance(self.root, Mapping):  # at the top, or inside an envelope such as SES's ``Response``
            envelope = self.root.get("Response")
            request_id = self.root.get("RequestId") or (
                envelope.get("RequestId") if isinstance(envelope, Mapping) else None
            )
        return ProviderUnavailable(
            f"the answer to {self.action} has an unexpected shape: {where} is {found}, expected {expected}",
            provider=self.provider,
            request_id=request_id if isinstance(request_id, str) else None,
            raw=_trim(self.root, _RAW_DEPTH),
        )

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, required: bool) -> Any:
        value = self._data.get(key)
        if value is None and required:
            raise self.error(self._where(key), value, "a value (the field is required)")
        return value

    def expect(self, *keys: str) -> None:
        """Refuse an answer that lacks a field the action always returns (``null`` counts as present).

        A body without them is not this action's answer (an error page, a relay's or proxy's
        reply) and must not pass for an empty success.
        """
        for key in keys:
            if key not in self._data:
                raise self.error(self._where(key), None, "the field (the action always returns it)")

    def has(self, key: str) -> bool:
        """Whether the field is present and not ``null``."""
        return self._data.get(key) is not None

    def raw(self, key: str) -> Any:
        """The field as decoded, unchecked (for ``extra`` dictionaries)."""
        return self._data.get(key)

    def keys(self) -> list[str]:
        return [str(k) for k in self._data]

    # ------------------------------------------------------------------ scalars

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        """A string; numbers are accepted and written out (ids are numbers on one cloud, strings on the other)."""
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and -INT_RANGE <= value < INT_RANGE:
            return str(value)
        if isinstance(value, float) and math.isfinite(value):
            return str(int(value)) if value.is_integer() and abs(value) < INT_RANGE else repr(value)
        raise self.error(self._where(key), value, "a string")

    def text(self, key: str, *, required: bool = False) -> str:
        """A string field, ``""`` when absent."""
        return self.string(key, "", required=required) or ""

    def integer(self, key: str, default: int | None = None, *, required: bool = False) -> int | None:
        """An integer in the int64 range: a JSON integer, an integral float, or a string of digits."""
        value = self._get(key, required)
        if value is None:
            return default
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer() and abs(value) < INT_RANGE:
            number = int(value)
        elif isinstance(value, str):
            text = value.strip()
            if text == "" and not required:
                return default
            if 0 < len(text) <= 20 and text.lstrip("+-").isdigit() and text.lstrip("+-").isascii():
                number = int(text)
        if number is None or not -INT_RANGE <= number < INT_RANGE:
            raise self.error(self._where(key), value, "an integer")
        return number

    def count(self, key: str, default: int | None = None, *, required: bool = False) -> int | None:
        """A non-negative integer (counts, totals)."""
        number = self.integer(key, default, required=required)
        if number is not None and number < 0:
            raise self.error(self._where(key), number, "a count (>= 0)")
        return number

    def flag(self, key: str, default: bool | None = None, *, required: bool = False) -> bool | None:
        """A boolean (``true``/``false``, or the integers 0 and 1)."""
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self.error(self._where(key), value, "a boolean")

    def epoch(self, key: str) -> dt.datetime | None:
        """Seconds (or milliseconds) since the epoch as an aware UTC datetime; 0 and absent are ``None``."""
        seconds = self.integer(key)
        if not seconds:
            return None
        if seconds > _MILLIS:  # milliseconds
            seconds //= 1000
        if not 0 < seconds <= _MAX_EPOCH:
            raise self.error(self._where(key), self.raw(key), "a time (seconds since 1970)")
        return dt.datetime.fromtimestamp(seconds, dt.UTC)

    def local_time(self, key: str, formats: tuple[str, ...], tz: dt.tzinfo) -> dt.datetime | None:
        """A wall-clock time in ``tz`` written in one of ``formats`` (a trailing ``Z`` is ignored), as UTC.

        Absent or empty is ``None``; a string in none of the formats is ``None`` too (times are
        informational and providers vary their format), but a non-string is a wrong shape.
        """
        text = self.string(key)
        if not text:
            return None
        text = text.strip().rstrip("Z")
        for fmt in formats:
            try:
                return dt.datetime.strptime(text, fmt).replace(tzinfo=tz).astimezone(dt.UTC)
            except (ValueError, OverflowError):
                continue
        return None

    # ------------------------------------------------------------------ containers

    def object(self, key: str, *, required: bool = False) -> ResponseReader | None:
        """A nested object; ``None`` when absent."""
        value = self._get(key, required)
        if value is None:
            return None
        return ResponseReader(value, provider=self.provider, action=self.action, root=self.root, path=self._where(key))

    def records(self, key: str, *, required: bool = False, single: bool = False) -> list[ResponseReader]:
        """A list of objects (``[]`` when absent). ``single``: one bare object counts as a list of one."""
        value = self._get(key, required)
        if value is None:
            return []
        where = self._where(key)
        if single and isinstance(value, Mapping):
            value = [value]
        if not isinstance(value, list):
            raise self.error(where, value, "a list of objects")
        return [
            ResponseReader(item, provider=self.provider, action=self.action, root=self.root, path=f"{where}[{i}]")
            for i, item in enumerate(value)
        ]

    def strings(self, key: str) -> list[str]:
        """A list of strings (``[]`` when absent)."""
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(self._where(key), value, "a list of strings")
        return list(value)

    def as_dict(self) -> dict[str, Any]:
        """The object as a plain dict (unchecked values)."""
        return dict(self._data)
