"""Posting events to a callback URL from a background thread (the emulators' event push).

Internal: the emulators queue each event as they record a send and a worker posts them in
order, so a send's answer never waits on the receiver. :meth:`EventPusher.flush` blocks until
every queued event has been posted (tests call it instead of sleeping). An answer other than
2xx is kept in ``failures`` (and not retried: the tests assert on the first delivery).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping

import httpx

__all__ = ["EventPusher"]


class EventPusher:
    """Posts ``(body, headers)`` items to ``url`` one at a time, in order."""

    def __init__(self, url: str, *, sign: Callable[[bytes], Mapping[str, str]] | None = None) -> None:
        self.url = url
        self.sign = sign
        self.answers: list[int] = []
        self.failures: list[tuple[int | str, bytes]] = []
        self.sent: list[bytes] = []
        self._queue: queue.Queue[tuple[bytes, dict[str, str]] | None] = queue.Queue()
        self._client = httpx.Client(timeout=10.0)
        self._thread = threading.Thread(target=self._run, name="event-push", daemon=True)
        self._thread.start()

    def push(self, body: bytes, content_type: str = "application/json") -> None:
        self._queue.put((body, {"Content-Type": content_type}))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                body, headers = item
                if self.sign is not None:
                    headers.update(self.sign(body))
                try:
                    status: int | str = self._client.post(self.url, content=body, headers=headers).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                self.sent.append(body)
                if isinstance(status, int):
                    self.answers.append(status)
                if not (isinstance(status, int) and 200 <= status < 300):
                    self.failures.append((status, body))
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Block until every queued event has been posted."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._client.close()
