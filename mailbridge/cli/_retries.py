"""One concise stderr line per scheduled retry, through stamina's public instrumentation hooks.

stamina's default hook logs ``stamina.retry_scheduled`` on the ``stamina`` logger, which
Python's last-resort handler prints bare on stderr. For the length of one command the CLI
replaces stamina's hooks with :func:`retry_hook` (or with none under ``--quiet``) and puts the
previous ones back afterwards (:func:`installed`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

from stamina.instrumentation import RetryDetails, RetryHook, get_on_retry_hooks, set_on_retry_hooks

from .. import _exceptions as e

__all__ = ["installed", "reason", "retry_hook"]

_PHRASES: list[tuple[type[BaseException], str]] = [
    (e.RateLimited, "rate limited by the provider"),
    (e.QuotaExceeded, "the provider's quota is used up"),
    (e.ResourceBusy, "the resource is busy"),
    (e.ProviderUnavailable, "provider unavailable"),
]


def reason(exc: BaseException) -> str:
    """A few neutral words for why a call is retried (never the provider's or a library's text)."""
    for cls, phrase in _PHRASES:
        if isinstance(exc, cls):
            return phrase
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(exc).__name__).lower()
    return words or "an error"


def retry_hook(echo: Callable[[str], None], attempts: Callable[[], int | None]) -> RetryHook:
    """A hook writing ``retrying in 2.0 s: provider unavailable (tencent, attempt 2 of 3)`` through ``echo``."""

    def hook(details: RetryDetails) -> None:
        exc = details.caused_by
        provider = getattr(exc, "provider", None)
        total = attempts()
        where = f"{provider}, " if provider else ""
        of = f" of {total}" if total else ""
        echo(f"retrying in {details.wait_for:.1f} s: {reason(exc)} ({where}attempt {details.retry_num + 1}{of})")

    return hook


@contextlib.contextmanager
def installed(hook: RetryHook | None) -> Iterator[None]:
    """Use only ``hook`` (none at all if None) for stamina's retries inside the block."""
    previous = get_on_retry_hooks()
    set_on_retry_hooks([hook] if hook is not None else [])
    try:
        yield
    finally:
        set_on_retry_hooks(previous)
