"""One error-table mechanism for every backend: provider code -> neutral error, with flags.

A backend's ``_errors.py`` holds only its table: an :class:`ErrorTable` of
:class:`ErrorRule` rows (exact codes, prefix families, the parent of a dotted code, the
HTTP status when the body has no code). Every row states, beside the neutral class:

* ``retryable`` / ``failover_eligible``: ``None`` keeps the class default;
* ``refused``: the provider certainly did not apply the request when it answered this
  code. ``False`` for codes such as ``InternalError`` that can come mid-operation; the
  core's outcome rule (:mod:`._outcome`) then makes a send or create ``OutcomeUnknown``;
* ``retry_after``: a fixed wait the code implies when the answer gives none.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from attrs import field, frozen

from ._exceptions import MailbridgeError, ProviderUnavailable, RateLimited

__all__ = ["ErrorRule", "ErrorTable"]


@frozen
class ErrorRule:
    """How one provider code becomes a neutral error."""

    cls: type[MailbridgeError]
    retryable: bool | None = None
    failover_eligible: bool | None = None
    refused: bool = True
    retry_after: float | None = None
    source: str = ""

    def flags(self) -> tuple[bool, bool]:
        """The effective ``(retryable, failover_eligible)``."""
        return (
            self.cls.retryable if self.retryable is None else self.retryable,
            self.cls.failover_eligible if self.failover_eligible is None else self.failover_eligible,
        )

    def build(self, message: str, *, retry_after: float | None = None, **details: Any) -> MailbridgeError:
        """The neutral error for this rule (``details``: provider, provider_code, http_status ...)."""
        retryable, failover = self.flags()
        kwargs: dict[str, Any] = {**details, "retryable": retryable, "failover_eligible": failover}
        if issubclass(self.cls, RateLimited):
            return self.cls(message, retry_after=retry_after or self.retry_after, **kwargs)
        return self.cls(message, **kwargs)


#: A code in no table, from a newer server: not retried, not failed over; the provider
#: answered an error, so it did not apply the request.
UNKNOWN_CODE = ErrorRule(ProviderUnavailable, retryable=False, failover_eligible=False, source="not in the table")


@frozen
class ErrorTable:
    """A provider's codes. Lookup order: exact code, prefix family, parent code (``A.B`` ->
    ``A``, when ``parent_fallback``), then the HTTP status, then ``unknown``."""

    codes: Mapping[str, ErrorRule]
    prefixes: Mapping[str, ErrorRule] = field(factory=dict)
    parent_fallback: bool = False
    status: Mapping[int, ErrorRule] = field(factory=dict)
    unknown: ErrorRule = UNKNOWN_CODE
    server_error: ErrorRule = ErrorRule(ProviderUnavailable, refused=False, source="5xx, unknown code")
    client_error: ErrorRule | None = None

    def rule_for(self, code: str | None, http_status: int | None = None) -> ErrorRule:
        """The rule for a code (``None``: the body had none) answered with ``http_status``."""
        if code:
            if code in self.codes:
                return self.codes[code]
            for prefix, rule in self.prefixes.items():
                if code.startswith(prefix):
                    return rule
            if self.parent_fallback and "." in code:
                parent = code.split(".", 1)[0]
                if parent in self.codes:
                    return self.codes[parent]
        if http_status is not None:
            if http_status in self.status:
                return self.status[http_status]
            if http_status >= 500:
                return self.server_error
            if self.client_error is not None and 400 <= http_status < 500:
                return self.client_error
        return self.unknown

    def rows(self) -> Iterator[tuple[str, ErrorRule]]:
        """Every row with a printable key (codes, ``prefix*``, ``HTTP nnn``)."""
        yield from self.codes.items()
        for prefix, rule in self.prefixes.items():
            yield f"{prefix}*", rule
        for status, rule in self.status.items():
            yield f"HTTP {status}", rule
        yield "<unknown code>", self.unknown
        yield "<5xx, unknown code>", self.server_error
        if self.client_error is not None:
            yield "<4xx, unknown code>", self.client_error
