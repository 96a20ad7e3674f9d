"""The emulator's attachment flow: OpenPlatform ``AuthorizeFileUpload`` and an OSS-like PostObject.

What the official SDK's ``single_send_mail_advance`` talks to (reference part 2 section 2):

* **AuthorizeFileUpload** (OpenPlatform, version 2019-12-19, RPC signed like Direct Mail and
  verified by the same gateway code in :mod:`._server`): ``Product`` (``Dm``, any case) and
  ``RegionId`` required. Answers the SDK model's fields (``AccessKeyId, Bucket, EncodedPolicy,
  Endpoint, ObjectKey, RequestId, Signature, UseAccelerate``): a grant for one object under a
  fresh key prefix, signed with the emulated OSS service's own key (never the caller's).
* **PostObject** at ``Host: {Bucket}.{Endpoint}``: a ``multipart/form-data`` form (parsed strictly
  here: OSS answers ``MalformedPOSTRequest`` to anything else) with ``key``, ``policy``,
  ``OSSAccessKeyId``, ``Signature`` and, last, exactly one ``file``. Checked as OSS documents it
  (help.aliyun.com PostObject, "Post Policy" / "Post Signature"): the signature is
  ``base64(HMAC-SHA1(secret, policy))`` recomputed here; the policy's ``expiration`` (ISO 8601,
  UTC) must lie ahead on the emulator's clock; every condition must hold (``{"bucket": ...}``,
  ``["eq"|"starts-with", "$key", ...]``, ``["content-length-range", min, max]``). Errors are
  OSS's XML ``<Error>`` with its codes (``AccessDenied``, ``SignatureDoesNotMatch``,
  ``InvalidAccessKeyId``, ``EntityTooLarge``, ``EntityTooSmall``, ``InvalidPolicyDocument``,
  ``InvalidArgument``, ``NoSuchBucket``). ``success_action_status`` 200/201/204 as documented.
* **SingleSendMail** ``Attachments.N.AttachmentName`` / ``AttachmentUrl`` (1-based, consecutive)
  must name uploaded objects by their ``http(s)://{Bucket}.{Endpoint}/{ObjectKey}`` URL; at most
  100, and the whole message (Base64 attachments, bodies, subject) at most 15 MB (the
  sdk-attachment page). The cloud documents no code for these refusals: the emulator answers the
  gateway pattern ``InvalidAttachments`` (HTTP 400). The sent mail keeps each file's bytes.

Emulator choices (undocumented by Alibaba): a grant lives 15 minutes; its content-length-range
is 0 to 15 MB; the bucket is ``mailbridge-dm-{RegionId}`` at ``oss-{RegionId}.aliyuncs.com``.
The multipart parser is hand-written (about 40 lines): the standard library has none left
(``cgi`` is gone) and the emulator must not depend on a test-only package.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from mailbridge.testing.emulator import EmulatorError, Reply

from ._state import DMError

__all__ = [
    "GRANT_SECONDS",
    "MAX_ATTACHMENTS",
    "MAX_MESSAGE_BYTES",
    "MAX_OBJECT_BYTES",
    "OPENPLATFORM_VERSION",
    "OSS_ACCESS_KEY_ID",
    "AttachmentStore",
    "OSSError",
    "StoredObject",
]

OPENPLATFORM_VERSION = "2019-12-19"
OSS_ACCESS_KEY_ID = "LTAI5tEmulatedOssUploader"  # the emulated upload service's own key id
GRANT_SECONDS = 15 * 60
MAX_OBJECT_BYTES = 15 * 1024 * 1024
MAX_ATTACHMENTS = 100
MAX_MESSAGE_BYTES = 15 * 1024 * 1024
_ATTACHMENT_FIELD = re.compile(r"Attachments\.(\d+)\.(AttachmentName|AttachmentUrl)")
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)


class OSSError(Exception):
    """An OSS error answer: HTTP status, ``Code``, ``Message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class StoredObject:
    host: str  # {Bucket}.{Endpoint}
    key: str
    content: bytes
    content_type: str
    uploaded: float


@dataclass(frozen=True)
class Attached:
    """One attachment of a sent mail, as the recipient gets it."""

    filename: str
    content: bytes
    content_type: str


def _b64_size(n: int) -> int:
    """Base64 in 76-character lines with CRLF: what a file weighs in the sent message."""
    encoded = 4 * ((n + 2) // 3)
    return encoded + 2 * ((encoded + 75) // 76)


class AttachmentStore:
    """The emulated bucket(s) and the upload grants. Callers hold the emulator state's lock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._secret = secrets.token_urlsafe(24)  # the emulated OSS service's key: nobody else knows it
        self.keys = {OSS_ACCESS_KEY_ID: self._secret}
        self.endpoints: set[str] = set()  # "oss-{region}.aliyuncs.com" of every grant so far
        self.objects: dict[str, StoredObject] = {}  # "host/key" -> object

    # ------------------------------------------------------------------ AuthorizeFileUpload

    def authorize(self, action: str, params: dict[str, str], account: str) -> dict[str, Any]:
        if action != "AuthorizeFileUpload":
            raise DMError(404, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.")
        product = params.get("Product")
        if not product:
            raise DMError(400, "MissingProduct", "Product is mandatory for this action.")
        if product.lower() != "dm":
            raise DMError(400, "InvalidProduct", f"The product {product!r} cannot upload files here (emulator: Dm).")
        region = params.get("RegionId")
        if not region:
            raise DMError(400, "MissingRegionId", "RegionId is mandatory for this action.")
        if not re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", region):
            raise DMError(400, "InvalidRegionId", "Specified parameter RegionId is not valid.")
        endpoint = f"oss-{region}.aliyuncs.com"
        bucket = f"mailbridge-dm-{region}"
        self.endpoints.add(endpoint)
        account_hash = hashlib.sha256(account.encode()).hexdigest()[:12]
        prefix = f"dm/{account_hash}/{uuid.uuid4().hex}/"
        expires = dt.datetime.fromtimestamp(self.clock() + GRANT_SECONDS, dt.UTC)
        policy = {
            "expiration": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                {"bucket": bucket},
                ["content-length-range", 0, MAX_OBJECT_BYTES],
                ["starts-with", "$key", prefix],
            ],
        }
        encoded = base64.b64encode(json.dumps(policy, separators=(",", ":")).encode()).decode()
        return {
            "AccessKeyId": OSS_ACCESS_KEY_ID,
            "Bucket": bucket,
            "Endpoint": endpoint,
            "ObjectKey": f"{prefix}{uuid.uuid4().hex}",
            "EncodedPolicy": encoded,
            "Signature": self._sign(self._secret, encoded),
            "UseAccelerate": False,
        }

    @staticmethod
    def _sign(secret: str, policy: str) -> str:
        return base64.b64encode(hmac.new(secret.encode(), policy.encode(), hashlib.sha1).digest()).decode()

    # ------------------------------------------------------------------ PostObject

    def bucket_of(self, host: str) -> str | None:
        """The bucket a ``Host`` header names, if it is one of the emulated OSS endpoints."""
        name = host.split(":", 1)[0].lower()
        for endpoint in self.endpoints:
            if name.endswith("." + endpoint) and name != endpoint:
                return name[: -len(endpoint) - 1]
        return None

    def post_object(self, host: str, content_type: str, body: bytes) -> tuple[int, bytes, str]:
        """Store one form upload; (status, body) of the answer and the key, or :class:`OSSError`."""
        name = host.split(":", 1)[0].lower()
        bucket = self.bucket_of(name)
        if bucket is None or not bucket.startswith("mailbridge-dm-"):
            raise OSSError(404, "NoSuchBucket", "The specified bucket does not exist.")
        fields, file = _parse_form(content_type, body)
        lower = {k.lower(): v for k, v in fields.items()}
        key = fields.get("key")
        if not key:
            raise OSSError(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")
        policy_b64 = lower.get("policy")
        if not policy_b64:  # an anonymous upload: the bucket is private
            raise OSSError(403, "AccessDenied", "You have no right to access this object because of bucket acl.")
        key_id, signature = lower.get("ossaccesskeyid"), lower.get("signature")
        if not key_id:
            raise OSSError(400, "InvalidArgument", "Bucket POST must contain a field named 'OSSAccessKeyId'.")
        if not signature:
            raise OSSError(400, "InvalidArgument", "Bucket POST must contain a field named 'Signature'.")
        secret = self.keys.get(key_id)
        if secret is None:
            raise OSSError(
                403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
            )
        if not hmac.compare_digest(self._sign(secret, policy_b64), signature):
            raise OSSError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        _filename, content, file_type = file
        self._check_policy(policy_b64, bucket, key, len(content))
        self.objects[f"{name}/{key}"] = StoredObject(name, key, content, file_type, self.clock())
        status = fields.get("success_action_status", "204")
        if status == "201":
            etag = hashlib.md5(content).hexdigest().upper()  # OSS's ETag is the MD5
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
                f"<Bucket>{escape(bucket)}</Bucket><Location>http://{escape(name)}/{escape(key)}</Location>"
                f'<Key>{escape(key)}</Key><ETag>"{etag}"</ETag></PostResponse>'
            )
            return 201, xml.encode(), key
        return (200 if status == "200" else 204), b"", key

    def _check_policy(self, policy_b64: str, bucket: str, key: str, size: int) -> None:
        try:
            policy = json.loads(base64.b64decode(policy_b64, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise OSSError(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.") from exc
        if not isinstance(policy, dict) or "expiration" not in policy or not isinstance(policy.get("conditions"), list):
            raise OSSError(400, "InvalidPolicyDocument", "Invalid Policy: Policy must have expiration and conditions.")
        try:
            expires = dt.datetime.strptime(str(policy["expiration"]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        except ValueError as exc:
            raise OSSError(400, "InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value.") from exc
        if expires.timestamp() <= self.clock():
            raise OSSError(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        for condition in policy["conditions"]:
            self._check_condition(condition, bucket, key, size)

    @staticmethod
    def _check_condition(condition: Any, bucket: str, key: str, size: int) -> None:
        failed = OSSError(403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {condition}")
        if isinstance(condition, dict):
            for name, value in condition.items():
                if name == "bucket" and value != bucket:
                    raise failed
                if name == "key" and value != key:
                    raise failed
            return
        if not isinstance(condition, list) or len(condition) != 3:
            raise OSSError(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid condition {condition}.")
        op, subject, value = condition
        if op == "content-length-range":
            if size > int(value):
                raise OSSError(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
            if size < int(subject):
                raise OSSError(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.")
        elif subject == "$key":
            if (op == "eq" and key != value) or (op == "starts-with" and not key.startswith(str(value))):
                raise failed
        elif subject == "$bucket" and op == "eq" and bucket != value:
            raise failed

    # ------------------------------------------------------------------ SingleSendMail

    def resolve(self, params: dict[str, str]) -> list[Attached]:
        """The files a SingleSendMail's ``Attachments.N.*`` name, checked; DMError if any is wrong."""
        numbered: dict[int, dict[str, str]] = {}
        for name, value in params.items():
            match = _ATTACHMENT_FIELD.fullmatch(name)
            if match:
                numbered.setdefault(int(match[1]), {})[match[2]] = value
            elif name.startswith("Attachments"):
                raise _invalid(f"unknown attachment parameter {name}")
        if not numbered:
            return []
        if sorted(numbered) != list(range(1, len(numbered) + 1)):
            raise _invalid("Attachments must be numbered 1, 2, 3, ...")
        if len(numbered) > MAX_ATTACHMENTS:
            raise _invalid(f"at most {MAX_ATTACHMENTS} attachments per message")
        out: list[Attached] = []
        for index in sorted(numbered):
            item = numbered[index]
            name, url = item.get("AttachmentName", ""), item.get("AttachmentUrl", "")
            if not name.strip() or not url:
                raise _invalid(f"attachment {index} needs an AttachmentName and an AttachmentUrl")
            split = urlsplit(url)
            stored = self.objects.get(f"{split.netloc.lower()}{split.path}")
            if split.scheme not in ("http", "https") or stored is None or split.query or split.fragment:
                raise _invalid(f"attachment {index}: no uploaded file at that AttachmentUrl")
            out.append(Attached(name, stored.content, stored.content_type))
        size = sum(_b64_size(len(a.content)) for a in out)
        size += sum(len(params.get(k, "").encode()) for k in ("HtmlBody", "TextBody", "Subject"))
        if size > MAX_MESSAGE_BYTES:
            raise _invalid(f"the message with its attachments is {size} bytes; at most {MAX_MESSAGE_BYTES}")
        return out


def _invalid(why: str) -> DMError:
    return DMError(400, "InvalidAttachments", f"Specified parameter Attachments is not valid: {why}.")


def error_xml(error: OSSError, host: str, request_id: str) -> bytes:
    """OSS's error body."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>{escape(host)}</HostId></Error>"
    ).encode()


def _parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], tuple[str, bytes, str]]:
    """A strict ``multipart/form-data`` parse: text fields, then exactly one ``file`` (the last part)."""
    malformed = OSSError(
        400, "MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data."
    )
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/form-data") or match is None:
        raise malformed
    delimiter = b"--" + match[1].encode()
    chunks = body.split(delimiter)
    if len(chunks) < 3 or chunks[0] not in (b"", b"\r\n") or not chunks[-1].startswith(b"--"):
        raise malformed
    fields: dict[str, str] = {}
    file: tuple[str, bytes, str] | None = None
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n") or b"\r\n\r\n" not in chunk:
            raise malformed
        head, content = chunk[2:-2].split(b"\r\n\r\n", 1)
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if not sep:
                raise malformed
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        field_name = re.search(r'\bname="([^"]*)"', disposition)
        if not disposition.lower().startswith("form-data") or field_name is None:
            raise malformed
        if file is not None:
            raise OSSError(400, "InvalidArgument", "The file field must be the last field of the form.")
        if field_name[1] == "file":
            filename = re.search(r'\bfilename="([^"]*)"', disposition)
            file = (filename[1] if filename else "", content, headers.get("content-type") or "application/octet-stream")
        else:
            fields[field_name[1]] = content.decode("utf-8", "replace")
    if file is None:
        raise OSSError(400, "InvalidArgument", "POST requires exactly one file upload per request.")
    return fields, file


def open_platform(state: Any, action: str, params: dict[str, str], account: str) -> dict[str, Any]:
    """An OpenPlatform (2019-12-19) action (``params``: all of them, RegionId included), under the state lock."""
    with state.lock:
        body: dict[str, Any] = state.uploads.authorize(action, params, account)
    body.setdefault("RequestId", str(uuid.uuid4()).upper())
    return body


def oss_post(state: Any, host: str, content_type: str, body: bytes, logged: dict[str, str]) -> Reply:
    """A PostObject upload to the emulated bucket at ``host`` (``logged``: its request-log entry).

    The harness applies faults for the pseudo-action ``PostObject`` as for RPC actions; an
    ``error`` fault answers OSS's XML ``<Error>`` (:func:`oss_error`)."""
    request_id = uuid.uuid4().hex.upper()[:24]
    try:
        with state.lock:
            status, answer, key = state.uploads.post_object(host, content_type, body)
        logged["key"] = key
    except OSSError as err:
        logged["refused"] = err.code
        status, answer = err.status, error_xml(err, host, request_id)
    return Reply(status, answer, "application/xml", {"x-oss-request-id": request_id})


def oss_error(error: EmulatorError, host: str) -> Reply:
    """An error answer in OSS's shape (for a fault on ``PostObject``)."""
    status = error.status or 503
    return Reply(status, error_xml(OSSError(status, error.code, error.message), host, ""), "application/xml")
