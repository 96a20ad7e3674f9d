"""The SES wire: TC3-HMAC-SHA256 signatures, the JSON request and the ``{"Response": ...}`` answer.

POST ``/`` with ``X-TC-Action`` / ``X-TC-Version: 2020-10-02``, a JSON body and a TC3-HMAC-SHA256
``Authorization`` header, verified with this module's own code (:func:`tc3_signature`, written from
Tencent's published algorithm, never the SDK's or the backend's); answers
``{"Response": {..., "RequestId": ...}}`` and, for errors, HTTP 200 with ``Response.Error``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mailbridge.testing.emulator import Call, EmulatorError, Reply, Request

__all__ = ["API_VERSION", "REGIONS", "SERVICE", "SESWire", "tc3_signature"]

API_VERSION = "2020-10-02"
SERVICE = "ses"
REGIONS = ("ap-guangzhou", "ap-hongkong", "ap-singapore")
MAX_SKEW = 300  # AuthFailure.SignatureExpire beyond 5 minutes
_AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


def tc3_signature(
    secret_key: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload: bytes,
    timestamp: int,
    service: str,
) -> str:
    """TC3-HMAC-SHA256, written from Tencent's published algorithm (independent of the SDK).

    Header names and values are lower-cased and stripped, as the signing documentation says.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    names = [h.lower() for h in signed_headers]
    canonical_headers = "".join(f"{n}:{lowered.get(n, '').strip().lower()}\n" for n in names)
    canonical_request = "\n".join(
        [method, path, query, canonical_headers, ";".join(names), hashlib.sha256(payload).hexdigest()]
    )
    date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )

    def _mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = _mac(_mac(_mac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


class SESWire:
    """SES's API 3.0 gateway for one credential pair; ``accepts``: action -> its parameters."""

    name = "mailbridge-tencent-emulator"
    malformed_body = '{"Response": {"RequestId": "trunc'

    def __init__(
        self, secret_id: str, secret_key: str, accepts: Mapping[str, set[str]], clock: Callable[[], float]
    ) -> None:
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.accepts = accepts
        self.clock = clock

    def peek_action(self, request: Request) -> str | None:
        return request.headers.get("X-TC-Action")

    def authenticate(self, request: Request) -> Call:
        headers, body = request.headers, request.body
        if request.method != "POST" or request.route != "/":
            raise EmulatorError("InvalidAction", f"{request.method} {request.route}: SES takes POST / only", 404)
        action = headers.get("X-TC-Action", "")
        if headers.get("X-TC-Version") != API_VERSION:
            raise EmulatorError("NoSuchVersion", f"version {headers.get('X-TC-Version')!r} is not supported")
        if headers.get("X-TC-Region") not in REGIONS:
            raise EmulatorError("UnsupportedRegion", "SES supports ap-guangzhou, ap-hongkong and ap-singapore")
        self._verify(headers, body)
        if action not in self.accepts:
            raise EmulatorError("InvalidAction", f"action {action!r} is not supported")
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise EmulatorError("InvalidParameter", "the body is not JSON") from None
        if not isinstance(params, dict):
            raise EmulatorError("InvalidParameter", "the body must be a JSON object")
        unknown = sorted(set(params) - self.accepts[action])
        if unknown:
            raise EmulatorError("UnknownParameter", f"unknown parameter {unknown[0]}")
        logged = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        return Call(action, params, {"headers": logged})

    def encode(self, call: Call, result: dict[str, Any]) -> Reply:
        return self._json({**result, "RequestId": str(uuid.uuid4())})

    def encode_error(self, error: EmulatorError, request: Request) -> Reply:
        answer = {"Error": {"Code": error.code, "Message": error.message}, "RequestId": str(uuid.uuid4())}
        return self._json(answer, error.status or 200)

    def throttle_error(self, action: str, rate: float | None) -> EmulatorError:
        return EmulatorError("RequestLimitExceeded", f"more than {rate:g} requests per second for {action}")

    def fault_error(self) -> EmulatorError:
        return EmulatorError("InternalError", "injected fault")

    @staticmethod
    def _json(response: dict[str, Any], status: int = 200) -> Reply:
        return Reply(status, json.dumps({"Response": response}).encode())

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        match = _AUTH.match(headers.get("Authorization", ""))
        if not match:
            raise EmulatorError("AuthFailure.InvalidAuthorization", "the Authorization header is missing or malformed")
        if match["id"] != self.secret_id:
            raise EmulatorError("AuthFailure.SecretIdNotFound", "the SecretId is not found")
        try:
            timestamp = int(headers.get("X-TC-Timestamp", ""))
        except ValueError:
            raise EmulatorError("AuthFailure.InvalidAuthorization", "X-TC-Timestamp is missing") from None
        if abs(self.clock() - timestamp) > MAX_SKEW:
            raise EmulatorError("AuthFailure.SignatureExpire", "the signature expired (clock skew over 5 minutes)")
        if match["service"] != SERVICE:
            raise EmulatorError("AuthFailure.SignatureFailure", "the credential scope names another service")
        expected = tc3_signature(
            self.secret_key,
            method="POST",
            path="/",
            query="",
            headers=headers,
            signed_headers=match["signed"].split(";"),
            payload=body,
            timestamp=timestamp,
            service=SERVICE,
        )
        if not hmac.compare_digest(expected, match["sig"]):
            raise EmulatorError("AuthFailure.SignatureFailure", "the request signature does not match")
