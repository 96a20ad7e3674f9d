"""Uploads through the client: streaming, de-duplication, chunking, limits, exact reports."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

import mailbridge
from mailbridge._dedup import SeenSet

from .conftest import MakeClient, backend_of


def _write_csv(path: Path, rows: int) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "plan"])
        for i in range(rows):
            writer.writerow([f"user{i}@example.com", f"User {i}", "pro" if i % 2 else "free"])
            if i % 1000 == 0:  # a repeat (different case) and a bad row every 1000 rows
                writer.writerow([f"USER{i}@example.com", "Again", "pro"])
                writer.writerow([f"broken-{i}", "Bad", "free"])


def test_100k_row_csv_streams_dedups_and_chunks(make_client: MakeClient, tmp_path: Path) -> None:
    """A 100,000-row file goes up in 1,000-row calls with one exact report, read lazily.

    (Peak memory is measured in benchmarks/bench_upload.py, not asserted here.)
    """
    path = tmp_path / "big.csv"
    _write_csv(path, 100_000)
    client = make_client()
    group = client.create_group("big")
    produced = 0
    produced_at_first_call: list[int] = []
    backend = backend_of(client)
    original = backend.upload_batch

    def counting_rows() -> Iterator[dict[str, str]]:
        nonlocal produced
        for row in mailbridge.read_recipients_csv(path):
            produced += 1
            yield row

    def spy(group: mailbridge.Group, batch: list[mailbridge.Recipient]) -> mailbridge.BatchResult:
        produced_at_first_call.append(produced)
        return original(group, batch)

    backend.upload_batch = spy  # type: ignore[method-assign]
    report = client.upload(group, counting_rows())

    assert report.accepted == 100_000
    assert len(report.duplicates) == 100 and report.duplicates[0] == "USER0@example.com"
    assert len(report.rejected) == 100
    assert report.rejected[0].email == "broken-0" and report.rejected[0].row == 3
    assert report.batches == 100
    assert produced_at_first_call[0] <= 1003, "the input was not streamed: it was read before the first call"
    assert client.refresh_group(group).recipient_count == 100_000


def test_upload_chunks_to_declared_limit(make_client: MakeClient) -> None:
    """1,200 recipients with a 500-per-call limit go as 500/500/200."""
    client = make_client(upload_batch_size=500)
    group = client.create_group("g")
    report = client.upload(group, [f"u{i}@example.com" for i in range(1200)])
    assert [len(c) for c in backend_of(client).calls_to("upload_batch")] == [500, 500, 200]
    assert (report.accepted, report.batches) == (1200, 3)


def test_duplicates_are_never_sent(make_client: MakeClient) -> None:
    """Repeats (case-insensitive) are reported, not uploaded."""
    client = make_client()
    group = client.create_group("g")
    report = client.upload(group, ["a@example.com", "b@example.com", "A@EXAMPLE.COM", "b@example.com"])
    assert backend_of(client).calls_to("upload_batch") == [["a@example.com", "b@example.com"]]
    assert report.duplicates == ("A@EXAMPLE.COM", "b@example.com")


def test_addresses_already_in_the_group_are_existing_not_duplicates(make_client: MakeClient) -> None:
    """Without skip_existing the backend says which addresses the group had: ``existing``, not ``duplicates``."""
    client = make_client()
    group = client.create_group("g")
    client.upload(group, ["a@example.com"])
    report = client.upload(group, ["a@example.com", "b@example.com", "A@example.com"])
    assert report.counts() == {
        "rows": 3, "accepted": 1, "existing": 1, "duplicates": 1, "rejected": 0, "unattributed": 0, "not_sent": 0
    }  # fmt: skip
    assert report.duplicates == ("A@example.com",)


def test_skip_existing_counts_each_present_address_once(make_client: MakeClient) -> None:
    """Input repeats of present addresses are duplicates; existing counts each present address once."""
    client = make_client()
    group = client.create_group("g")
    client.upload(group, ["a@example.com", "b@example.com"])
    rows = ["a@example.com", "A@example.com", "b@example.com", "a@example.com", "c@example.com"]
    report = client.upload(group, rows, skip_existing=True)
    assert (report.accepted, report.existing, len(report.duplicates)) == (1, 2, 2)
    again = client.upload(group, rows)  # the same file without skip_existing: the same counts
    assert (again.accepted, again.existing, len(again.duplicates)) == (0, 3, 2)


def test_skip_existing_sends_only_missing(make_client: MakeClient) -> None:
    """A resumed upload reads the group first and sends only what is missing."""
    client = make_client()
    group = client.create_group("g")
    client.upload(group, ["a@example.com", "b@example.com"])
    report = client.upload(group, ["a@example.com", "b@example.com", "c@example.com"], skip_existing=True)
    assert backend_of(client).calls_to("upload_batch")[-1] == ["c@example.com"]
    assert (report.accepted, report.existing) == (1, 2)


def test_group_size_limit_is_refused_before_any_call(make_client: MakeClient) -> None:
    """A sized input that cannot fit the declared group size raises LimitExceeded before sending anything."""
    client = make_client(max_group_size=10, upload_batch_size=4)
    group = client.create_group("g")
    client.upload(group, [f"old{i}@example.com" for i in range(4)])
    group = client.refresh_group(group)
    with pytest.raises(mailbridge.LimitExceeded, match=r"has 4 recipients and the upload adds 7.*at most 10"):
        client.upload(group, [f"new{i}@example.com" for i in range(7)])
    assert len(backend_of(client).calls_to("upload_batch")) == 1
    # Repeats and bad rows do not count against the limit.
    report = client.upload(group, [*(f"new{i}@example.com" for i in range(6)), "new0@example.com", "bad"])
    assert report.accepted == 6


def test_group_size_limit_on_a_stream_fills_the_group_and_reports_the_rest(make_client: MakeClient) -> None:
    """A one-pass stream fills the group to the limit; every later new address is rejected (code 'limit')."""
    client = make_client(max_group_size=10, upload_batch_size=4)
    group = client.create_group("g")
    rows = [f"u{i}@example.com" for i in range(12)] + ["u0@example.com", "bad", "u13@example.com"]
    report = client.upload(group, iter(rows))
    assert report.counts() == {
        "rows": 15, "accepted": 10, "existing": 0, "duplicates": 1, "rejected": 4, "unattributed": 0, "not_sent": 0
    }  # fmt: skip
    limit_rows = [(r.row, r.email, r.code) for r in report.rejected if r.code == "limit"]
    assert limit_rows == [
        (11, "u10@example.com", "limit"),
        (12, "u11@example.com", "limit"),
        (15, "u13@example.com", "limit"),
    ]
    assert any("reached" in n and "limit of 10" in n for n in report.notes)
    assert [len(c) for c in backend_of(client).calls_to("upload_batch")] == [4, 4, 2]  # nothing past the limit
    assert client.refresh_group(group).recipient_count == 10


def test_split_fills_numbered_lists(make_client: MakeClient) -> None:
    """split=True fills the group to the limit, then news-2, news-3 (created as needed), exactly reported."""
    client = make_client(max_group_size=5, upload_batch_size=3)
    group = client.create_group("news")
    client.upload(group, ["old@example.com"])
    rows = [f"u{i}@example.com" for i in range(12)] + ["old@example.com", "u1@example.com"]
    report = client.upload("news", rows, split=True)
    assert [g.name for g in report.groups] == ["news", "news-2", "news-3"]
    assert report.counts() == {
        "rows": 14, "accepted": 12, "existing": 1, "duplicates": 1, "rejected": 0, "unattributed": 0, "not_sent": 0
    }  # fmt: skip
    sizes = {g.name: g.recipient_count for g in client.groups()}
    assert sizes == {"news": 5, "news-2": 5, "news-3": 3}
    # Again with skip_existing: every numbered list is read, nothing is uploaded.
    again = client.upload("news", rows, split=True, skip_existing=True)
    assert (again.accepted, again.existing, len(again.duplicates)) == (0, 13, 1)


def test_split_refuses_before_any_call_when_the_lists_run_out(make_client: MakeClient) -> None:
    client = make_client(max_group_size=5, upload_batch_size=3, max_groups=2)
    client.create_group("news")
    calls = len(backend_of(client).calls_to("upload_batch"))
    with pytest.raises(mailbridge.LimitExceeded, match=r"needs 2 more list\(s\) of 5.*at most 2"):
        client.upload("news", [f"u{i}@example.com" for i in range(12)], split=True)
    assert len(backend_of(client).calls_to("upload_batch")) == calls


@pytest.mark.parametrize(
    ("limits", "not_sent", "rows"),
    [
        # One call at a time (a group size to fill): row 5 was never read.
        ({"max_group_size": 100}, ("u2@example.com", "u3@example.com"), 4),
        # Pipelined (no group limit): row 5 was read and checked while the failing call ran.
        ({}, ("u2@example.com", "u3@example.com", "u4@example.com"), 5),
    ],
)
def test_failed_call_reports_partial_progress(
    make_client: MakeClient, limits: dict[str, int], not_sent: tuple[str, ...], rows: int
) -> None:
    """When a call fails for good, the error carries the report so far and the unsent addresses."""
    client = make_client(upload_batch_size=2, **limits)
    group = client.create_group("g")
    good = backend_of(client).upload_batch
    calls = 0

    def flaky(group: mailbridge.Group, batch: list[mailbridge.Recipient]) -> mailbridge.BatchResult:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise mailbridge.AuthenticationError("key revoked", provider="scripted")
        return good(group, batch)

    backend_of(client).upload_batch = flaky  # type: ignore[method-assign]
    with pytest.raises(mailbridge.AuthenticationError) as info:
        client.upload(group, [f"u{i}@example.com" for i in range(5)])
    assert info.value.partial_result.accepted == 2
    assert info.value.not_sent == not_sent
    assert info.value.operation == "upload_recipients"
    # rows read so far = accepted + not_sent
    assert (info.value.partial_result.rows, info.value.partial_result.not_sent) == (rows, len(not_sent))
    assert [m.email for m in client.members(group)] == ["u0@example.com", "u1@example.com"]


def test_retryable_failures_are_retried(make_client: MakeClient) -> None:
    """A throttled upload call is retried and the report counts it once."""
    client = make_client()
    group = client.create_group("g")
    backend_of(client).failures["upload_batch"] = [mailbridge.RateLimited("slow down", retry_after=0.01)]
    report = client.upload(group, ["a@example.com"])
    assert report.accepted == 1
    assert len(backend_of(client).calls_to("upload_batch")) == 2


def test_unsupported_recipient_data(make_client: MakeClient) -> None:
    """Template data on a backend that cannot store it raises, or is dropped when told to ignore."""
    limits = mailbridge_local_features_without(mailbridge.Feature.TEMPLATE_DATA)
    client = make_client(features=limits)
    group = client.create_group("g")
    with pytest.raises(mailbridge.UnsupportedFeature, match="template data"):
        client.upload(group, [{"email": "a@example.com", "plan": "pro"}])
    client.ignore_unsupported_features = True
    client.upload(group, [{"email": "a@example.com", "plan": "pro"}])
    assert [m.recipient.data for m in client.members(group)] == [{}]


def mailbridge_local_features_without(feature: mailbridge.Feature) -> frozenset[mailbridge.Feature]:
    from mailbridge_local import LocalBackend

    return LocalBackend.limits.features - {feature}


def test_progress_callback(make_client: MakeClient) -> None:
    """The progress callback sees every call with the addresses it accepted."""
    client = make_client(upload_batch_size=2)
    group = client.create_group("g")
    seen: list[mailbridge.UploadProgress] = []
    client.upload(group, ["a@example.com", "b@example.com", "c@example.com"], progress=seen.append)
    assert [p.batch_accepted for p in seen] == [("a@example.com", "b@example.com"), ("c@example.com",)]
    assert seen[-1].accepted == 3 and seen[-1].rows_read == 3


def test_async_upload_waits_between_calls_and_at_the_end(make_client: MakeClient) -> None:
    """With async_upload declared, the client waits for the import before the next call and with wait=True."""
    client = make_client(async_upload=True, upload_batch_size=1)
    backend = backend_of(client)
    group = client.create_group("g")
    statuses = iter(
        [mailbridge.GroupStatus.PROCESSING, mailbridge.GroupStatus.READY, mailbridge.GroupStatus.PROCESSING]
        + [mailbridge.GroupStatus.READY] * 5
    )
    real_get = backend.get_group
    polls: list[str] = []

    def get_group(group_id: str) -> mailbridge.Group:
        polls.append(group_id)
        g = real_get(group_id)
        return mailbridge.Group(g.id, g.name, g.provider, recipient_count=g.recipient_count, status=next(statuses))

    backend.get_group = get_group  # type: ignore[method-assign]
    original_upload = backend.upload_batch

    def upload_batch(group: mailbridge.Group, batch: list[mailbridge.Recipient]) -> mailbridge.BatchResult:
        backend.get_group = real_get  # type: ignore[method-assign]  # the local backend's own lookups
        result = original_upload(group, batch)
        backend.get_group = get_group  # type: ignore[method-assign]
        return mailbridge.BatchResult(accepted=result.accepted, processing=True)

    backend.upload_batch = upload_batch  # type: ignore[method-assign]
    sleeps: list[float] = []
    client._sleep = sleeps.append
    report = client.upload(group, ["a@example.com", "b@example.com"], wait=True)
    assert report.processing is False and report.group.status == mailbridge.GroupStatus.READY
    assert len(polls) == 4 and sleeps == [0.5, 0.5]


def test_seen_set_spills_to_disk() -> None:
    """Past its memory limit the de-duplication set keeps working from a temporary SQLite file."""
    seen = SeenSet(memory_limit=10)
    try:
        assert all(seen.add(f"k{i}") for i in range(50))
        assert not seen.add("k42") and not seen.add("k3")
        assert "k49" in seen and "k50" not in seen
        assert len(seen) == 50
    finally:
        seen.close()


def test_count_only_providers_report_unattributed_rejections(make_client: MakeClient) -> None:
    """A provider that answers with counts only is reported as such, never as guessed addresses."""
    client = make_client()
    group = client.create_group("g")

    def counts_only(group: mailbridge.Group, batch: list[mailbridge.Recipient]) -> mailbridge.BatchResult:
        return mailbridge.BatchResult(accepted_count=len(batch) - 1, unattributed_rejected=1, note="1 refused")

    backend_of(client).upload_batch = counts_only  # type: ignore[method-assign]
    report = client.upload(group, ["a@example.com", "b@example.com", "c@example.com"])
    assert (report.accepted, report.unattributed_rejected, report.notes) == (2, 1, ("1 refused",))
    assert not report.ok and report.as_dict()["unattributed_rejected"] == 1


def test_upload_into_a_group_still_importing_waits(make_client: MakeClient) -> None:
    """On an async backend, ResourceBusy from a previous import makes the client wait, then retry once."""
    client = make_client(async_upload=True)
    group = client.create_group("g")
    backend_of(client).failures["upload_batch"] = [mailbridge.ResourceBusy("list is importing")] * 3
    waited: list[str] = []
    client.wait_until_ready = lambda g, **kw: waited.append(g.name) or g  # type: ignore[method-assign,func-returns-value]
    report = client.upload(group, ["a@example.com"])
    assert report.accepted == 1 and waited == ["g"]


def test_remove_reports_removed_and_not_members_exactly(make_client: MakeClient) -> None:
    """Only members are removed; the rest are named, before any removal call."""
    client = make_client()
    group = client.create_group("g")
    client.upload(group, ["a@example.com", "b@example.com", "c@example.com"])
    report = client.remove("g", ["a@example.com", "B@example.com", "notthere@example.com", "a@example.com", "-", ""])
    assert report.counts() == {"removed": 2, "not_members": 1, "duplicates": 1, "rejected": 1}
    assert report.removed == ("a@example.com", "b@example.com")  # as the group spells them
    assert report.not_members == ("notthere@example.com",)
    assert [m.email for m in client.members("g")] == ["c@example.com"]
    again = client.remove("g", ["a@example.com"])
    assert (again.removed, again.not_members) == ((), ("a@example.com",))
