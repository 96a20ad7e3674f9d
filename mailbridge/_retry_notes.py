"""One concise record per scheduled retry of mailbridge's, instead of stamina's bare ``stamina.retry_scheduled``.

stamina's on-retry hooks are process-wide: its default hook logs ``stamina.retry_scheduled`` (or
prints it through structlog), which an application that never configured logging sees bare on
stderr for every retry mailbridge schedules. Here, with stamina's public instrumentation API:

* while mailbridge iterates a call's retries, :data:`RETRYING` (a ``ContextVar``) holds that call
  (:class:`mailbridge._retrying.Retries` sets it around each step of stamina's iterator, which is
  where stamina runs its hooks), so a hook can tell mailbridge's retries from the application's;
* :func:`ensure_hooks` (run when a call is first retried, and again whenever the application has
  replaced stamina's hooks since) wraps stamina's own *logging* and *structlog* hooks so that they
  stay silent for mailbridge's retries, and adds :func:`note_retry`, which logs ``retrying in 2.0 s:
  provider unavailable (aliyun, attempt 2 of 3)`` at WARNING on the ``mailbridge`` logger for
  mailbridge's retries only (with ``extra={"mailbridge_retry": RetryNote}`` for structured handlers).

Every other hook (the Prometheus counter, an application's own) still sees every retry, mailbridge's
included; every retry of the application's own is logged by stamina exactly as before. Chosen over
a filter on the ``stamina`` logger: that one would not reach stamina's structlog hook, which
prints through structlog, not the logging module.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from typing import TYPE_CHECKING, Any

from attrs import frozen

from . import _exceptions as e

if TYPE_CHECKING:
    from stamina.instrumentation import RetryDetails

    from ._retrying import CallAttempts

__all__ = ["RETRYING", "RetryNote", "ensure_hooks", "note_retry", "reason", "retry_line"]

log = logging.getLogger("mailbridge")

#: The call whose retries mailbridge is iterating in this thread or task (None outside them).
RETRYING: contextvars.ContextVar[CallAttempts | None] = contextvars.ContextVar("mailbridge_retrying", default=None)

_PHRASES: list[tuple[type[BaseException], str]] = [
    (e.RateLimited, "rate limited by the provider"),
    (e.QuotaExceeded, "the provider's quota is used up"),
    (e.ResourceBusy, "the resource is busy"),
    (e.ProviderUnavailable, "provider unavailable"),
]

#: stamina's own hooks that write a line per retry (the default one, or the structlog one).
_STAMINA_LOGGING = frozenset({"stamina.instrumentation._logging", "stamina.instrumentation._structlog"})


def reason(exc: BaseException) -> str:
    """A few neutral words for why a call is retried (never the provider's or a library's text)."""
    for cls, phrase in _PHRASES:
        if isinstance(exc, cls):
            return phrase
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(exc).__name__).lower()
    return words or "an error"


@frozen
class RetryNote:
    """One scheduled retry of a mailbridge call, as the ``mailbridge_retry`` attribute of its log record."""

    wait_for: float  # seconds until the next attempt
    attempt: int  # the number of the next attempt (2 for the first retry)
    attempts: int | None  # the policy's attempts, if it has a limit
    reason: str  # neutral words (see reason())
    provider: str | None
    error: BaseException


def retry_line(note: RetryNote) -> str:
    """``retrying in 2.0 s: provider unavailable (aliyun, attempt 2 of 3)``."""
    where = f"{note.provider}, " if note.provider else ""
    of = f" of {note.attempts}" if note.attempts else ""
    return f"retrying in {note.wait_for:.1f} s: {note.reason} ({where}attempt {note.attempt}{of})"


def note_retry(details: RetryDetails) -> None:
    """stamina hook: one WARNING record on the ``mailbridge`` logger per retry of mailbridge's (others: nothing)."""
    call = RETRYING.get()
    if call is None:
        return
    exc = details.caused_by
    note = RetryNote(
        wait_for=details.wait_for,
        attempt=details.retry_num + 1,
        attempts=call.attempts,
        reason=reason(exc),
        provider=getattr(exc, "provider", None) or call.provider,
        error=exc,
    )
    log.warning("%s", retry_line(note), extra={"mailbridge_retry": note})


class _SilentForMailbridge:
    """One of stamina's logging hooks, skipped for mailbridge's retries (which :func:`note_retry` logs)."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook

    def __call__(self, details: RetryDetails) -> Any:
        if RETRYING.get() is None:
            return self.hook(details)
        return None

    def __repr__(self) -> str:
        return f"<{self.hook!r}, silent for mailbridge's retries>"


class _Installed:
    lock = threading.Lock()
    hooks: tuple[Any, ...] | None = None  # stamina's hooks as ensure_hooks() last left them


def ensure_hooks() -> None:
    """Make stamina's hooks mailbridge-aware (once, and again after the application replaced them)."""
    from stamina.instrumentation import get_on_retry_hooks, set_on_retry_hooks

    if get_on_retry_hooks() is _Installed.hooks:
        return
    with _Installed.lock:
        hooks = get_on_retry_hooks()
        if hooks is _Installed.hooks:
            return
        kept = [
            _SilentForMailbridge(h) if getattr(h, "__module__", None) in _STAMINA_LOGGING else h
            for h in hooks
            if h is not note_retry
        ]
        set_on_retry_hooks([*kept, note_retry])
        _Installed.hooks = get_on_retry_hooks()
