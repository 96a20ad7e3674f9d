"""The contract suite: what the neutral interface promises, for every backend, gated by its declared features.

A backend's test module subclasses :class:`BackendContract` and either overrides :meth:`~BackendContract.make_client`
(a :class:`mailbridge.Client` on a fresh, empty account: an emulator, a cassette, a directory) or the ``client``
fixture itself::

    from mailbridge.testing import BackendContract

    class TestMyProvider(BackendContract):
        sender = "noreply@mail.example.com"  # an address the account may send from

        def make_client(self, tmp_path):
            return mailbridge.connect("myprovider://KEY:SECRET@region?endpoint=http://127.0.0.1:8025")

or builds the class from a factory: ``TestMine = contract_for(lambda tmp_path: mailbridge.connect(...))``.

Each test that needs an optional capability (``Feature.GROUPS``, ``DELIVERIES``, ``TEMPLATES``, ``DOMAINS``,
``SENDERS``, ``TAG_MANAGEMENT``, ``BATCH_SEND``, ``SUPPRESSIONS``) skips itself when the backend does not declare it,
and :meth:`~BackendContract.test_undeclared_capabilities_are_refused_before_the_backend` proves the promise that then
applies: each such call raises :class:`~mailbridge.UnsupportedFeature` without reaching the backend. Override
``unique_name`` when names must be stable (cassettes), ``sender`` (and ``batch_sender``) when the provider needs
a registered sender.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import mailbridge
from mailbridge import Feature, Message

__all__ = ["BackendContract", "contract_for"]

#: One call per optional capability, made through the client (each needs nothing to exist first).
_CAPABILITY_PROBES: dict[Feature, Callable[[mailbridge.Client], object]] = {
    Feature.GROUPS: lambda c: c.create_group("mb-probe"),
    Feature.DELIVERIES: lambda c: list(c.deliveries(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))),
    Feature.TEMPLATES: lambda c: c.templates(),
    Feature.DOMAINS: lambda c: c.domains(),
    Feature.SENDERS: lambda c: c.senders(),
    Feature.TAG_MANAGEMENT: lambda c: c.tags(),
    Feature.SUPPRESSIONS: lambda c: list(c.suppressions()),
    Feature.ACCOUNT_SUMMARY: lambda c: c.account(),
    Feature.STATISTICS: lambda c: c.statistics(dt.date(2026, 1, 1), dt.date(2026, 1, 2)),
    Feature.BATCH_SEND: lambda c: c.send_to_group(
        mailbridge.Group("1", "mb-probe", c.provider),
        Message(sender="noreply@example.com", to=(), template_id="1"),
    ),
}


class BackendContract:
    """Subclass me with :meth:`make_client` (or a ``client`` fixture)."""

    sender: ClassVar[str] = "noreply@mail.example.com"
    #: The sender of group sends (providers that keep batch senders apart override it).
    batch_sender: ClassVar[str] = "noreply@mail.example.com"

    def make_client(self, tmp_path: Path) -> mailbridge.Client:
        """A client on a fresh, empty account (closed by the suite after each test)."""
        raise NotImplementedError(f"{type(self).__name__}: override make_client() or provide a client fixture")

    @pytest.fixture
    def client(self, tmp_path: Path) -> Iterator[mailbridge.Client]:
        with self.make_client(tmp_path) as client:
            yield client

    @pytest.fixture
    def unique_name(self) -> Iterator[str]:
        yield f"mb-{uuid.uuid4().hex[:10]}"

    @pytest.fixture
    def group(self, client: mailbridge.Client, unique_name: str) -> mailbridge.Group:
        self.needs(client, Feature.GROUPS)
        return client.create_group(unique_name, "contract suite")

    @staticmethod
    def needs(client: mailbridge.Client, *features: Feature) -> None:
        """Skip the test unless the backend declares every one of ``features``."""
        missing = [f.value for f in features if not client.limits.supports(f)]
        if missing:
            pytest.skip(f"{client.provider} does not declare {', '.join(missing)}")

    def _spy(self, client: mailbridge.Client, method: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
        calls: list[Any] = []
        original = getattr(client.backend, method)

        def spy(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return original(*args, **kwargs)

        monkeypatch.setattr(client.backend, method, spy)
        return calls

    # ------------------------------------------------------------------ what every backend has

    def test_undeclared_capabilities_are_refused_before_the_backend(
        self, client: mailbridge.Client, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Each optional capability the backend does not declare raises UnsupportedFeature in the client:
        no backend method runs (so no connection is made), whatever the backend class inherits."""
        called: list[str] = []
        for name in dir(type(client.backend)):
            attr = getattr(type(client.backend), name, None)
            if name.startswith("_") or name in {"unsupported", "describe", "close"} or not callable(attr):
                continue
            if isinstance(type(client.backend).__dict__.get(name), classmethod | staticmethod):
                continue
            original = getattr(client.backend, name)

            def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
                called.append(_name)
                return _original(*args, **kwargs)

            monkeypatch.setattr(client.backend, name, spy)
        undeclared = [f for f in _CAPABILITY_PROBES if not client.limits.supports(f)]
        for feature in undeclared:
            with pytest.raises(mailbridge.UnsupportedFeature):
                _CAPABILITY_PROBES[feature](client)
        assert called == [], f"the backend was called for an undeclared capability: {called}"

    # ------------------------------------------------------------------ groups

    def test_group_lifecycle(self, client: mailbridge.Client, unique_name: str) -> None:
        """A created group is listed, found by name, and gone after delete."""
        self.needs(client, Feature.GROUPS)
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
        self.needs(client, Feature.GROUPS)
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
        self.needs(client, Feature.DELIVERIES)
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
        self.needs(client, Feature.DELIVERIES)
        now = dt.datetime.now(dt.UTC)
        with pytest.raises(mailbridge.InvalidRequest):
            list(client.deliveries(now, now - dt.timedelta(minutes=1)))

    # ------------------------------------------------------------------ templates

    def test_template_lifecycle(self, client: mailbridge.Client, unique_name: str) -> None:
        """A template is stored in the neutral syntax, listed, read back by id, updated, and gone after delete."""
        self.needs(client, Feature.TEMPLATES)
        created = client.create_template(unique_name, subject="Hi {{name}}", html="<p>Hello {{name}}</p>")
        assert (created.name, created.provider, created.subject) == (unique_name, client.provider, "Hi {{name}}")
        assert [t.name for t in client.templates()].count(unique_name) == 1
        read = client.get_template(created.id)
        assert (read.id, read.subject, read.html) == (created.id, "Hi {{name}}", "<p>Hello {{name}}</p>")
        client.update_template(read, subject="Bye {{name}}", html="<p>Bye {{name}}</p>")
        assert client.get_template(created.id).subject == "Bye {{name}}"
        client.delete_template(read)
        with pytest.raises(mailbridge.TemplateNotFound):
            client.get_template(created.id)

    def test_group_send_is_one_call(
        self, client: mailbridge.Client, group: mailbridge.Group, unique_name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A stored template goes to a whole group in one provider call, never one send per member."""
        self.needs(client, Feature.BATCH_SEND, Feature.TEMPLATES)
        template = client.create_template(unique_name, subject="News for {{name}}", html="<p>Hi {{name}}</p>")
        client.upload(group, ["alice@example.com", "bob@example.com"], wait=True)
        group_calls = self._spy(client, "send_to_group", monkeypatch)
        sends = self._spy(client, "send", monkeypatch)
        result = client.send_to_group(group, Message(sender=self.batch_sender, to=(), template_id=template.id))
        assert result.provider == client.provider and len(result.receipts) == 1
        assert [c[0].id for c in group_calls] == [group.id] and sends == []

    # ------------------------------------------------------------------ sender domains and addresses

    def test_domain_lifecycle(self, client: mailbridge.Client, unique_name: str) -> None:
        """A new sending domain lists the DNS records it needs, is listed and read back, and gone after delete."""
        self.needs(client, Feature.DOMAINS)
        name = f"{unique_name.replace('_', '-').lower()}.example.com"
        created = client.create_domain(name)
        assert (created.name, created.verified) == (name, False) and created.records
        assert [d.name for d in client.domains()].count(name) == 1
        assert client.domain(name).name == name
        client.delete_domain(name)
        assert name not in [d.name for d in client.domains()]

    def test_sender_lifecycle(self, client: mailbridge.Client, unique_name: str) -> None:
        """A sender address on the account's domain is registered, listed, and gone after delete."""
        self.needs(client, Feature.SENDERS)
        address = f"{unique_name}@{self.sender.rsplit('@', 1)[1]}"
        created = client.create_sender(address, kind="transactional")
        assert created.address == address
        assert [s.address for s in client.senders()].count(address) == 1
        client.delete_sender(address)
        assert address not in [s.address for s in client.senders()]

    # ------------------------------------------------------------------ tags

    def test_tag_lifecycle(self, client: mailbridge.Client, unique_name: str) -> None:
        """A tag is created, listed, renamed (the old name gone) and deleted."""
        self.needs(client, Feature.TAG_MANAGEMENT)
        name = "".join(c for c in unique_name.lower() if c.isalnum())[:20]
        tag = client.create_tag(name)
        assert tag.name == name and name in [t.name for t in client.tags()]
        renamed = client.rename_tag(tag, name + "x")
        names = [t.name for t in client.tags()]
        assert renamed.name == name + "x" and name + "x" in names and name not in names
        client.delete_tag(renamed)
        assert name + "x" not in [t.name for t in client.tags()]

    # ------------------------------------------------------------------ suppressions

    def test_suppression_round_trip(self, client: mailbridge.Client) -> None:
        """A suppressed address is listed and is not after it is taken off again."""
        self.needs(client, Feature.SUPPRESSIONS)
        address = "suppressed@example.com"
        assert client.suppress([address, address.upper()]) == [address]
        assert address in {s.address.casefold() for s in client.suppressions()}
        client.unsuppress([address])
        assert address not in {s.address.casefold() for s in client.suppressions()}


def contract_for(
    factory: Callable[[Path], mailbridge.Client], *, name: str = "TestContract", sender: str | None = None
) -> type[BackendContract]:
    """A :class:`BackendContract` subclass whose clients come from ``factory(tmp_path)``; assign it to a
    ``Test*`` name in a test module (``TestToy = contract_for(lambda tmp_path: mailbridge.connect(...))``)."""

    def make_client(self: BackendContract, tmp_path: Path) -> mailbridge.Client:
        return factory(tmp_path)

    namespace: dict[str, Any] = {"make_client": make_client, "__doc__": f"The contract suite on {factory!r}."}
    if sender is not None:
        namespace["sender"] = sender
    return type(name, (BackendContract,), namespace)
