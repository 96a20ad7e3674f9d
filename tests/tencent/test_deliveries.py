"""Delivery events: SendStatus/DeliverStatus mapping, engagement flags, paging, the retention window."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from mailbridge_tencent import _parse as parse
from mailbridge_tencent._parse import DELIVER_STATUS, SEND_STATUS
from mailbridge_tencent.emulator import TEST_SECRET_ID, TEST_SECRET_KEY

import mailbridge
from mailbridge import DeliveryQuery, DeliveryStatus, Message

from ._support import connect, emulator

# Every code documented in models.py (SendEmailStatus.SendStatus / DeliverStatus).
DOCUMENTED_SEND = [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1013, 2001]
DOCUMENTED_SEND += [3007, 3008, 3009, 3010, 3014, 3020, 3024, 3030, 3033]


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "MessageId": "qcloudses-30-1-date-20260101000000-abc",
        "ToEmailAddress": "a@example.com",
        "FromEmailAddress": "noreply@mail.example.com",
        "SendStatus": 0,
        "DeliverStatus": 1,
        "DeliverMessage": "250 OK",
        "RequestTime": 1767225600,
        "DeliverTime": 1767225601,
        "UserOpened": False,
        "UserClicked": False,
        "UserUnsubscribed": False,
        "UserComplainted": False,
        "UserComplained": False,
    }
    base.update(changes)
    return base


def test_every_documented_code_is_mapped() -> None:
    assert sorted(SEND_STATUS) == sorted(DOCUMENTED_SEND)
    assert sorted(DELIVER_STATUS) == [0, 1, 2, 3, 8]


@pytest.mark.parametrize(
    ("send", "deliver", "status"),
    [
        (0, 0, DeliveryStatus.PENDING),
        (0, 1, DeliveryStatus.DELIVERED),
        (0, 2, DeliveryStatus.REJECTED),  # dropped by Tencent
        (0, 3, DeliveryStatus.REJECTED),
        (0, 8, DeliveryStatus.PENDING),
        (1007, 0, DeliveryStatus.REJECTED),
        (3024, 0, DeliveryStatus.INVALID_ADDRESS),
        (1010, 0, DeliveryStatus.FAILED),
        (9999, 0, DeliveryStatus.FAILED),  # an undocumented failure is still a failure
        (0, 42, DeliveryStatus.PENDING),
    ],
)
def test_status_mapping_keeps_raw_codes(send: int, deliver: int, status: DeliveryStatus) -> None:
    event = parse.event(row(SendStatus=send, DeliverStatus=deliver, DeliverMessage="why"))
    assert event.status is status
    assert event.raw_status == f"SendStatus={send} DeliverStatus={deliver}"
    assert event.raw_detail == "why"


def test_engagement_flags_and_fields() -> None:
    event = parse.event(row(UserOpened=True, UserClicked=True, UserUnsubscribed=True, UserComplained=True))
    assert (event.opened, event.clicked, event.unsubscribed, event.complained) == (True, True, True, True)
    assert event.time == dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert (event.recipient, event.sender, event.provider) == ("a@example.com", "noreply@mail.example.com", "tencent")
    older = row(UserComplainted=True)
    del older["UserComplained"]
    assert parse.event(older).complained is True  # the older, misspelt field


def test_pages_of_100_and_filters() -> None:
    with emulator() as emu, connect(emu.url) as client:
        to = [f"u{i}@example.com" for i in range(50)]
        for _ in range(3):
            client.send(Message(sender="noreply@mail.example.com", to=to, subject="x", template_id="1"))
        now = dt.datetime.now(dt.UTC)
        first = client.backend.query_deliveries(DeliveryQuery(start=now, end=now), cursor=None, page_size=100)
        assert (len(first.items), first.next_cursor) == (100, "100")
        second = client.backend.query_deliveries(DeliveryQuery(start=now, end=now), cursor="100", page_size=100)
        assert (len(second.items), second.next_cursor) == (50, None)
        events = list(client.deliveries(now - dt.timedelta(minutes=5), recipient="u7@example.com"))
        assert [e.recipient for e in events] == ["u7@example.com"] * 3
        assert emu.requests[-1]["params"]["ToEmailAddress"] == "u7@example.com"


def test_window_older_than_30_days_is_refused_before_the_network() -> None:
    client = mailbridge.connect(
        f"tencent://{TEST_SECRET_ID}:{TEST_SECRET_KEY}@ap-guangzhou?endpoint=http://127.0.0.1:9"
    )
    with pytest.raises(mailbridge.LimitExceeded, match="30 days"):
        list(client.deliveries(dt.datetime.now(dt.UTC) - dt.timedelta(days=31)))
