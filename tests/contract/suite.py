"""What the neutral interface promises, for every backend.

A backend's test module subclasses :class:`BackendContract` and provides a ``client``
fixture (a :class:`mailbridge.Client` on a fresh, empty account: emulator, cassette or
local directory). Override ``unique_name`` when names must be stable (cassettes), and
``sender`` when the provider needs a registered sender address. This module is not
collected by itself (its name does not start with ``test_``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import mailbridge
from mailbridge import Feature, Message


class BackendContract:
    """Subclass me with a ``client`` fixture."""

    sender = "noreply@mail.example.com"

    @pytest.fixture
    def unique_name(self) -> Iterator[str]:
        yield f"mb-{uuid.uuid4().hex[:10]}"

    @pytest.fixture
    def group(self, client: mailbridge.Client, unique_name: str) -> mailbridge.Group:
        return client.create_group(unique_name, "contract suite")

    def _spy(self, client: mailbridge.Client, method: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
        calls: list[Any] = []
        original = getattr(client.backend, method)

        def spy(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(client.backend, method, spy)
        return calls

    # ------------------------------------------------------------------ groups

    def test_group_lifecycle(self, client: mailbridge.Client, unique_name: str) -> None:
        """A created group is listed, found by name, and gone after delete."""
        created = client.create_group(unique_name, "contract suite")
        assert created.name == unique_name
        assert created.provider == client.provider
        assert unique_name in [g.name for g in client.groups()]
        assert client.get_group(unique_name).id == created.id
        client.delete_group(created)
        with pytest.raises(mailbridge.GroupNotFound):
            client.get_group(unique_name)

    def test_unknown_group_is_not_found(self, client: mailbridge.Client) -> None:
        """Looking up a group that does not exist raises GroupNotFound (a NotFound, a LookupError)."""
        with pytest.raises(mailbridge.GroupNotFound) as info:
            client.get_group("mb-no-such-group")
        assert isinstance(info.value, LookupError)

    # ------------------------------------------------------------------ uploads

    def test_upload_report_is_exact(self, client: mailbridge.Client, group: mailbridge.Group) -> None:
        """Valid addresses are accepted, repeats skipped, bad syntax rejected with its row."""
        report = client.upload(
            group,
            ["alice@example.com", "ALICE@example.com", "not-an-address", "bob@example.com"],
            wait=True,
        )
        assert report.accepted == 2
        assert report.duplicates == ("ALICE@example.com",)
        assert [(r.email, r.row) for r in report.rejected] == [("not-an-address", 3)]
        assert "invalid" in report.rejected[0].reason
        assert report.batches == 1
        assert not report.processing
        members = sorted(m.email for m in client.members(group))
        assert members == ["alice@example.com", "bob@example.com"]

    def test_resumed_upload_skips_existing(self, client: mailbridge.Client, group: mailbridge.Group) -> None:
        """With skip_existing, addresses already in the group are neither sent nor counted again."""
        client.upload(group, ["alice@example.com", "bob@example.com"], wait=True)
        report = client.upload(
            group, ["alice@example.com", "bob@example.com", "carol@example.com"], skip_existing=True, wait=True
        )
        assert (report.accepted, report.existing) == (1, 2)
        assert sorted(m.email for m in client.members(group)) == [
            "alice@example.com",
            "bob@example.com",
            "carol@example.com",
        ]

    def test_upload_is_chunked_to_the_declared_limit(
        self, client: mailbridge.Client, group: mailbridge.Group, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No upload call carries more than limits.upload_batch_size recipients."""
        size = client.limits.upload_batch_size
        if size > 1000:
            pytest.skip("the per-call limit is larger than this suite uploads; see the backend's own tests")
        total = size + 3
        calls = self._spy(client, "upload_batch", monkeypatch)
        report = client.upload(group, (f"user{i}@example.com" for i in range(total)), wait=True)
        assert report.accepted == total
        assert [len(c[1]) for c in calls] == [size, total - size]

    # ------------------------------------------------------------------ sending

    def message(self, **changes: Any) -> Message:
        fields: dict[str, Any] = {
            "sender": self.sender,
            "to": ["alice@example.com"],
            "subject": "Contract suite",
            "html": "<p>Hello</p>",
            "text": "Hello",
        }
        fields.update(changes)
        return Message(**fields)

    def test_send_returns_a_receipt(self, client: mailbridge.Client) -> None:
        """A send returns the provider's message id and the accepted recipients."""
        result = client.send(self.message())
        assert result.provider == client.provider
        assert len(result.receipts) == 1
        assert result.message_ids and all(result.message_ids)
        assert "alice@example.com" in result.accepted

    def test_oversize_send_is_split(self, client: mailbridge.Client, monkeypatch: pytest.MonkeyPatch) -> None:
        """(Name kept for its cassettes.) Several 'to' are one shared email: one over the per-call
        limit is refused before any call, never split into subsets; the limit itself is one call."""
        limit = client.limits.recipients_per_send
        calls = self._spy(client, "send", monkeypatch)
        to = [f"user{i}@example.com" for i in range(limit + 1)]
        with pytest.raises(mailbridge.LimitExceeded, match="one shared email"):
            client.send(self.message(to=to))
        assert calls == []
        result = client.send(self.message(to=to[:limit]))  # as many as one call carries: one shared email
        assert [len(c[0].to) for c in calls] == [limit]
        assert sorted(result.accepted) == sorted(to[:limit])

    def test_invalid_input_fails_before_the_network(
        self, client: mailbridge.Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Bad addresses, CRLF in the subject and an overlong subject never reach the backend."""
        calls = self._spy(client, "send", monkeypatch)
        with pytest.raises(mailbridge.InvalidAddress):
            client.send(self.message(to=["not-an-address"]))
        with pytest.raises(mailbridge.InvalidRequest):
            client.send(self.message(subject="Hi\r\nBcc: victim@example.com"))
        if client.limits.subject_length:
            with pytest.raises(mailbridge.LimitExceeded, match="subject"):
                client.send(self.message(subject="x" * (client.limits.subject_length + 1)))
        assert calls == []

    def test_unsupported_features_raise(self, client: mailbridge.Client) -> None:
        """Each optional message feature the backend does not declare raises UnsupportedFeature."""
        probes: dict[Feature, dict[str, Any]] = {
            Feature.TAGS: {"tag": "news"},
            Feature.HEADERS: {"headers": {"X-Test": "1"}},
            Feature.CC: {"cc": ["carol@example.com"]},
            Feature.BCC: {"bcc": ["dave@example.com"]},
            Feature.REPLY_TO: {"reply_to": "help@example.com"},
            Feature.ATTACHMENTS: {"attachments": [mailbridge.Attachment("a.txt", b"hi", "text/plain")]},
        }
        missing = [f for f in probes if not client.limits.supports(f)]
        for feature in missing:
            with pytest.raises(mailbridge.UnsupportedFeature):
                client.send(self.message(**probes[feature]))
        if not client.limits.supports(Feature.REMOVE_RECIPIENTS):
            with pytest.raises(mailbridge.UnsupportedFeature):
                client.remove(mailbridge.Group("1", "x", client.provider), ["alice@example.com"])

    # ------------------------------------------------------------------ delivery

    def test_sent_mail_shows_in_deliveries(self, client: mailbridge.Client) -> None:
        """A message sent now is found in the delivery log, with a neutral status."""
        result = client.send(self.message(to=["erin@example.com"]))
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        events = list(client.deliveries(start, recipient="erin@example.com"))
        assert events, "the send did not show up in the delivery log"
        assert all(e.recipient.casefold() == "erin@example.com" for e in events)
        assert all(isinstance(e.status, mailbridge.DeliveryStatus) for e in events)
        ids = {e.message_id for e in events}
        assert ids & set(result.message_ids) or None in ids

    def test_empty_delivery_window_is_refused(self, client: mailbridge.Client) -> None:
        """A window whose end is not after its start is an InvalidRequest."""
        now = dt.datetime.now(dt.UTC)
        with pytest.raises(mailbridge.InvalidRequest):
            list(client.deliveries(now, now - dt.timedelta(minutes=1)))
