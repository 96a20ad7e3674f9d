"""Driving a sans-IO plan: a generator that yields what it needs asked and is sent each answer.

Code that must run both blocking and awaited (a backend's request plans, the template resolver's
look-ups) is written once as such a generator; each side drives it with the same few lines::

    steps = Steps(plan)
    for request in steps:
        steps.answer = perform(request)  # or: await perform(request)
    return steps.result

A failed request raises out of the driver's loop; the plan is then dropped (plans hold no resources).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["Steps"]

Q = TypeVar("Q")
T = TypeVar("T")


class Steps(Generic[Q, T]):
    """Drives one plan: iterate it for its requests, set :attr:`answer` to each one's answer, then read
    :attr:`result`."""

    def __init__(self, plan: Generator[Q, Any, T]) -> None:
        self._plan = plan
        self.answer: Any = None
        self._result: tuple[T] | None = None

    def __iter__(self) -> Iterator[Q]:
        try:
            request = next(self._plan)
            while True:
                yield request
                request = self._plan.send(self.answer)
        except StopIteration as done:
            self._result = (done.value,)

    @property
    def result(self) -> T:
        """What the plan returned (once it has run to its end)."""
        if self._result is None:
            raise RuntimeError("the plan has not finished")  # pragma: no cover - a driver bug
        return self._result[0]
