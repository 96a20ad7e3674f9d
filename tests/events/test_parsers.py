"""Pushed events: the documented samples, every event type, unknown types, mutated bodies."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mailbridge
from mailbridge import BounceType, DeliveryStatus, EventRequest, InvalidRequest

from . import samples


def test_tencent_documented_bounce() -> None:
    (event,) = mailbridge.parse_events("tencent", samples.TENCENT_BOUNCE)
    assert event.provider == "tencent"
    assert event.recipient == "u@example.com"
    assert event.status is DeliveryStatus.INVALID_ADDRESS  # 551 5.1.1: the address cannot receive mail
    assert event.bounce_type is BounceType.HARD
    assert event.reason == "551 5.1.1 recipient is not exist"
    assert event.message_id == "qcloudses-30-2512...-8jolHvR2XcXC1"
    assert event.time == dt.datetime(2022, 6, 1, 6, 24, 43, tzinfo=dt.UTC)
    assert event.sender == "t@ex.com"
    assert event.event_id == "qcloudses-30-2512...-8jolHvR2XcXC1|u@example.com|3|1654064683"
    assert event.raw["X-Tencentcloudses-Cb-Custom"] == "ses callback"


@pytest.mark.parametrize(
    ("kind", "eventid", "extra", "status", "flag"),
    [
        ("delivered", 1, {}, DeliveryStatus.DELIVERED, None),
        ("dropped", 2, {"reason": "in the blacklist"}, DeliveryStatus.REJECTED, None),
        ("deferred", 8, {"reason": "421 try again later"}, DeliveryStatus.PENDING, None),
        ("open", 4, {"useragent": "x"}, DeliveryStatus.DELIVERED, "opened"),
        ("click", 5, {"link": "https://example.com/a"}, DeliveryStatus.DELIVERED, "clicked"),
        ("spamreport", 6, {}, DeliveryStatus.DELIVERED, "complained"),
        ("unsubscribe", 7, {}, DeliveryStatus.DELIVERED, "unsubscribed"),
        ("processed", 0, {}, DeliveryStatus.PENDING, None),
        ("something_new", 99, {}, DeliveryStatus.UNKNOWN, None),
    ],
)
def test_tencent_every_event(
    kind: str, eventid: int, extra: dict[str, str], status: DeliveryStatus, flag: str | None
) -> None:
    body = {
        "event": kind,
        "eventid": eventid,
        "email": "a@example.com",
        "bulkId": "m1",
        "timestamp": 1700000000,
        **extra,
    }
    (event,) = mailbridge.parse_events("tencent", json.dumps(body))
    assert event.status is status
    assert event.raw_status == kind
    if flag:
        assert getattr(event, flag) is True
    if kind == "click":
        assert event.url == "https://example.com/a"
    if kind == "deferred":
        assert event.bounce_type is BounceType.SOFT
    if status is DeliveryStatus.UNKNOWN:
        assert event.raw == body  # kept, not dropped


def test_tencent_soft_bounce_type_and_old_spelling() -> None:
    body = {"event": "bounce", "email": "a@example.com", "bulkid": "m", "timestamp": 1, "bounceType": "soft",
            "reason": "452 4.2.2 mailbox full"}  # fmt: skip
    (event,) = mailbridge.parse_events("tencent", json.dumps(body))
    assert event.bounce_type is BounceType.SOFT
    assert event.message_id == "m"


def test_tencent_mime_subject_decoded() -> None:
    body = {"event": "delivered", "email": "a@example.com", "subject": "=?UTF-8?B?5L2g5aW9?="}
    (event,) = mailbridge.parse_events("tencent", json.dumps(body))
    assert event.subject == "你好"


def test_dm_documented_fail_sample() -> None:
    (event,) = mailbridge.parse_events("aliyun", samples.DM_FAIL)
    assert event.status is DeliveryStatus.INVALID_ADDRESS  # Status 2, SmtpNxBox
    assert event.bounce_type is BounceType.HARD  # 554 ... dosn't exist
    assert event.recipient == "xxx****@aliyun.com"
    assert event.message_id == "60000****"
    assert event.tag == "xxxxx"
    assert event.event_id == "45ef4dewdwe1-7c35-447a-bd93-fab****"
    assert event.time == dt.datetime(2024, 4, 29, 3, 7, 12, tzinfo=dt.UTC)
    assert event.raw["aliyunaccountid"] == "123456789098****"


def _cloudevent(kind: str, data: dict[str, object], event_id: str = "e1") -> str:
    return json.dumps({"id": event_id, "source": "acs:dm", "specversion": "1.0", "type": kind,
                       "time": "2024-04-29T11:07:12+08:00", "aliyunaccountid": "1", "data": data})  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "data", "status", "flag"),
    [
        ("dm:Deliver:Succeed", {"rcpt": "a@example.com", "env_id": "6001"}, DeliveryStatus.DELIVERED, None),
        ("dm:Trace:Open", {"rcpt": "a@example.com"}, DeliveryStatus.DELIVERED, "opened"),
        ("dm:Trace:Click", {"rcpt": "a@example.com", "url": "https://x.example/"}, DeliveryStatus.DELIVERED, "clicked"),
        ("dm:Feedback:UnSubscribe", {"rcpt": "a@example.com", "envid": "1"}, DeliveryStatus.DELIVERED, "unsubscribed"),
        (
            "dm:Feedback:FblReport",
            {"block_email": "a@example.com", "block_time": 1700000000},
            DeliveryStatus.DELIVERED,
            "complained",
        ),
        ("dm:Feedback:Subscribe", {"rcpt": "a@example.com"}, DeliveryStatus.UNKNOWN, None),
        ("dm:Validator:GrayListResult", {}, DeliveryStatus.UNKNOWN, None),
        (
            "dm:Deliver:Fail",
            {"rcpt": "a@example.com", "status": "3", "err_msg": "554 5.7.1 spam"},
            DeliveryStatus.REJECTED,
            None,
        ),
        (
            "dm:Deliver:Fail",
            {"rcpt": "a@example.com", "failed_type": "SysOutDnsResolveFail"},
            DeliveryStatus.INVALID_ADDRESS,
            None,
        ),
    ],
)
def test_dm_every_event(kind: str, data: dict[str, object], status: DeliveryStatus, flag: str | None) -> None:
    (event,) = mailbridge.parse_events("aliyun", _cloudevent(kind, data))
    assert event.status is status
    assert event.raw_status == kind
    if flag:
        assert getattr(event, flag) is True


def test_dm_mns_notification() -> None:
    (event,) = mailbridge.parse_events("aliyun", samples.DM_MNS)
    assert event.recipient == "ada@example.com"
    assert event.message_id == "12769055421"
    assert event.status is DeliveryStatus.UNKNOWN  # the documented sample names no fate
    assert event.raw["msg_id"] == "<abc@example.com>"
    failed = samples.DM_MNS + "&status=2&event=deliver&failed_type=SmtpNxBox&err_msg=550 5.1.1 no such user"
    (event,) = mailbridge.parse_events("aliyun", failed)
    assert event.status is DeliveryStatus.INVALID_ADDRESS
    assert event.reason == "550 5.1.1 no such user"  # values are not URL-encoded: spaces kept
    ok = samples.DM_MNS + "&status=0&event=deliver"
    assert mailbridge.parse_events("aliyun", ok)[0].status is DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("tencent", b"not json"),
        ("tencent", b"[]"),
        ("tencent", b'{"event": "delivered"}'),  # no recipient
        ("tencent", b'"a string"'),
        ("tencent", b"\xff\xfe"),
        ("aliyun", b'{"type": "dm:Deliver:Succeed"}'),  # no id
        ("aliyun", b'{"id": "1", "type": "dm:Deliver:Fail", "data": "x"}'),
        ("aliyun", b'{"id": "1", "type": "dm:Deliver:Fail", "data": {}}'),  # no rcpt
        ("aliyun", b"just words"),
        ("aliyun", b"\xff"),
    ],
)
def test_bad_bodies_are_invalid_requests(provider: str, body: bytes) -> None:
    with pytest.raises(InvalidRequest):
        mailbridge.parse_events(provider, EventRequest(body=body))


def _mutations(sample: str) -> st.SearchStrategy[bytes]:
    data = json.loads(sample)
    values = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=20),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    )

    def mutate(changes: dict[str, object], drop: list[str]) -> bytes:
        out = dict(data)
        for key in drop:
            out.pop(key, None)
        out.update(changes)
        if isinstance(out.get("data"), dict):
            nested = dict(out["data"])
            nested.update({k: v for k, v in changes.items() if k in nested})
            out["data"] = nested
        return json.dumps(out).encode()

    keys = sorted(set(data) | set(data.get("data", {}) if isinstance(data.get("data"), dict) else ()))
    return st.builds(mutate, st.dictionaries(st.sampled_from(keys), values, max_size=4),
                     st.lists(st.sampled_from(keys), max_size=3))  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(_mutations(samples.TENCENT_BOUNCE), st.binary(max_size=64)))
def test_mutated_tencent_bodies_parse_or_are_refused(body: bytes) -> None:
    try:
        events = mailbridge.parse_events("tencent", EventRequest(body=body))
    except InvalidRequest:
        return
    assert all(isinstance(e.status, DeliveryStatus) and "@" in e.recipient for e in events)


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(_mutations(samples.DM_FAIL), st.binary(max_size=64), st.text(max_size=80).map(str.encode)))
def test_mutated_dm_bodies_parse_or_are_refused(body: bytes) -> None:
    try:
        events = mailbridge.parse_events("aliyun", EventRequest(body=body))
    except InvalidRequest:
        return
    assert all(isinstance(e.status, DeliveryStatus) for e in events)
