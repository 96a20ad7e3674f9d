"""Failover over several clients, without ever sending a message twice.

Which errors move work to the next provider is decided by the neutral flags only, in this order:

* ``maybe_sent`` (:class:`OutcomeUnknown`): never failed over, unless the caller opted into
  at-least-once delivery; the provider cools down and the error is raised with every attempt;
* ``failover_eligible`` (unavailable, throttled, quota used up, credentials broken): the
  provider as a whole is unhealthy; it cools down for ``cooldown`` seconds, or for the
  throttle's ``retry_after`` if longer, and the next provider is tried at once;
* ``retryable`` only (a throttle or a busy resource of this message, such as one recipient
  domain paused): the next provider is tried for this message; this one stays healthy;
* anything else (invalid address, content rejected ...): a problem of this message, raised
  at once; no provider's health is touched.

Before a provider is tried, the message is checked against the features it declares (the
rules of :func:`~mailbridge._validation.check_message`): a provider that cannot carry it is
skipped (``Attempt(label, "skipped", detail="cannot carry: tag, cc")``), its health untouched,
unless its client has ``ignore_unsupported_features``: then it gets the message without those
fields, with a warning, and its ``sent`` attempt says what was dropped. When no provider can
carry the message, :class:`UnsupportedFeature` (certainly not sent) names what each one lacks,
before any call.

A cooled-down provider is skipped until its cooldown ends; then exactly one caller across
every worker sharing the health store probes it. When every provider is cooling down nothing
is tried: :class:`ProviderUnavailable` (certainly not sent) lists the skipped attempts. Errors
of a send carry the union of every provider's receipts (``partial_result``), the addresses
certainly not sent (``not_sent``) and those that may have been (``maybe_sent_to``). Health
bookkeeping never fails a send or hides a receipt.

These rules are written once, as flows (:mod:`mailbridge._flow`): :meth:`FailoverClient._plan` yields
"call member *i* with this message" (:class:`MemberCall`) and health-store calls, and gets each outcome
back. ``FailoverClient`` drives them with blocking member calls; :class:`~mailbridge.AsyncFailoverClient`
drives the same flows, awaiting each member's :class:`~mailbridge.AsyncClient` and calling blocking
stores off the event loop.

URL grammar (see README "Failover")::

    failover://?providers=URL1,URL2[,...][&strategy=priority|round-robin][&cooldown=SECONDS]
               [&probe_timeout=SECONDS][&retries=N][&at_least_once=true][&state=redis://HOST:PORT/DB]
               [&idempotency=state|memory|sqlite:///PATH|redis://HOST:PORT/DB][&idempotency_ttl=SECONDS]
               [&timeout=SECONDS]
               [&rate_limit=off]
               [&ignore_unsupported_features=true]

``ignore_unsupported_features=true`` on the failover URL applies to every member; on an inner
URL, to that member only.

Inner URLs containing ``,`` or ``&`` must be percent-encoded (:func:`failover_url` does it).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from attrs import Factory, define, frozen

from ._bulk import SendManyProgress, SendOutcome, default_in_flight, send_many
from ._client import Client, RetryPolicy
from ._exceptions import (
    ConfigurationError,
    MailbridgeError,
    OutcomeUnknown,
    ProviderUnavailable,
    UnsupportedFeature,
)
from ._flow import Bookkeeping, Flow, drive
from ._health import HealthStore, MemoryHealthStore, RedisHealthStore, blocks
from ._idempotency import (
    DEFAULT_IDEMPOTENCY_TTL,
    IdempotencyGuard,
    IdempotencyStore,
    MemoryIdempotencyStore,
    addresses,
    idempotency_store,
)
from ._models import Attempt, Group, Message, Recipient, SendReceipt, SendResult, UploadReport
from ._ratelimit import RateLimiter
from ._url import ProviderURL
from ._validation import unsupported_fields

__all__ = ["FailoverClient", "failover_url"]

log = logging.getLogger("mailbridge.failover")
T = TypeVar("T")
STRATEGIES = ("priority", "round-robin")
IGNORE_UNSUPPORTED = "ignore_unsupported_features"


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
    then arrive twice); ``idempotency`` *(optional)*: where idempotency keys live (an
    :class:`IdempotencyStore` or its URL; see :meth:`send`).
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
        idempotency: IdempotencyStore | str | None = None,
        idempotency_ttl: float = DEFAULT_IDEMPOTENCY_TTL,
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
        store = idempotency_store(idempotency) if isinstance(idempotency, str) else idempotency
        self.idempotency = IdempotencyGuard(store or MemoryIdempotencyStore(), ttl=idempotency_ttl)
        self._keys = [c.backend.rate_limit_key for c in self.clients]  # per account, shared by workers
        self.labels = self._labels()

    @classmethod
    def from_url(cls, url: ProviderURL, connect: Callable[..., Client]) -> FailoverClient:
        """Build from a parsed ``failover://`` URL; ``connect`` builds each member."""
        raw = url.param("providers")
        if not raw:
            raise ConfigurationError("failover URL needs ?providers=URL1,URL2")
        # The query was percent-decoded once already: decoding again broke encoded secrets (%3F, %23).
        members = [u.strip() for u in raw.split(",") if u.strip()]
        state = url.param("state")
        retries = int(url.float_param("retries", 2))
        limiter = RateLimiter(state) if state else RateLimiter()
        if not url.bool_param("rate_limit", True):
            limiter = RateLimiter.disabled()  # emulators that do not enforce the clouds' rates
        options: dict[str, Any] = {"retry": RetryPolicy(attempts=max(1, retries)), "rate_limiter": limiter}
        if url.param("timeout"):  # one deadline for every member's requests, over the members' own
            options["timeout"] = url.float_param("timeout", 0.0)
        ignore_all = url.bool_param(IGNORE_UNSUPPORTED)
        clients = []
        for member in members:
            inner, ignore = _pop_ignore_unsupported(member)
            if ignore_all or ignore:
                clients.append(connect(inner, ignore_unsupported_features=True, **options))
            else:
                clients.append(connect(inner, **options))
        idempotency = url.param("idempotency") or None
        if idempotency == "state":
            if not state:
                raise ConfigurationError("idempotency=state needs state=redis://HOST:PORT/DB")
            idempotency = state
        elif idempotency == "memory":
            idempotency = "memory://"
        return cls(
            clients,
            strategy=url.param("strategy", "priority") or "priority",
            cooldown=url.float_param("cooldown", 30.0),
            probe_timeout=url.float_param("probe_timeout", 30.0),
            health=RedisHealthStore(state) if state else None,
            at_least_once=url.bool_param("at_least_once"),
            idempotency=idempotency,
            idempotency_ttl=url.float_param("idempotency_ttl", DEFAULT_IDEMPOTENCY_TTL),
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
        return {
            label: not self._health(False, "is_open", key) for label, key in zip(self.labels, self._keys, strict=True)
        }

    def _health(self, default: T, name: str, *args: Any) -> T:
        """``self.health.<name>(*args)``, which can never fail a send or hide its receipt."""
        try:
            result: T = getattr(self.health, name)(*args)
        except Exception as exc:  # a custom store's failure: keep sending, as if the provider were healthy
            log.warning("failover: the health store failed in %s (%s: %s); continuing", name, type(exc).__name__, exc)
            return default
        return result

    # ------------------------------------------------------------------ routing

    def _bookkeeping(self, fn: Callable[..., Any], *args: Any) -> Bookkeeping:
        """A health-store call as a flow's effect (made off the event loop unless the store is memory)."""
        return Bookkeeping(functools.partial(fn, *args), blocking=blocks(self.health))

    def _mark(self, name: str, *args: Any) -> Bookkeeping:
        return self._bookkeeping(self._health, None, name, *args)

    def _order(self) -> list[int]:
        """The round-robin order: the members from the shared counter's next start."""
        indexes = list(range(len(self.clients)))
        start = self._health(0, "next_index", "|".join(self._keys), len(indexes))
        return indexes[start:] + indexes[:start]

    def _carry(self, message: Message, index: int) -> tuple[bool, tuple[str, ...]]:
        """Whether member ``index`` may get ``message``, and the fields it cannot carry."""
        client = self.clients[index]
        fields = unsupported_fields(message, client.limits)
        return (not fields or client.ignore_unsupported_features), fields

    def _require_carrier(self, message: Message, what: str) -> None:
        """:class:`UnsupportedFeature` before any call when no member can carry ``message``."""
        verdicts = [self._carry(message, index) for index in range(len(self.clients))]
        if any(ok for ok, _ in verdicts):
            return
        lacks = "; ".join(
            f"{label} cannot carry {', '.join(fields)}"
            for label, (_, fields) in zip(self.labels, verdicts, strict=True)
        )
        error = UnsupportedFeature(
            f"no provider can carry this message, so nothing was sent: {lacks}", provider=self.provider, operation=what
        )
        error.attempts = tuple(
            Attempt(label, "skipped", detail="cannot carry: " + ", ".join(fields))
            for label, (_, fields) in zip(self.labels, verdicts, strict=True)
        )
        error.not_sent = addresses(message)
        raise error

    def _gate(self, key: str) -> str | bool:
        """Why a member that can carry the message is skipped now, else whether this caller is its probe.

        Cooling-down members are skipped; a member whose cooldown has ended is tried only by the
        one caller that wins its probe. Nothing else: when every member is skipped the caller gets
        an error, never a stampede onto providers that just failed.
        """
        if self._health(False, "is_open", key):
            return "cooling down after a failure"
        probing = self._health(False, "was_failed", key)
        if probing and not self._health(True, "claim_probe", key, self.probe_timeout):
            return "another worker is probing it"
        return probing

    def _plan(
        self,
        what: str,
        message: Callable[[], Message],
        on_failed: Callable[[MailbridgeError], None] = lambda exc: None,
    ) -> Flow[tuple[Any, list[Attempt]]]:
        """The failover rules as a flow: yields :class:`MemberCall` (call member ``index`` with ``message()``,
        what the next member would get) and health :class:`Bookkeeping`; returns the result and the attempts.

        ``on_failed`` sees each member's error first. Members that cannot carry the message (and
        do not ignore unsupported features) are skipped first, their health untouched.
        """
        tally = _Tally()
        order = (yield self._bookkeeping(self._order)) if self.strategy == "round-robin" else range(len(self.clients))
        for index in order:
            label, key = self.labels[index], self._keys[index]
            carries, dropped = self._carry(message(), index)
            if not carries:
                tally.attempts.append(Attempt(label, "skipped", detail="cannot carry: " + ", ".join(dropped)))
                continue
            probing = yield self._bookkeeping(self._gate, key)
            if isinstance(probing, str):
                tally.attempts.append(Attempt(label, "skipped", detail=probing))
                continue
            if dropped:
                log.warning(
                    "failover: %s cannot carry %s; %s without it (ignore_unsupported_features)",
                    label,
                    ", ".join(dropped),
                    what,
                )
            try:
                result = yield MemberCall(index, message())
            except MailbridgeError as exc:
                on_failed(exc)
                yield from self._failed(what, tally, index, probing, exc)
                continue
            if probing:
                yield self._mark("mark_healthy", key)
            tally.attempts.append(Attempt(label, "sent", detail="dropped: " + ", ".join(dropped) if dropped else None))
            return result, tally.attempts
        raise self._exhausted(what, tally)

    def _failed(self, what: str, tally: _Tally, index: int, probing: bool, exc: MailbridgeError) -> Flow[None]:
        """Account for member ``index``'s error: returns when the next member may be tried, else raises."""
        label, key = self.labels[index], self._keys[index]
        tally.last = exc
        if exc.maybe_sent:
            tally.attempts.append(Attempt(label, "unknown", error=type(exc).__name__, detail=str(exc)))
            yield self._mark("mark_failed", key, self.cooldown)
            if not self.at_least_once:
                exc.attempts = tuple(tally.attempts)
                raise exc
            log.warning(
                "failover: %s %s outcome unknown (%s); at-least-once: trying the next provider",
                label,
                what,
                type(exc).__name__,
            )
            tally.unknown = exc
            return
        tally.attempts.append(Attempt(label, "failed", error=type(exc).__name__, detail=str(exc)))
        if exc.failover_eligible:
            cooldown = max(self.cooldown, float(getattr(exc, "retry_after", None) or 0.0))
            yield self._mark("mark_failed", key, cooldown)
            log.warning(
                "failover: %s %s failed with %s; provider cooling down for %gs",
                label,
                what,
                type(exc).__name__,
                cooldown,
            )
            tally.provider_failed = True
            return
        if probing:  # the provider answered about this message only: let the next caller probe now
            yield self._mark("release_probe", key)
        if exc.retryable:  # throttled or busy for this message only; another provider may take it
            log.warning(
                "failover: %s %s refused this message for now (%s); trying the next provider",
                label,
                what,
                type(exc).__name__,
            )
            return
        if tally.unknown is not None:  # at-least-once: an earlier provider may have sent it, so say so
            raise self._exhausted(what, tally) from exc
        exc.attempts = tuple(tally.attempts)
        raise exc

    def _exhausted(self, what: str, tally: _Tally) -> MailbridgeError:
        """The error when no provider took the work."""
        attempts, last, unknown = tally.attempts, tally.last, tally.unknown
        error: MailbridgeError
        if last is None:
            who = (
                "every provider that can carry this message is"
                if any((a.detail or "").startswith("cannot carry") for a in attempts)
                else "every provider is"
            )
            error = ProviderUnavailable(
                f"{who} cooling down after failures; nothing was tried, so nothing was sent ({what})",
                provider=self.provider,
                operation=what,
            )
        elif unknown is not None:
            error = OutcomeUnknown(
                f"no provider could {what}, and an earlier attempt's outcome is unknown: it may have been sent",
                provider=self.provider,
                operation=what,
            )
        elif not tally.provider_failed:
            error = last  # every provider refused this message for now (e.g. a throttle with retry_after)
        else:
            error = ProviderUnavailable(f"every provider failed to {what}", provider=self.provider, operation=what)
        error.attempts = tuple(attempts)
        if error is not last and last is not None:
            error.__cause__ = last
        return error

    # ------------------------------------------------------------------ sending

    def send(self, message: Message, *, idempotency_key: str | None = None) -> SendResult:
        """Send through the first healthy provider; ``result.attempts`` lists every try.

        If a provider took part of a split send and then failed over, only the addresses it
        certainly did not send go to the next provider. Any error carries the union of every
        provider's receipts (``partial_result``), the addresses certainly not sent
        (``not_sent``) and those that may have been (``maybe_sent_to``).

        ``idempotency_key`` (or ``message.idempotency_key``): claimed in the ``idempotency``
        store before anything is sent; a send with a key already used returns the first
        receipts, and one whose first send is unresolved (in flight in another worker, or
        ended unknown) raises :class:`OutcomeUnknown` instead of sending again.
        """
        flow = self._send_flow(message, idempotency_key)
        return drive(flow, lambda call: self.clients[call.index].send(call.message))

    def _send_flow(self, message: Message, idempotency_key: str | None) -> Flow[SendResult]:
        """:meth:`send` as a flow: the carrier check, the idempotency key, the failover with its ledger."""
        self._require_carrier(message, "send")
        key = idempotency_key or message.idempotency_key
        if key is None:
            return (yield from self._ledgered(message))
        return (yield from self.idempotency.flow(key, message.evolve(idempotency_key=key), self._ledgered))

    def _ledgered(self, message: Message) -> Flow[SendResult]:
        ledger = _Ledger(message.evolve(idempotency_key=None), self.at_least_once)
        try:
            result, attempts = yield from self._plan("send", lambda: ledger.pending, ledger.failed)
        except MailbridgeError as exc:
            ledger.annotate(exc)
            raise
        return SendResult([*ledger.receipts, *result.receipts], attempts)

    def send_to_group(self, group: str, message: Message, *, schedule: dt.datetime | None = None) -> SendResult:
        """Send a template to the group of this name on the first healthy provider that can carry it
        (``schedule``: see :meth:`Client.send_to_group`)."""
        return drive(
            self._group_flow(message),
            lambda call: self.clients[call.index].send_to_group(group, call.message, schedule=schedule),
        )

    def _group_flow(self, message: Message) -> Flow[SendResult]:
        """:meth:`send_to_group` as a flow (each member's call is its ``send_to_group``)."""
        self._require_carrier(message, "send_to_group")
        result, attempts = yield from self._plan("send_to_group", lambda: message)
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

        return self._everywhere(lambda client: client.get_or_create_group(name, description))

    def get_or_create_group(self, name: str, description: str | None = None) -> dict[str, Group | MailbridgeError]:
        """:meth:`Client.get_or_create_group` on every provider (what :meth:`create_group` does too)."""
        return self.create_group(name, description)

    def upload(
        self, group: str, recipients: Iterable[Recipient | str | Any], **options: Any
    ) -> dict[str, UploadReport | MailbridgeError]:
        """Upload the same recipients into the group of this name on every provider."""
        rows = recipients if isinstance(recipients, Sequence) else list(recipients)
        return self._everywhere(lambda c: c.upload(group, rows, **options))


def _pop_ignore_unsupported(url: str) -> tuple[str, bool]:
    """``url`` without its ``ignore_unsupported_features`` parameter, and that parameter's value."""
    parsed = ProviderURL.parse(url)
    if IGNORE_UNSUPPORTED not in parsed.params:
        return url, False
    ignore = parsed.bool_param(IGNORE_UNSUPPORTED)
    base, _, query = url.partition("?")
    kept = [item for item in query.split("&") if unquote(item.partition("=")[0]) != IGNORE_UNSUPPORTED]
    return base + ("?" + "&".join(kept) if kept else ""), ignore


@define
class _Tally:
    """What one failover run has seen so far."""

    attempts: list[Attempt] = Factory(list)
    last: MailbridgeError | None = None  # the latest member error
    unknown: MailbridgeError | None = None  # an earlier member's maybe-sent error (at-least-once)
    provider_failed: bool = False  # a member failed as a whole (failover-eligible)


@frozen
class MemberCall:
    """The effect of a failover flow: call member ``index`` with ``message`` (the driver knows which call)."""

    index: int
    message: Message


class _Ledger:
    """What one failover send has done so far, across providers: receipts, maybe-sent, still to send."""

    def __init__(self, message: Message, at_least_once: bool) -> None:
        self.pending = message
        self.at_least_once = at_least_once
        self.receipts: list[SendReceipt] = []
        self.maybe: dict[str, None] = {}
        self.not_sent: tuple[str, ...] = addresses(message)

    def failed(self, exc: MailbridgeError) -> None:
        """Account for one provider's failed attempt and decide what the next provider gets."""
        done = tuple(r for r in (exc.partial_result or ()) if isinstance(r, SendReceipt))
        self.receipts.extend(done)
        if exc.maybe_sent:
            maybe = exc.maybe_sent_to or tuple(a for a in addresses(self.pending) if a not in exc.not_sent)
            self.maybe.update(dict.fromkeys(maybe))
            rest = tuple(exc.not_sent)  # the later parts of a split send, never tried
            self.not_sent = rest
            if done and self.at_least_once:  # resend the unknown part and the rest (all plain "to" after part 1)
                self.pending = self.pending.evolve(to=(*maybe, *rest), cc=(), bcc=())
            return
        if done:  # part 1 (with the copies) went out: only the plain addresses not sent remain
            self.not_sent = tuple(exc.not_sent)
            self.pending = self.pending.evolve(to=exc.not_sent, cc=(), bcc=())
        else:
            self.not_sent = addresses(self.pending)

    def annotate(self, exc: MailbridgeError) -> None:
        """Put the whole send's account on the error the caller gets."""
        exc.partial_result = tuple(self.receipts)
        exc.maybe_sent_to = tuple(self.maybe)
        exc.not_sent = tuple(a for a in self.not_sent if a not in self.maybe)
