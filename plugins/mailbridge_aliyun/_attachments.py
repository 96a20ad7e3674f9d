"""Direct Mail attachments: what the official SDK's ``single_send_mail_advance`` does, over our HTTP seam.

SingleSendMail takes attachments only as ``Attachments.N.AttachmentName`` / ``Attachments.N.AttachmentUrl``
(1-based) naming files Direct Mail's own OSS bucket holds. For each file, in the SDK's order
(``alibabacloud_dm20151123`` client.py, reference part 2 section 2):

1. **OpenPlatform ``AuthorizeFileUpload``** (version 2019-12-19, an RPC action signed like every
   Direct Mail call, ``Product=Dm``, ``RegionId``): a one-use upload grant, ``AccessKeyId``,
   ``Bucket``, ``Endpoint``, ``ObjectKey``, ``EncodedPolicy``, ``Signature``, ``UseAccelerate``.
   The SDK sends it as GET; it goes here as POST with the parameters in the form body, which the
   RPC gateway treats alike (see :mod:`._transport`).
2. **An OSS PostObject** to ``https://{Bucket}.{Endpoint}/``: a multipart form with ``OSSAccessKeyId``,
   ``Signature``, ``host``, ``key`` (= ObjectKey), ``policy`` (= EncodedPolicy),
   ``success_action_status=201`` and, last, ``file``. OSS answers errors as XML ``<Error>``.
3. ``AttachmentUrl = http://{Bucket}.{Endpoint}/{ObjectKey}`` (http, as the SDK writes it).

Outcome: every failure here happens before SingleSendMail, so the mail is certainly not sent
(:class:`ProviderUnavailable`, retryable and failover-eligible, or the refusal's own class); a file
may be left in the bucket, which sends nothing. ``UseAccelerate`` is ignored as by the SDK's default
``endpoint_type``. The grant's signature and policy are credentials of a sort: they are never
logged, never in an error's text, and cassettes scrub them (:mod:`.cassettes`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import httpx
from attrs import field, frozen

from mailbridge import Attachment, LimitExceeded, MailbridgeError, ProviderUnavailable, Secret
from mailbridge._http import CallFailed, GuardedHTTP, guarded_transport
from mailbridge._outcome import failed

from ._transport import DirectMailTransport, decode_body, user_agent

__all__ = [
    "OPENPLATFORM_VERSION",
    "PRODUCT",
    "AsyncAttachmentUploader",
    "AttachmentUploader",
    "UploadGrant",
    "attachment_params",
]

log = logging.getLogger("mailbridge.aliyun")

OPENPLATFORM_VERSION = "2019-12-19"
PRODUCT = "Dm"  # the SDK's AuthorizeFileUpload Product
PROVIDER = "aliyun"
OPERATION = "send"
# What a grant's names must look like before they go into a URL and a Host header: OSS bucket names
# (3-63 lower-case letters, digits, "-"), an endpoint host (and port), an object key of 1-1023 printable
# characters (OSS's rules); anything else is an answer of unexpected shape.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_ENDPOINT = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?"
)
_OBJECT_KEY = re.compile(r"[^\x00-\x1f\x7f/\\][^\x00-\x1f\x7f\\]{0,1022}")
_GRANT_SECRETS = frozenset({"AccessKeyId", "Signature", "EncodedPolicy", "SecurityToken"})  # masked in ``raw``
#: OSS codes for a file the bucket will not take (the grant's content-length-range).
_TOO_LARGE = frozenset({"EntityTooLarge", "EntityTooSmall"})


@frozen
class UploadGrant:
    """One AuthorizeFileUpload answer; its signature and policy never show in a repr."""

    access_key_id: str = field(repr=False)
    bucket: str
    endpoint: str
    object_key: str
    policy: str = field(repr=False)
    signature: str = field(repr=False)

    @property
    def host(self) -> str:
        return f"{self.bucket}.{self.endpoint}"

    @property
    def url(self) -> str:
        """The AttachmentUrl SingleSendMail takes (``http://``, as the SDK builds it)."""
        return f"http://{self.host}/{self.object_key}"


def attachment_params(named: Sequence[tuple[str, str]]) -> dict[str, str]:
    """SingleSendMail's flattened ``Attachments.N.*`` form fields for (name, url) pairs."""
    out: dict[str, str] = {}
    for index, (name, url) in enumerate(named, start=1):
        out[f"Attachments.{index}.AttachmentName"] = name
        out[f"Attachments.{index}.AttachmentUrl"] = url
    return out


class AttachmentUploader:
    """Uploads attachments for Direct Mail: AuthorizeFileUpload, then an OSS form upload, per file.

    **Parameters:** ``openplatform``: its endpoint URL; ``access_key_id``/``secret``/``signature``:
    as for Direct Mail; ``region`` (``RegionId``); ``oss``: where uploads connect (None: the
    bucket's own ``https://{Bucket}.{Endpoint}``; else that URL, with the bucket's ``Host``);
    ``timeout``: seconds per request; ``transport``: an ``httpx.BaseTransport`` for tests.
    """

    def __init__(
        self,
        openplatform: str,
        access_key_id: str,
        secret: Secret,
        *,
        region: str,
        signature: str = "v3",
        oss: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.region = region
        self.oss = oss.rstrip("/") if oss else None
        self.auth = DirectMailTransport(
            openplatform,
            access_key_id,
            secret,
            signature=signature,
            timeout=timeout,
            transport=transport,
            version=OPENPLATFORM_VERSION,
            service="Alibaba Cloud OpenPlatform",
        )
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=True,
            headers={"User-Agent": user_agent()},
            transport=transport or guarded_transport(verify=True),
            follow_redirects=False,
        )
        self.http = GuardedHTTP(self.client, timeout=timeout)

    def __repr__(self) -> str:
        return f"AttachmentUploader({self.auth.endpoint!r}, oss={self.oss!r})"

    def close(self) -> None:
        self.auth.close()
        self.client.close()

    def upload(self, attachments: Sequence[Attachment]) -> dict[str, str]:
        """Upload every file; the ``Attachments.N.*`` parameters that name them."""
        return attachment_params([(a.filename, self._upload(a, n)) for n, a in enumerate(attachments, start=1)])

    def grant(self) -> UploadGrant:
        """AuthorizeFileUpload: where and how one file may be uploaded."""
        return self.grant_from(self.auth.call("AuthorizeFileUpload", self.grant_params(), operation=OPERATION))

    def _upload(self, attachment: Attachment, number: int) -> str:
        grant = self.grant()
        where = f"attachment {number} ({attachment.filename!r})"
        try:
            response = self.http.send(self.upload_request(grant, attachment), idempotent=True)
        except CallFailed as exc:
            raise self.upload_failed(exc, where) from (exc.__cause__ or exc)
        return self.uploaded(response, grant, attachment, where)

    # ------------------------------------------------------------------ the steps without I/O (shared with asyncio)

    def grant_params(self) -> dict[str, str]:
        return {"Product": PRODUCT, "RegionId": self.region}

    @staticmethod
    def grant_from(body: dict[str, Any]) -> UploadGrant:
        """The grant in an AuthorizeFileUpload answer (one lacking a field: not sent, retryable)."""
        values = {k: body.get(k) for k in ("AccessKeyId", "Bucket", "Endpoint", "ObjectKey", "EncodedPolicy")}
        values["Signature"] = body.get("Signature")
        missing = sorted(k for k, v in values.items() if not isinstance(v, str) or not v)
        shapes = {"Bucket": _BUCKET, "Endpoint": _ENDPOINT, "ObjectKey": _OBJECT_KEY}
        missing += sorted(k for k, rx in shapes.items() if k not in missing and not rx.fullmatch(str(values[k])))
        if missing:
            raise ProviderUnavailable(
                f"OpenPlatform's AuthorizeFileUpload answer lacks a usable {', '.join(missing)} (unexpected shape); "
                "the mail was not sent",
                provider=PROVIDER,
                operation=OPERATION,
                request_id=body.get("RequestId"),
                raw={k: ("***" if k in _GRANT_SECRETS else v) for k, v in body.items()},
                retryable=True,
                failover_eligible=True,
            )
        return UploadGrant(
            access_key_id=str(values["AccessKeyId"]),
            bucket=str(values["Bucket"]),
            endpoint=str(values["Endpoint"]),
            object_key=str(values["ObjectKey"]),
            policy=str(values["EncodedPolicy"]),
            signature=str(values["Signature"]),
        )

    def upload_request(self, grant: UploadGrant, attachment: Attachment) -> httpx.Request:
        """The PostObject form: the grant's fields, then the file (httpx writes data fields first, as OSS wants)."""
        url = f"{self.oss}/" if self.oss else f"https://{grant.host}/"
        form = {
            "OSSAccessKeyId": grant.access_key_id,
            "Signature": grant.signature,
            "host": grant.endpoint,  # the SDK sends it (the bucket-less endpoint); OSS ignores unknown fields
            "key": grant.object_key,
            "policy": grant.policy,
            "success_action_status": "201",
        }
        files = {"file": (grant.object_key, bytes(attachment.content), attachment.content_type)}  # SDK: filename=key
        return self.client.build_request("POST", url, data=form, files=files, headers={"host": grant.host})

    @staticmethod
    def upload_failed(exc: CallFailed, where: str) -> MailbridgeError:
        """No answer to an upload: the mail was not sent, whatever became of the file (a repeat stores it again)."""
        return failed(
            exc.stage,
            f"uploading {where} to Direct Mail's file store failed ({exc.message}); the mail was not sent",
            idempotent=True,
            provider=PROVIDER,
            operation=OPERATION,
        )

    def uploaded(self, response: httpx.Response, grant: UploadGrant, attachment: Attachment, where: str) -> str:
        """The AttachmentUrl of a stored file, or the refusal's neutral error."""
        if response.status_code >= 400:
            raise self._refused(response, where)
        log.debug("uploaded %s to oss://%s (%d bytes)", where, grant.bucket, len(attachment.content))
        return grant.url

    @staticmethod
    def _refused(response: httpx.Response, where: str) -> MailbridgeError:
        """An OSS ``<Error>`` (or any 4xx/5xx) before SingleSendMail: certainly not sent."""
        decoded: dict[str, Any] = decode_body(response.content) or {}
        code = str(decoded.get("Code") or f"HTTP {response.status_code}")
        text = str(decoded.get("Message") or response.reason_phrase or "")
        details: dict[str, Any] = {
            "provider": PROVIDER,
            "operation": OPERATION,
            "provider_code": code,
            "provider_message": text,
            "request_id": decoded.get("RequestId"),
            "http_status": response.status_code,
            "raw": {k: v for k, v in decoded.items() if k in ("Code", "Message", "RequestId", "HostId")},
        }
        message = f"Direct Mail's file store (OSS) refused {where}: {code}: {text}; the mail was not sent"
        if code in _TOO_LARGE:
            return LimitExceeded(message, **details)
        return ProviderUnavailable(message, retryable=response.status_code >= 500, failover_eligible=True, **details)


class AsyncAttachmentUploader:
    """:class:`AttachmentUploader` for asyncio: the same requests, grants and errors, awaited.

    ``sync`` builds every request and reads every answer; OpenPlatform goes through
    :class:`._async_transport.AsyncDirectMailTransport` and OSS through
    :class:`mailbridge._ahttp.AsyncGuardedHTTP` (one deadline per request, write tracking).
    """

    def __init__(self, sync: AttachmentUploader, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        from mailbridge._ahttp import AsyncGuardedHTTP, async_guarded_transport

        from ._async_transport import AsyncDirectMailTransport

        self.sync = sync
        self.auth = AsyncDirectMailTransport(sync.auth, transport=transport)
        timeout = sync.http.timeout
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=True,
            transport=transport or async_guarded_transport(verify=True),
            follow_redirects=False,
        )
        self.http = AsyncGuardedHTTP(self.client, timeout=timeout)

    async def aclose(self) -> None:
        await self.auth.aclose()
        await self.client.aclose()

    async def upload(self, attachments: Sequence[Attachment]) -> dict[str, str]:
        """Upload every file, one after the other; the ``Attachments.N.*`` parameters that name them."""
        named: list[tuple[str, str]] = []
        for number, attachment in enumerate(attachments, start=1):
            body = await self.auth.call("AuthorizeFileUpload", self.sync.grant_params(), operation=OPERATION)
            grant = self.sync.grant_from(body)
            where = f"attachment {number} ({attachment.filename!r})"
            try:
                response = await self.http.send(self.sync.upload_request(grant, attachment), idempotent=True)
            except CallFailed as exc:
                raise self.sync.upload_failed(exc, where) from (exc.__cause__ or exc)
            named.append((attachment.filename, self.sync.uploaded(response, grant, attachment, where)))
        return attachment_params(named)
