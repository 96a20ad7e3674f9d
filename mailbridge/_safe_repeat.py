"""The client's rules for repeating a create or a delete, written once for the sync and the async client.

* :func:`safe_create`: a create that is safe to repeat (after :class:`OutcomeUnknown`, look the object
  up by name before creating again), as a :mod:`mailbridge._flow` flow yielding :data:`CREATE`,
  :data:`FIND` and :class:`Pause` (``Client._create`` drives it blocking, ``AsyncClient._create`` awaited).
* :func:`get_or_create`: the object by name, created if there is none (also when it appears meanwhile).
* :class:`Deletion`: a retried delete whose earlier attempt may have done the work.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final, TypeVar

from attrs import frozen

from ._exceptions import AlreadyExists, MailbridgeError, NotFound, OutcomeUnknown
from ._flow import Flow

if TYPE_CHECKING:
    from ._client import RetryPolicy

__all__ = ["CREATE", "FIND", "GET", "Deletion", "Pause", "get_or_create", "safe_create"]

T = TypeVar("T")
log = logging.getLogger("mailbridge")

CREATE: Final = "create"  #: effect: one create call (rate-limited and retried as any call); its object
FIND: Final = "find"  #: effect: look the object up by name; it or None
GET: Final = "get"  #: effect (:func:`get_or_create`): the object by name, or its NotFound error


@frozen
class Pause:
    """Effect: wait ``seconds`` (a request still in flight may land meanwhile)."""

    seconds: float


def safe_create(operation: object, retry: RetryPolicy) -> Flow[Any]:
    """A create safe to repeat: after an unknown outcome, look the object up by its name and return
    it if it exists; only if it does not, create again (up to the policy's attempts). The last
    :class:`OutcomeUnknown` is raised when that cannot settle it."""
    try:
        return (yield CREATE)
    except OutcomeUnknown as exc:
        unknown = exc
    wait = retry.wait_initial
    for _ in range(max(0, retry.attempts - 1)):
        yield Pause(wait)  # let a request still in flight land before looking
        wait = min(wait * 2, retry.wait_max)
        try:
            found = yield FIND
        except MailbridgeError:
            raise unknown from None  # the look-up failed too: still unknown
        if found is not None:
            log.info("%s: the create whose outcome was unknown had happened; returning it", operation)
            return found
        try:
            return (yield CREATE)
        except OutcomeUnknown as exc:
            unknown = exc
        except AlreadyExists as taken:  # it landed meanwhile: the name is unique, so it is ours
            if (found := (yield FIND)) is not None:
                return found
            raise taken
    raise unknown


def get_or_create() -> Flow[Any]:
    """The object by name (:data:`GET`), else :data:`CREATE`d; taken meanwhile by someone else
    (AlreadyExists: the name is unique), the one that is there now."""
    try:
        return (yield GET)
    except NotFound:
        pass
    try:
        return (yield CREATE)
    except AlreadyExists:
        return (yield GET)


class Deletion:
    """One delete, retried like any idempotent call: when an attempt failed without an answer and a
    retry then finds the object gone, the failed attempt did it, and that is a success."""

    def __init__(self, operation: object) -> None:
        self.operation = operation
        self.failed_before = False

    def failed(self, exc: MailbridgeError) -> None:
        """Called with an attempt's error: returns when it means "deleted", else raises it."""
        if isinstance(exc, NotFound) and self.failed_before:
            log.info("%s: gone on retry; the earlier attempt deleted it", self.operation)
            return
        self.failed_before = self.failed_before or exc.retryable
        raise exc
