"""One scrubber for every secret the process knows of.

Every :class:`~mailbridge.Secret` registers its value here, and so does URL parsing for
secret-looking parameters and passwords inside nested URLs (``?endpoint=http://u:PW@host``,
the members of a ``failover://`` URL). :func:`scrub_text` replaces each known secret (also
in its percent-encoded forms) with ``***``; :class:`MailbridgeError` messages and every
``mailbridge.*`` log record pass through it, so exception text from a dependency that
echoes a credential never reaches an error or a log line.

Structured data (a decoded provider response kept on an error) is masked by field name:
every :class:`~mailbridge.Backend` declares the names of its secret fields
(``secret_fields``), registered here when the class is defined (:func:`register_secret_fields`),
so a third-party backend's fields are masked like the built-in ones'.

Hand-written because it is ~50 lines and must know *our* secrets; no library does that.
Values shorter than :data:`MIN_LENGTH` are not registered (masking every ``"a"`` would
garble all output; no provider issues secrets that short).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = [
    "MIN_LENGTH",
    "ScrubFilter",
    "install_log_filter",
    "is_secret_field",
    "register_secret",
    "register_secret_fields",
    "scrub_text",
    "secret_fields",
]

MIN_LENGTH = 4


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: set[str] = set()
        self.pattern: re.Pattern[str] | None = None


_REGISTRY = _Registry()
_FIELDS: set[str] = set()  # casefolded field names whose values are secret (every loaded backend's)
_FIELDS_LOCK = threading.Lock()


def register_secret_fields(names: Iterable[str]) -> None:
    """Treat these field names (query parameters, headers, JSON keys; any case) as secret everywhere."""
    with _FIELDS_LOCK:
        _FIELDS.update(str(n).casefold() for n in names)


def secret_fields() -> frozenset[str]:
    """Every registered secret field name, casefolded."""
    with _FIELDS_LOCK:
        return frozenset(_FIELDS)


def is_secret_field(name: object) -> bool:
    """Whether a key names a secret field of some loaded backend."""
    return str(name).casefold() in _FIELDS


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and its percent-encoded forms) as a secret to mask everywhere."""
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        return
    forms = {value, quote(value, safe=""), quote_plus(value, safe=""), quote(value, safe=":/@")}
    with _REGISTRY.lock:
        if forms <= _REGISTRY.secrets:
            return
        _REGISTRY.secrets.update(forms)
        # Longest first so that a secret containing another is masked whole.
        ordered = sorted(_REGISTRY.secrets, key=len, reverse=True)
        _REGISTRY.pattern = re.compile("|".join(re.escape(s) for s in ordered))


def scrub_text(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _REGISTRY.pattern
    if pattern is None or not text:
        return text
    return pattern.sub("***", text)


class ScrubFilter(logging.Filter):
    """A logging filter that renders a record and masks every registered secret in it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _REGISTRY.pattern is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        scrubbed = scrub_text(message)
        if scrubbed != message or record.args:
            record.msg, record.args = scrubbed, None
        return True


_FILTER = ScrubFilter()


# Dependencies that log requests at DEBUG (the Tencent SDK logs whole requests, Host included).
_DEPENDENCY_LOGGERS = ("tencentcloud_sdk_common", "urllib3", "httpx", "httpcore", "stamina", "redis")


def install_log_filter() -> None:
    """Attach the scrubber to ``mailbridge``, every ``mailbridge.*`` logger, and the dependencies' loggers."""
    ours = [n for n in logging.root.manager.loggerDict if n.startswith("mailbridge.")]
    names = ["mailbridge", *ours, *_DEPENDENCY_LOGGERS]
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
