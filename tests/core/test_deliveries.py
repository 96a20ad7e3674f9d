"""Delivery queries: windows split to the backend's limit, pages followed, filters applied."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import mailbridge

from .conftest import MakeClient, backend_of

UTC = dt.UTC


def test_ninety_days_split_into_thirty_day_windows(make_client: MakeClient) -> None:
    """A 90-day query on a 30-day backend becomes three consecutive windows, oldest first."""
    client = make_client(delivery_query_window=dt.timedelta(days=30))
    end = dt.datetime(2026, 11, 1, tzinfo=UTC)
    list(client.deliveries(end - dt.timedelta(days=90), end))
    queries = [q for q, _cursor in backend_of(client).calls_to("query_deliveries")]
    assert [(q.start, q.end) for q in queries] == [
        (dt.datetime(2026, 8, 3, tzinfo=UTC), dt.datetime(2026, 9, 2, tzinfo=UTC)),
        (dt.datetime(2026, 9, 2, tzinfo=UTC), dt.datetime(2026, 10, 2, tzinfo=UTC)),
        (dt.datetime(2026, 10, 2, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC)),
    ]


def test_by_day_windows_follow_the_provider_timezone(make_client: MakeClient) -> None:
    """A one-day-per-query backend in UTC+8 gets calendar days in that zone."""
    shanghai = ZoneInfo("Asia/Shanghai")
    client = make_client(delivery_query_by_day=True, timezone=shanghai)
    start = dt.datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    windows = client.delivery_windows(start, start + dt.timedelta(days=2))
    assert [w[0].astimezone(shanghai).isoformat() for w in windows] == [
        "2026-11-01T20:00:00+08:00",
        "2026-11-02T00:00:00+08:00",
        "2026-11-03T00:00:00+08:00",
    ]
    assert windows[-1][1] == start + dt.timedelta(days=2)


def test_retention_is_checked_before_any_call(make_client: MakeClient) -> None:
    """A window older than the provider keeps data raises LimitExceeded naming the retention."""
    client = make_client(delivery_retention=dt.timedelta(days=30))
    with pytest.raises(mailbridge.LimitExceeded, match="keeps delivery data for 30 days"):
        list(client.deliveries(dt.datetime.now(UTC) - dt.timedelta(days=45)))
    assert backend_of(client).calls_to("query_deliveries") == []


def test_pages_are_followed_and_filters_applied(make_client: MakeClient) -> None:
    """Every page is read; filters the backend cannot apply are applied by the client."""
    client = make_client(delivery_page_size=3, delivery_filters={"recipient"})
    client.send(
        mailbridge.Message(sender="me@example.com", to=[f"u{i}@example.com" for i in range(7)], subject="Hi", text="x")
    )
    client.send(mailbridge.Message(sender="me@example.com", to=["x@bounce.example"], subject="Hi", text="x"))
    since = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    events = list(client.deliveries(since))
    assert len(events) == 8
    assert len(backend_of(client).calls_to("query_deliveries")) == 3
    bounced = list(client.deliveries(since, status="invalid_address"))
    assert [(e.recipient, e.status) for e in bounced] == [
        ("x@bounce.example", mailbridge.DeliveryStatus.INVALID_ADDRESS)
    ]
    # status is not a declared server-side filter: the backend was asked without it
    last_query = backend_of(client).calls_to("query_deliveries")[-1][0]
    assert last_query.status is None


def test_tag_filter_needs_backend_support(make_client: MakeClient) -> None:
    client = make_client(delivery_filters={"recipient"})
    with pytest.raises(mailbridge.UnsupportedFeature, match="tag"):
        list(client.deliveries(dt.datetime.now(UTC) - dt.timedelta(hours=1), tag="news"))


def test_empty_window_is_invalid(make_client: MakeClient) -> None:
    client = make_client()
    now = dt.datetime.now(UTC)
    with pytest.raises(mailbridge.InvalidRequest, match="window is empty"):
        list(client.deliveries(now, now))


def test_filters_events_cannot_carry_are_refused(make_client: MakeClient) -> None:
    """A filter the backend declares unsupported raises instead of silently matching nothing."""
    client = make_client(delivery_filters={"recipient"}, unsupported_delivery_filters={"message_id"})
    with pytest.raises(mailbridge.UnsupportedFeature, match="by message id"):
        list(client.deliveries(dt.datetime.now(UTC) - dt.timedelta(hours=1), message_id="m1"))
    assert backend_of(client).calls_to("query_deliveries") == []


def test_engagement_status_filter_without_engagement_is_unsupported(make_client: MakeClient) -> None:
    """``--status opened`` on a backend that reports no opens says so instead of printing nothing."""
    client = make_client()  # local: no Feature.DELIVERY_ENGAGEMENT
    start = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    with pytest.raises(mailbridge.UnsupportedFeature, match="does not report opened"):
        client.deliveries(start, status="opened")
    assert backend_of(client).calls_to("query_deliveries") == []


def test_engagement_status_filter_matches_the_flag(make_client: MakeClient) -> None:
    """On a backend with engagement, ``status=opened`` matches delivered events flagged opened."""
    client = make_client(features=set(mailbridge.Feature))
    event = mailbridge.DeliveryEvent("x", "a@example.com", mailbridge.DeliveryStatus.DELIVERED, opened=True)
    other = mailbridge.DeliveryEvent("x", "b@example.com", mailbridge.DeliveryStatus.DELIVERED, opened=False)
    backend = backend_of(client)
    backend.query_deliveries = lambda query, *, cursor, page_size: mailbridge.Page([event, other])  # type: ignore[method-assign]
    start = dt.datetime.now(UTC) - dt.timedelta(hours=1)
    assert list(client.deliveries(start, status="opened")) == [event]


def test_same_bounce_same_status_and_bounce_type() -> None:
    """``refine_status`` reads the SMTP reply the same way for every backend."""
    refine = mailbridge.refine_status
    S, B = mailbridge.DeliveryStatus, mailbridge.BounceType
    assert refine(S.REJECTED, "550 5.1.1 recipient is not exist") == (S.INVALID_ADDRESS, B.HARD)
    assert refine(S.FAILED, "554 5.7.1 spam") == (S.REJECTED, B.HARD)
    assert refine(S.FAILED, "421 4.4.0 timed out") == (S.FAILED, B.SOFT)
    assert refine(S.PENDING, "451 try later") == (S.PENDING, B.SOFT)
    assert refine(S.DELIVERED, "250 OK") == (S.DELIVERED, None)
    assert refine(S.REJECTED, "551 user unknown") == (S.INVALID_ADDRESS, B.HARD)
    assert refine(S.REJECTED, "dropped by policy") == (S.REJECTED, None)
    assert refine(S.INVALID_ADDRESS, "550") == (S.INVALID_ADDRESS, B.HARD)
