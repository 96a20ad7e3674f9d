"""An upload's provider call on a worker thread while the caller reads and checks the next batch.

:meth:`mailbridge.Client.upload` uses it for a backend whose calls do not depend on each other's
results (no group size limit to fill, no asynchronous import to wait for): the local backend's
SQLite write releases the GIL, so the write of batch N runs on the second core while batch N+1
is validated. At most one call is in flight and one batch is being built, so memory stays
bounded by two batches.

Accounting stays on the caller's thread: the worker only makes the call and hands back its
:class:`BatchResult` or its error; :meth:`UploadWriter.send`, :meth:`~UploadWriter.settle` and
:meth:`~UploadWriter.close` account each result (tallies, progress callback) in call order on
the thread that called them. Hand-written on ``concurrent.futures`` because the accounting of
a stopped upload (which rows were uploaded, which were read but not sent) is the point.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from ._models import BatchResult, Group, Recipient

__all__ = ["Rows", "UploadWriter"]

#: A batch as the upload loop builds it: each recipient with its input row number.
Rows = list[tuple[Recipient, int]]


class UploadWriter:
    """Keeps one upload call in flight on a worker thread.

    ``call(group, recipients)`` makes one provider call (retries included) on the worker;
    ``account(rows, result, notify)`` merges a successful call into the caller's tally (and, if
    ``notify``, calls the progress callback), always on the caller's thread.
    """

    def __init__(
        self,
        call: Callable[[Group, Sequence[Recipient]], BatchResult],
        account: Callable[[Rows, BatchResult, bool], None],
    ) -> None:
        self._call = call
        self._account = account
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: tuple[Rows, Future[BatchResult]] | None = None
        self._failed: Rows = []

    def send(self, group: Group, rows: Rows) -> None:
        """Account the call in flight (raising its error), then start the call for ``rows``."""
        self.settle()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailbridge-upload")
        self._inflight = (rows, self._pool.submit(self._call, group, [r for r, _ in rows]))

    def settle(self) -> None:
        """Wait for the call in flight and account it. If it failed, its error is raised here and
        its rows are among :meth:`close`'s unsent ones; if the wait itself is interrupted
        (Ctrl-C), the call stays in flight for :meth:`close`."""
        if self._inflight is None:
            return
        rows, future = self._inflight
        try:
            result = future.result()
        except BaseException:
            if future.done() and future.exception() is not None:  # the call failed, not the wait
                self._inflight = None
                self._failed = rows
            raise
        self._inflight = None
        self._account(rows, result, True)

    def close(self, building: Rows) -> Rows:
        """Stop after an error or an interrupt: wait for the call in flight (accounted, without a
        progress call, if it succeeded), join the worker, and return every row read but not
        uploaded: a failed call's and ``building`` (the batch being built, if not sent already)."""
        sent: list[Rows] = [self._failed]
        try:
            if self._inflight is not None:
                rows, future = self._inflight
                sent.append(rows)
                while True:
                    try:
                        concurrent.futures.wait([future])
                        break
                    except KeyboardInterrupt:  # pragma: no cover - a second Ctrl-C during a write of milliseconds
                        continue  # its outcome decides the report: it is known only once the call returns
                self._inflight = None
                if future.exception() is None:
                    self._account(rows, future.result(), False)
                else:
                    self._failed = rows
            unsent = list(self._failed)
            if not any(building is batch for batch in sent):  # (an interrupt right after send(): it is in flight)
                unsent += building
            return unsent
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        """Join the worker (a call still in flight is waited for)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
