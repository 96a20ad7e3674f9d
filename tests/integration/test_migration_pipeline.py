"""The overlapped migration (Direct Mail emulator -> SES emulator): same result, pages as large as allowed,
and a failure on either side stops both with an exact report.

The emulators' request logs are the judge of what went on the wire; the target's members, read back
through the SES emulator, of what arrived.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

MEMBERS = 1_250


def off(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "rate_limit=off"


@pytest.fixture
def clouds() -> Iterator[tuple[AliyunEmulator, TencentEmulator, mailbridge.Client, mailbridge.Client]]:
    with (
        AliyunEmulator() as dm,
        TencentEmulator(rate=0, upload_delay=0.05) as ses,
        contextlib.ExitStack() as stack,
    ):
        source = stack.enter_context(mailbridge.connect(off(dm.url)))
        group = source.create_group("customers", "pipeline")
        rows = [mailbridge.Recipient(f"c{i}@example.com", name=f"Customer {i}") for i in range(MEMBERS)]
        for start in range(0, MEMBERS, 500):
            source.backend.upload_batch(group, rows[start : start + 500])
        target = stack.enter_context(mailbridge.connect(off(ses.url), retry=mailbridge.RetryPolicy(attempts=1)))
        yield dm, ses, source, target


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "mailbridge-migrate-read"]


def _members(client: mailbridge.Client, name: str) -> dict[str, str | None]:
    return {m.recipient.key: m.recipient.name for m in client.members(name)}


def test_overlapped_migration_copies_exactly_at_the_largest_pages(
    clouds: tuple[AliyunEmulator, TencentEmulator, mailbridge.Client, mailbridge.Client],
) -> None:
    dm, ses, source, target = clouds
    plan = mailbridge.plan_migration(source, target)
    before = len(dm.calls("QueryReceiverDetail"))
    report = mailbridge.migrate(source, target, plan, chunk=400)
    # The copy read the source's 1,250 members once, 13 pages of 100: verifying it does not read them again.
    assert len(dm.calls("QueryReceiverDetail")) - before == 13
    assert report.verified
    (group,) = report.groups
    assert group.copied == MEMBERS and group.verification.source_count == MEMBERS
    assert _members(target, "customers") == _members(source, "customers")
    # Direct Mail documents no PageSize maximum for QueryReceiverDetail: the backend's declared page (100).
    sizes = {c["PageSize"] for c in dm.calls("QueryReceiverDetail")}
    assert sizes == {str(source.limits.list_page_size)} == {"100"}
    # SES ListReceiverDetails: Limit at its documented maximum, 100.
    limits = {r["params"]["Limit"] for r in ses.requests if r["action"] == "ListReceiverDetails"}
    assert limits == {100}
    assert not _reader_threads()


def test_a_source_failure_stops_the_uploads_with_an_exact_report(
    clouds: tuple[AliyunEmulator, TencentEmulator, mailbridge.Client, mailbridge.Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _dm, ses, source, target = clouds
    real = source.backend.list_members
    pages = 0

    def fails_on_page_six(group: mailbridge.Group, *, cursor: str | None, page_size: int) -> mailbridge.Page:
        nonlocal pages
        pages += 1
        if pages == 6:
            raise mailbridge.PermissionDenied("simulated: the source account was disabled mid-read")
        return real(group, cursor=cursor, page_size=page_size)

    plan = mailbridge.plan_migration(source, target)
    monkeypatch.setattr(source.backend, "list_members", fails_on_page_six)
    with pytest.raises(mailbridge.PermissionDenied) as caught:
        mailbridge.migrate(source, target, plan, chunk=200)
    assert not _reader_threads()
    report = caught.value.partial_result
    assert isinstance(report, mailbridge.MigrationReport)
    (group,) = report.groups
    read = group.verification.source_count
    assert read == 500  # five pages of 100 before the sixth failed
    uploaded = sum(u.accepted for u in group.uploads)
    assert uploaded + len(caught.value.not_sent) == read
    on_target = _members(target, "customers")
    assert len(on_target) == uploaded
    assert not set(on_target) & {a.casefold() for a in caught.value.not_sent}
    assert sorted(group.verification.missing_on_target) == sorted(caught.value.not_sent)
    uploads_after = len([r for r in ses.requests if r["action"].startswith("CreateReceiverDetail")])
    assert uploads_after == len(group.uploads)  # nothing was uploaded after the failure


def test_a_target_failure_stops_the_reading_with_an_exact_report(
    clouds: tuple[AliyunEmulator, TencentEmulator, mailbridge.Client, mailbridge.Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dm, _ses, source, target = clouds
    plan = mailbridge.plan_migration(source, target)
    real = target.backend.upload_batch
    calls = 0

    def fails_on_second_upload(group: mailbridge.Group, batch: list[mailbridge.Recipient]) -> mailbridge.BatchResult:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise mailbridge.QuotaExceeded("simulated: the target's quota ran out")
        return real(group, batch)

    monkeypatch.setattr(target.backend, "upload_batch", fails_on_second_upload)
    with pytest.raises(mailbridge.QuotaExceeded) as caught:
        mailbridge.migrate(source, target, plan, chunk=300)
    assert not _reader_threads()
    reads_at_failure = len(dm.calls("QueryReceiverDetail"))
    report = caught.value.partial_result
    assert isinstance(report, mailbridge.MigrationReport)
    (group,) = report.groups
    assert [u.accepted for u in group.uploads] == [300, 0]  # the first chunk, then the failed one
    read = group.verification.source_count
    assert 300 + len(caught.value.not_sent) == read  # every member read: uploaded or not sent
    assert len(dm.calls("QueryReceiverDetail")) == reads_at_failure  # the reader stopped for good
    order = [m.email for m in source.members("customers")]  # the source's listing order
    assert caught.value.not_sent[:300] == tuple(order[300:600])  # the failed chunk, then what was read after
    assert caught.value.not_sent == tuple(order[300:read])
    assert set(_members(target, "customers")) == set(order[:300])

    monkeypatch.setattr(target.backend, "upload_batch", real)  # resumed: the rest, nothing twice
    again = mailbridge.migrate(source, target, mailbridge.plan_migration(source, target))
    assert again.verified and again.groups[0].copied == MEMBERS - 300
