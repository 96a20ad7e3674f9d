"""The official SDKs judge the emulator's attachment flow (OpenPlatform AuthorizeFileUpload + OSS PostObject).

``single_send_mail_advance`` (alibabacloud-dm20151123) runs unmodified: it signs AuthorizeFileUpload
itself (V3, through alibabacloud-tea-openapi), posts the file to ``https://{Bucket}.{Endpoint}/`` with
its own multipart writer (darabonba), then sends SingleSendMail with the URL it built. The OpenPlatform
SDK (alibabacloud-openplatform20191219) parses the grant into its model. Only two things are test
fixtures, both below the SDK: name resolution (the bucket's host resolves to a loopback TLS listener of
the same emulator) and the trusted CA (trustme's, passed as the SDK's ``ca`` runtime option). Nothing
of mailbridge's client takes part.
"""

from __future__ import annotations

import io
import socket
import ssl
from collections.abc import Iterator
from typing import Any

import alibabacloud_dm20151123.models as dm
import pytest
import trustme
from alibabacloud_dm20151123.client import Client as DmClient
from alibabacloud_openplatform20191219 import models as op_models
from alibabacloud_openplatform20191219.client import Client as OpenPlatformClient
from alibabacloud_tea_openapi import models as openapi
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.runtime import RuntimeOptions
from darabonba.utils.form import FileField
from mailbridge_aliyun.emulator import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, AliyunEmulator

from mailbridge.testing.emulator import EmulatorServer

from .test_sdk_judge import check_model

SENDER = "noreply@mail.example.com"
BUCKET_HOST = "mailbridge-dm-cn-hangzhou.oss-cn-hangzhou.aliyuncs.com"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\r\n\x00\xff trailer\n"
CSV = b"name,amount\r\nAda,42\r\n"


class TLSListener:
    """The emulator's state behind a TLS socket: what ``https://{Bucket}.{Endpoint}/`` reaches."""

    def __init__(self, emulator: AliyunEmulator, context: ssl.SSLContext) -> None:
        self.server = EmulatorServer(emulator.server.wire, emulator.server.handler, ssl_context=context).start()

    @property
    def port(self) -> int:
        return self.server.port

    def close(self) -> None:
        self.server.stop()


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def oss(emulator: AliyunEmulator, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch) -> Iterator[TLSListener]:
    """The bucket host resolves to a TLS listener of the emulator (certificate from ``ca``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(BUCKET_HOST).configure_cert(context)
    listener = TLSListener(emulator, context)
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == BUCKET_HOST:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", listener.port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield listener
    listener.close()


@pytest.fixture
def sdk(emulator: AliyunEmulator) -> DmClient:
    config = openapi.Config(
        access_key_id=TEST_ACCESS_KEY_ID,
        access_key_secret=TEST_ACCESS_KEY_SECRET,
        endpoint=emulator.endpoint.removeprefix("http://"),
        protocol="http",
        region_id="cn-hangzhou",
    )
    client = DmClient(config)
    client._open_platform_endpoint = emulator.endpoint.removeprefix("http://")  # the SDK's fixed host, redirected
    return client


@pytest.fixture
def runtime(ca: trustme.CA, tmp_path: Any) -> RuntimeOptions:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return RuntimeOptions(ca=str(path), autoretry=False, max_attempts=1)


def _advance(*files: tuple[str, bytes], **fields: Any) -> dm.SingleSendMailAdvanceRequest:
    return dm.SingleSendMailAdvanceRequest(
        account_name=SENDER,
        address_type=1,
        reply_to_address=False,
        to_address=fields.pop("to", "ann@example.com"),
        subject=fields.pop("subject", "Your invoice"),
        text_body="Attached.",
        attachments=[
            dm.SingleSendMailAdvanceRequestAttachments(attachment_name=name, attachment_url_object=io.BytesIO(data))
            for name, data in files
        ],
        **fields,
    )


def test_single_send_mail_advance_uploads_and_sends(
    sdk: DmClient, runtime: RuntimeOptions, oss: TLSListener, emulator: AliyunEmulator
) -> None:
    """The SDK's whole flow is accepted; the sent mail carries each file's exact bytes, in order."""
    response = sdk.single_send_mail_advance(_advance(("invoice.pdf", PDF), ("items.csv", CSV)), runtime)
    assert response.status_code == 200 and response.body.env_id
    (mail,) = emulator.sent_mail
    assert mail.env_id == response.body.env_id
    assert [(a.filename, a.content) for a in mail.attachments] == [("invoice.pdf", PDF), ("items.csv", CSV)]
    # What the SDK did on the wire: two grants, two uploads over TLS, one send naming the URLs it built.
    assert [r["action"] for r in emulator.requests] == ["AuthorizeFileUpload", "AuthorizeFileUpload", "SingleSendMail"]
    uploads = [r["params"] for r in oss.server.requests]
    assert [u["host"] for u in uploads] == [BUCKET_HOST, BUCKET_HOST] and all("refused" not in u for u in uploads)
    sent = emulator.calls("SingleSendMail")[0]
    assert sent["Attachments.1.AttachmentName"] == "invoice.pdf"
    assert sent["Attachments.2.AttachmentUrl"] == f"http://{BUCKET_HOST}/{uploads[1]['key']}"


def test_the_grant_parses_into_the_openplatform_model(emulator: AliyunEmulator) -> None:
    """AuthorizeFileUpload through alibabacloud-openplatform20191219: every field typed as its model says."""
    client = OpenPlatformClient(
        openapi.Config(
            access_key_id=TEST_ACCESS_KEY_ID,
            access_key_secret=TEST_ACCESS_KEY_SECRET,
            endpoint=emulator.endpoint.removeprefix("http://"),
            protocol="http",
            region_id="cn-hangzhou",
        )
    )
    raw: list[dict[str, Any]] = []
    call_api = client.call_api

    def recording(params: Any, request: Any, runtime: Any) -> Any:
        answer = call_api(params, request, runtime)
        raw.append(answer["body"])
        return answer

    client.call_api = recording  # type: ignore[method-assign]
    response = client.authorize_file_upload(op_models.AuthorizeFileUploadRequest(product="Dm", region_id="cn-hangzhou"))
    body = response.body
    check_model(body, raw[-1])
    assert (body.bucket, body.endpoint, body.use_accelerate) == (
        "mailbridge-dm-cn-hangzhou",
        "oss-cn-hangzhou.aliyuncs.com",
        False,
    )
    assert body.access_key_id != TEST_ACCESS_KEY_ID  # the upload service's own key, never the caller's
    assert body.object_key and body.encoded_policy and body.signature
    with pytest.raises(Exception) as info:  # the OpenPlatform SDK's exception class differs by version
        client.authorize_file_upload(op_models.AuthorizeFileUploadRequest(region_id="cn-hangzhou"))
    assert getattr(info.value, "code", None) == "MissingProduct"


def _grant(sdk: DmClient) -> dict[str, str]:
    """One AuthorizeFileUpload, signed by the SDK's OpenPlatform client as single_send_mail_advance does."""
    from alibabacloud_tea_openapi import utils_models as util_models
    from alibabacloud_tea_openapi.client import Client as OpenApiClient
    from alibabacloud_tea_openapi.utils import Utils

    auth = OpenApiClient(
        openapi.Config(
            access_key_id=TEST_ACCESS_KEY_ID,
            access_key_secret=TEST_ACCESS_KEY_SECRET,
            endpoint=sdk._open_platform_endpoint,
            protocol="http",
            region_id="cn-hangzhou",
        )
    )
    params = util_models.Params(
        action="AuthorizeFileUpload", version="2019-12-19", protocol="HTTPS", pathname="/", method="GET",
        auth_type="AK", style="RPC", req_body_type="formData", body_type="json",
    )  # fmt: skip
    request = util_models.OpenApiRequest(query=Utils.query({"Product": "Dm", "RegionId": "cn-hangzhou"}))
    return {k: str(v) for k, v in auth.call_api(params, request, RuntimeOptions())["body"].items()}


def _post(sdk: DmClient, runtime: RuntimeOptions, grant: dict[str, str], data: bytes, **changes: Any) -> None:
    """The SDK's own PostObject (``_post_ossobject``) with the grant's form, less/with ``changes``."""
    form: dict[str, Any] = {
        "host": grant["Endpoint"],
        "OSSAccessKeyId": grant["AccessKeyId"],
        "policy": grant["EncodedPolicy"],
        "Signature": grant["Signature"],
        "key": grant["ObjectKey"],
        "file": FileField(filename=grant["ObjectKey"], content=io.BytesIO(data), content_type=""),
        "success_action_status": "201",
    }
    for name, value in changes.items():
        if value is None:
            form.pop(name)
        else:
            form[name] = value
    sdk._post_ossobject(grant["Bucket"], form, runtime)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"Signature": "bm90IHRoZSBzaWduYXR1cmU="}, "SignatureDoesNotMatch"),
        ({"OSSAccessKeyId": "LTAI5tSomebodyElse"}, "InvalidAccessKeyId"),
        ({"policy": None}, "AccessDenied"),  # no policy: an anonymous upload to a private bucket
        ({"Signature": None}, "InvalidArgument"),
        ({"key": None}, "InvalidArgument"),
        ({"key": "elsewhere/file.bin"}, "AccessDenied"),  # outside the grant's key prefix
    ],
    ids=["bad-signature", "unknown-key-id", "no-policy", "no-signature", "no-key", "key-outside-prefix"],
)
def test_the_bucket_refuses_a_form_the_policy_does_not_allow(
    sdk: DmClient,
    runtime: RuntimeOptions,
    oss: TLSListener,
    emulator: AliyunEmulator,
    changes: dict[str, Any],
    code: str,
) -> None:
    grant = _grant(sdk)
    with pytest.raises(ClientException) as info:
        _post(sdk, runtime, grant, b"data", **changes)
    assert info.value.code == code
    assert emulator.state.uploads.objects == {}


def test_an_expired_grant_is_refused(
    sdk: DmClient, runtime: RuntimeOptions, oss: TLSListener, emulator: AliyunEmulator
) -> None:
    now = [1_800_000_000.0]
    emulator.state.uploads.clock = lambda: now[0]
    grant = _grant(sdk)
    now[0] += 15 * 60 + 1
    with pytest.raises(ClientException) as info:
        _post(sdk, runtime, grant, b"late")
    assert (info.value.code, info.value.message) == ("AccessDenied", "Invalid according to Policy: Policy expired.")


@pytest.mark.slow
def test_a_file_over_the_grant_size_is_entity_too_large(
    sdk: DmClient, runtime: RuntimeOptions, oss: TLSListener, emulator: AliyunEmulator
) -> None:
    grant = _grant(sdk)
    with pytest.raises(ClientException) as info:
        _post(sdk, runtime, grant, b"x" * (15 * 1024 * 1024 + 1))
    assert info.value.code == "EntityTooLarge"


def test_single_send_mail_refuses_unknown_urls_and_too_many(
    sdk: DmClient, runtime: RuntimeOptions, oss: TLSListener, emulator: AliyunEmulator
) -> None:
    """SingleSendMail names only uploaded files, at most 100 of them: the cloud's refusal reaches the SDK."""

    def send(attachments: list[tuple[str, str]]) -> None:
        request = dm.SingleSendMailRequest(
            account_name=SENDER, address_type=1, reply_to_address=False, to_address="ann@example.com",
            subject="s", text_body="t",
            attachments=[dm.SingleSendMailRequestAttachments(attachment_name=n, attachment_url=u)
                         for n, u in attachments],
        )  # fmt: skip
        sdk.single_send_mail_with_options(request, runtime)

    with pytest.raises(ClientException) as info:
        send([("a.pdf", f"http://{BUCKET_HOST}/dm/never/uploaded")])
    assert (info.value.code, info.value.status_code) == ("InvalidAttachments", 400)
    with pytest.raises(ClientException) as info:
        send([("a.pdf", "https://example.com/a.pdf")])  # a public URL outside Direct Mail's bucket
    assert info.value.code == "InvalidAttachments"
    grant = _grant(sdk)
    _post(sdk, runtime, grant, b"one file")
    url = f"http://{grant['Bucket']}.{grant['Endpoint']}/{grant['ObjectKey']}"
    with pytest.raises(ClientException) as info:
        send([(f"f{i}.txt", url) for i in range(101)])
    assert info.value.code == "InvalidAttachments" and "at most 100" in info.value.message
    send([(f"f{i}.txt", url) for i in range(100)])
    assert len(emulator.sent_mail[-1].attachments) == 100
    assert emulator.sent_mail[-1].attachments[0].content == b"one file"


@pytest.mark.slow
def test_a_message_over_15_mb_is_refused(
    sdk: DmClient, runtime: RuntimeOptions, oss: TLSListener, emulator: AliyunEmulator
) -> None:
    """Two 6 MB files weigh over 16 MB in Base64: the whole message exceeds 15 MB."""
    six = b"\x00\x01" * (3 * 1024 * 1024)
    with pytest.raises(ClientException) as info:
        sdk.single_send_mail_advance(_advance(("a.bin", six), ("b.bin", six)), runtime)
    assert info.value.code == "InvalidAttachments" and "15728640" in info.value.message
    assert emulator.sent_mail == []
