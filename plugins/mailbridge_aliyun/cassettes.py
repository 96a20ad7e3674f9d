"""vcrpy configuration for Direct Mail cassettes: scrubbing and request matching.

Scrubbed before anything is written (and applied to live requests before matching):
the V3 ``Authorization``, ``x-acs-date``, ``x-acs-signature-nonce`` and
``x-acs-content-sha256`` headers; the V2 ``AccessKeyId``, ``Signature``,
``SignatureNonce`` and ``Timestamp`` query parameters; the SMTP ``Password`` form
parameter (ModifyMailAddress, ModifyPWByDomain), replaced by :data:`SCRUBBED_PASSWORD`, and
so are an attachment upload's grant: the OSS form's ``OSSAccessKeyId``, ``Signature``, ``policy``
(and ``x-oss-security-token``) and AuthorizeFileUpload's ``AccessKeyId``, ``Signature``,
``EncodedPolicy`` (and ``SecurityToken``) answer fields; and, in responses, the access key id,
the secret, the ``Date`` header and the server's "string to sign" echoed by
``SignatureDoesNotMatch``. Live requests are scrubbed the
same way before matching, so a replay matches whatever password the scenario uses.

Requests match on method, path, the action (``x-acs-action`` header or ``Action``
parameter) and the business parameters (query and form body, common/signature
parameters excluded; an OSS form: its fields less the grant, the file by content type and
SHA-256), so any change in what the backend sends fails the replay.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "CASSETTE_DIR",
    "FILTER_HEADERS",
    "FILTER_POST_DATA",
    "FILTER_QUERY",
    "GRANT_ANSWER_FIELDS",
    "OSS_GRANT_FIELDS",
    "SCRUBBED_PASSWORD",
    "business_params",
    "make_vcr",
    "request_action",
]

CASSETTE_DIR = Path(__file__).resolve().parents[2] / "cassettes" / "aliyun"
FILTER_HEADERS = [
    "authorization",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-security-token",
]
FILTER_QUERY = ["AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "SecurityToken"]
SCRUBBED_PASSWORD = "<scrubbed>"
#: The OSS PostObject form's grant (multipart fields) is scrubbed like the SMTP password.
OSS_GRANT_FIELDS = ("OSSAccessKeyId", "Signature", "policy", "x-oss-security-token")
FILTER_POST_DATA = [("Password", SCRUBBED_PASSWORD), *((name, SCRUBBED_PASSWORD) for name in OSS_GRANT_FIELDS)]
#: AuthorizeFileUpload answer fields scrubbed in recorded responses (the upload grant).
GRANT_ANSWER_FIELDS = frozenset({"AccessKeyId", "Signature", "EncodedPolicy", "SecurityToken"})
COMMON = frozenset(
    {"Action", "Format", "Version", "AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce",
     "Timestamp", "Signature", "RegionId", "SecurityToken"}
)  # fmt: skip
_STRING_TO_SIGN = re.compile(rb"(string to sign is:?)[^\"]*")


def _body_text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body)


def request_action(request: Any) -> str | None:
    """The Direct Mail action of a vcrpy request."""
    action = request.headers.get("x-acs-action")
    if action:
        return str(action)
    return dict(parse_qsl(urlsplit(request.uri).query)).get("Action")


def _multipart(request: Any) -> dict[str, str] | None:
    """An OSS PostObject form's fields (the grant's left out, the file as name, type and SHA-256), or None."""
    content_type = str(request.headers.get("content-type") or request.headers.get("Content-Type") or "")
    if not content_type.startswith("multipart/form-data"):
        return None
    body = request.body if isinstance(request.body, bytes) else _body_text(request.body).encode()
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    for part in parsed.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        if name in OSS_GRANT_FIELDS:
            continue
        if part.get_filename() is not None:
            fields[name] = f"{part.get_content_type()} sha256:{hashlib.sha256(content).hexdigest()}"
        else:
            fields[name] = content.decode("utf-8", "replace")
    return fields


def business_params(request: Any) -> dict[str, str]:
    """Query and form-body parameters, less the common and signature ones (an OSS form: :func:`_multipart`)."""
    form = _multipart(request)
    if form is not None:
        return form
    params = dict(parse_qsl(urlsplit(request.uri).query, keep_blank_values=True))
    params.update(parse_qsl(_body_text(request.body), keep_blank_values=True))
    return {k: v for k, v in params.items() if k not in COMMON}


def _match_action(r1: Any, r2: Any) -> None:
    assert request_action(r1) == request_action(r2)


def _match_business(r1: Any, r2: Any) -> None:
    assert business_params(r1) == business_params(r2)


def _scrub_grant(body: bytes) -> bytes:
    """An AuthorizeFileUpload answer with its grant fields replaced (other bodies unchanged)."""
    if b"EncodedPolicy" not in body:
        return body
    try:
        decoded = json.loads(body)
    except ValueError:
        return body
    if not isinstance(decoded, dict):
        return body
    scrubbed = {k: (SCRUBBED_PASSWORD if k in GRANT_ANSWER_FIELDS else v) for k, v in decoded.items()}
    return json.dumps(scrubbed, ensure_ascii=False).encode()


def _scrubber(secrets: list[str]) -> Any:
    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers") or {}
        for name in [h for h in headers if h.lower() == "date"]:
            del headers[name]
        body = response.get("body", {}).get("string")
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes):
            body = _scrub_grant(body)
            body = _STRING_TO_SIGN.sub(rb"\1 <scrubbed>", body)
            for secret in secrets:
                if secret:
                    body = body.replace(secret.encode(), b"<scrubbed>")
            response["body"]["string"] = body
        return response

    return before_record_response


def make_vcr(*, record_mode: str = "none", secrets: list[str] | None = None, cassette_dir: Path | None = None) -> Any:
    """A configured ``vcr.VCR`` (vcrpy is a test dependency, imported here on demand)."""
    import vcr

    recorder = vcr.VCR(
        cassette_library_dir=str(cassette_dir or CASSETTE_DIR),
        record_mode=record_mode,
        match_on=["method", "path", "acs_action", "business_params"],
        filter_headers=FILTER_HEADERS,
        filter_query_parameters=FILTER_QUERY,
        filter_post_data_parameters=FILTER_POST_DATA,
        before_record_response=_scrubber(list(secrets or [])),
        decode_compressed_response=True,
    )
    recorder.register_matcher("acs_action", _match_action)
    recorder.register_matcher("business_params", _match_business)
    return recorder
