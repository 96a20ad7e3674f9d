"""Both Alibaba signature schemes against every published test vector (reference A.3/A.4)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from mailbridge_aliyun._signing import (
    authorization_v3,
    canonical_request_v3,
    percent_encode,
    sha256_hex,
    sign_v2,
    string_to_sign_v2,
)

DM_SINGLE_SEND = {
    "AccessKeyId": "testid",
    "AccountName": "<a%b'>",
    "Action": "SingleSendMail",
    "AddressType": "1",
    "Format": "XML",
    "HtmlBody": "4",
    "RegionId": "cn-hangzhou",
    "ReplyToAddress": "true",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "c1b2c332-4cfb-4a0f-b8cc-ebe622aa0a5c",
    "SignatureVersion": "1.0",
    "Subject": "3",
    "TagName": "2",
    "Timestamp": "2016-10-20T06:27:56Z",
    "ToAddress": "1@test.com",
    "Version": "2015-11-23",
}
DESCRIBE_REGIONS = {
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "Format": "XML",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "SignatureVersion": "1.0",
    "Timestamp": "2016-02-23T12:46:24Z",
    "Version": "2014-05-26",
}
DESCRIBE_DEDICATED_HOSTS = {
    "AccessKeyId": "testid",
    "Action": "DescribeDedicatedHosts",
    "Format": "JSON",
    "RegionId": "cn-beijing",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "edb2b34af0af9a6d14deaf7c1a5315eb",
    "SignatureVersion": "1.0",
    "Timestamp": "2023-03-13T08:34:30Z",
    "Version": "2014-05-26",
}


@pytest.mark.parametrize(
    ("method", "params", "secret", "expected"),
    [
        ("POST", DM_SINGLE_SEND, "testsecret", "llJfXJjBW3OacrVgxxsITgYaYm0="),
        ("GET", DM_SINGLE_SEND, "testsecret", "xviVKkGNJBEG2sDODpEU9KpUfhE="),
        ("GET", DESCRIBE_REGIONS, "testsecret", "OLeaidS1JvxuMvnyHOwuJ+uX5qY="),
        ("POST", DESCRIBE_REGIONS, "testsecret", "MxbnVAM4w6sft9xjVpe/GCKueuk="),
        ("GET", DESCRIBE_DEDICATED_HOSTS, "testsecret", "9NaGiOspFP5UPcwX8Iwt2YJXXuk="),
        ("POST", DESCRIBE_DEDICATED_HOSTS, "testsecret", "ZvQ9xGiFnquSJRvj+WE6kdSpTwU="),
        ("GET", {"query": "test", "body": "test"}, "secret", "XlUyV4sXjOuX5FnjUz9IF9tm5rU="),
    ],
    ids=["dm-post", "dm-get", "regions-get", "regions-post", "hosts-get", "hosts-post", "sdk-unit"],
)
def test_v2_published_vectors(method: str, params: dict[str, str], secret: str, expected: str) -> None:
    """Every published V2 (HMAC-SHA1) vector reproduces."""
    assert sign_v2(method, params, secret) == expected


def test_v2_string_to_sign_is_fully_encoded() -> None:
    """The DM example's StringToSign: the canonical query encoded a second time (``%26``, ``%253A``)."""
    sts = string_to_sign_v2("POST", DM_SINGLE_SEND)
    assert sts.startswith("POST&%2F&AccessKeyId%3Dtestid%26AccountName%3D%253Ca%2525b%2527%253E%26Action")
    assert "Timestamp%3D2016-10-20T06%253A27%253A56Z" in sts


def test_v2_ignores_signature_param() -> None:
    """A ``Signature`` already in the parameters is not signed (the emulator verifies this way)."""
    assert sign_v2("POST", {**DESCRIBE_REGIONS, "Signature": "x"}, "testsecret") == "MxbnVAM4w6sft9xjVpe/GCKueuk="


def test_raw_hmac_sha1_helper_vector() -> None:
    """The SDK core's raw HMAC-SHA1 helper vector (sanity check of the primitive)."""
    digest = hmac.new(b"secret", b"source", hashlib.sha1).digest()
    assert base64.b64encode(digest).decode() == "Jv4yi8SobFhg5t1C7nWLbhBSFZQ="


def test_percent_encode_rules() -> None:
    """Only unreserved characters stay literal; space is %20, never '+'."""
    assert percent_encode("<a%b'> *~+/") == "%3Ca%25b%27%3E%20%2A~%2B%2F"
    assert percent_encode(" ~/*-+") == "%20~%2F%2A-%2B"


V3_HEADERS = {
    "host": "ecs.cn-shanghai.aliyuncs.com",
    "x-acs-action": "RunInstances",
    "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "x-acs-date": "2023-10-26T10:22:32Z",
    "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
    "x-acs-version": "2014-05-26",
}
V3_QUERY = {"ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"}


def test_v3_published_vector() -> None:
    """The V3 doc example's Authorization header reproduces exactly."""
    auth = authorization_v3(
        "POST", "/", V3_QUERY, V3_HEADERS, b"", access_key_id="YourAccessKeyId", secret="YourAccessKeySecret"
    )
    assert auth == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,"
        "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_v3_canonical_request_hash() -> None:
    """The intermediate HashedCanonicalRequest of the doc example matches too."""
    canonical = canonical_request_v3("POST", "/", V3_QUERY, V3_HEADERS, sha256_hex(b""))
    assert sha256_hex(canonical.encode()) == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
