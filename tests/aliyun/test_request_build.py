"""``DirectMailTransport.build`` skips ``httpx.Client.build_request`` per call (its URL join and header merge are
worked out once); judged here by ``build_request`` itself: the same URL, header list (names, case, order),
body and timeout extension, for both signatures and for an endpoint with a path."""

from __future__ import annotations

import httpx
import pytest
from mailbridge_aliyun._signing import authorization_v3, sign_v2
from mailbridge_aliyun._transport import DirectMailTransport

from mailbridge import Secret

KEY, SECRET = "LTAI5tBuildTestKeyId", "build-test-secret"
PARAMS = {"AccountName": "a@mail.example.com", "ToAddress": "u@example.com", "Subject": "Hi & ?", "Skip": None}


@pytest.mark.parametrize("signature", ["v3", "v2"])
@pytest.mark.parametrize("endpoint", ["https://dm.aliyuncs.com", "http://127.0.0.1:8080/gateway/"])
def test_the_request_is_the_one_build_request_makes(signature: str, endpoint: str) -> None:
    transport = DirectMailTransport(endpoint, KEY, Secret(SECRET), signature=signature, timeout=12.0)
    try:
        request = transport.build("SingleSendMail", PARAMS)
        client_names = {k.lower() for k, _ in transport.client.headers.raw}
        ours = [(k, v) for k, v in request.headers.raw if k.lower() not in client_names | {b"content-length"}]
        expected = transport.client.build_request(
            "POST",
            "/",
            params=dict(request.url.params) or None,
            headers=[(k.decode(), v.decode()) for k, v in ours],
            content=request.content,
        )
        assert request.url == expected.url
        assert request.headers.raw == expected.headers.raw
        assert (
            request.content
            == expected.content
            == b"AccountName=a%40mail.example.com&ToAddress=u%40example.com&Subject=Hi+%26+%3F"
        )
        assert request.extensions == expected.extensions
        assert request.extensions["timeout"] == {"connect": 10.0, "read": 12.0, "write": 12.0, "pool": 12.0}
    finally:
        transport.close()


def test_the_signatures_verify() -> None:
    """V3 signs the headers sent (Authorization over host, content-type, x-acs-*); V2 the query and body."""
    v3 = DirectMailTransport("https://dm.aliyuncs.com", KEY, Secret(SECRET))
    v2 = DirectMailTransport("https://dm.aliyuncs.com", KEY, Secret(SECRET), signature="v2")
    try:
        request = v3.build("SingleSendMail", PARAMS)
        signed = {k: v for k, v in request.headers.items() if k in ("host", "content-type") or k.startswith("x-acs-")}
        assert request.headers["authorization"] == authorization_v3(
            "POST", "/", {}, signed, request.content, access_key_id=KEY, secret=SECRET
        )
        request = v2.build("SingleSendMail", PARAMS)
        assert "authorization" not in request.headers
        query = dict(request.url.params)
        signature = query.pop("Signature")
        assert query["AccessKeyId"] == KEY and query["Action"] == "SingleSendMail"
        business = dict(httpx.QueryParams(request.content.decode()))
        assert signature == sign_v2("POST", {**query, **business}, SECRET)
    finally:
        v3.close()
        v2.close()
