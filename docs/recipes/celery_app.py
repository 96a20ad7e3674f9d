"""Sending through mailbridge from many Celery workers (the recipe in ``docs/recipes/celery.md``).

Every worker process shares, through one Redis:

* the provider's rate budget (:class:`mailbridge.RateLimiter` on Redis: evenly paced slots on
  Redis's clock, so all workers together stay under the declared rate);
* idempotency keys (``idempotency=redis://...``): a task redelivered after its worker died sends
  at most once; if the first attempt may have reached the provider it is reported "maybe-sent"
  (:class:`mailbridge.OutcomeUnknown`) and never sent again.

Tasks are acknowledged late and rejected when their worker is lost, so a worker killed mid-task
(even with SIGKILL) has its task redelivered to another worker once the broker's
``visibility_timeout`` has passed.

Configuration (environment variables, read at import by the workers and by the producer):
``MAILBRIDGE_URL`` (the provider URL, as for :func:`mailbridge.connect`),
``CELERY_BROKER_URL`` (default ``redis://127.0.0.1:6379/0``), ``CELERY_RESULT_BACKEND``
(default: the broker), ``MAILBRIDGE_STATE`` (the Redis for rate limits and idempotency keys,
default: the broker), ``CELERY_VISIBILITY_TIMEOUT`` (seconds, default 300; it must be longer
than any task runs), ``MAILBRIDGE_RATE_MARGIN`` (read by :class:`mailbridge.RateLimiter`: seconds of network and
scheduling jitter the pacing absorbs per provider window, default 0.04; see ``celery.md``). Run a worker with::

    celery -A celery_app worker --pool threads --concurrency 4
"""

from __future__ import annotations

import os
import threading
from typing import Any

from celery import Celery, Task
from celery.signals import worker_ready

import mailbridge

BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
VISIBILITY_TIMEOUT = float(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300"))

app = Celery("mailbridge_recipe", broker=BROKER, backend=os.environ.get("CELERY_RESULT_BACKEND", BROKER))
app.conf.update(
    task_acks_late=True,  # acknowledge after the task ran: a lost worker's task goes back to the queue
    task_reject_on_worker_lost=True,  # and a child process killed mid-task requeues it too
    worker_prefetch_multiplier=1,  # hold no more unacknowledged tasks than can run at once
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=86400,
    broker_connection_retry_on_startup=True,
    broker_transport_options={
        "visibility_timeout": VISIBILITY_TIMEOUT,  # an unacknowledged task is redelivered after this
        "unacked_restore_interval": max(1, int(VISIBILITY_TIMEOUT / 5)),  # look for them this often
        "unacked_restore_throttle": 1,
    },
)

_lock = threading.Lock()
_clients: dict[str, mailbridge.Client] = {}


def client() -> mailbridge.Client:
    """This process's client (built once, shared by the worker's threads)."""
    with _lock:
        if "mail" not in _clients:
            state = os.environ.get("MAILBRIDGE_STATE", BROKER)
            _clients["mail"] = mailbridge.connect(
                os.environ.get("MAILBRIDGE_URL"),
                rate_limiter=mailbridge.RateLimiter(state),  # margin: MAILBRIDGE_RATE_MARGIN, else 0.04 s
                idempotency=state,
            )
        return _clients["mail"]


@worker_ready.connect
def _warm_up(**_: Any) -> None:
    """Build the client (imports, the backend's SDK) before the first task: no paced slot then
    waits on a thread busy importing, which would make its call arrive late."""
    client()


@app.task(bind=True, name="mailbridge_recipe.send_mail", max_retries=5)
def send_mail(self: Task, key: str, message: dict[str, Any]) -> dict[str, Any]:
    """Send ``message`` (the keyword arguments of :class:`mailbridge.Message`) at most once under ``key``.

    Returns ``{"key", "status": "sent" | "maybe-sent" | "failed", ...}``: "maybe-sent" when an
    earlier attempt may have reached the provider (never sent again; check the provider's
    delivery records), "failed" when it certainly was not sent and retrying will not help.
    """
    outcome: dict[str, Any] = {
        "key": key,
        "worker": self.request.hostname,
        "redelivered": bool((self.request.delivery_info or {}).get("redelivered")),
    }
    try:
        result = client().send(mailbridge.Message(**message, idempotency_key=key))
    except mailbridge.OutcomeUnknown as exc:
        return {**outcome, "status": "maybe-sent", "error": str(exc)}
    except mailbridge.MailbridgeError as exc:
        if exc.retryable and not exc.maybe_sent:  # certainly not sent, and the key was given back
            retry_after = getattr(exc, "retry_after", None)
            raise self.retry(exc=exc, countdown=float(retry_after or 2.0)) from exc
        return {**outcome, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    return {**outcome, "status": "sent", "message_ids": list(result.message_ids)}
