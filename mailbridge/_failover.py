"""Failover over several clients, without ever sending a message twice.

Which errors move work to the next provider is decided by the neutral flags only:

* ``failover_eligible`` (unavailable, throttled past retries, quota used up, credentials
  broken): the provider is marked unhealthy for a cooldown and the next one is tried;
* ``maybe_sent`` (:class:`OutcomeUnknown`): never failed over, unless the caller opted into
  at-least-once delivery; the error is raised with every attempt listed;
* anything else (invalid address, content rejected ...): a problem of this message, raised
  at once; no provider's health is touched.

URL grammar (see README "Failover")::

    failover://?providers=URL1,URL2[,...][&strategy=priority|round-robin][&cooldown=SECONDS]
               [&probe_timeout=SECONDS][&retries=N][&at_least_once=true][&state=redis://HOST:PORT/DB]
               [&rate_limit=off]

Inner URLs containing ``,`` or ``&`` must be percent-encoded (:func:`failover_url` does it).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from ._bulk import SendManyProgress, SendOutcome, default_in_flight, send_many
from ._client import Client, RetryPolicy
from ._exceptions import AlreadyExists, ConfigurationError, MailbridgeError, ProviderUnavailable
from ._health import HealthStore, MemoryHealthStore, RedisHealthStore
from ._models import Attempt, Group, Message, Recipient, SendReceipt, SendResult, UploadReport
from ._ratelimit import RateLimiter
from ._url import ProviderURL

__all__ = ["FailoverClient", "failover_url"]

log = logging.getLogger("mailbridge.failover")
T = TypeVar("T")
STRATEGIES = ("priority", "round-robin")


def failover_url(urls: Sequence[str], **options: str | float | bool) -> str:
    """Build a ``failover://`` URL from member URLs (percent-encoding them)."""
    query = "providers=" + ",".join(quote(u, safe=":/@") for u in urls)
    for key, value in options.items():
        query += f"&{key}={str(value).lower() if isinstance(value, bool) else value}"
    return f"failover://?{query}"


class FailoverClient:
    """Sends through the first healthy client, falls back to the next, and never double-sends.

    **Parameters:** ``clients``: in priority order; ``strategy`` *(optional)*: ``"priority"``
    (with failback: the primary gets traffic again once a probe succeeds) or
    ``"round-robin"``; ``cooldown`` *(optional)*: seconds a failed provider is skipped;
    ``probe_timeout`` *(optional)*: how long one half-open probe may hold its claim;
    ``health`` *(optional)*: a :class:`HealthStore` (memory by default, Redis to share it);
    ``at_least_once`` *(optional)*: also fail over sends whose outcome is unknown (they may
    then arrive twice).
    """

    def __init__(
        self,
        clients: Sequence[Client],
        *,
        strategy: str = "priority",
        cooldown: float = 30.0,
        probe_timeout: float = 30.0,
        health: HealthStore | None = None,
        at_least_once: bool = False,
    ) -> None:
        if not clients:
            raise ConfigurationError("a failover client needs at least one provider")
        if strategy not in STRATEGIES:
            raise ConfigurationError(f"unknown failover strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
        self.clients = list(clients)
        self.strategy = strategy
        self.cooldown = cooldown
        self.probe_timeout = probe_timeout
        self.health: HealthStore = health or MemoryHealthStore()
        self.at_least_once = at_least_once
        self._keys = [c.backend.rate_limit_key for c in self.clients]  # per account, shared by workers
        self.labels = self._labels()

    @classmethod
    def from_url(cls, url: ProviderURL, connect: Callable[..., Client]) -> FailoverClient:
        """Build from a parsed ``failover://`` URL; ``connect`` builds each member."""
        raw = url.param("providers")
        if not raw:
            raise ConfigurationError("failover URL needs ?providers=URL1,URL2")
        members = [unquote(u) for u in raw.split(",") if u.strip()]
        state = url.param("state")
        retries = int(url.float_param("retries", 2))
        limiter = RateLimiter(state) if state else RateLimiter()
        if not url.bool_param("rate_limit", True):
            limiter = RateLimiter.disabled()  # emulators that do not enforce the clouds' rates
        clients = [
            connect(member, retry=RetryPolicy(attempts=max(1, retries)), rate_limiter=limiter) for member in members
        ]
        return cls(
            clients,
            strategy=url.param("strategy", "priority") or "priority",
            cooldown=url.float_param("cooldown", 30.0),
            probe_timeout=url.float_param("probe_timeout", 30.0),
            health=RedisHealthStore(state) if state else None,
            at_least_once=url.bool_param("at_least_once"),
        )

    # ------------------------------------------------------------------ basics

    def _labels(self) -> list[str]:
        seen: dict[str, int] = {}
        labels = []
        for client in self.clients:
            seen[client.provider] = seen.get(client.provider, 0) + 1
            n = seen[client.provider]
            labels.append(client.provider if n == 1 else f"{client.provider}#{n}")
        return labels

    @property
    def provider(self) -> str:
        return "failover(" + ",".join(self.labels) + ")"

    def __repr__(self) -> str:
        members = ", ".join(c.backend.describe() for c in self.clients)
        return f"<mailbridge.FailoverClient {self.strategy} [{members}]>"

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def __enter__(self) -> FailoverClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def healthy(self) -> dict[str, bool]:
        """Which members are currently taking traffic (not cooling down)."""
        return {label: not self.health.is_open(key) for label, key in zip(self.labels, self._keys, strict=True)}

    # ------------------------------------------------------------------ routing

    def _order(self) -> list[int]:
        indexes = list(range(len(self.clients)))
        if self.strategy == "round-robin":
            start = self.health.next_index("|".join(self._keys), len(indexes))
            indexes = indexes[start:] + indexes[:start]
        return indexes

    def _route(self, attempts: list[Attempt]) -> Iterator[int]:
        """Members to try, in order: healthy ones, and a cooled-down one if this caller wins its probe."""
        tried = False
        skipped: list[int] = []
        for index in self._order():
            key = self._keys[index]
            if self.health.is_open(key):
                skipped.append(index)
                attempts.append(Attempt(self.labels[index], "skipped", detail="cooling down after a failure"))
                continue
            if self.health.was_failed(key) and not self.health.claim_probe(key, self.probe_timeout):
                skipped.append(index)
                attempts.append(Attempt(self.labels[index], "skipped", detail="another worker is probing it"))
                continue
            tried = True
            yield index
        if not tried:  # every member is cooling down: try them anyway rather than refuse the message
            log.warning("failover: every provider is cooling down; trying them in order anyway")
            yield from skipped

    def _run(self, what: str, call: Callable[[Client], T]) -> tuple[T, list[Attempt]]:
        attempts: list[Attempt] = []
        last: MailbridgeError | None = None
        for index in self._route(attempts):
            client, label, key = self.clients[index], self.labels[index], self._keys[index]
            try:
                result = call(client)
            except MailbridgeError as exc:
                if exc.maybe_sent:
                    attempts.append(Attempt(label, "unknown", error=type(exc).__name__, detail=str(exc)))
                    self.health.mark_failed(key, self.cooldown)
                    if not self.at_least_once:
                        exc.attempts = tuple(attempts)
                        raise
                    log.warning(
                        "failover: %s %s outcome unknown (%s); at-least-once: trying the next provider",
                        label,
                        what,
                        type(exc).__name__,
                    )
                    last = exc
                    continue
                attempts.append(Attempt(label, "failed", error=type(exc).__name__, detail=str(exc)))
                if not exc.failover_eligible:
                    exc.attempts = tuple(attempts)
                    raise
                self.health.mark_failed(key, self.cooldown)
                log.warning(
                    "failover: %s %s failed with %s; provider cooling down for %gs",
                    label,
                    what,
                    type(exc).__name__,
                    self.cooldown,
                )
                last = exc
                continue
            self.health.mark_healthy(key)
            attempts.append(Attempt(label, "sent"))
            return result, attempts
        error = ProviderUnavailable(f"every provider failed to {what}", provider=self.provider, operation=what)
        error.attempts = tuple(attempts)
        if last is not None:
            raise error from last
        raise error

    # ------------------------------------------------------------------ sending

    def send(self, message: Message) -> SendResult:
        """Send through the first healthy provider; ``result.attempts`` lists every try.

        If a provider took part of a split send and then failed over, only the addresses it
        certainly did not send go to the next provider.
        """
        receipts: list[SendReceipt] = []
        pending = message

        def attempt(client: Client) -> SendResult:
            nonlocal pending
            try:
                return client.send(pending)
            except MailbridgeError as exc:
                done = tuple(exc.partial_result or ())
                if done and not exc.maybe_sent:
                    receipts.extend(done)
                    pending = pending.evolve(to=exc.not_sent, cc=(), bcc=())
                raise

        result, attempts = self._run("send", attempt)
        return SendResult([*receipts, *result.receipts], attempts)

    def send_to_group(self, group: str, message: Message, *, schedule: dt.datetime | None = None) -> SendResult:
        """Send a template to the group of this name on the first healthy provider (``schedule``: see Client)."""
        result, attempts = self._run("send_to_group", lambda c: c.send_to_group(group, message, schedule=schedule))
        return SendResult(result.receipts, attempts)

    def send_many(
        self,
        messages: Iterable[Message],
        *,
        max_in_flight: int | None = None,
        progress: Callable[[SendManyProgress], None] | None = None,
    ) -> Iterator[SendOutcome]:
        """:meth:`Client.send_many` through failover: each message goes through :meth:`send`."""
        in_flight = max_in_flight or default_in_flight(self.clients[0].limits)
        return send_many(self.send, messages, max_in_flight=in_flight, progress=progress)

    # ------------------------------------------------------------------ groups on every provider

    def _everywhere(self, call: Callable[[Client], T]) -> dict[str, T | MailbridgeError]:
        out: dict[str, T | MailbridgeError] = {}
        for client, label in zip(self.clients, self.labels, strict=True):
            try:
                out[label] = call(client)
            except MailbridgeError as exc:
                log.warning("failover: %s failed with %s: %s", label, type(exc).__name__, exc)
                out[label] = exc
        return out

    def create_group(self, name: str, description: str | None = None) -> dict[str, Group | MailbridgeError]:
        """Create (or find) the group of this name on every provider; one result per provider."""

        def create(client: Client) -> Group:
            try:
                return client.create_group(name, description)
            except AlreadyExists:
                return client.get_group(name)

        return self._everywhere(create)

    def upload(
        self, group: str, recipients: Iterable[Recipient | str | Any], **options: Any
    ) -> dict[str, UploadReport | MailbridgeError]:
        """Upload the same recipients into the group of this name on every provider."""
        rows = recipients if isinstance(recipients, Sequence) else list(recipients)
        return self._everywhere(lambda c: c.upload(group, rows, **options))
