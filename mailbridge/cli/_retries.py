"""One concise stderr line per scheduled retry, none under ``--quiet``.

The core logs each retry of mailbridge's as one WARNING record on the ``mailbridge`` logger
(``retrying in 2.0 s: provider unavailable (tencent, attempt 2 of 3)``, :mod:`mailbridge._retry_notes`;
stamina's own ``stamina.retry_scheduled`` lines stay silent for them). For the length of one
command the CLI takes those records off the logger (:func:`printed`): it writes each one's line
through ``echo`` (``click.echo`` to stderr), or nothing with ``--quiet``, and no logging handler
(nor Python's last-resort one) prints it a second time. Other records pass as before.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

__all__ = ["printed"]


class _RetryLines(logging.Filter):
    """A filter on the ``mailbridge`` logger: retry records go to ``echo`` (or nowhere), not to handlers."""

    def __init__(self, echo: Callable[[str], None] | None) -> None:
        super().__init__()
        self.echo = echo

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "mailbridge_retry", None) is None:
            return True
        if self.echo is not None:
            self.echo(record.getMessage())
        return False


@contextlib.contextmanager
def printed(echo: Callable[[str], None] | None) -> Iterator[None]:
    """Inside the block, write each of mailbridge's retry lines through ``echo`` (none at all if None)."""
    logger = logging.getLogger("mailbridge")
    lines = _RetryLines(echo)
    logger.addFilter(lines)
    try:
        yield
    finally:
        logger.removeFilter(lines)
