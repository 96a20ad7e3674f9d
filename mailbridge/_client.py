"""The client: one neutral interface, driven by the backend's declared limits.

The client validates before any network call, de-duplicates and chunks uploads, splits
sends and delivery windows, follows pages, rate-limits and retries. Backends only
translate one call at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from attrs import frozen

from ._backend import Backend
from ._bulk import SendManyProgress, SendOutcome, default_in_flight, send_many
from ._catalog import TemplateCatalog
from ._csvio import UnreadableRow
from ._dedup import SeenSet
from ._exceptions import (
    ConfigurationError,
    GroupNotFound,
    InvalidAddress,
    InvalidRequest,
    LimitExceeded,
    MailbridgeError,
    NotFound,
    ResourceBusy,
    SenderNotFound,
    UnsupportedFeature,
)
from ._flow import Flow, drive
from ._idempotency import IdempotencyGuard, IdempotencyStore, MemoryIdempotencyStore, idempotency_store
from ._limits import Feature, Limits, Operation
from ._models import (
    ENGAGEMENT_STATUSES,
    AccountSummary,
    BatchResult,
    DeliveryEvent,
    DeliveryQuery,
    DeliveryStatus,
    Group,
    GroupStatus,
    Member,
    Message,
    Page,
    Recipient,
    RejectedAddress,
    RemoveReport,
    SenderAddress,
    SenderDomain,
    SendResult,
    StatisticsRow,
    Tag,
    Template,
    UploadReport,
)
from ._paging import follow_pages
from ._parts import part_name, split_base
from ._ratelimit import RateLimiter
from ._retrying import CallAttempts
from ._safe_repeat import CREATE, GET, Deletion, Pause, get_or_create, safe_create
from ._scrub import scrub_text
from ._suppressions import SuppressionsMixin
from ._template_resolver import TemplateResolver, resolves_template_names
from ._url import Secret
from ._validation import address_error, check_message, recipient_error, strip_unsupported_recipient_fields

if TYPE_CHECKING:
    from ._upload_writer import Rows, UploadWriter

__all__ = ["Client", "RetryPolicy", "UploadProgress"]

log = logging.getLogger("mailbridge")
# With a call in flight on the writer thread, the upload loop lets go of the GIL every 64 rows: the
# writer takes it back after each SQLite step at once instead of after the 5 ms switch interval
# (1,000,000 rows through the local backend at load ~1: median 13.6 vs 14.5 s; benchmarks/README.md).
_YIELD_EVERY = 63
T = TypeVar("T")
RecipientLike = Recipient | str | Mapping[str, Any] | UnreadableRow


def account_failed_send(exc: MailbridgeError, message: Message) -> None:
    """Fill a failed single send's account: no receipt; every address maybe sent or every one not sent."""
    this = (*message.to, *message.cc, *message.bcc)
    exc.partial_result = ()
    exc.not_sent = () if exc.maybe_sent else this
    exc.maybe_sent_to = this if exc.maybe_sent else ()


@frozen
class RetryPolicy:
    """How the client retries calls that failed with a ``retryable`` error.

    Times are in seconds. A send is retried only when the provider certainly did not
    accept it; ``attempts=1`` turns retries off. ``timeout`` is the budget of one client
    call across its retries: a provider's ``retry_after`` longer than what is left of it is
    not waited for (the :class:`RateLimited` is raised at once, so failover moves on).
    """

    attempts: int = 5
    timeout: float = 120.0
    wait_initial: float = 0.2
    wait_max: float = 10.0
    wait_jitter: float = 0.5


@frozen
class UploadProgress:
    """Passed to an upload's ``progress`` callback after every provider call."""

    rows_read: int
    batches: int
    accepted: int
    rejected: int
    duplicates: int
    batch_accepted: tuple[str, ...]
    batch_rejected: tuple[RejectedAddress, ...]


class _UploadTally:
    """Accumulates an upload's outcome across batches (and across lists when it splits)."""

    def __init__(self, group: Group) -> None:
        self.group = group
        self.rows_read = 0
        self.accepted = 0
        self.rejected: list[RejectedAddress] = []
        self.duplicates: list[str] = []
        self.existing = 0
        self.batches = 0
        self.processing = False
        self.request_ids: list[str] = []
        self.unattributed = 0
        self.notes: list[str] = []
        self.not_sent = 0
        self.parts: list[Group] = [group]  # every list written to, in order (several with split=True)
        self.counts: list[int] = [0]  # members of each part: before the upload plus added by it
        self.full = False  # the (last) list is full and no split was asked for
        # What the backend supports, looked up once per upload (by _prepare) instead of per row.
        self.checked_limits: Limits | None = None
        self.smtputf8 = False
        self.stores_all_fields = False
        self.backend_checks = True

    def report(self, group: Group | None = None) -> UploadReport:
        parts = tuple(self.parts) if len(self.parts) > 1 else ()
        return UploadReport(
            group=group or self.group,
            accepted=self.accepted,
            rejected=tuple(self.rejected),
            duplicates=tuple(self.duplicates),
            existing=self.existing,
            batches=self.batches,
            processing=self.processing,
            request_ids=tuple(self.request_ids),
            unattributed_rejected=self.unattributed,
            notes=tuple(self.notes),
            rows=self.rows_read,
            not_sent=self.not_sent,
            groups=parts,
        )


class Client(SuppressionsMixin):
    """A connection to one provider through its backend.

    Build one with :func:`mailbridge.connect`. **Parameters:** ``backend``;
    ``ignore_unsupported_features`` *(optional)*: drop fields the backend cannot honour
    (with a warning) instead of raising :class:`UnsupportedFeature`; ``retry``
    *(optional)*: a :class:`RetryPolicy`; ``rate_limiter`` *(optional)*: a shared
    :class:`RateLimiter` (for example Redis-backed); ``sleep`` and ``clock``
    *(optional)*: injectable for tests (``clock`` is monotonic seconds);
    ``template_catalog`` *(optional)*: where the template parts the provider cannot store
    are kept (a path, ``redis://...``, ``off`` or a :class:`TemplateCatalog`; default
    ``MAILBRIDGE_TEMPLATE_CATALOG``, else the user data directory); ``idempotency``
    *(optional)*: where idempotency keys live, an :class:`IdempotencyStore` or its URL
    (``memory://``, ``sqlite:///path``, ``redis://host:port/db``).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        ignore_unsupported_features: bool = False,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        template_catalog: str | os.PathLike[str] | TemplateCatalog | None = None,
        idempotency: IdempotencyStore | str | None = None,
    ) -> None:
        self.idempotency = _guard(idempotency)
        self.backend = backend
        self.ignore_unsupported_features = ignore_unsupported_features
        self.retry = retry or RetryPolicy()
        self.rate_limiter = rate_limiter or RateLimiter(sleep=sleep)
        self._sleep = sleep
        self._clock = clock
        self._templates = TemplateResolver(self, template_catalog)

    # ------------------------------------------------------------------ basics

    @property
    def provider(self) -> str:
        """The backend's provider name (its entry-point name)."""
        return self.backend.name

    @property
    def limits(self) -> Limits:
        return self.backend.limits

    def __repr__(self) -> str:
        return scrub_text(f"<mailbridge.Client {self.backend.describe()}>")

    def close(self) -> None:
        self._templates.close()
        self.backend.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _require(self, feature: Feature) -> None:
        if not self.limits.supports(feature):
            self.backend.unsupported(feature)

    def _call(self, operation: Operation, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One backend call: rate-limited, retried while the error says so, errors tagged.

        Waiting is bounded by the policy's ``timeout``: a ``retry_after`` longer than what is
        left of it is not slept through; the :class:`RateLimited` is raised at once (its
        ``retry_after`` intact), so that a failover moves on to the next provider. The first
        attempt runs outside stamina; a retried call continues in its retry context
        (:mod:`mailbridge._retrying`). Each attempt that reaches the backend takes one
        rate-limit slot.
        """
        plan = self._attempts(operation)
        try:
            try:
                self.rate_limiter.acquire(plan.key, plan.rate)
                return fn(*args, **kwargs)
            except Exception as exc:
                retries = plan.retries(exc)
                if retries is None:
                    raise
            for attempt in retries:
                with attempt:
                    retries.replay()
                    self.rate_limiter.acquire(plan.key, plan.rate)
                    return fn(*args, **kwargs)
        except MailbridgeError as exc:
            self._tagged(exc, operation)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempts(self, operation: Operation) -> CallAttempts:
        """One call's rate-limit key and rate, deadline and retries (iterated sync or async)."""
        backend = self.backend
        return CallAttempts(
            f"{backend.rate_limit_key}:{operation}",
            backend.limits.rate_for(operation),
            self.retry,
            self._clock,
            backend.name,
        )

    def _tagged(self, exc: MailbridgeError, operation: Operation) -> None:
        exc.provider = exc.provider or self.provider
        exc.operation = exc.operation or str(operation)

    def _create(self, operation: Operation, create: Callable[[], T], find: Callable[[], T | None]) -> T:
        """A create that is safe to repeat (:func:`~mailbridge._safe_repeat.safe_create`): after an
        unknown outcome, look the object up by its name before creating again."""

        def perform(effect: object) -> Any:
            if isinstance(effect, Pause):
                return self._sleep(effect.seconds)
            return self._call(operation, create) if effect == CREATE else find()

        created: T = drive(safe_create(operation, self.retry), perform)
        return created

    def _delete(self, operation: Operation, fn: Callable[..., None], *args: Any) -> None:
        """A delete, retried like any idempotent call; gone on a retry after a failed attempt is a
        success (:class:`~mailbridge._safe_repeat.Deletion`)."""
        deletion = Deletion(operation)

        def once() -> None:
            try:
                fn(*args)
            except MailbridgeError as exc:
                deletion.failed(exc)

        self._call(operation, once)

    def _pages(self, operation: Operation, fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
        """Every item of a listing, each page one :meth:`_call`; bounded as :func:`follow_pages` says."""

        def call(cursor: str | None) -> Page[T]:
            return self._call(operation, fetch, cursor)

        for page in follow_pages(call, provider=self.provider, operation=str(operation)):
            yield from page.items

    # ------------------------------------------------------------------ groups

    def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        """Create an empty recipient group (names are unique per provider account).

        ``alias``: the provider's second name for the group where it has one (Direct Mail's list
        alias, an email address under 30 characters; derived from the name when not given).
        Like every create, safe to repeat: after an unknown outcome the group is looked up
        by name and returned if the create had happened.
        """
        name = self._group_name(name)

        def find() -> Group | None:
            try:
                return self.get_group(name)
            except GroupNotFound:
                return None

        def create() -> Group:
            if alias is None:  # third-party backends written before ``alias`` keep working
                return self.backend.create_group(name, description)
            return self.backend.create_group(name, description, alias=alias)

        return self._create(Operation.CREATE_GROUP, create, find)

    def _group_name(self, name: str) -> str:
        """A new group's name, stripped and checked (before any call)."""
        self._require(Feature.GROUPS)
        name = name.strip()
        if not name:
            raise InvalidRequest("a group needs a name")
        if (limit := self.limits.group_name_length) and len(name) > limit:
            raise LimitExceeded(
                f"group name is {len(name)} characters; {self.provider} allows at most {limit}",
                provider=self.provider,
            )
        return name

    def get_or_create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        """The group named ``name``, created (as :meth:`create_group` does) if there is none yet.

        Safe to run again: a second run returns the existing group instead of raising
        :class:`AlreadyExists` (also when another process created it in between). An existing
        group keeps its own description.
        """

        def perform(effect: object) -> Group:
            if effect == GET:
                return self.get_group(name.strip())
            return self.create_group(name, description, alias=alias)

        group: Group = drive(get_or_create(), perform)
        return group

    def groups(self, keyword: str | None = None) -> Iterator[Group]:
        """Every group (whose name contains ``keyword``), following pages."""
        self._require(Feature.GROUPS)
        size = self.limits.list_page_size

        def fetch(cursor: str | None) -> Page[Group]:
            return self.backend.list_groups(keyword=keyword, cursor=cursor, page_size=size)

        for group in self._pages(Operation.LIST_GROUPS, fetch):
            if _named(group, keyword):
                yield group

    def get_group(self, name: str) -> Group:
        """The group with exactly this name; :class:`GroupNotFound` if none."""
        for group in self.groups(keyword=name):
            if group.name == name:
                return group
        raise self._no_group(name)

    def _no_group(self, name: str) -> GroupNotFound:
        return GroupNotFound(f"no group named {name!r} on {self.provider}", provider=self.provider)

    def refresh_group(self, group: Group | str) -> Group:
        """The group as the provider sees it now (count, import status)."""
        self._require(Feature.GROUPS)
        resolved = self._group(group)
        return self._call(Operation.GET_GROUP, self.backend.get_group, resolved.id)

    def delete_group(self, group: Group | str) -> None:
        """Delete a group and its members."""
        self._require(Feature.GROUPS)
        self._delete(Operation.DELETE_GROUP, self.backend.delete_group, self._group(group))

    def _group(self, group: Group | str) -> Group:
        return group if isinstance(group, Group) else self.get_group(group)

    # ------------------------------------------------------------------ members

    def members(self, group: Group | str) -> Iterator[Member]:
        """Every member of a group, following pages."""
        self._require(Feature.GROUPS)
        resolved = self._group(group)
        size = self.limits.list_page_size

        def fetch(cursor: str | None) -> Page[Member]:
            return self.backend.list_members(resolved, cursor=cursor, page_size=size)

        return self._pages(Operation.LIST_MEMBERS, fetch)

    def remove(self, group: Group | str, emails: Iterable[str]) -> RemoveReport:
        """Remove addresses from a group and report exactly what happened.

        Membership is read first (a look-up per address where the backend offers one and that
        is fewer calls than listing the group), so only members are removed (``removed``) and
        the rest are reported as ``not_members``; repeats are ``duplicates`` and entries that
        are not addresses ``rejected``, all before any removal call.
        """
        self._require(Feature.GROUPS)
        self._require(Feature.REMOVE_RECIPIENTS)
        resolved = self._group(group)

        def perform(effect: tuple[str, Any]) -> Any:
            kind, arg = effect
            if kind == "find":
                return self._call(Operation.LIST_MEMBERS, self.backend.find_members, resolved, [arg])
            if kind == "list":
                return {m.recipient.key: m.email for m in self.members(resolved) if m.recipient.key in arg}
            return self._call(Operation.REMOVE_MEMBERS, self.backend.remove_members, resolved, arg)

        report: RemoveReport = drive(self._removal(resolved, emails), perform)
        return report

    def _removal(self, group: Group, emails: Iterable[str]) -> Flow[RemoveReport]:
        """:meth:`remove` as a flow (:mod:`mailbridge._flow`) of ``(kind, arg)`` effects: ``("find", email)``
        (``find_members`` for one address: a mapping, or None to list instead), ``("list", wanted)`` (the
        members whose keys are in ``wanted``, key to address) and ``("remove", chunk)`` (``remove_members``)."""
        wanted: dict[str, str] = {}
        duplicates: list[str] = []
        rejected: list[RejectedAddress] = []
        for row, raw in enumerate(emails, start=1):
            email = raw.strip()
            if not email:
                continue
            if problem := address_error(email):
                rejected.append(RejectedAddress(email, f"invalid address: {problem}", "invalid", row))
            elif email.casefold() in wanted:
                duplicates.append(email)
            else:
                wanted[email.casefold()] = email
        present: dict[str, str] = {}
        pages = (group.recipient_count or 0) / max(1, self.limits.list_page_size)
        found: dict[str, str] | None = None
        if wanted and len(wanted) < pages:  # fewer look-ups than listing pages: one rate-limited call each
            found = {}
            for email in wanted.values():
                hit = yield ("find", email)
                if hit is None:
                    found = None
                    break
                found.update(hit)
        if found is not None:
            present = {k: v for k, v in found.items() if k in wanted}
        elif wanted:
            present = yield ("list", wanted)
        removed = [present[k] for k in wanted if k in present]
        not_members = [v for k, v in wanted.items() if k not in present]
        size = max(1, self.limits.remove_batch_size)
        done: list[str] = []
        for i in range(0, len(removed), size):
            chunk = removed[i : i + size]
            try:
                yield ("remove", chunk)
            except MailbridgeError as exc:
                exc.partial_result = RemoveReport(group, done, not_members, duplicates, rejected)
                exc.not_sent = tuple(removed[i:])
                raise
            done.extend(chunk)
        return RemoveReport(group, done, not_members, duplicates, rejected)

    def upload(
        self,
        group: Group | str,
        recipients: Iterable[RecipientLike],
        *,
        skip_existing: bool = False,
        split: bool = False,
        wait: bool = False,
        wait_timeout: float = 600.0,
        progress: Callable[[UploadProgress], None] | None = None,
        skip_suppressed: bool = False,
    ) -> UploadReport:
        """Add any number of recipients to a group and return one exact report.

        ``recipients`` may be any iterable (a generator over a huge CSV streams in bounded
        memory) of :class:`Recipient`, address strings or mappings with string keys (CSV
        rows; see :meth:`Recipient.coerce`). Anything else (``None``, bytes, a ``csv.reader``
        tuple, an :class:`UnreadableRow`), invalid addresses and repeats are reported per
        row with a reason, not sent; the rest go in chunks of the
        backend's per-call limit, within its rate limit, retried while retryable. Each row
        ends in one report category (see :class:`UploadReport`), the same on every backend.
        ``skip_existing`` first reads the group's members so that a resumed upload sends
        only what is missing. ``skip_suppressed`` first reads the suppression list; suppressed
        addresses are ``rejected`` with code ``suppressed``. ``wait`` blocks until an
        asynchronous import has finished.

        Larger than one provider list (``limits.max_group_size``): with ``split=True`` the
        group is filled to the limit and the rest goes into numbered lists (``news-2``,
        ``news-3``, ..., created as needed, as ``migrate`` names them); it reads the members of
        every list first, as ``skip_existing`` does, so that no address lands in two lists. Without it, an input
        that can be read twice (a list, or an object whose ``__iter__`` re-opens a file) is
        counted first and refused with :class:`LimitExceeded` before any call; a one-pass
        stream fills the group to the limit, then stops uploading: every further new address
        is ``rejected`` with code ``limit`` and the report says so in ``notes``.

        If a call fails, the raised error's ``partial_result`` is the report so far and
        its ``not_sent`` attribute the addresses read but not uploaded: the failed call's and,
        on a backend without a group size limit or asynchronous import (where the next batch is
        read and checked while a call runs), those read for the next call. There, Ctrl-C
        (``KeyboardInterrupt``) also waits for the call in flight and carries the same two attributes.
        """
        self._require(Feature.GROUPS)
        resolved = self._group(group)
        limits = self.limits
        tally = _UploadTally(resolved)
        existing = SeenSet()
        seen = SeenSet()
        suppressed = self.suppressed_keys() if skip_suppressed else set()
        try:
            tally.counts[0] = resolved.recipient_count or 0
            # Splitting: an address must not land in a second list; a provider that does not
            # de-duplicate against its members (limits.dedups_members) must not be sent them.
            if skip_existing or split or not limits.dedups_members:
                self._read_existing(tally, existing, split, fresh=not isinstance(group, Group))
            if limits.max_group_size is not None and iter(recipients) is not recipients:
                self._precheck_group_size(tally, recipients, existing, split)
            self._stream(recipients, tally, existing, seen, suppressed, split, progress)
        finally:
            existing.close()
            seen.close()

        report = tally.report()
        if wait and tally.processing:
            final = [self.wait_until_ready(part, timeout=wait_timeout) for part in tally.parts]
            tally.processing = False
            tally.parts = final
            report = tally.report(final[0])
        return report

    def _stream(
        self,
        recipients: Iterable[RecipientLike],
        tally: _UploadTally,
        existing: SeenSet,
        seen: SeenSet,
        suppressed: set[str],
        split: bool,
        progress: Callable[[UploadProgress], None] | None,
    ) -> None:
        """The upload pass: every row checked, de-duplicated and sent in batches, or reported."""
        size = self.limits.upload_batch_size
        known = len(existing) > 0  # (read before this pass; the lookup is skipped when there is none)
        writer = self._writer(tally, progress)
        batch: Rows = []
        try:
            every = _YIELD_EVERY if writer is not None else -1
            for row, item in enumerate(recipients, start=1):
                tally.rows_read = row
                if not row & every:
                    time.sleep(0)
                recipient = self._prepare(item, row, tally)
                if recipient is None:
                    continue
                key = recipient.email.casefold()  # (Recipient.key without the property call)
                if suppressed and key in suppressed:
                    why = "on the suppression list"
                    tally.rejected.append(RejectedAddress(recipient.email, why, "suppressed", row))
                    continue
                if not seen.add(key):
                    tally.duplicates.append(recipient.email)
                    continue
                if known and key in existing:
                    tally.existing += 1
                    continue
                if tally.full:
                    tally.rejected.append(self._full(recipient, row))
                    continue
                batch.append((recipient, row))
                if len(batch) >= size:
                    self._flush(batch, tally, progress, split, writer)
                    batch = []
            if batch:
                self._flush(batch, tally, progress, split, writer)
                batch = []
            if writer is not None:
                writer.settle()
        except BaseException as exc:
            if writer is not None:
                self._stopped(exc, tally, writer.close(batch))
            raise
        finally:
            if writer is not None:
                writer.shutdown()

    def _prepare(self, item: RecipientLike, row: int, tally: _UploadTally) -> Recipient | None:
        """Coerce and check one input row; record a rejection and return None if it fails."""
        if isinstance(item, UnreadableRow):
            tally.rejected.append(RejectedAddress(item.text, item.reason, "invalid", row))
            return None
        try:
            recipient = Recipient.coerce(item)
        except (TypeError, ValueError) as exc:
            shown = item.get("email") or item.get("address") if isinstance(item, Mapping) else None
            text = shown if isinstance(shown, str) else repr(item)
            tally.rejected.append(RejectedAddress(text[:200], f"unreadable row: {exc}", "invalid", row))
            return None
        limits = tally.checked_limits
        if limits is None:  # once per upload, not per row: what the backend supports
            limits = self.limits
            features = limits.features
            tally.checked_limits = limits
            tally.smtputf8 = Feature.SMTPUTF8 in features
            tally.stores_all_fields = Feature.TEMPLATE_DATA in features and Feature.PROFILE_FIELDS in features
            checks = getattr(self.backend.check_recipient, "__func__", None)  # (None: set on the instance)
            tally.backend_checks = checks is not Backend.check_recipient
        reason = recipient_error(recipient, tally.smtputf8)
        if reason is None:
            if not tally.stores_all_fields:
                recipient = strip_unsupported_recipient_fields(
                    recipient,
                    limits,
                    self.provider,
                    ignore_unsupported=self.ignore_unsupported_features,
                )
            if tally.backend_checks:  # (the base class's check accepts everything)
                reason = self.backend.check_recipient(recipient)
        if reason is not None:
            tally.rejected.append(RejectedAddress(recipient.email, reason, "invalid", row))
            return None
        return recipient

    def _split_parts(self, group: Group) -> Iterator[Group]:
        """The numbered lists after ``group`` that exist already, in order."""
        base, index = split_base(group.name)
        while True:
            try:
                yield self.get_group(part_name(base, index))
            except GroupNotFound:
                return
            index += 1

    def _read_existing(self, tally: _UploadTally, existing: SeenSet, split: bool, *, fresh: bool) -> None:
        """``skip_existing``: every member of the group (and, splitting, of its numbered lists).

        A list the provider has just counted empty is not read (``fresh``: the caller's Group
        object may be stale; numbered lists are always looked up here)."""
        parts = [tally.group, *(self._split_parts(tally.group) if split else ())]
        for index, listed in enumerate(parts):
            busy = self.limits.async_upload and listed.status is GroupStatus.PROCESSING
            part = self.wait_until_ready(listed) if busy else listed  # members still importing are not listed yet
            count = 0
            if part.recipient_count != 0 or (index == 0 and not fresh):  # a list counted empty: nothing to read
                for member in self.members(part):
                    existing.add(member.recipient.key)
                    count += 1
            if index:
                tally.parts.append(part)
                tally.counts.append(max(part.recipient_count or 0, count))
            else:
                tally.counts[0] = max(tally.counts[0], count)

    def _precheck_group_size(
        self, tally: _UploadTally, recipients: Iterable[RecipientLike], existing: SeenSet, split: bool
    ) -> None:
        """For an input that can be read twice, refuse before any call if it cannot fit.

        Counts the unique, valid addresses not known to be in the group; without ``split``
        they must fit the group, with it the numbered lists they need must fit the
        provider's number of lists.
        """
        limit = self.limits.max_group_size
        assert limit is not None
        keys = SeenSet()
        scratch = _UploadTally(tally.group)  # rejections are recorded for real by the upload pass itself
        group, base_count = tally.group, tally.counts[0]
        try:
            for row, item in enumerate(recipients, start=1):
                recipient = self._prepare(item, row, scratch)
                if recipient is not None and recipient.key not in existing:
                    keys.add(recipient.key)
            new = len(keys)
            if base_count + new > limit and base_count and not split:
                # Over the limit as counted: the members not read yet may hold some of these
                # addresses (a re-upload); read them once so that only really new ones count.
                new -= sum(1 for m in self.members(group) if m.recipient.key in keys)
        finally:
            keys.close()
        if not split:
            if base_count + new > limit:
                raise LimitExceeded(
                    f"group {group.name!r} has {base_count} recipients and the upload adds {new} new ones; "
                    f"{self.provider} allows at most {limit} per group. Upload with split=True (--split) "
                    "to fill numbered lists, or skip_existing=True (--skip-existing) if many are there already.",
                    provider=self.provider,
                    operation=str(Operation.UPLOAD),
                )
            return
        room = sum(max(limit - c, 0) for c in tally.counts)
        extra = math.ceil(max(new - room, 0) / limit)
        if extra and self.limits.max_groups is not None:
            have = sum(1 for _ in self.groups())
            if have + extra > self.limits.max_groups:
                raise LimitExceeded(
                    f"splitting {new} new recipients needs {extra} more list(s) of {limit}; {self.provider} has "
                    f"{have} and allows at most {self.limits.max_groups}",
                    provider=self.provider,
                    operation=str(Operation.UPLOAD),
                )

    def _full(self, recipient: Recipient, row: int) -> RejectedAddress:
        limit = self.limits.max_group_size
        return RejectedAddress(
            recipient.email, f"not uploaded: the group is full ({self.provider} allows {limit} per group)", "limit", row
        )

    def _next_part(self, tally: _UploadTally) -> None:
        """Move on to the next numbered list, creating it when it does not exist."""
        base, index = split_base(tally.parts[-1].name)
        name = part_name(base, index)
        try:
            part = self.get_group(name)
        except GroupNotFound:
            part = self.create_group(name, tally.group.description)
        tally.parts.append(part)
        tally.counts.append(part.recipient_count or 0)
        tally.notes.append(f"{tally.parts[-2].name} is full ({self.limits.max_group_size}); continuing in {name}")

    def _writer(self, tally: _UploadTally, progress: Callable[[UploadProgress], None] | None) -> UploadWriter | None:
        """For calls that do not depend on each other's results (no list to fill, no import to
        wait for): a writer that overlaps each call with reading and checking the next batch."""
        if self.limits.max_group_size is not None or self.limits.async_upload:
            return None
        from ._upload_writer import UploadWriter  # here: its thread pool machinery is not for a sending app's start

        return UploadWriter(
            lambda group, batch: self._call(Operation.UPLOAD, self.backend.upload_batch, group, batch),
            lambda rows, result, notify: self._account(rows, result, tally, progress if notify else None),
        )

    def _flush(
        self,
        batch: Rows,
        tally: _UploadTally,
        progress: Callable[[UploadProgress], None] | None,
        split: bool,
        writer: UploadWriter | None = None,
    ) -> None:
        """Send one batch to the current list; fill it to the limit, then split or stop."""
        if writer is not None:  # (no limit to fill: the writer accounts a failure itself)
            writer.send(tally.parts[-1], batch)
            return
        limit = self.limits.max_group_size
        rows = batch  # not uploaded yet
        try:
            while rows:
                room = len(rows) if limit is None else limit - tally.counts[-1]
                if room <= 0:
                    if split:
                        self._next_part(tally)
                        continue
                    if not tally.full:
                        tally.full = True
                        tally.notes.append(
                            f"group {tally.parts[-1].name!r} reached {self.provider}'s limit of {limit} "
                            f"recipients; {len(rows)} and any later new addresses were not uploaded (rejected, "
                            "code 'limit'); upload them with split=True (--split) or into another group"
                        )
                    tally.rejected.extend(self._full(r, row) for r, row in rows)
                    return
                self._upload_call(tally.parts[-1], rows[:room], tally, progress)
                rows = rows[room:]
        except MailbridgeError as exc:  # the report counts every row of this flush not uploaded
            tally.not_sent = len(rows)
            exc.partial_result = tally.report()
            exc.not_sent = tuple(r.email for r, _ in rows)
            raise

    def _upload_call(
        self,
        group: Group,
        rows: Rows,
        tally: _UploadTally,
        progress: Callable[[UploadProgress], None] | None,
    ) -> None:
        batch = [r for r, _ in rows]
        if self.limits.async_upload and tally.processing:
            # The provider refuses changes to a list that is still importing.
            self.wait_until_ready(group)
        try:
            result: BatchResult = self._call(Operation.UPLOAD, self.backend.upload_batch, group, batch)
        except ResourceBusy:
            if not self.limits.async_upload:
                raise
            self.wait_until_ready(group)  # an earlier upload (maybe another process's) is still importing
            result = self._call(Operation.UPLOAD, self.backend.upload_batch, group, batch)
        self._account(rows, result, tally, progress)

    def _account(
        self,
        rows: Rows,
        result: BatchResult,
        tally: _UploadTally,
        progress: Callable[[UploadProgress], None] | None,
    ) -> None:
        """Merge one call's result into the tally, then tell ``progress``."""
        tally.batches += 1
        tally.accepted += result.accepted_total
        tally.counts[-1] += result.accepted_total
        tally.existing += result.existing_total
        tally.unattributed += result.unattributed_rejected
        if result.note:
            tally.notes.append(result.note)
        if result.rejected:  # (the row map only when there is something to attribute: it costs per row)
            row_of = {r.key: row for r, row in rows}
            tally.rejected.extend(
                r if r.row is not None else attrs.evolve(r, row=row_of.get(r.email.casefold())) for r in result.rejected
            )
        tally.processing = tally.processing or result.processing
        if result.request_id:
            tally.request_ids.append(result.request_id)
        if progress is not None:
            progress(
                UploadProgress(
                    rows_read=tally.rows_read,
                    batches=tally.batches,
                    accepted=tally.accepted,
                    rejected=len(tally.rejected),
                    duplicates=len(tally.duplicates),
                    batch_accepted=result.accepted,
                    batch_rejected=result.rejected,
                )
            )

    @staticmethod
    def _stopped(exc: BaseException, tally: _UploadTally, unsent: Rows) -> None:
        """A pipelined upload stopped (a failed call, Ctrl-C, an error reading the input): every row
        read is in one category, ``not_sent`` holding those read but not uploaded."""
        tally.not_sent = len(unsent)
        # The rows classified so far: an interrupt may land inside a row, which then counts as not read.
        tally.rows_read = (
            tally.accepted
            + tally.existing
            + len(tally.duplicates)
            + len(tally.rejected)
            + tally.unattributed
            + tally.not_sent
        )
        if isinstance(exc, MailbridgeError | KeyboardInterrupt):
            exc.partial_result = tally.report()  # type: ignore[union-attr]
            exc.not_sent = tuple(r.email for r, _ in unsent)  # type: ignore[union-attr]

    def wait_until_ready(
        self, group: Group | str, *, timeout: float = 600.0, poll_initial: float = 0.5, poll_max: float = 10.0
    ) -> Group:
        """Poll until an asynchronous import has finished; :class:`ResourceBusy` on timeout."""
        self._require(Feature.GROUPS)
        resolved = self._group(group)
        deadline = self._clock() + timeout
        delay = poll_initial
        while True:
            current = self._call(Operation.GET_GROUP, self.backend.get_group, resolved.id)
            if current.status not in (GroupStatus.PROCESSING,):
                return current
            if self._clock() + delay > deadline:
                raise ResourceBusy(
                    f"group {resolved.name!r} is still importing after {timeout:.0f}s",
                    provider=self.provider,
                    operation=str(Operation.UPLOAD),
                )
            self._sleep(delay)
            delay = min(delay * 2, poll_max)

    # ------------------------------------------------------------------ sending

    @resolves_template_names
    def send(self, message: Message, *, idempotency_key: str | None = None) -> SendResult:
        """Send one email: several ``to`` addresses are one shared message that every one of
        them receives and sees (with cc; bcc stays hidden), in one provider call.

        A ``to`` list larger than one call of this provider can carry
        (``limits.recipients_per_send``) is refused with :class:`LimitExceeded` before any
        call: it is never split into arbitrary subsets. For one private copy per recipient
        send one message per address with :meth:`send_many` (or a group send). Never retried
        when the outcome is unknown. If the call fails, the error's ``not_sent`` holds the
        addresses certainly not sent and ``maybe_sent_to`` those of a call whose outcome is
        unknown.

        ``idempotency_key`` (or ``message.idempotency_key``): a send with a key already used
        returns the first receipts instead of sending again, and raises
        :class:`OutcomeUnknown` while the first is unresolved (in flight elsewhere, or ended
        unknown). Keys live in the client's ``idempotency`` store (process memory unless
        one is given: a SQLite file or Redis shares them between processes).
        """
        checked, key = self._checked_send(message, idempotency_key)
        if key is None:
            return self._send_checked(checked)
        return self.idempotency.send(key, checked, self._send_checked)

    def _checked_send(self, message: Message, idempotency_key: str | None) -> tuple[Message, str | None]:
        """The checked message of a send (carrying its idempotency key, if any) and that key."""
        checked = check_message(
            message, self.limits, self.provider, ignore_unsupported=self.ignore_unsupported_features
        )
        self._one_shared_email(checked)  # refused before any key is claimed or call made
        key = idempotency_key or message.idempotency_key
        return (checked if key is None else checked.evolve(idempotency_key=key)), key

    def _send_checked(self, checked: Message) -> SendResult:
        """One provider call for a message :meth:`_checked_send` passed (one shared email, so one call)."""
        try:
            receipt = self._call(Operation.SEND, self.backend.send, checked)
        except MailbridgeError as exc:
            account_failed_send(exc, checked)
            raise
        return SendResult([receipt])

    def _one_shared_email(self, message: Message) -> tuple[str, ...]:
        """The ``to`` list of one shared email, or LimitExceeded if one call cannot carry it."""
        size = self.limits.recipients_per_send
        if len(message.to) > size:
            raise LimitExceeded(
                f"{len(message.to)} 'to' addresses: several 'to' addresses are one shared email (each recipient "
                f"sees the others) and {self.provider} carries at most {size} in one call. Send one copy each "
                "with Client.send_many(message.evolve(to=[a]) for a in to) (mailbridge send --each), or upload "
                "them to a group and send to it.",
                provider=self.provider,
                operation=str(Operation.SEND),
            )
        return message.to

    @resolves_template_names
    def send_to_group(self, group: Group | str, message: Message, *, schedule: dt.datetime | None = None) -> SendResult:
        """Send to every member of a group in one provider call (a template, on the clouds).

        ``schedule`` (an aware datetime; naive means UTC) starts the send at that time instead of
        now, on backends declaring ``Feature.SCHEDULED_SEND``; it must lie in the future.
        """
        checked, schedule = self._checked_group_send(message, schedule)
        resolved = self._group(group)
        if schedule is None:
            receipt = self._call(Operation.SEND_TO_GROUP, self.backend.send_to_group, resolved, checked)
        else:
            receipt = self._call(
                Operation.SEND_TO_GROUP, self.backend.send_to_group, resolved, checked, schedule=schedule
            )
        return SendResult([receipt])

    def _checked_group_send(self, message: Message, schedule: dt.datetime | None) -> tuple[Message, dt.datetime | None]:
        """A group send's checked message and aware schedule (every refusal before any call)."""
        self._require(Feature.BATCH_SEND)
        if schedule is not None:
            self._require(Feature.SCHEDULED_SEND)
            schedule = schedule if schedule.tzinfo else schedule.replace(tzinfo=dt.UTC)
            if schedule <= dt.datetime.now(dt.UTC):
                raise InvalidRequest(f"schedule {schedule.isoformat()} is not in the future")
        if message.to:
            raise InvalidRequest("a group send takes its recipients from the group; give no 'to' addresses")
        checked = check_message(
            message,
            self.limits,
            self.provider,
            ignore_unsupported=self.ignore_unsupported_features,
            group_send=True,
        )
        return checked, schedule

    def send_many(
        self,
        messages: Iterable[Message],
        *,
        max_in_flight: int | None = None,
        progress: Callable[[SendManyProgress], None] | None = None,
    ) -> Iterator[SendOutcome]:
        """Send many messages concurrently, paced by the declared rate; one outcome per message, in order.

        ``messages`` may be any iterable (read lazily, bounded memory). ``max_in_flight``
        defaults from the backend's declared send rate. Each outcome holds the message's
        :class:`SendResult` or its neutral error; the stream never raises for one message.
        Ctrl-C raises :class:`SendManyInterrupted` once the calls in flight have finished.
        """
        in_flight = max_in_flight or default_in_flight(self.limits)
        return send_many(self.send, messages, max_in_flight=in_flight, progress=progress)

    # ------------------------------------------------------------------ delivery

    def deliveries(
        self,
        start: dt.datetime,
        end: dt.datetime | None = None,
        *,
        recipient: str | None = None,
        sender: str | None = None,
        message_id: str | None = None,
        status: DeliveryStatus | str | None = None,
        tag: str | None = None,
    ) -> Iterator[DeliveryEvent]:
        """Delivery events in ``[start, end)`` (default: until now), over any window length.

        The window is split into the backend's allowed query windows and every page is
        followed; filters the provider cannot apply are applied here.
        """
        filters = {"recipient": recipient, "sender": sender, "message_id": message_id, "status": status, "tag": tag}
        return self._delivery_events(*self._delivery_query(start, end, filters))

    def _delivery_query(
        self, start: dt.datetime, end: dt.datetime | None, filters: dict[str, Any]
    ) -> tuple[dt.datetime, dt.datetime, dict[str, Any], dict[str, Any]]:
        """A delivery query's aware window and its filters for the provider and for the client (every refusal
        before any call). ``filters``: :meth:`deliveries`' keyword filters, any of them."""
        if unknown := set(filters) - set(_DELIVERY_FILTERS):
            raise TypeError(f"deliveries() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        filters = {name: filters.get(name) for name in _DELIVERY_FILTERS}
        self._require(Feature.DELIVERIES)
        start = start if start.tzinfo else start.replace(tzinfo=dt.UTC)
        end = end or dt.datetime.now(dt.UTC)
        end = end if end.tzinfo else end.replace(tzinfo=dt.UTC)
        if end <= start:
            raise InvalidRequest(f"delivery window is empty: start {start.isoformat()} is not before end")
        limits = self.limits
        if limits.delivery_retention is not None:
            cutoff = dt.datetime.now(dt.UTC) - limits.delivery_retention
            if start < cutoff - _RETENTION_GRACE:  # "--since 30d" on a 30-day cloud is within it
                raise LimitExceeded(
                    f"{self.provider} keeps delivery data for {limits.delivery_retention.days} days; "
                    f"the window starts {start:%Y-%m-%d %H:%M} UTC, before {cutoff:%Y-%m-%d %H:%M} UTC",
                    provider=self.provider,
                    operation=str(Operation.DELIVERIES),
                )
        wanted = DeliveryStatus(filters["status"]) if filters["status"] else None
        if wanted in ENGAGEMENT_STATUSES and not limits.supports(Feature.DELIVERY_ENGAGEMENT):
            raise UnsupportedFeature(
                f"{self.provider} does not report {wanted} in its delivery log (no delivery engagement), "
                f"so it cannot filter delivery events by status {wanted}",
                provider=self.provider,
                operation=str(Operation.DELIVERIES),
            )
        filters = {**filters, "status": wanted}
        if wanted in ENGAGEMENT_STATUSES:  # a flag on delivered events: matched here, never sent as a status
            server_status = limits.delivery_filters - {"status"}
            limits = limits.evolve(delivery_filters=server_status)
        for name, value in filters.items():
            server_side = name in limits.delivery_filters
            client_side = name in _CLIENT_FILTERABLE and name not in limits.unsupported_delivery_filters
            if value is not None and not (server_side or client_side):
                raise UnsupportedFeature(
                    f"{self.provider} cannot filter delivery events by {name.replace('_', ' ')}", provider=self.provider
                )
        server = {k: v for k, v in filters.items() if k in limits.delivery_filters}
        local = {k: v for k, v in filters.items() if k not in limits.delivery_filters and v is not None}
        return start, end, server, local

    def _delivery_events(
        self, start: dt.datetime, end: dt.datetime, server: dict[str, Any], local: dict[str, Any]
    ) -> Iterator[DeliveryEvent]:
        size = self.limits.delivery_page_size
        for query in self._delivery_queries(start, end, server):

            def fetch(cursor: str | None, query: DeliveryQuery = query) -> Page[DeliveryEvent]:
                return self.backend.query_deliveries(query, cursor=cursor, page_size=size)

            for event in self._pages(Operation.DELIVERIES, fetch):
                if _wanted(event, start, end, local):
                    yield event

    def _delivery_queries(self, start: dt.datetime, end: dt.datetime, server: dict[str, Any]) -> list[DeliveryQuery]:
        """One provider query per window of :meth:`delivery_windows`, with the provider-side filters."""
        return [DeliveryQuery(start=first, end=last, **server) for first, last in self.delivery_windows(start, end)]

    def delivery_windows(self, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
        """The provider-sized windows that cover ``[start, end)``, oldest first."""
        limits = self.limits
        windows: list[tuple[dt.datetime, dt.datetime]] = []
        cursor = start
        while cursor < end:
            if limits.delivery_query_by_day:
                local = cursor.astimezone(limits.timezone)
                next_day = (local + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
                upper = next_day.astimezone(dt.UTC)
            elif limits.delivery_query_window is not None:
                upper = cursor + limits.delivery_query_window
            else:
                upper = end
            upper = min(upper, end)
            windows.append((cursor, upper))
            cursor = upper
        return windows

    # ------------------------------------------------------------------ account & setup views

    def account(self) -> AccountSummary:
        """Quota and standing of the account."""
        self._require(Feature.ACCOUNT_SUMMARY)
        return self._call(Operation.ACCOUNT, self.backend.account_summary)

    def statistics(self, start: dt.date, end: dt.date) -> list[StatisticsRow]:
        """Daily volumes from ``start`` to ``end`` inclusive."""
        return self._call(Operation.STATISTICS, self.backend.statistics, *self._statistics_span(start, end))

    def _statistics_span(self, start: dt.date, end: dt.date) -> tuple[str, str]:
        self._require(Feature.STATISTICS)
        if end < start:
            raise InvalidRequest("statistics: end is before start")
        return start.isoformat(), end.isoformat()

    # ------------------------------------------------------------------ sender domains

    def create_domain(self, name: str) -> SenderDomain:
        """Register a sending domain; the result lists the DNS records to publish."""
        self._require(Feature.DOMAINS)
        domain = name.strip().lower()
        if not _DOMAIN.fullmatch(domain):
            raise InvalidRequest(f"{name!r} is not a domain name")

        def find() -> SenderDomain | None:
            try:
                return self._call(Operation.DOMAINS, self.backend.get_domain, domain)
            except NotFound:
                return None

        return self._create(Operation.DOMAINS, lambda: self.backend.create_domain(domain), find)

    def domains(self) -> list[SenderDomain]:
        self._require(Feature.DOMAINS)
        return self._call(Operation.DOMAINS, self.backend.list_domains)

    def domain(self, name: str) -> SenderDomain:
        """A sender domain with the DNS records it needs and their verification status."""
        self._require(Feature.DOMAINS)
        return self._call(Operation.DOMAINS, self.backend.get_domain, name.strip().lower())

    def verify_domain(self, name: str) -> SenderDomain:
        """Have the provider check the domain's DNS records now."""
        self._require(Feature.DOMAINS)
        return self._call(Operation.DOMAINS, self.backend.verify_domain, name.strip().lower())

    def delete_domain(self, name: str) -> None:
        self._require(Feature.DOMAINS)
        self._delete(Operation.DOMAINS, self.backend.delete_domain, name.strip().lower())

    # ------------------------------------------------------------------ sender addresses

    def create_sender(self, address: str, *, kind: str | None = None, reply_to: str | None = None) -> SenderAddress:
        """Register a sender address (``kind``: "transactional" or "batch")."""
        self._require(Feature.SENDERS)
        for field_name, value in (("sender", address), ("reply_to", reply_to)):
            if value and (problem := address_error(value)):
                raise InvalidAddress(f"{field_name} address {value!r} is invalid: {problem}", provider=self.provider)
        if kind not in (None, "transactional", "batch"):
            raise InvalidRequest(f"sender kind must be 'transactional' or 'batch', not {kind!r}")

        def find() -> SenderAddress | None:
            try:
                return self.sender(address)
            except SenderNotFound:
                return None

        return self._create(
            Operation.SENDERS, lambda: self.backend.create_sender(address, kind=kind, reply_to=reply_to), find
        )

    def senders(self) -> list[SenderAddress]:
        self._require(Feature.SENDERS)
        return self._call(Operation.SENDERS, self.backend.list_senders)

    def sender(self, address: str) -> SenderAddress:
        """The registered sender with this address; :class:`SenderNotFound` if none."""
        for sender in self.senders():
            if sender.address.casefold() == address.casefold():
                return sender
        raise SenderNotFound(f"no sender address {address!r} on {self.provider}", provider=self.provider)

    def delete_sender(self, sender: SenderAddress | str) -> None:
        self._require(Feature.SENDERS)
        resolved = sender if isinstance(sender, SenderAddress) else self.sender(sender)
        self._delete(Operation.SENDERS, self.backend.delete_sender, resolved)

    def set_sender_password(self, sender: SenderAddress | str, password: str | Secret) -> None:
        """Set a sender's SMTP password (never logged, printed or recorded)."""
        self._require(Feature.SENDER_PASSWORD)
        resolved = sender if isinstance(sender, SenderAddress) else self.sender(sender)
        secret = password if isinstance(password, Secret) else Secret(password)
        self._call(Operation.SENDERS, self.backend.set_sender_password, resolved, secret)

    def verify_reply_to(self, sender: SenderAddress | str) -> None:
        """Start verification of a sender's reply-to address."""
        self._require(Feature.REPLY_TO_VERIFICATION)
        resolved = sender if isinstance(sender, SenderAddress) else self.sender(sender)
        self._call(Operation.SENDERS, self.backend.verify_reply_to, resolved)

    # ------------------------------------------------------------------ tags

    def tags(self) -> list[Tag]:
        self._require(Feature.TAG_MANAGEMENT)
        return self._call(Operation.TAGS, self.backend.list_tags)

    def create_tag(self, name: str, description: str | None = None) -> Tag:
        self._require(Feature.TAG_MANAGEMENT)

        def find() -> Tag | None:
            return next((t for t in self.tags() if t.name == name), None)

        return self._create(Operation.TAGS, lambda: self.backend.create_tag(name, description), find)

    def rename_tag(self, tag: Tag, new_name: str) -> Tag:
        self._require(Feature.TAG_MANAGEMENT)
        return self._call(Operation.TAGS, self.backend.rename_tag, tag, new_name)

    def delete_tag(self, tag: Tag) -> None:
        self._require(Feature.TAG_MANAGEMENT)
        self._delete(Operation.TAGS, self.backend.delete_tag, tag)

    # ------------------------------------------------------------------ templates

    def create_template(self, name: str, *, subject: str, html: str | None = None, text: str | None = None) -> Template:
        """Store a template under ``name``, its neutral identity; variables are written ``{{name}}``.

        Every part is kept: what the provider cannot store (Tencent subjects, Direct Mail text
        bodies) goes to the template catalog (see :mod:`mailbridge._catalog`); with the catalog
        ``off`` such a template is refused before any call. Returns the complete template.
        """
        self._require(Feature.TEMPLATES)
        name = self._check_template(name, subject, html, text)

        def find() -> Template | None:
            listed = next((t for t in self.templates() if t.name == name), None)
            return None if listed is None else self._call(Operation.TEMPLATES, self.backend.get_template, listed.id)

        def perform(effect: tuple[str, Any]) -> Any:
            kind, arg = effect
            if kind == "create":
                create = functools.partial(self.backend.create_template, name, subject=subject, html=html, text=text)
                return self._create(Operation.TEMPLATES, create, find)
            if kind == "remember":
                return self._templates.remember(*arg)
            return self._call(Operation.TEMPLATES, self.backend.delete_template, arg)

        template: Template = drive(self._template_creation({"subject": subject, "html": html, "text": text}), perform)
        return template

    def _template_creation(self, parts: Mapping[str, str | None]) -> Flow[Template]:
        """:meth:`create_template` after its checks, as a flow of ``(kind, arg)`` effects: ``("create", None)``
        (the safe-repeat create), ``("remember", (stored, parts))`` (the catalog record) and, when the
        catalog fails after the create, ``("delete", stored)``: the incomplete template is taken back."""
        stored = yield ("create", None)
        try:
            remembered: Template = yield ("remember", (stored, parts))
        except ConfigurationError:
            with contextlib.suppress(MailbridgeError):
                yield ("delete", stored)
            raise
        return remembered

    def templates(self) -> list[Template]:
        """Every template as the provider lists it (id, name, status; use :meth:`get_template` for content)."""
        self._require(Feature.TEMPLATES)
        return self._call(Operation.TEMPLATES, self.backend.list_templates)

    def get_template(self, template: Template | str) -> Template:
        """The template with this name (or, failing that, this provider id), with every part.

        Same result on every backend; :class:`TemplateNotFound` if there is none. Parts the
        provider cannot store come from the template catalog; those it has no record of are
        named in ``Template.missing`` (and left ``None``). A :class:`Template` (from
        :meth:`templates`) is read by its id.
        """
        self._require(Feature.TEMPLATES)
        return self._templates.complete(self._templates.find(template))

    def update_template(
        self, template: Template | str, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        """Replace a template's subject and bodies (the template given by name, id or :class:`Template`)."""
        self._require(Feature.TEMPLATES)
        resolved = template if isinstance(template, Template) else self._templates.find(template)
        self._check_template(resolved.name, subject, html, text)
        self._templates.forget(resolved)
        stored = self._call(
            Operation.TEMPLATES, self.backend.update_template, resolved, subject=subject, html=html, text=text
        )
        return self._templates.remember(stored, {"subject": subject, "html": html, "text": text})

    def delete_template(self, template: Template | str) -> None:
        """Delete a template (by name, id or :class:`Template`) and its catalog entry."""
        self._require(Feature.TEMPLATES)
        resolved = template if isinstance(template, Template) else self._templates.find(template)
        self._templates.forget(resolved)
        self._delete(Operation.TEMPLATES, self.backend.delete_template, resolved)
        self._templates.drop(resolved)

    def _check_template(self, name: str, subject: str, html: str | None, text: str | None) -> str:
        """Refuse a template the provider could not keep whole; return the stripped name."""
        name = name.strip()
        if not name:
            raise InvalidRequest("a template needs a name")
        if not (html or text):
            raise InvalidRequest("a template needs an html or text body")
        if not subject or "\r" in subject or "\n" in subject:
            raise InvalidRequest("a template needs a one-line subject")
        syntax = self.backend.template_syntax
        for part in (subject, html, text):
            syntax.to_provider(part)  # raises InvalidRequest naming a construct the provider cannot express
        self._templates.require_catalog({"subject": subject, "html": html, "text": text})
        return name


_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


_RETENTION_GRACE = dt.timedelta(minutes=1)

_DELIVERY_FILTERS = ("recipient", "sender", "message_id", "status", "tag")
# Filters the client can apply itself to returned events (events carry no tag).
_CLIENT_FILTERABLE = frozenset({"recipient", "sender", "message_id", "status"})


def _guard(store: IdempotencyStore | str | None) -> IdempotencyGuard:
    if store is None:
        return IdempotencyGuard(MemoryIdempotencyStore())  # a key without a store still holds in this process
    return IdempotencyGuard(idempotency_store(store) if isinstance(store, str) else store)


def _named(group: Group, keyword: str | None) -> bool:
    """Whether a listed group's name contains ``keyword`` (a provider's keyword search may be looser)."""
    return keyword is None or keyword.casefold() in group.name.casefold()


def _wanted(event: DeliveryEvent, start: dt.datetime, end: dt.datetime, local: Mapping[str, Any]) -> bool:
    """Whether a listed delivery event lies in ``[start, end)`` and passes the client-side filters."""
    if event.time is not None and not (start <= event.time < end):
        return False
    return all(_matches(event, k, v) for k, v in local.items())


def _matches(event: DeliveryEvent, key: str, value: Any) -> bool:
    if key == "recipient":
        return event.recipient.casefold() == str(value).casefold()
    if key == "sender":
        return (event.sender or "").casefold() == str(value).casefold()
    if key == "message_id":
        return bool(event.message_id == value)
    if key == "status":
        return event.has(value)
    raise UnsupportedFeature(f"unknown delivery filter {key!r}")
