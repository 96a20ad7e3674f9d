"""Issue 11's done-when: one scenario, unchanged, on local and both emulators, with the same meaning.

The same calls run on the three backends and their neutral outputs (upload and remove reports,
delivery statuses and bounce types, errors) are compared: equal, except where a backend declares
a capability the others have (a feature, a filter), and there the declared error is what the
scenario expects. The group size is declared small (5) on all three, and each emulator is
configured to match, so that "larger than one list" needs 12 rows, not 10,001.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge
from mailbridge import Attachment, DeliveryStatus, Feature, Message
from mailbridge._bounce import smtp_class
from mailbridge._validation import _used_features

SENDER = "noreply@mail.example.com"  # registered on both emulators
BATCH_SENDER = "news@mail.example.com"  # Direct Mail group sends need a "batch" sender address
LIST_SIZE = 5  # the declared group size for this scenario (each emulator enforces the same)

ROWS: list[Any] = [
    "ada@example.com",
    {"email": "bob@example.com", "name": "Bob"},
    "ADA@example.com",  # repeat of row 1 (another case)
    "not-an-address",
    "cy@example.com",
    "bob@example.com",  # repeat of row 2
]


def _off(url: str) -> str:
    return url + ("&" if "?" in url else "?") + "rate_limit=off"


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[dict[str, mailbridge.Client]]:
    """local, Direct Mail emulator and SES emulator clients, each declaring 5 addresses per group."""
    tmp = tmp_path / "local"
    with contextlib.ExitStack() as stack:
        dm = stack.enter_context(AliyunEmulator(max_list_size=LIST_SIZE))
        ses = stack.enter_context(TencentEmulator(rate=0, max_group_size=LIST_SIZE))
        urls = {"local": f"local://{tmp}", "aliyun": _off(dm.url), "tencent": _off(ses.url)}
        out = {}
        for name, url in urls.items():
            client = stack.enter_context(mailbridge.connect(url, sleep=lambda _: None))
            # The scenario's small declared limit (the backends declare 10,000 / 50,000 / none).
            client.backend.limits = client.limits.evolve(max_group_size=LIST_SIZE)  # type: ignore[misc]
            out[name] = client
        yield out


def each(clients: dict[str, mailbridge.Client], call: Callable[[mailbridge.Client], Any]) -> dict[str, Any]:
    """``call`` on every backend: its result, or the neutral error class it raised."""
    out: dict[str, Any] = {}
    for name, client in clients.items():
        try:
            out[name] = call(client)
        except mailbridge.MailbridgeError as exc:
            out[name] = type(exc)
    return out


def same(results: dict[str, Any]) -> Any:
    values = list(results.values())
    assert all(v == values[0] for v in values), results
    return values[0]


def declared(client: mailbridge.Client, feature: Feature) -> bool:
    return client.limits.supports(feature)


def groups_uploads_and_reports(clients: dict[str, mailbridge.Client]) -> None:
    created = each(clients, lambda c: c.create_group("customers"))
    assert same({k: (g.name, g.recipient_count, g.status) for k, g in created.items()}) == (
        "customers",
        0,
        mailbridge.GroupStatus.EMPTY,
    )
    assert same(each(clients, lambda c: c.create_group("customers"))) is mailbridge.AlreadyExists
    assert same(each(clients, lambda c: c.get_group("nosuch"))) is mailbridge.GroupNotFound

    first = each(clients, lambda c: c.upload("customers", ROWS, wait=True))
    counts = {"rows": 6, "accepted": 3, "existing": 0, "duplicates": 2, "rejected": 1, "unattributed": 0}
    assert same({k: r.counts() for k, r in first.items()}) == {**counts, "not_sent": 0}
    assert same({k: [(r.row, r.email, r.code) for r in r.rejected] for k, r in first.items()}) == [
        (4, "not-an-address", "invalid")
    ]
    assert same({k: r.duplicates for k, r in first.items()}) == ("ADA@example.com", "bob@example.com")

    # The same file again, without skip_existing: every present address is "existing", once.
    again = each(clients, lambda c: c.upload("customers", ROWS, wait=True))
    counts = {"rows": 6, "accepted": 0, "existing": 3, "duplicates": 2, "rejected": 1, "unattributed": 0}
    assert same({k: r.counts() for k, r in again.items()}) == {**counts, "not_sent": 0}
    # ... and with skip_existing (members read first): the same categories.
    skipped = each(clients, lambda c: c.upload("customers", [*ROWS, "dee@example.com"], skip_existing=True, wait=True))
    counts = {"rows": 7, "accepted": 1, "existing": 3, "duplicates": 2, "rejected": 1, "unattributed": 0}
    assert same({k: r.counts() for k, r in skipped.items()}) == {**counts, "not_sent": 0}
    members = each(clients, lambda c: sorted(m.email.casefold() for m in c.members("customers")))
    assert same(members) == ["ada@example.com", "bob@example.com", "cy@example.com", "dee@example.com"]


def a_send_with_every_neutral_field(clients: dict[str, mailbridge.Client]) -> None:
    """Refused with UnsupportedFeature exactly where a backend does not declare a field; else one call."""
    full = Message(
        sender=SENDER,
        sender_name="Mail Team",
        to=["ada@example.com", "bob@example.com"],
        cc=["carol@example.com"],
        bcc=["audit@example.com"],
        reply_to="support@mail.example.com",
        reply_to_name="Support",
        subject="Every field",
        html="<p>Hello</p>",
        text="Hello",
        tag="every_field",
        headers={"X-Campaign": "c1"},
        unsubscribe=True,
        click_tracking=False,
        attachments=[Attachment("hi.txt", b"hi", "text/plain")],
    )
    used = _used_features(full)
    for name, client in clients.items():
        missing = {f: used[f] for f in used if not declared(client, f)}
        message = full
        if missing:
            with pytest.raises(mailbridge.UnsupportedFeature, match=next(iter(missing.values()))):
                client.send(full)
            empty: dict[str, Any] = {"cc": (), "bcc": (), "headers": {}, "attachments": ()}
            message = full.evolve(**{field: empty.get(field) for field in missing.values()})
        result = client.send(message)
        assert len(result.receipts) == 1, name  # one shared email in one call
        expected = {*message.to, *message.cc, *message.bcc}
        assert set(result.accepted) == expected, name
    assert {n for n, c in clients.items() if not declared(c, Feature.ATTACHMENTS)} == set()  # DM: OSS uploads
    assert {n for n, c in clients.items() if not declared(c, Feature.REPLY_TO_NAME)} == {"tencent"}

    # A to-list one call cannot carry is refused before any call, never split, on every backend.
    too_many = [f"u{i}@example.com" for i in range(101)]
    assert same(each(clients, lambda c: c.send(Message(sender=SENDER, to=too_many, subject="S", text="T")))) is (
        mailbridge.LimitExceeded
    )
    bcc_overlap = Message(sender=SENDER, to=["a@example.com"], bcc=["A@example.com"], subject="S", text="T")
    assert same(each(clients, lambda c: c.send(bcc_overlap))) is mailbridge.InvalidRequest


def group_send_bounces_and_delivery_queries(clients: dict[str, mailbridge.Client]) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    each(clients, lambda c: c.create_group("outcomes"))
    fates = ["ok@example.com", "gone@bounce.example", "x@spam.example", "y@fail.example"]
    each(clients, lambda c: c.upload("outcomes", fates, wait=True))
    group_message = Message(sender=BATCH_SENDER, to=[], subject="News", html="<p>News</p>", text="News")
    sent = each(clients, lambda c: c.send_to_group("outcomes", group_message))
    assert all(len(r.receipts) == 1 for r in sent.values()), sent
    scheduled = each(
        clients,
        lambda c: c.send_to_group("outcomes", group_message, schedule=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)),
    )
    for name, client in clients.items():  # declared: only SES schedules group sends
        if declared(client, Feature.SCHEDULED_SEND):
            assert isinstance(scheduled[name], mailbridge.SendResult), name
        else:
            assert scheduled[name] is mailbridge.UnsupportedFeature, name

    def fate(c: mailbridge.Client) -> dict[str, tuple[str, str | None, Any]]:
        events = [e for e in c.deliveries(start) if e.recipient in fates]
        assert len(events) == len(fates), events  # one event per member: the timed send has not gone out
        return {e.recipient: (e.status, e.bounce_type, smtp_class(e.reason)) for e in events}

    assert same(each(clients, fate)) == {
        "ok@example.com": (DeliveryStatus.DELIVERED, None, None),
        "gone@bounce.example": (DeliveryStatus.INVALID_ADDRESS, "hard", (5, 1, 1)),
        "x@spam.example": (DeliveryStatus.REJECTED, "hard", (5, 7, 1)),
        "y@fail.example": (DeliveryStatus.FAILED, "soft", (4, 4, 0)),
    }
    bounced = each(clients, lambda c: [e.recipient for e in c.deliveries(start, status="invalid_address")])
    assert same(bounced) == ["gone@bounce.example"]
    opened = each(clients, lambda c: list(c.deliveries(start, status="opened")))
    for name, client in clients.items():  # declared: only SES reports opens
        if declared(client, Feature.DELIVERY_ENGAGEMENT):
            assert opened[name] == [], name
        else:
            assert opened[name] is mailbridge.UnsupportedFeature, name


def upload_larger_than_one_list(clients: dict[str, mailbridge.Client]) -> None:
    rows = [f"m{i}@example.com" for i in range(12)]
    each(clients, lambda c: c.create_group("big"))
    # Sized input, no split: refused before any call, with the declared limit.
    assert same(each(clients, lambda c: c.upload("big", rows))) is mailbridge.LimitExceeded
    assert same(each(clients, lambda c: c.refresh_group("big").recipient_count)) == 0
    # A stream, no split: the list is filled, the rest reported (rejected, code "limit").
    streamed = each(clients, lambda c: c.upload("big", iter(rows), wait=True))
    counts = {"rows": 12, "accepted": 5, "existing": 0, "duplicates": 0, "rejected": 7, "unattributed": 0}
    assert same({k: r.counts() for k, r in streamed.items()}) == {**counts, "not_sent": 0}
    assert same({k: {r.code for r in r.rejected} for k, r in streamed.items()}) == {"limit"}
    # split=True: the rest goes to numbered lists, created as needed.
    split = each(clients, lambda c: c.upload("big", rows, split=True, wait=True))
    counts = {"rows": 12, "accepted": 7, "existing": 5, "duplicates": 0, "rejected": 0, "unattributed": 0}
    assert same({k: r.counts() for k, r in split.items()}) == {**counts, "not_sent": 0}
    assert same({k: [g.name for g in r.groups] for k, r in split.items()}) == ["big", "big-2", "big-3"]
    sizes = each(clients, lambda c: [c.refresh_group(n).recipient_count for n in ("big", "big-2", "big-3")])
    assert same(sizes) == [5, 5, 2]


def remove_with_non_members(clients: dict[str, mailbridge.Client]) -> None:
    asked = ["ada@example.com", "BOB@example.com", "notthere@example.com", "ada@example.com"]
    removed = each(clients, lambda c: c.remove("customers", asked))
    for name, client in clients.items():  # declared: SES has no API to delete a member
        if not declared(client, Feature.REMOVE_RECIPIENTS):
            assert removed[name] is mailbridge.UnsupportedFeature, name
    reports = {k: r for k, r in removed.items() if isinstance(r, mailbridge.RemoveReport)}
    assert set(reports) == {"local", "aliyun"}
    assert same({k: r.counts() for k, r in reports.items()}) == {
        "removed": 2,
        "not_members": 1,
        "duplicates": 1,
        "rejected": 0,
    }
    assert same({k: (r.removed, r.not_members) for k, r in reports.items()}) == (
        ("ada@example.com", "bob@example.com"),
        ("notthere@example.com",),
    )
    left = {k: sorted(m.email for m in clients[k].members("customers")) for k in reports}
    assert same(left) == ["cy@example.com", "dee@example.com"]


def test_the_same_scenario_means_the_same_on_every_backend(clients: dict[str, mailbridge.Client]) -> None:
    """One scenario, in order, on local, the Direct Mail emulator and the SES emulator."""
    groups_uploads_and_reports(clients)
    a_send_with_every_neutral_field(clients)
    group_send_bounces_and_delivery_queries(clients)
    upload_larger_than_one_list(clients)
    remove_with_non_members(clients)
