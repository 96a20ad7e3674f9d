"""URL parsing, credentials, regions, declared limits and features, registration."""

from __future__ import annotations

import pytest
from mailbridge_tencent import TencentBackend
from mailbridge_tencent.emulator import (
    TEST_SECRET_ID,
    TEST_SECRET_KEY,
    TencentEmulator,
    serve,
)

import mailbridge
from mailbridge import Feature, Message, Recipient
from mailbridge._registry import load_emulator

from ._support import connect

CREDS = f"{TEST_SECRET_ID}:{TEST_SECRET_KEY}"


def backend(url: str) -> TencentBackend:
    b = mailbridge.connect(url).backend
    assert isinstance(b, TencentBackend)
    return b


def test_registered_as_entry_points() -> None:
    """The core finds the backend and its emulator through entry points only."""
    assert mailbridge.available_providers()["tencent"] is TencentBackend
    assert load_emulator("tencent") is serve


def test_credentials_and_region_from_the_url() -> None:
    b = backend(f"tencent://{CREDS}@ap-hongkong?timeout=7")
    assert (b.secret_id, b.region, b.timeout) == (TEST_SECRET_ID, "ap-hongkong", 7.0)
    profile = b._client.profile
    assert (profile.httpProfile.endpoint, profile.httpProfile.scheme) == ("ses.tencentcloudapi.com", "https")
    assert profile.httpProfile.reqTimeout == 7.0
    assert b.describe() == "tencent://AKID***@ap-hongkong"


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRET_ID", "AKIDfromenv123")
    monkeypatch.setenv("TENCENTCLOUD_SECRET_KEY", "key-from-env")
    b = backend("tencent://?region=ap-guangzhou")
    assert (b.secret_id, b.region) == ("AKIDfromenv123", "ap-guangzhou")
    assert b._secret_key.reveal() == "key-from-env"
    assert "key-from-env" not in repr(b._secret_key)


def test_missing_credentials_name_the_environment_variables() -> None:
    with pytest.raises(mailbridge.ConfigurationError, match="TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY"):
        mailbridge.connect("tencent://?region=ap-guangzhou")


def test_singapore_uses_the_international_endpoint() -> None:
    assert backend(f"tencent://{CREDS}@ap-singapore")._client.profile.httpProfile.endpoint == (
        "ses.intl.tencentcloudapi.com"
    )


@pytest.mark.parametrize(
    ("url", "match"),
    [
        (f"tencent://{CREDS}@eu-frankfurt", "region 'eu-frankfurt' is not supported"),
        (f"tencent://{CREDS}@ap-guangzhou?endpoint=http://ses.example.com", "loopback"),
        (f"tencent://{CREDS}@ap-guangzhou?endpoint=ftp://127.0.0.1", "must be an http"),
        (f"tencent://{CREDS}@ap-guangzhou?region=ap-hongkong", "region given twice"),
        (f"tencent://{CREDS}@ap-guangzhou?timeout=soon", "must be a number"),
        ("tencent://AKIDx%20:key@ap-guangzhou", "credentials rejected"),
    ],
)
def test_bad_configuration(url: str, match: str) -> None:
    with pytest.raises(mailbridge.ConfigurationError, match=match):
        mailbridge.connect(url)


def test_https_and_loopback_endpoints_are_allowed() -> None:
    assert backend(
        f"tencent://{CREDS}@ap-guangzhou?endpoint=https://ses.example.com"
    )._client.profile.httpProfile.endpoint == ("ses.example.com")
    local = backend(f"tencent://{CREDS}@ap-guangzhou?endpoint=http://localhost:9025")
    assert local._client.profile.httpProfile.scheme == "http"


def test_rate_limit_key_hides_the_secret_id() -> None:
    key = backend(f"tencent://{CREDS}@ap-guangzhou").rate_limit_key
    assert TEST_SECRET_ID not in key and key.startswith("tencent:") and key.endswith(":ap-guangzhou")


def test_limits_are_declared() -> None:
    limits = TencentBackend.limits
    assert (limits.upload_batch_size, limits.recipients_per_send, limits.max_group_size) == (20_000, 50, 50_000)
    assert (limits.cc_per_send, limits.bcc_per_send, limits.subject_length) == (20, 20, 100)
    assert (limits.list_page_size, limits.delivery_page_size, limits.template_data_bytes) == (100, 100, 800)
    assert limits.delivery_query_by_day and limits.async_upload and limits.delivery_retention.days == 30
    assert str(limits.rate_for("send")) == "20/s"
    assert not limits.supports(Feature.REMOVE_RECIPIENTS) and not limits.supports(Feature.TAGS)


def test_remove_is_unsupported_with_the_reason() -> None:
    b = backend(f"tencent://{CREDS}@ap-guangzhou")
    group = mailbridge.Group("1", "x", "tencent")
    with pytest.raises(mailbridge.UnsupportedFeature, match="does not support remove recipients"):
        mailbridge.Client(b).remove(group, ["a@example.com"])
    with pytest.raises(mailbridge.UnsupportedFeature, match="SES has no API to delete a recipient from a list"):
        b.remove_members(group, ["a@example.com"])


def message(**changes: object) -> Message:
    fields: dict[str, object] = {"sender": "noreply@mail.example.com", "to": ["a@example.com"], "subject": "Hi"}
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"tag": "news"}, mailbridge.UnsupportedFeature, "tag"),
        ({"template_id": "welcome"}, mailbridge.InvalidRequest, "integers"),
        ({"template_id": "1", "sender_name": "a:b"}, mailbridge.InvalidRequest, "':'"),
        (
            {"template_id": "1", "reply_to": "r@example.com", "reply_to_name": "R"},
            mailbridge.UnsupportedFeature,
            "reply to name",
        ),
        ({"template_id": "1", "provider_options": {"colour": "red"}}, mailbridge.InvalidRequest, "unknown Tencent"),
        (
            {"template_id": "1", "provider_options": {"trigger_type": "urgent"}},
            mailbridge.InvalidRequest,
            "trigger_type",
        ),
        ({"template_id": "1", "subject": "x" * 101}, mailbridge.LimitExceeded, "subject"),
        ({"template_id": "1", "cc": [f"c{i}@example.com" for i in range(21)]}, mailbridge.LimitExceeded, "cc"),
    ],
)
def test_refused_before_the_network(emu: TencentEmulator, changes: dict[str, object], error: type, match: str) -> None:
    with connect(emu.url) as client, pytest.raises(error, match=match):
        client.send(message(**changes))
    assert emu.requests == []


def test_oversized_template_data_is_rejected_per_recipient(emu: TencentEmulator) -> None:
    """The 800-byte TemplateData rule is checked before any upload; the others still go."""
    with connect(emu.url) as client:
        group = client.create_group("big-data")
        report = client.upload(group, [Recipient("a@example.com", data={"x": "y" * 800}), "b@example.com"])
    assert report.accepted == 1
    (rejected,) = report.rejected
    assert (rejected.email, rejected.row) == ("a@example.com", 1)
    assert "800" in rejected.reason


def test_html_in_template_data_is_rejected_per_recipient(emu: TencentEmulator) -> None:
    with connect(emu.url) as client:
        group = client.create_group("html-data")
        report = client.upload(group, [Recipient("a@example.com", data={"x": "<b>bold</b>"}), "b@example.com"])
    assert report.accepted == 1
    assert "HTML" in report.rejected[0].reason


def test_group_send_refuses_what_batch_send_cannot_carry(emu: TencentEmulator) -> None:
    group = mailbridge.Group("1", "x", "tencent")
    with connect(emu.url) as client:
        with pytest.raises(mailbridge.UnsupportedFeature, match="attachments"):
            client.send_to_group(group, message(to=[], template_id="1", attachments=[mailbridge.Attachment("a", b"a")]))
        with pytest.raises(mailbridge.UnsupportedFeature, match="cc"):
            client.send_to_group(group, message(to=[], template_id="1", cc=["c@example.com"]))
