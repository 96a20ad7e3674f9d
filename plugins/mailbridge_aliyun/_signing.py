"""Alibaba Cloud request signatures: RPC V2 (HMAC-SHA1) and V3 (ACS3-HMAC-SHA256).

Pure functions, no I/O, shared by the backend (to sign) and the emulator (to verify).
Both are pinned by unit tests against every published test vector (reference A.3/A.4).

* V2 ("SignatureVersion 1.0"): sort every parameter (query and form body together,
  ``Signature`` excluded), percent-encode names and values per RFC 3986, join them,
  and sign ``METHOD&%2F&<encoded canonical string>`` with HMAC-SHA1 keyed by
  ``secret + "&"``; base64.
* V3: hash a canonical request (method, path, canonical query, the ``host``,
  ``content-type`` and ``x-acs-*`` headers, the hex SHA-256 of the body) and sign
  ``"ACS3-HMAC-SHA256\\n" + hex(sha256(canonical request))`` with HMAC-SHA256 keyed by
  the raw secret; hex.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote

__all__ = [
    "V3_ALGORITHM",
    "authorization_v3",
    "canonical_request_v3",
    "percent_encode",
    "sha256_hex",
    "sign_v2",
    "signature_v3",
    "signed_headers_v3",
    "string_to_sign_v2",
]

V3_ALGORITHM = "ACS3-HMAC-SHA256"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba wants it: only ``A-Z a-z 0-9 - _ . ~`` stay literal."""
    return quote(value, safe="~")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- V2


def string_to_sign_v2(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&`` + the percent-encoded canonical query of ``params`` (``Signature`` excluded)."""
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(str(params[k]))}"
        for k in sorted(params)
        if k != "Signature" and params[k] is not None
    )
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign_v2(method: str, params: Mapping[str, str], secret: str) -> str:
    """The base64 HMAC-SHA1 ``Signature`` for an RPC request."""
    digest = hmac.new((secret + "&").encode(), string_to_sign_v2(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# --------------------------------------------------------------------------- V3


def _signable(name: str) -> bool:
    lower = name.lower()
    return lower in ("host", "content-type") or lower.startswith("x-acs-")


def signed_headers_v3(headers: Mapping[str, str]) -> str:
    """The ``SignedHeaders`` list: every host, content-type and x-acs-* header, lower-case, sorted."""
    return ";".join(sorted({k.lower() for k in headers if _signable(k)}))


def canonical_request_v3(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body_sha256: str,
    *,
    signed: str | None = None,
) -> str:
    """The V3 canonical request; ``signed`` (a SignedHeaders list) restricts the headers."""
    names = (signed or signed_headers_v3(headers)).split(";")
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    canonical_headers = "".join(f"{n}:{lowered.get(n, '')}\n" for n in names)
    canonical_query = "&".join(
        f"{percent_encode(k)}={percent_encode(str(query[k]))}" for k in sorted(query) if query[k] is not None
    )
    return "\n".join([method.upper(), path or "/", canonical_query, canonical_headers, ";".join(names), body_sha256])


def signature_v3(canonical_request: str, secret: str) -> str:
    string_to_sign = f"{V3_ALGORITHM}\n{sha256_hex(canonical_request.encode())}"
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def authorization_v3(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    access_key_id: str,
    secret: str,
) -> str:
    """The ``Authorization`` header value for a request with these parts."""
    signed = signed_headers_v3(headers)
    canonical = canonical_request_v3(method, path, query, headers, sha256_hex(body), signed=signed)
    return (
        f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed},Signature={signature_v3(canonical, secret)}"
    )
