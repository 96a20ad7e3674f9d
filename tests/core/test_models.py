"""The neutral models: coercion, immutability, JSON forms."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

import mailbridge
from mailbridge import DeliveryEvent, DeliveryStatus, Message, Recipient


def test_recipient_from_csv_row_maps_profile_and_data() -> None:
    """Known columns (any case) become fields, the rest template data; empty cells are dropped."""
    r = Recipient.coerce({"Email": " ada@example.com ", "Name": "Ada", "mobile": "", "firstName": "Ada", "plan": ""})
    assert r.email == "ada@example.com"
    assert r.name == "Ada" and r.mobile is None
    assert r.data == {"firstName": "Ada"}
    assert r.profile() == {"name": "Ada"}
    assert r.key == "ada@example.com"
    assert Recipient.coerce("B@Example.com").key == "b@example.com"


def test_models_are_immutable() -> None:
    r = Recipient("a@example.com")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        r.email = "b@example.com"  # type: ignore[misc]


def test_message_accepts_one_or_many_addresses() -> None:
    assert Message(sender="a@example.com", to="b@example.com").to == ("b@example.com",)
    assert Message(sender="a@example.com", to=["b@example.com", " c@example.com "]).to == (
        "b@example.com",
        "c@example.com",
    )
    assert Message(sender="a@example.com", to=[], template_data={"n": 1}).template_data == {"n": "1"}


def test_attachment_repr_hides_content() -> None:
    assert "secret-bytes" not in repr(mailbridge.Attachment("a.txt", b"secret-bytes"))


def test_send_result_flattens_receipts() -> None:
    at = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    result = mailbridge.SendResult(
        [
            mailbridge.SendReceipt("p", ["m1"], ["a@example.com"], "r1", at),
            mailbridge.SendReceipt("p", ["m2"], ["b@example.com"], "r2", at),
        ]
    )
    assert result.message_ids == ("m1", "m2") and result.request_ids == ("r1", "r2")
    assert result.as_dict()["calls"] == 2


def test_naive_datetimes_are_utc() -> None:
    event = DeliveryEvent("p", "a@example.com", DeliveryStatus.DELIVERED, time=dt.datetime(2026, 1, 1))
    assert event.time is not None and event.time.tzinfo is dt.UTC
    assert event.as_dict()["status"] == "delivered"


def test_limits_declare_rates_and_features() -> None:
    limits = mailbridge.Limits(
        upload_batch_size=10,
        recipients_per_send=5,
        rates={"send": mailbridge.Rate(100), "*": mailbridge.Rate(10, 60)},
        features={"tags"},
    )
    assert limits.rate_for(mailbridge.Operation.SEND) == mailbridge.Rate(100, 1)
    assert str(limits.rate_for("create_group")) == "10/60s"
    assert limits.supports(mailbridge.Feature.TAGS) and not limits.supports("cc")
    assert limits.as_dict()["features"] == ["tags"]
    with pytest.raises(ValueError):
        mailbridge.Limits(upload_batch_size=1, recipients_per_send=1, rates={"no-such-op": mailbridge.Rate(1)})
