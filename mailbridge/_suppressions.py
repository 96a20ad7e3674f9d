"""``Client.suppressions()``, ``suppress()`` and ``unsuppress()``: one suppression list on every backend.

Each backend reads and edits its cloud's lists (Direct Mail's invalid-address library and user
suppressions, Tencent's shared hard-bounce blacklist and custom blacklist, the local store);
the core validates and de-duplicates the addresses before any call, chunks them by
``limits.suppression_batch_size`` and retries within the declared rates (adding or removing
twice is harmless, so every call is safe to repeat).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from ._exceptions import InvalidAddress
from ._limits import Feature, Limits, Operation
from ._models import Page, Suppression, SuppressionReason
from ._validation import address_error

if TYPE_CHECKING:
    from ._backend import Backend

__all__ = ["SuppressionsMixin"]

T = TypeVar("T")


class SuppressionsMixin:
    """The suppression operations of :class:`Client` (needs its ``backend``, ``_call`` and ``_pages``)."""

    backend: Backend

    if TYPE_CHECKING:

        @property
        def provider(self) -> str: ...

        @property
        def limits(self) -> Limits: ...

        def _require(self, feature: Feature) -> None: ...

        def _call(self, operation: Operation, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

        def _pages(self, operation: Operation, fetch: Callable[[str | None], Page[T]]) -> Iterator[T]: ...

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppressed address (address, reason, since, scope ``account``/``shared``), following pages."""
        self._require(Feature.SUPPRESSIONS)

        def fetch(cursor: str | None) -> Page[Suppression]:
            return self.backend.list_suppressions(cursor=cursor, page_size=self.limits.list_page_size)

        return self._pages(Operation.SUPPRESSIONS, fetch)

    def suppressed_keys(self) -> set[str]:
        """The casefolded addresses of :meth:`suppressions` (for checking many addresses at once)."""
        return {s.key for s in self.suppressions()}

    def _addresses(self, addresses: Iterable[str] | str) -> list[str]:
        items = [addresses] if isinstance(addresses, str) else list(addresses)
        unique: dict[str, str] = {}
        for raw in items:
            address = str(raw).strip()
            reason = address_error(address)
            if reason is not None:
                raise InvalidAddress(f"{address!r}: {reason}", provider=self.provider)
            unique.setdefault(address.casefold(), address)
        return list(unique.values())

    def _each_chunk(self, fn: Callable[..., None], addresses: list[str], *extra: Any) -> list[str]:
        for chunk in self._chunks(addresses):
            self._call(Operation.SUPPRESSIONS, fn, chunk, *extra)
        return addresses

    def _chunks(self, addresses: list[str]) -> list[list[str]]:
        """The addresses in calls of at most ``limits.suppression_batch_size``."""
        size = max(1, self.limits.suppression_batch_size)
        return [addresses[start : start + size] for start in range(0, len(addresses), size)]

    def suppress(
        self, addresses: Iterable[str] | str, *, reason: SuppressionReason | str = SuppressionReason.MANUAL
    ) -> list[str]:
        """Add addresses to the account's suppression list; returns them (unique, in order).

        Every address is checked before any call (:class:`InvalidAddress`). ``reason`` is kept
        where the provider's list has one (local); the clouds' account lists record none."""
        self._require(Feature.SUPPRESSIONS)
        why = SuppressionReason(reason)
        return self._each_chunk(self.backend.add_suppressions, self._addresses(addresses), why)

    def unsuppress(self, addresses: Iterable[str] | str) -> list[str]:
        """Take addresses off every list the account may edit (shared lists too, where the cloud
        lets an account remove its false positives); absent addresses are no error."""
        self._require(Feature.SUPPRESSIONS)
        return self._each_chunk(self.backend.remove_suppressions, self._addresses(addresses))
