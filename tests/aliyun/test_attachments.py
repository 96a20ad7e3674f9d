"""Direct Mail attachments through mailbridge: the wire (AuthorizeFileUpload, OSS PostObject, SingleSendMail),
the parsed result, the outcome rule (an upload failure is "not sent"; only SingleSendMail can be "maybe
sent"), checks before any call, and no grant secret in logs, reprs or errors.

The OSS multipart form is read back with the standard library's email parser (not the emulator's
parser), and the emulator's stored mail shows the bytes the recipient gets.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from mailbridge_aliyun import AliyunBackend
from mailbridge_aliyun._config import OPENPLATFORM_ENDPOINT, AliyunConfig
from mailbridge_aliyun.emulator import AliyunEmulator

import mailbridge
from mailbridge import (
    Attachment,
    Client,
    ConfigurationError,
    Group,
    LimitExceeded,
    Message,
    OutcomeUnknown,
    ProviderUnavailable,
    ProviderURL,
    RetryPolicy,
    UnsupportedFeature,
)

from .record import scenario_client

KEY, SECRET = "LTAI5tMailbridgeTestKeyId", "mailbridge-test-secret-aliyun"
SENDER = "noreply@mail.example.com"
PDF = Attachment("invoice.pdf", b"%PDF-1.4\n\x00\xff\r\n%%EOF\n", "application/pdf")
NOTES = Attachment("notes.txt", "Grüße\r\n".encode(), "text/plain")
GRANT_SIGNATURE = "c2VjcmV0LXBvbGljeS1zaWduYXR1cmUtdmFsdWU="  # what the fake OpenPlatform grants
GRANT_POLICY = "eyJleHBpcmF0aW9uIjoiMjA5OS0wMS0wMVQwMDowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W119"
GRANT_KEY_ID = "LTAI5tGrantedUploaderKey"


def _message(*attachments: Attachment, **fields: Any) -> Message:
    return Message(sender=SENDER, to="ann@example.com", subject="Invoice", text="Attached.", attachments=attachments,
                   **fields)  # fmt: skip


def _form(request: httpx.Request) -> list[tuple[str, str | None, str | None, bytes]]:
    """(name, filename, content type, bytes) of each multipart part, in order, read by the email package."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    assert parsed.is_multipart()
    parts = []
    for part in parsed.iter_parts():
        disposition = part.get("content-disposition", "")
        assert disposition.startswith("form-data")
        parts.append(
            (
                part.get_param("name", header="content-disposition"),
                part.get_filename(),
                part.get("content-type"),
                part.get_payload(decode=True),
            )
        )
    return parts


class Cloud:
    """A MockTransport playing OpenPlatform, OSS and Direct Mail (real hosts, no emulator)."""

    def __init__(self, oss_status: int = 201, oss_body: bytes = b"", **grant: Any) -> None:
        self.requests: list[httpx.Request] = []
        self.oss_status, self.oss_body = oss_status, oss_body
        self.grants = 0
        self.grant = grant  # fields that replace the granted ones

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "openplatform.aliyuncs.com":
            self.grants += 1
            return httpx.Response(
                200,
                json={
                    "RequestId": f"G{self.grants}",
                    "AccessKeyId": GRANT_KEY_ID,
                    "Bucket": "dm-bucket",
                    "Endpoint": "oss-cn-hangzhou.aliyuncs.com",
                    "ObjectKey": f"prefix/object-{self.grants}",
                    "EncodedPolicy": GRANT_POLICY,
                    "Signature": GRANT_SIGNATURE,
                    "UseAccelerate": False,
                    **self.grant,
                },
            )
        if request.url.host.endswith(".aliyuncs.com") and request.url.host.startswith("dm-bucket."):
            return httpx.Response(self.oss_status, content=self.oss_body, headers={"content-type": "application/xml"})
        return httpx.Response(200, json={"RequestId": "S", "EnvId": "600000123"})

    def kinds(self) -> list[str]:
        return [r.headers.get("x-acs-action") or f"OSS {r.method} {r.url}" for r in self.requests]


def _backend(cloud: Cloud, **params: str) -> AliyunBackend:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@cn-hangzhou?{query}")
    return AliyunBackend.from_url(url, transport=httpx.MockTransport(cloud))


def _client(cloud: Cloud, **params: str) -> Client:
    return Client(_backend(cloud, **params), retry=RetryPolicy(attempts=1))


# --------------------------------------------------------------------------- the wire


def test_the_wire_is_the_sdks_flow() -> None:
    """Per file: AuthorizeFileUpload (OpenPlatform 2019-12-19, Product=Dm, RegionId), a PostObject form to
    https://{Bucket}.{Endpoint}/ with the grant's fields and the file last; then one SingleSendMail naming
    each file by http://{Bucket}.{Endpoint}/{ObjectKey}; the receipt is the EnvId."""
    cloud = Cloud()
    with _client(cloud) as client:
        result = client.send(_message(PDF, NOTES))
    assert result.message_ids == ("600000123",)
    assert cloud.kinds() == [
        "AuthorizeFileUpload",
        "OSS POST https://dm-bucket.oss-cn-hangzhou.aliyuncs.com/",
        "AuthorizeFileUpload",
        "OSS POST https://dm-bucket.oss-cn-hangzhou.aliyuncs.com/",
        "SingleSendMail",
    ]
    grant = cloud.requests[0]
    assert (grant.url.host, grant.headers["x-acs-version"]) == ("openplatform.aliyuncs.com", "2019-12-19")
    assert dict(parse_qsl(grant.content.decode())) == {"Product": "Dm", "RegionId": "cn-hangzhou"}
    assert grant.headers["authorization"].startswith(f"ACS3-HMAC-SHA256 Credential={KEY},")
    upload = cloud.requests[1]
    assert upload.headers["host"] == "dm-bucket.oss-cn-hangzhou.aliyuncs.com"
    assert "authorization" not in upload.headers  # the form carries the grant, not our key
    assert _form(upload) == [
        ("OSSAccessKeyId", None, None, GRANT_KEY_ID.encode()),
        ("Signature", None, None, GRANT_SIGNATURE.encode()),
        ("host", None, None, b"oss-cn-hangzhou.aliyuncs.com"),
        ("key", None, None, b"prefix/object-1"),
        ("policy", None, None, GRANT_POLICY.encode()),
        ("success_action_status", None, None, b"201"),
        ("file", "prefix/object-1", "application/pdf", PDF.content),
    ]
    assert _form(cloud.requests[3])[-1] == ("file", "prefix/object-2", "text/plain", NOTES.content)
    send = dict(parse_qsl(cloud.requests[-1].content.decode()))
    assert {k: v for k, v in send.items() if k.startswith("Attachments")} == {
        "Attachments.1.AttachmentName": "invoice.pdf",
        "Attachments.1.AttachmentUrl": "http://dm-bucket.oss-cn-hangzhou.aliyuncs.com/prefix/object-1",
        "Attachments.2.AttachmentName": "notes.txt",
        "Attachments.2.AttachmentUrl": "http://dm-bucket.oss-cn-hangzhou.aliyuncs.com/prefix/object-2",
    }


def test_v2_signs_the_grant_too() -> None:
    cloud = Cloud()
    with _client(cloud, signature="v2") as client:
        client.send(_message(PDF))
    grant = cloud.requests[0]
    assert (grant.url.params["Action"], grant.url.params["Version"]) == ("AuthorizeFileUpload", "2019-12-19")
    assert grant.url.params["Signature"]


def test_endpoints_follow_the_url() -> None:
    """Cloud regions use OpenPlatform's public host and the bucket's own; an emulator or gateway endpoint
    serves all three; ``openplatform=`` / ``oss=`` say otherwise."""
    cloud = AliyunConfig.from_url(ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@ap-southeast-1"))
    assert (cloud.openplatform_endpoint, cloud.oss_endpoint) == (OPENPLATFORM_ENDPOINT, None)
    own = AliyunConfig.from_url(
        ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@cn-hangzhou?endpoint=http://127.0.0.1:8025")
    )
    assert (own.openplatform_endpoint, own.oss_endpoint) == ("http://127.0.0.1:8025", "http://127.0.0.1:8025")
    both = AliyunConfig.from_url(
        ProviderURL.parse(
            f"aliyun://{KEY}:{SECRET}@cn-hangzhou?endpoint=http://127.0.0.1:1&openplatform=http://127.0.0.1:2"
            "&oss=https://proxy.example.com:8443/"
        )
    )
    assert (both.openplatform_endpoint, both.oss_endpoint) == ("http://127.0.0.1:2", "https://proxy.example.com:8443")
    with pytest.raises(ConfigurationError, match="oss must be an http"):
        AliyunConfig.from_url(ProviderURL.parse(f"aliyun://{KEY}:{SECRET}@cn-hangzhou?oss=ftp://x"))


def test_an_oss_override_keeps_the_bucket_host() -> None:
    cloud = Cloud()
    with _client(cloud, oss="https://oss-proxy.example.com") as client:
        client.send(_message(PDF))
    upload = cloud.requests[1]
    assert str(upload.url) == "https://oss-proxy.example.com/"
    assert upload.headers["host"] == "dm-bucket.oss-cn-hangzhou.aliyuncs.com"
    url = dict(parse_qsl(cloud.requests[-1].content.decode()))["Attachments.1.AttachmentUrl"]
    assert url == "http://dm-bucket.oss-cn-hangzhou.aliyuncs.com/prefix/object-1"


# --------------------------------------------------------------------------- checks before any call


@pytest.mark.parametrize(
    ("attachments", "error"),
    [
        ([Attachment(f"f{i}.txt", b"x") for i in range(101)], "101 attachments; aliyun allows at most 100"),
        ([Attachment("big.bin", b"\x00" * (8 * 1024 * 1024 + 1))], "aliyun allows at most 8388608"),
        (
            [Attachment("a.bin", b"\x00" * (4 * 1024 * 1024)), Attachment("b.bin", b"\x00" * (4 * 1024 * 1024 + 1))],
            "attachments total 8388609 bytes",
        ),
    ],
    ids=["101-files", "one-too-big", "two-too-big"],
)
def test_declared_limits_refuse_before_any_call(attachments: list[Attachment], error: str) -> None:
    cloud = Cloud()
    with _client(cloud) as client, pytest.raises(LimitExceeded, match=error):
        client.send(_message(*attachments))
    assert cloud.requests == []


def test_exactly_at_the_limits_goes_out() -> None:
    cloud = Cloud()
    with _client(cloud) as client:
        client.send(_message(*[Attachment(f"f{i}.txt", b"x") for i in range(100)]))
    assert cloud.kinds().count("AuthorizeFileUpload") == 100 and cloud.kinds()[-1] == "SingleSendMail"


def test_group_sends_take_no_attachments() -> None:
    cloud = Cloud()
    with _client(cloud) as client, pytest.raises(UnsupportedFeature, match="BatchSendMail takes no attachments"):
        client.send_to_group(Group(id="1", name="news", provider="aliyun"), _message(PDF).evolve(to=()))
    assert cloud.requests == []


def test_a_local_refusal_comes_before_the_upload() -> None:
    """A bad tag is found before any file is uploaded (nothing is left in the bucket for a refused mail)."""
    cloud = Cloud()
    with _client(cloud) as client, pytest.raises(mailbridge.InvalidRequest, match="tag"):
        client.send(_message(PDF, tag="no spaces allowed"))
    assert cloud.requests == []


# --------------------------------------------------------------------------- outcomes


OSS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Invalid according to Policy: Policy expired.</Message><RequestId>5C3D9</RequestId>"
    b"<HostId>dm-bucket.oss-cn-hangzhou.aliyuncs.com</HostId></Error>"
)


def test_an_oss_refusal_is_certainly_not_sent() -> None:
    cloud = Cloud(oss_status=403, oss_body=OSS_DENIED)
    with _client(cloud) as client, pytest.raises(ProviderUnavailable) as info:
        client.send(_message(PDF))
    error = info.value
    assert not error.maybe_sent and error.failover_eligible and not error.retryable
    assert (error.provider_code, error.http_status, error.request_id) == ("AccessDenied", 403, "5C3D9")
    assert "invoice.pdf" in str(error) and "not sent" in str(error)
    assert error.not_sent == ("ann@example.com",)
    assert "SingleSendMail" not in cloud.kinds()


@pytest.mark.parametrize(
    "grant",
    [
        {"Bucket": "evil.example.com/x"},
        {"Endpoint": "oss.example.com/path?q"},
        {"ObjectKey": "a\r\nHost: x"},
        {"Signature": None},
        {"ObjectKey": 42},
    ],
    ids=["bucket", "endpoint", "key", "no-signature", "int-key"],
)
def test_a_grant_of_unexpected_shape_uploads_nothing(grant: dict[str, Any]) -> None:
    """A grant whose names cannot go into a URL or a Host header: not sent, nothing uploaded, secrets masked."""
    cloud = Cloud(**grant)
    with _client(cloud) as client, pytest.raises(ProviderUnavailable, match="unexpected shape") as info:
        client.send(_message(PDF))
    assert cloud.kinds() == ["AuthorizeFileUpload"]
    assert not info.value.maybe_sent and info.value.retryable
    assert info.value.raw["EncodedPolicy"] == "***" and GRANT_SIGNATURE not in repr(info.value.raw)


def test_entity_too_large_is_limit_exceeded() -> None:
    body = OSS_DENIED.replace(b"AccessDenied", b"EntityTooLarge").replace(b"Policy expired.", b"Too large.")
    cloud = Cloud(oss_status=400, oss_body=body)
    with _client(cloud) as client, pytest.raises(LimitExceeded) as info:
        client.send(_message(PDF))
    assert not info.value.maybe_sent and info.value.provider_code == "EntityTooLarge"


def test_grant_secrets_never_show(caplog: pytest.LogCaptureFixture) -> None:
    """The grant's signature and policy: not in a log line (DEBUG, httpx included), a repr or an error."""
    caplog.set_level(logging.DEBUG)
    cloud = Cloud(oss_status=403, oss_body=OSS_DENIED)
    backend = _backend(cloud)
    with Client(backend, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(ProviderUnavailable) as info:
            client.send(_message(PDF))
        grant = backend._attachments().grant()
    shown = [caplog.text, repr(grant), repr(backend), repr(backend._attachments()), str(info.value),
             repr(info.value), repr(info.value.raw), str(info.value.__dict__)]  # fmt: skip
    for text in shown:
        assert GRANT_SIGNATURE not in text and GRANT_POLICY not in text and SECRET not in text


# --------------------------------------------------------------------------- against the emulator


@pytest.fixture
def emu_client(emulator: AliyunEmulator) -> Client:
    return scenario_client(emulator.url)


def test_the_emulator_stores_the_bytes(emulator: AliyunEmulator, emu_client: Client) -> None:
    with emu_client:
        result = emu_client.send(_message(PDF, NOTES))
    (mail,) = emulator.sent_mail
    assert result.message_ids == (mail.env_id,)
    assert [(a.filename, a.content, a.content_type) for a in mail.attachments] == [
        ("invoice.pdf", PDF.content, "application/pdf"),
        ("notes.txt", NOTES.content, "text/plain"),
    ]
    assert [r["action"] for r in emulator.requests] == [
        "AuthorizeFileUpload", "PostObject", "AuthorizeFileUpload", "PostObject", "SingleSendMail",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"action": "PostObject", "status": 403, "code": "AccessDenied"}, ProviderUnavailable),
        ({"action": "PostObject", "kind": "reset"}, ProviderUnavailable),
        ({"action": "PostObject", "kind": "reset", "apply": True}, ProviderUnavailable),  # stored, answer lost
        ({"action": "AuthorizeFileUpload", "status": 503, "code": "ServiceUnavailable"}, ProviderUnavailable),
        ({"action": "AuthorizeFileUpload", "kind": "reset", "apply": True}, ProviderUnavailable),
        ({"action": "PostObject", "status": 400, "code": "EntityTooLarge"}, LimitExceeded),
    ],
    ids=["oss-denied", "oss-reset", "oss-reset-after-store", "grant-503", "grant-reset-after", "oss-too-large"],
)
def test_an_upload_failure_is_not_sent(
    emulator: AliyunEmulator, emu_client: Client, fault: dict[str, Any], error: type[Exception]
) -> None:
    """Whatever happens to a grant or an upload, SingleSendMail was not called: certainly not sent."""
    options = dict(fault)
    emulator.inject(options.pop("kind", "error"), **options)
    with emu_client, pytest.raises(error) as info:
        emu_client.send(_message(PDF))
    assert not info.value.maybe_sent  # type: ignore[attr-defined]
    assert emulator.calls("SingleSendMail") == [] and emulator.sent_mail == []


def test_single_send_mail_timing_out_is_outcome_unknown(emulator: AliyunEmulator) -> None:
    """After the uploads, SingleSendMail is applied but its answer is lost: maybe sent, never repeated."""
    emulator.inject("reset", action="SingleSendMail", apply=True)
    with mailbridge.connect(emulator.url_with(rate_limit="off")) as client, pytest.raises(OutcomeUnknown) as info:
        client.send(_message(PDF))
    assert info.value.maybe_sent
    assert len(emulator.calls("SingleSendMail")) == 1  # not retried
    assert [a.content for a in emulator.sent_mail[0].attachments] == [PDF.content]


def test_a_refused_send_after_uploads_is_not_sent(emulator: AliyunEmulator, emu_client: Client) -> None:
    """SingleSendMail refused (an unknown sender): the uploads happened, the mail certainly did not."""
    with emu_client, pytest.raises(mailbridge.SenderNotFound) as info:
        emu_client.send(_message(PDF).evolve(sender="nobody@mail.example.com"))
    assert not info.value.maybe_sent
    assert [r["action"] for r in emulator.requests][-1] == "SingleSendMail" and emulator.sent_mail == []


# --------------------------------------------------------------------------- asyncio


def _async_client(emulator: AliyunEmulator) -> mailbridge.AsyncClient:
    return mailbridge.connect_async(
        emulator.url, retry=RetryPolicy(attempts=1), rate_limiter=mailbridge.RateLimiter.disabled()
    )


def test_async_sends_upload_on_the_loop(emulator: AliyunEmulator) -> None:
    """connect_async: grants and uploads are awaited on the event loop (no worker thread), same bytes stored."""
    from ..integration.test_async_native import run_without_threads

    async def scenario() -> mailbridge.SendResult:
        async with _async_client(emulator) as client:
            return await client.send(_message(PDF, NOTES))

    result = run_without_threads(scenario)
    (mail,) = emulator.sent_mail
    assert result.message_ids == (mail.env_id,)
    assert [(a.filename, a.content) for a in mail.attachments] == [
        (PDF.filename, PDF.content),
        (NOTES.filename, NOTES.content),
    ]
    assert [r["action"] for r in emulator.requests].count("PostObject") == 2


@pytest.mark.parametrize(
    ("fault", "error", "maybe_sent"),
    [
        ({"kind": "error", "action": "PostObject", "status": 403, "code": "AccessDenied"}, ProviderUnavailable, False),
        ({"kind": "reset", "action": "PostObject", "apply": True}, ProviderUnavailable, False),
        ({"kind": "reset", "action": "SingleSendMail", "apply": True}, OutcomeUnknown, True),
    ],
    ids=["oss-denied", "oss-reset", "send-reset"],
)
def test_async_outcomes_follow_the_same_rule(
    emulator: AliyunEmulator, fault: dict[str, Any], error: type[mailbridge.MailbridgeError], maybe_sent: bool
) -> None:
    import asyncio

    options = dict(fault)
    emulator.inject(options.pop("kind"), **options)

    async def scenario() -> None:
        async with _async_client(emulator) as client:
            await client.send(_message(PDF))

    with pytest.raises(error) as info:
        asyncio.run(scenario())
    assert info.value.maybe_sent is maybe_sent
    assert len(emulator.calls("SingleSendMail")) == (1 if maybe_sent else 0)


def test_names_and_empty_files_arrive_exactly(emulator: AliyunEmulator, emu_client: Client) -> None:
    """A non-ASCII name, spaces and an empty file: AttachmentName and the stored bytes as given."""
    files = (Attachment("Rechnung März 2026.pdf", PDF.content, "application/pdf"), Attachment("leer.txt", b""))
    with emu_client:
        emu_client.send(_message(*files))
    assert [(a.filename, a.content) for a in emulator.sent_mail[0].attachments] == [
        ("Rechnung März 2026.pdf", PDF.content),
        ("leer.txt", b""),
    ]
