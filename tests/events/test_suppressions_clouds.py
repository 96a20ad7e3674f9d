"""Suppressions on both emulators, the Tencent blacklist actions judged by the official SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TEST_SECRET_ID, TEST_SECRET_KEY, TencentEmulator
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.ses.v20201002 import models
from tencentcloud.ses.v20201002.ses_client import SesClient

import mailbridge
from mailbridge import ContentRejected, Message, SuppressionReason


def msg(*to: str, sender: str = "noreply@mail.example.com") -> Message:
    return Message(sender=sender, to=to, subject="Hi", text="Hello", html="<p>Hello</p>")


@pytest.fixture
def ses() -> Iterator[TencentEmulator]:
    with TencentEmulator(blacklist=["hard@example.com"], rate=0) as emu:
        yield emu


def sdk(emu: TencentEmulator) -> SesClient:
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{emu.port}"))
    return SesClient(Credential(TEST_SECRET_ID, TEST_SECRET_KEY), "ap-guangzhou", profile)


def test_sdk_judges_the_blacklist_actions(ses: TencentEmulator) -> None:
    client = sdk(ses)
    req = models.ListBlackEmailAddressRequest()
    req.from_json_string(json.dumps({"StartDate": "2020-10-02", "EndDate": "2099-01-01", "Limit": 100, "Offset": 0}))
    answer = client.ListBlackEmailAddress(req)
    assert answer.TotalCount == 1
    (entry,) = answer.BlackList
    assert isinstance(entry, models.BlackEmailAddress) and entry.EmailAddress == "hard@example.com"
    assert isinstance(entry.BounceTime, str) and isinstance(entry.IspDesc, str)

    missing = models.ListBlackEmailAddressRequest()
    missing.from_json_string(json.dumps({"Limit": 10, "Offset": 0}))
    with pytest.raises(TencentCloudSDKException) as exc:
        client.ListBlackEmailAddress(missing)
    assert exc.value.code == "MissingParameter"

    create = models.CreateCustomBlacklistRequest()
    create.from_json_string(json.dumps({"Emails": ["a@example.com", "a@example.com", "nope", "x" * 250 + "@e.com"]}))
    counts = client.CreateCustomBlacklist(create)
    assert (counts.TotalCount, counts.ValidCount, counts.RepeatCount, counts.InvalidCount, counts.TooLongCount) == (
        4, 1, 1, 1, 1,
    )  # fmt: skip

    listing = models.ListCustomBlacklistRequest()
    listing.from_json_string(json.dumps({"Offset": 0, "Limit": 10, "Status": 2}))
    data = client.ListCustomBlacklist(listing)
    assert data.TotalCount == 1
    (row,) = data.Data
    assert isinstance(row, models.BlackAddressDetail) and isinstance(row.Id, int) and row.Status == 1
    with pytest.raises(TencentCloudSDKException):
        bad = models.ListCustomBlacklistRequest()
        bad.from_json_string(json.dumps({"Offset": 0, "Limit": 101, "Status": 1}))
        client.ListCustomBlacklist(bad)

    update = models.UpdateCustomBlackListRequest()
    update.from_json_string(json.dumps({"Id": row.Id, "Email": "b@example.com", "ExpireDate": "2000-01-01"}))
    client.UpdateCustomBlackList(update)
    expired = models.ListCustomBlacklistRequest()
    expired.from_json_string(json.dumps({"Offset": 0, "Limit": 10, "Status": 0}))
    assert [r.Email for r in client.ListCustomBlacklist(expired).Data] == ["b@example.com"]

    delete = models.DeleteCustomBlackListRequest()
    delete.from_json_string(json.dumps({"Emails": ["b@example.com"]}))
    client.DeleteCustomBlackList(delete)
    drop = models.DeleteBlackListRequest()
    drop.from_json_string(json.dumps({"EmailAddressList": ["hard@example.com"]}))
    client.DeleteBlackList(drop)
    assert client.ListBlackEmailAddress(req).TotalCount == 0
    assert client.ListCustomBlacklist(listing).TotalCount == 0


def test_tencent_suppressions_neutral(ses: TencentEmulator) -> None:
    with mailbridge.connect(ses.url) as client:
        assert [(s.address, s.reason, s.scope) for s in client.suppressions()] == [
            ("hard@example.com", SuppressionReason.BOUNCE, "shared")
        ]
        client.suppress(["manual@example.com"])
        with pytest.raises(ContentRejected):
            client.send(msg("manual@example.com"))
        listed = {(s.address, s.reason, s.scope) for s in client.suppressions()}
        assert ("manual@example.com", SuppressionReason.MANUAL, "account") in listed
        client.unsuppress(["manual@example.com", "hard@example.com"])
        assert list(client.suppressions()) == []
        assert client.send(msg("manual@example.com")).accepted == ("manual@example.com",)
        actions = [r["action"] for r in ses.requests]
        assert "CreateCustomBlacklist" in actions and "DeleteBlackList" in actions


@pytest.fixture
def dm() -> Iterator[AliyunEmulator]:
    with AliyunEmulator() as emu:
        yield emu


def test_dm_suppressions_neutral(dm: AliyunEmulator) -> None:
    with mailbridge.connect(dm.url) as client:
        client.send(msg("gone@bounce.example"))  # a hard bounce: on the invalid-address list
        client.suppress(["manual@example.com"])
        found = {(s.address, s.reason, s.scope) for s in client.suppressions()}
        assert found == {
            ("gone@bounce.example", SuppressionReason.BOUNCE, "shared"),
            ("manual@example.com", SuppressionReason.MANUAL, "account"),
        }
        with pytest.raises(ContentRejected):
            client.send(msg("manual@example.com"))
        client.unsuppress(["gone@bounce.example", "manual@example.com"])
        assert list(client.suppressions()) == []
        assert [c["Address"] for c in dm.calls("CreateUserSuppression")] == ["manual@example.com"]
        assert [c["ToAddress"] for c in dm.calls("DeleteInvalidAddress")] == [
            "gone@bounce.example",
            "manual@example.com",
        ]
