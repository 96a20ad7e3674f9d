"""The emulator's own signature checks, written from Alibaba Cloud's published algorithms.

Deliberately independent of the client's :mod:`mailbridge_aliyun._signing` (a signing bug
must not pass its own emulator): the percent-encoding is done byte by byte per RFC 3986
instead of with :func:`urllib.parse.quote`, and the canonical forms are built here again.
The vendor's SDK (``alibabacloud-tea-openapi``) signs the requests of
``tests/aliyun/test_sdk_judge.py``, so both checks are pinned by a signer we did not write.

* RPC V2 ("SignatureVersion 1.0", HMAC-SHA1): ``METHOD&%2F&`` + the encoded canonical query
  of every parameter except ``Signature`` (query string and form body together), keyed by
  ``secret + "&"``, base64.
* V3 (ACS3-HMAC-SHA256): ``METHOD\\nURI\\nquery\\nheaders\\nsigned-headers\\nhex(sha256(body))``;
  the string to sign is ``ACS3-HMAC-SHA256\\n`` + hex(sha256(canonical request)), keyed by the
  raw secret, hex.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

__all__ = ["ACS3", "canonical_v3", "expected_v2", "expected_v3", "rfc3986", "string_to_sign_v2"]

ACS3 = "ACS3-HMAC-SHA256"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def rfc3986(text: str) -> str:
    """Percent-encode every UTF-8 byte outside RFC 3986's unreserved set, upper-case hex."""
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def _canonical_query(params: Mapping[str, str], *, skip: str | None = None) -> str:
    pairs = sorted((rfc3986(k), rfc3986(v)) for k, v in params.items() if k != skip)
    return "&".join(f"{k}={v}" for k, v in pairs)


def string_to_sign_v2(method: str, params: Mapping[str, str]) -> str:
    return "&".join((method.upper(), rfc3986("/"), rfc3986(_canonical_query(params, skip="Signature"))))


def expected_v2(method: str, params: Mapping[str, str], secret: str) -> str:
    key = f"{secret}&".encode()
    mac = hmac.new(key, string_to_sign_v2(method, params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def canonical_v3(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], signed: list[str], body: bytes
) -> str:
    """The V3 canonical request over exactly the headers the client says it signed."""
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        lowered[name.lower()] = value.strip()
    header_block = "".join(f"{name}:{lowered.get(name, '')}\n" for name in signed)
    return "\n".join(
        (
            method.upper(),
            path or "/",
            _canonical_query(query),
            header_block,
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        )
    )


def expected_v3(canonical_request: str, secret: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return hmac.new(secret.encode(), f"{ACS3}\n{digest}".encode(), hashlib.sha256).hexdigest()
