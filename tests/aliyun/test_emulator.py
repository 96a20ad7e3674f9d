"""The emulator behaves like the documented gateway and service: signatures, limits, throttling, faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from mailbridge_aliyun import AliyunBackend
from mailbridge_aliyun.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, AliyunEmulator, DMError, Fault, serve

import mailbridge
from mailbridge import (
    AuthenticationError,
    Client,
    Group,
    InvalidAddress,
    InvalidRequest,
    LimitExceeded,
    Message,
    OutcomeUnknown,
    ProviderUnavailable,
    RateLimited,
    Recipient,
)

from .record import scenario_client

SENDER = "noreply@mail.example.com"
MESSAGE = Message(sender=SENDER, to="a@example.com", subject="S", text="T")


def test_url_and_defaults(emulator: AliyunEmulator) -> None:
    assert (
        emulator.url
        == f"aliyun://{TEST_ACCESS_KEY_ID}:{TEST_ACCESS_KEY_SECRET}@cn-hangzhou?endpoint={emulator.endpoint}"
    )
    assert emulator.endpoint.startswith("http://127.0.0.1:")


def test_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        AliyunEmulator(host="0.0.0.0")


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_wrong_secret_is_signature_does_not_match(emulator: AliyunEmulator, signature: str) -> None:
    url = emulator.url_with(signature=signature).replace(TEST_ACCESS_KEY_SECRET, "wrong-secret")
    with scenario_client(url) as client, pytest.raises(AuthenticationError) as info:
        list(client.groups())
    assert (info.value.provider_code, info.value.http_status) == ("SignatureDoesNotMatch", 400)
    assert emulator.requests == []  # nothing reached the service


@pytest.mark.parametrize("signature", ["v3", "v2"])
def test_unknown_key_is_invalid_access_key_id(emulator: AliyunEmulator, signature: str) -> None:
    url = emulator.url_with(signature=signature).replace(TEST_ACCESS_KEY_ID, "LTAI5tSomebodyElse")
    with scenario_client(url) as client, pytest.raises(AuthenticationError) as info:
        client.account()
    assert (info.value.provider_code, info.value.http_status) == ("InvalidAccessKeyId.NotFound", 404)


@pytest.fixture
def raw_backend(emulator: AliyunEmulator) -> Iterator[AliyunBackend]:
    backend = AliyunBackend.from_url(mailbridge.ProviderURL.parse(emulator.url))
    yield backend
    backend.close()


def test_replayed_nonce_and_tampered_body(raw_backend: AliyunBackend) -> None:
    request = raw_backend.api.build("DescAccountSummary", {})
    with httpx.Client() as http:
        assert http.send(request).status_code == 200
        replay = http.send(request)
        assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
        signed = raw_backend.api.build("DescAccountSummary", {})
        headers = {k: v for k, v in signed.headers.items() if k != "content-length"}
        tampered = httpx.Request("POST", signed.url, headers=headers, content=b"Extra=1")
        answer = http.send(tampered)
    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")


def test_unsigned_and_stale_requests(emulator: AliyunEmulator, raw_backend: AliyunBackend) -> None:
    with httpx.Client(base_url=emulator.endpoint) as http:
        unsigned = http.post("/", headers={"x-acs-action": "DescAccountSummary"})
        assert unsigned.json()["Code"] == "IncompleteSignature"
        request = raw_backend.api.build("DescAccountSummary", {})
        request.headers["x-acs-date"] = "2020-01-01T00:00:00Z"
        assert http.send(request).json()["Code"] == "InvalidTimeStamp.Expired"


def test_unknown_action(raw_backend: AliyunBackend) -> None:
    with httpx.Client() as http:
        answer = http.send(raw_backend.api.build("NoSuchAction", {}))
    assert (answer.status_code, answer.json()["Code"]) == (404, "InvalidApi.NotFound")


def test_throttling_past_the_rate(emulator: AliyunEmulator, client: Client) -> None:
    emulator.set_rate(2)
    client.account()
    client.account()
    with pytest.raises(RateLimited) as info:
        client.account()
    assert info.value.provider_code == "Throttling.User"
    emulator.set_rate(None)
    client.account()


def test_documented_limits(emulator: AliyunEmulator, client: Client) -> None:
    backend = client.backend
    group = client.create_group("limits")
    with pytest.raises(InvalidRequest):  # SaveReceiverDetail: <= 500 per call
        backend.upload_batch(group, [Recipient(f"r{i}@example.com") for i in range(501)])
    with pytest.raises(InvalidAddress):  # SingleSendMail: <= 100 To addresses
        backend.send(MESSAGE.evolve(to=[f"r{i}@example.com" for i in range(101)]))
    with pytest.raises(InvalidRequest) as subject:  # Subject <= 256 characters
        backend.send(MESSAGE.evolve(subject="s" * 257))
    assert subject.value.provider_code == "InvalidSubject.Malformed"
    with pytest.raises(InvalidRequest) as alias:  # FromAlias < 15 characters
        backend.send(MESSAGE.evolve(sender_name="x" * 15))
    assert alias.value.provider_code == "InvalidFromAlias.Malformed"
    with pytest.raises(InvalidRequest):  # BccAddress <= 2
        backend.send(MESSAGE.evolve(bcc=["1@x.com", "2@x.com", "3@x.com"]))
    with pytest.raises(InvalidRequest):  # Length 1-100 (the backend itself never asks for more)
        backend.api.call("SenderStatisticsDetailByParam", {"Length": 101}, operation="deliveries")
    for i in range(9):  # at most 10 lists
        client.create_group(f"list{i}")
    with pytest.raises(InvalidRequest):
        client.create_group("one-too-many")


def test_window_over_30_days_is_refused(raw_backend: AliyunBackend) -> None:
    window = {"StartTime": "2026-01-01 00:00", "EndTime": "2026-02-01 00:00"}
    with httpx.Client() as http:
        answer = http.send(raw_backend.api.build("SenderStatisticsDetailByParam", window))
    assert (answer.status_code, answer.json()["Code"]) == (400, "InvalidBetweenTime.Malformed")
    with pytest.raises(LimitExceeded):
        raw_backend.api.call("SenderStatisticsDetailByParam", window, operation="deliveries")


def test_headers_past_ten_are_ignored_like_the_cloud(emulator: AliyunEmulator, client: Client) -> None:
    headers = {f"X-User-H{i}": str(i) for i in range(12)}
    client.backend.send(MESSAGE.evolve(headers=headers))
    assert len(json.loads(emulator.sent_mail[0].params["Headers"])) == 10


# --------------------------------------------------------------------------- faults


def test_fault_5xx_then_recovery(emulator: AliyunEmulator, client: Client) -> None:
    emulator.inject("error", action="DescAccountSummary", status=500, code="InternalError")
    with pytest.raises(ProviderUnavailable) as info:
        client.account()
    assert info.value.retryable and info.value.provider_code == "InternalError"
    client.account()


def test_retries_recover_from_a_transient_fault(emulator: AliyunEmulator) -> None:
    emulator.inject("error", action="DescAccountSummary", times=2)
    policy = mailbridge.RetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.001, wait_jitter=0)
    with mailbridge.connect(emulator.url, retry=policy) as client:
        assert client.account().daily_quota == 2000
    assert len(emulator.calls("DescAccountSummary")) == 3


def test_fault_reset_after_applying_a_send(emulator: AliyunEmulator, client: Client) -> None:
    """The answer is lost but the mail went out: OutcomeUnknown, and the core does not retry."""
    emulator.inject("reset", action="SingleSendMail", apply=True)
    with pytest.raises(OutcomeUnknown) as info:
        client.send(MESSAGE)
    assert info.value.maybe_sent and len(emulator.sent_mail) == 1


def test_fault_reset_on_a_read_is_provider_unavailable(emulator: AliyunEmulator, client: Client) -> None:
    emulator.inject("reset", action="QueryTagByParam")
    with pytest.raises(ProviderUnavailable):
        client.tags()


def test_fault_delay_beyond_the_timeout(emulator: AliyunEmulator) -> None:
    emulator.inject("delay", action="SingleSendMail", delay=0.5)
    emulator.inject("delay", action="QueryTagByParam", delay=0.5)
    with scenario_client(emulator.url_with(timeout="0.1")) as client:
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown):
            client.send(MESSAGE)
        with pytest.raises(ProviderUnavailable):
            client.tags()
        assert time.monotonic() - started < 2


def test_fault_malformed_body(emulator: AliyunEmulator, client: Client) -> None:
    emulator.inject("malformed", action="SingleSendMail")
    with pytest.raises(OutcomeUnknown):
        client.send(MESSAGE)
    emulator.inject("malformed", action="QueryTagByParam", status=502)
    with pytest.raises(ProviderUnavailable) as info:
        client.tags()
    assert info.value.http_status == 502


def test_faults_over_the_control_endpoint(emulator: AliyunEmulator, client: Client) -> None:
    with httpx.Client(base_url=emulator.endpoint) as http:
        http.post(
            "/_emulator/faults", json={"kind": "error", "action": "QueryTagByParam", "status": 503}
        ).raise_for_status()
        assert http.get("/_emulator/faults").json()["faults"][0]["action"] == "QueryTagByParam"
        with pytest.raises(ProviderUnavailable):
            client.tags()
        http.post("/_emulator/faults", json={"kind": "error", "times": None}).raise_for_status()
        http.delete("/_emulator/faults").raise_for_status()
        client.send(MESSAGE)
        state = http.get("/_emulator/state").json()
        assert state["sent_mail"][0]["to"] == ["a@example.com"]
        assert http.post("/_emulator/faults", json={"kind": "explode"}).status_code == 400


def test_fault_rules_validate() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(kind="explode")


def test_state_is_visible_from_python(emulator: AliyunEmulator, client: Client) -> None:
    group = client.create_group("state")
    client.upload(group, [Recipient("a@example.com", name="A", data={"k": "v"})])
    client.create_tag("t1")
    member = emulator.lists[group.id].members["a@example.com"]
    assert (member.detail, member.custom) == ({}, {"name": "A", "k": "v"})  # CustomDetail only (Detail xor)
    assert [t["TagName"] for t in emulator.tags.values()] == ["t1"]
    client.send(MESSAGE.evolve(to=["gone@bounce.example"]))
    assert emulator.deliveries[-1].status == 2
    with pytest.raises(mailbridge.ContentRejected):  # the bounced address is now on the invalid-address list
        client.send(MESSAGE.evolve(to=["gone@bounce.example"]))
    client.delete_group(Group(id=group.id, name=group.name, provider="aliyun"))
    assert emulator.lists == {}


def test_daily_quota(client: Client) -> None:
    with AliyunEmulator(daily_quota=2) as small, scenario_client(small.url) as c:
        c.send(MESSAGE.evolve(to=["a@example.com", "b@example.com"]))
        with pytest.raises(mailbridge.QuotaExceeded) as info:  # InvalidSendMail.Spam with its quota text
            c.send(MESSAGE)
    assert info.value.provider_code == "InvalidSendMail.Spam" and info.value.failover_eligible


def test_serve_validates_options() -> None:
    with pytest.raises(ValueError, match="unknown emulator option"):
        serve(port=0, colour="blue")


def test_group_sends_need_a_batch_sender(client: Client) -> None:
    client.create_group("typed")
    client.upload("typed", ["a@example.com"])
    with pytest.raises(InvalidRequest) as info:
        client.send_to_group("typed", Message(sender=SENDER, to=(), subject="S", text="T"))
    assert info.value.provider_code == "InvalidMailAddressSendType.Malformed"
    client.send_to_group("typed", Message(sender="news@mail.example.com", to=(), subject="S", text="T"))


def test_an_address_twice_in_one_call_is_an_error_as_seed_000_says(emulator: AliyunEmulator) -> None:
    """Detail and CustomDetail naming the same address: the second is a failure (ErrorCount 1, no ErrMessage)."""
    state = emulator.state
    rid = state.dispatch("CreateReceiver", {"ReceiversName": "twice", "ReceiversAlias": "t@example.com"})["ReceiverId"]
    body = state.dispatch(
        "SaveReceiverDetail",
        {
            "ReceiverId": rid,
            "Detail": json.dumps([{"e": "a@example.com", "u": "A"}]),
            "CustomDetail": json.dumps([{"Email": "a@example.com", "CustomData": {"k": "v"}}]),
        },
    )
    assert (body["SuccessCount"], body["ErrorCount"], body["Data"]["Detail"]) == (1, 1, [{"Email": "a@example.com"}])
    member = state.receivers[rid].members["a@example.com"]
    assert (member.detail, member.custom) == ({"u": "A"}, {})  # the first mention wins, the repeat is refused


# --------------------------------------------------------------------------- strict as the documentation


def test_the_emulator_never_imports_the_clients_signing_code() -> None:
    """Its signature checks are its own (``emulator/_signatures.py``): no import of the client's modules."""
    import ast
    from pathlib import Path

    import mailbridge_aliyun.emulator as package

    imported: set[str] = set()
    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                imported.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    client_modules = {m for m in imported if m.startswith(("mailbridge_aliyun", ".."))}
    assert client_modules == set(), client_modules


def test_a_client_signing_bug_does_not_pass_the_emulator(
    emulator: AliyunEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Break the client's percent-encoding ('*' left literal): the emulator, checking on its own, refuses."""
    import mailbridge_aliyun._signing as client_signing

    backend = AliyunBackend.from_url(mailbridge.ProviderURL.parse(emulator.url_with(signature="v2")))
    with httpx.Client() as http:
        assert http.send(backend.api.build("DescAccountSummary", {"KeyWord": "a*b"})).status_code == 200
        real = client_signing.percent_encode
        monkeypatch.setattr(client_signing, "percent_encode", lambda value: real(value).replace("%2A", "*"))
        answer = http.send(backend.api.build("DescAccountSummary", {"KeyWord": "a*b"}))
    backend.close()
    assert (answer.status_code, answer.json()["Code"]) == (400, "SignatureDoesNotMatch")


def test_the_emulators_own_signatures_reproduce_the_published_vectors() -> None:
    from mailbridge_aliyun.emulator._signatures import canonical_v3, expected_v2, expected_v3, rfc3986

    from .test_signing import DESCRIBE_REGIONS, DM_SINGLE_SEND, V3_HEADERS, V3_QUERY

    assert expected_v2("POST", DM_SINGLE_SEND, "testsecret") == "llJfXJjBW3OacrVgxxsITgYaYm0="
    assert expected_v2("GET", DM_SINGLE_SEND, "testsecret") == "xviVKkGNJBEG2sDODpEU9KpUfhE="
    assert expected_v2("GET", DESCRIBE_REGIONS, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert expected_v2("POST", {**DESCRIBE_REGIONS, "Signature": "x"}, "testsecret") == "MxbnVAM4w6sft9xjVpe/GCKueuk="
    assert rfc3986("<a%b'> *~+/é") == "%3Ca%25b%27%3E%20%2A~%2B%2F%C3%A9"
    signed = sorted(V3_HEADERS)
    canonical = canonical_v3("POST", "/", V3_QUERY, V3_HEADERS, signed, b"")
    assert expected_v3(canonical, "YourAccessKeySecret") == (
        "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_v3_requests_must_sign_host_and_every_acs_header(raw_backend: AliyunBackend) -> None:
    request = raw_backend.api.build("DescAccountSummary", {})
    request.headers["x-acs-extra"] = "not signed"
    with httpx.Client() as http:
        answer = http.send(request)
    assert (answer.status_code, answer.json()["Code"]) == (400, "IncompleteSignature")
    assert "x-acs-extra" in answer.json()["Message"]


def _single(**params: str) -> dict[str, str]:
    return {
        "AccountName": SENDER,
        "AddressType": "1",
        "ReplyToAddress": "false",
        "ToAddress": "a@example.com",
        "Subject": "s",
        "TextBody": "t",
        **params,
    }


@pytest.mark.parametrize("value", ["false", "False", "TRUE", "true"])
def test_reply_to_address_is_true_or_false_in_any_case(emulator: AliyunEmulator, value: str) -> None:
    assert emulator.state.dispatch("SingleSendMail", _single(ReplyToAddress=value))["EnvId"]


@pytest.mark.parametrize("value", ["yes", "0", "falsy"])
def test_reply_to_address_other_values_are_refused(emulator: AliyunEmulator, value: str) -> None:
    with pytest.raises(DMError) as info:
        emulator.state.dispatch("SingleSendMail", _single(ReplyToAddress=value))
    assert info.value.code == "InvalidReplyToAddress"


def test_list_alias_must_be_an_address_under_30_characters(emulator: AliyunEmulator) -> None:
    ok = {"ReceiversName": "l", "ReceiversAlias": "a" * 23 + "@x.org"}  # 29 characters
    assert emulator.state.dispatch("CreateReceiver", ok)["ReceiverId"]
    for alias in ("vme", "a" * 24 + "@x.org", "a b@x.org", "a@b@x.org"):
        with pytest.raises(DMError) as info:
            emulator.state.dispatch("CreateReceiver", {"ReceiversName": "m", "ReceiversAlias": alias})
        assert (info.value.status, info.value.code) == (400, "InvalidReceiverName.Malformed")


def test_next_start_that_is_no_token_is_refused(emulator: AliyunEmulator) -> None:
    rid = emulator.state.dispatch("CreateReceiver", {"ReceiversName": "l", "ReceiversAlias": "l@x.org"})["ReceiverId"]
    with pytest.raises(DMError) as info:
        emulator.state.dispatch("QueryReceiverDetail", {"ReceiverId": rid, "NextStart": "100"})
    assert info.value.code == "InvalidNextStart"


def test_keyset_tokens_survive_a_removal(emulator: AliyunEmulator) -> None:
    """A token names the next address, so removing an earlier member between pages skips nobody."""
    state = emulator.state
    rid = state.dispatch("CreateReceiver", {"ReceiversName": "l", "ReceiversAlias": "l@x.org"})["ReceiverId"]
    state.dispatch(
        "SaveReceiverDetail", {"ReceiverId": rid, "Detail": json.dumps([{"e": f"{c}@x.org"} for c in "abcd"])}
    )
    first = state.dispatch("QueryReceiverDetail", {"ReceiverId": rid, "PageSize": "2"})
    state.dispatch("DeleteReceiverDetail", {"ReceiverId": rid, "Email": "a@x.org"})
    rest = state.dispatch("QueryReceiverDetail", {"ReceiverId": rid, "PageSize": "2", "NextStart": first["NextStart"]})
    assert [m["Email"] for m in first["data"]["detail"] + rest["data"]["detail"]] == [f"{c}@x.org" for c in "abcd"]


def test_delete_invalid_address_allows_sending_again(emulator: AliyunEmulator) -> None:
    state = emulator.state
    state.dispatch("SingleSendMail", _single(ToAddress="gone@bounce.example"))
    with pytest.raises(DMError) as info:
        state.dispatch("SingleSendMail", _single(ToAddress="gone@bounce.example"))
    assert info.value.code == "InvalidToAddress.Spam"
    state.dispatch("DeleteInvalidAddress", {"ToAddress": "gone@bounce.example"})
    assert state.dispatch("QueryInvalidAddress", {})["TotalCount"] == 0
    assert state.dispatch("SingleSendMail", _single(ToAddress="gone@bounce.example"))["EnvId"]


def test_listings_carry_strings_where_the_sdk_models_do(emulator: AliyunEmulator) -> None:
    state = emulator.state
    (sender, *_) = state.dispatch("QueryMailAddressByParam", {})["data"]["mailAddress"]
    assert all(isinstance(v, str) for v in sender.values()), sender
    (template,) = state.dispatch("QueryTemplateByParam", {})["data"]["template"]
    assert isinstance(template["TemplateId"], str) and isinstance(template["TemplateType"], int)
    assert "TemplateText" not in template and "TemplateSubject" not in template  # the listing has neither
    assert "TemplateId" not in state.dispatch("DescTemplate", {"TemplateId": template["TemplateId"]})
    (domain, *_) = state.dispatch("QueryDomainByParam", {})["data"]["domain"]
    assert isinstance(domain["DomainId"], str)
    assert isinstance(state.dispatch("CreateDomain", {"DomainName": "new.example.org"})["DomainId"], str)
