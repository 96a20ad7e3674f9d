"""Migration: plan, copy and verify recipient groups from one provider to another.

``plan_migration()`` reads both sides and says, before anything is written, which groups move, how
many members each has, which target limits they hit (and whether they will be split into
numbered lists or refused), which recipient data will not survive, and what cannot be
automated (sender domains with the DNS records the target needs, templates).
``migrate()`` copies through the target client's own chunking, de-duplication and rate
limits, and is resumable: running it again skips every address already on the target.
Reading the source overlaps with uploading to the target: a reader thread follows the source's
pages (each call within the source's rate budget) into a bounded queue while the uploads run
(within the target's), so a migration takes about as long as the slower of the two sides, not
their sum. The group is verified against the addresses read during the copy (the source is
not read twice). ``verify_migration()`` compares the addresses on both sides and reports
exactly what differs.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from attrs import field, frozen

from ._client import Client
from ._dedup import SeenSet
from ._exceptions import GroupNotFound, LimitExceeded, MailbridgeError, UnsupportedFeature
from ._limits import Feature
from ._migrate_suppressions import SuppressionPlan, SuppressionResult, copy_suppressions, plan_suppressions
from ._models import Group, GroupStatus, Member, Recipient, UploadReport
from ._parts import part_names
from ._setup_migrate import template_steps

__all__ = [
    "GroupPlan",
    "GroupResult",
    "MigrationPlan",
    "MigrationReport",
    "Verification",
    "migrate",
    "plan_migration",
    "verify_migration",
]

log = logging.getLogger("mailbridge.migrate")


def _strs(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


def _tuple(value: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(value)


@frozen
class GroupPlan:
    """What will happen to one source group."""

    name: str
    members: int
    targets: tuple[str, ...] = field(converter=_strs)  # target list names (several when split)
    action: str  # "copy", "split", "refuse"
    existing_on_target: int = 0
    dropped_fields: tuple[str, ...] = field(default=(), converter=_strs)
    notes: tuple[str, ...] = field(default=(), converter=_strs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "members": self.members,
            "targets": list(self.targets),
            "action": self.action,
            "existing_on_target": self.existing_on_target,
            "dropped_fields": list(self.dropped_fields),
            "notes": list(self.notes),
        }


@frozen
class MigrationPlan:
    source: str
    target: str
    groups: tuple[GroupPlan, ...] = field(converter=_tuple)
    manual_steps: tuple[str, ...] = field(default=(), converter=_strs)
    suppressions: SuppressionPlan | None = None  # the suppression list to carry over (None: not asked)

    @property
    def refused(self) -> tuple[GroupPlan, ...]:
        return tuple(g for g in self.groups if g.action == "refuse")

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "groups": [g.as_dict() for g in self.groups],
            "manual_steps": list(self.manual_steps),
            "suppressions": self.suppressions.as_dict() if self.suppressions else None,
        }


@frozen
class Verification:
    """Addresses on each side of one group (split target lists counted together)."""

    group: str
    source_count: int
    target_count: int
    missing_on_target: tuple[str, ...] = field(default=(), converter=_strs)
    extra_on_target: tuple[str, ...] = field(default=(), converter=_strs)
    duplicates_on_target: tuple[str, ...] = field(default=(), converter=_strs)

    @property
    def equal(self) -> bool:
        return not (self.missing_on_target or self.extra_on_target or self.duplicates_on_target)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "equal": self.equal,
            "source_count": self.source_count,
            "target_count": self.target_count,
            "missing_on_target": list(self.missing_on_target),
            "extra_on_target": list(self.extra_on_target),
            "duplicates_on_target": list(self.duplicates_on_target),
        }


@frozen
class GroupResult:
    plan: GroupPlan
    uploads: tuple[UploadReport, ...] = field(converter=_tuple)
    verification: Verification
    already_on_target: int = 0  # source members skipped because the target had them (a resumed run)

    @property
    def copied(self) -> int:
        return sum(u.accepted for u in self.uploads)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.plan.name,
            "targets": list(self.plan.targets),
            "copied": self.copied,
            "skipped_existing": self.already_on_target,
            "rejected": [
                {"email": r.email, "reason": r.reason, "code": r.code} for u in self.uploads for r in u.rejected
            ],
            "verification": self.verification.as_dict(),
        }


@frozen
class MigrationReport:
    plan: MigrationPlan
    groups: tuple[GroupResult, ...] = field(converter=_tuple)
    suppressions: SuppressionResult | None = None

    @property
    def verified(self) -> bool:
        copied = self.suppressions is None or self.suppressions.equal
        return copied and all(g.verification.equal for g in self.groups)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.as_dict(),
            "groups": [g.as_dict() for g in self.groups],
            "suppressions": self.suppressions.as_dict() if self.suppressions else None,
            "verified": self.verified,
        }


# ---------------------------------------------------------------------------- planning


_part_names = part_names  # the naming upload(split=True) continues (see _parts)


def _dropped_fields(source: Client, target: Client, group: Group, sample: int = 200) -> list[str]:
    """Recipient data that will not survive the move (sampled from the source group)."""
    dropped: set[str] = set()
    if source.limits.supports(Feature.TEMPLATE_DATA) and not source.limits.supports(Feature.TEMPLATE_DATA_READ):
        dropped.add(f"template data ({source.provider} does not return it when listing members)")
    for i, member in enumerate(source.members(group)):
        if i >= sample:
            break
        r = member.recipient
        if r.data and not target.limits.supports(Feature.TEMPLATE_DATA):
            dropped.update(f"data.{k}" for k in r.data)
        if r.profile() and not target.limits.supports(Feature.PROFILE_FIELDS):
            dropped.update(r.profile())
    return sorted(dropped)


def _manual_steps(source: Client, target: Client) -> list[str]:
    steps: list[str] = []
    try:
        domains = source.domains()
    except (UnsupportedFeature, MailbridgeError) as exc:
        domains = []
        log.info("migrate: cannot list sender domains on %s: %s", source.provider, exc)
    for domain in domains:
        try:
            on_target = target.domain(domain.name)
            records = "; ".join(f"{r.type} {r.host} {r.value}" for r in on_target.records) or "see the console"
            state = "verified" if on_target.verified else "not verified"
            steps.append(f"sender domain {domain.name}: exists on {target.provider} ({state}); DNS: {records}")
        except (UnsupportedFeature, MailbridgeError):
            steps.append(f"sender domain {domain.name}: create it on {target.provider} and publish its DNS records")
    steps.extend(template_steps(source, target))  # only the ones missing or different on the target
    steps.append(f"sender addresses: register each sender address on {target.provider}")
    return steps


def _target_groups(target: Client, names: Sequence[str]) -> list[Group]:
    found = []
    for name in names:
        try:
            found.append(target.get_group(name))
        except GroupNotFound:
            continue
    return found


def plan_migration(
    source: Client,
    target: Client,
    groups: Sequence[str] | None = None,
    *,
    split: bool = True,
    suppressions: bool = True,
) -> MigrationPlan:
    """Read both sides and describe the migration; nothing is written.

    ``suppressions``: also plan copying the source's suppression list (counts in the plan)."""
    chosen = [source.get_group(n) for n in groups] if groups else list(source.groups())
    limit = target.limits.max_group_size
    plans = []
    for group in chosen:
        count = group.recipient_count if group.recipient_count is not None else sum(1 for _ in source.members(group))
        parts = math.ceil(count / limit) if limit and count > limit else 1
        notes = []
        action = "copy"
        if parts > 1:
            if split:
                action = "split"
                notes.append(
                    f"{count} members exceed {target.provider}'s limit of {limit} per list: "
                    f"split into {parts} numbered lists"
                )
            else:
                action = "refuse"
                notes.append(f"{count} members exceed {target.provider}'s limit of {limit} per list (no --split)")
        names = _part_names(group.name, parts if action == "split" else 1)
        if target.limits.group_name_length and any(len(n) > target.limits.group_name_length for n in names):
            action = "refuse"
            notes.append(f"name too long for {target.provider} (max {target.limits.group_name_length} characters)")
        existing = sum(g.recipient_count or 0 for g in _target_groups(target, names))
        plans.append(
            GroupPlan(
                name=group.name,
                members=count,
                targets=names,
                action=action,
                existing_on_target=existing,
                dropped_fields=_dropped_fields(source, target, group),
                notes=notes,
            )
        )
    carried = plan_suppressions(source, target) if suppressions else None
    return MigrationPlan(source.provider, target.provider, plans, _manual_steps(source, target), carried)


# ---------------------------------------------------------------------------- copying


def _find_or_create(target: Client, name: str, description: str | None) -> Group:
    try:
        return target.get_group(name)
    except GroupNotFound:
        return target.create_group(name, description)


def migrate(
    source: Client,
    target: Client,
    migration: MigrationPlan,
    *,
    chunk: int = 5000,
    wait_timeout: float = 600.0,
    progress: Callable[[int], None] | None = None,
) -> MigrationReport:
    """Copy every planned group (skipping what the target already has), then verify each.

    ``progress`` is called with the number of source members handled since the last call.
    Raises :class:`LimitExceeded` before writing anything if the plan refuses a group.

    If reading the source or uploading to the target fails, both stop (nothing more is read
    or uploaded) and the error is raised with ``partial_result``: a :class:`MigrationReport`
    of the groups finished so far plus the interrupted one, whose uploads are those that
    completed and whose verification counts the members read so far and lists, as
    ``missing_on_target``, exactly those read but not uploaded (also the error's ``not_sent``).
    Running ``migrate`` again resumes.
    """
    if migration.refused:
        names = ", ".join(g.name for g in migration.refused)
        raise LimitExceeded(f"the plan refuses: {names}; see its notes (or allow splitting)")
    results: list[GroupResult] = []
    ignoring = target.ignore_unsupported_features
    target.ignore_unsupported_features = True  # the plan lists the fields the target cannot keep
    try:
        for group_plan in migration.groups:
            try:
                results.append(_copy_group(source, target, group_plan, chunk, wait_timeout, progress))
            except MailbridgeError as exc:
                interrupted = exc.partial_result if isinstance(exc.partial_result, GroupResult) else None
                exc.partial_result = MigrationReport(migration, [*results, *([interrupted] if interrupted else [])])
                raise
    finally:
        target.ignore_unsupported_features = ignoring
    carried = copy_suppressions(source, target, migration.suppressions) if migration.suppressions else None
    return MigrationReport(migration, results, carried)


_END = object()


class _Reader:
    """Source members read in a thread, at most ``capacity`` ahead of the uploads.

    Iterate in the consuming thread: members in source order, then the reader's error if it
    failed. :meth:`close` stops it after the call in flight (it never starts another) and waits.
    """

    def __init__(self, members: Iterator[Member], capacity: int) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(members,), name="mailbridge-migrate-read", daemon=True)
        self._thread.start()

    def _run(self, members: Iterator[Member]) -> None:
        try:
            for member in members:
                if not self._put(member):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)
        finally:
            close = getattr(members, "close", None)
            if close is not None:
                close()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[Member]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, Member)
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _read_target(target: Client, parts: list[Group], existing: SeenSet) -> list[int]:
    """Every member of the target lists into ``existing``; how many each list has."""
    counts = []
    for part in parts:
        n = 0
        for member in target.members(part):
            existing.add(member.recipient.key)
            n += 1
        counts.append(n)
    return counts


class _Filler:
    """Uploads buffered members into the target lists in order, filling each to the target's limit."""

    def __init__(self, target: Client, group_plan: GroupPlan, parts: list[Group], wait_timeout: float) -> None:
        self.target, self.group_plan, self.parts, self.wait_timeout = target, group_plan, parts, wait_timeout
        self.counts: list[int] = []
        self.uploads: list[UploadReport] = []
        self.buffer: list[Recipient] = []
        self.unsent: list[str] = []  # of a failed upload: the addresses it did not upload
        self.part_index = 0

    def flush(self) -> None:
        limit = self.target.limits.max_group_size
        wait = self.target.limits.async_upload
        while self.buffer:
            room = (limit - self.counts[self.part_index]) if limit else len(self.buffer)
            if room <= 0:
                self.part_index += 1
                if self.part_index >= len(self.parts):
                    raise LimitExceeded(f"{self.group_plan.name}: the target lists are full")
                continue
            take = self.buffer[:room]
            try:
                report = self.target.upload(
                    self.parts[self.part_index], take, wait=wait, wait_timeout=self.wait_timeout
                )
            except MailbridgeError as exc:
                del self.buffer[:room]
                partial = exc.partial_result
                if isinstance(partial, UploadReport):  # what that upload did before it failed
                    self.uploads.append(partial)
                    self.unsent = [*exc.not_sent, *(r.email for r in take[partial.rows :])]
                else:
                    self.unsent = [r.email for r in take]
                raise
            del self.buffer[:room]
            self.counts[self.part_index] += report.accepted
            self.uploads.append(report)

    def interrupted(self, exc: MailbridgeError, read: set[str], skipped: int) -> None:
        """The exact state of an interrupted group on the error: what was read, uploaded, not sent."""
        not_sent = (*self.unsent, *(r.email for r in self.buffer))
        exc.not_sent = not_sent
        known = sum(self.counts) + sum(u.accepted for u in self.uploads)
        verification = Verification(self.group_plan.name, len(read), known, missing_on_target=sorted(not_sent))
        exc.partial_result = GroupResult(self.group_plan, self.uploads, verification, skipped)


def _copy_group(
    source: Client,
    target: Client,
    group_plan: GroupPlan,
    chunk: int,
    wait_timeout: float,
    progress: Callable[[int], None] | None,
) -> GroupResult:
    source_group = source.get_group(group_plan.name)
    parts = [_find_or_create(target, n, source_group.description) for n in group_plan.targets]
    existing = SeenSet()
    read: set[str] = set()  # every source address key read: the verification's source side
    skipped = 0
    reader: _Reader | None = None
    if target.limits.async_upload:  # members of an import still running are not listed yet
        parts = [target.wait_until_ready(part, timeout=wait_timeout) for part in parts]
    filler = _Filler(target, group_plan, parts, wait_timeout)
    try:
        # The source is read from here on, in a thread, while the target's members are read and uploaded.
        reader = _Reader(source.members(source_group), max(chunk, 4 * source.limits.list_page_size))
        filler.counts = _read_target(target, parts, existing)
        for member in reader:
            key = member.recipient.key
            read.add(key)
            if key not in existing:
                existing.add(key)
                filler.buffer.append(member.recipient)
            else:
                skipped += 1
            if progress:
                progress(1)
            if len(filler.buffer) >= chunk:
                filler.flush()
        filler.flush()
    except MailbridgeError as exc:
        if reader is not None:
            reader.close()  # both sides have stopped before the report is made
        filler.interrupted(exc, read, skipped)
        raise
    finally:
        if reader is not None:
            reader.close()
        existing.close()
    for part in parts:
        if target.limits.async_upload:
            target.wait_until_ready(part, timeout=wait_timeout)
    return GroupResult(group_plan, filler.uploads, _verify(target, group_plan, read, wait_timeout), skipped)


# ---------------------------------------------------------------------------- verification


def _addresses(members: Iterator[Any]) -> tuple[set[str], list[str]]:
    seen: set[str] = set()
    repeats: list[str] = []
    for member in members:
        key = member.recipient.key
        if key in seen:
            repeats.append(member.email)
        seen.add(key)
    return seen, repeats


def verify_migration(
    source: Client, target: Client, group_plan: GroupPlan, *, wait_timeout: float = 600.0
) -> Verification:
    """Compare the addresses of a source group with its target list(s)."""
    src, _ = _addresses(source.members(group_plan.name))
    return _verify(target, group_plan, src, wait_timeout)


def _verify(target: Client, group_plan: GroupPlan, src: Iterable[str], wait_timeout: float) -> Verification:
    """The target list(s) of a group against the source's address keys."""
    src = set(src)
    dst: set[str] = set()
    repeats: list[str] = []
    total = 0
    for name in group_plan.targets:
        try:
            part = target.get_group(name)
        except GroupNotFound:
            continue
        if target.limits.async_upload and part.status == GroupStatus.PROCESSING:
            part = target.wait_until_ready(part, timeout=wait_timeout)
        keys, again = _addresses(target.members(part))
        repeats.extend(again)
        repeats.extend(k for k in keys if k in dst)
        total += len(keys) + len(again)
        dst |= keys
    return Verification(
        group=group_plan.name,
        source_count=len(src),
        target_count=total,
        missing_on_target=sorted(src - dst),
        extra_on_target=sorted(dst - src),
        duplicates_on_target=sorted(repeats),
    )
