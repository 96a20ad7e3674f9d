"""The Direct Mail wire: the gateway's signatures, request decoding and answer encoding.

RPC actions come as GET or POST (the gateway takes both; the SDK sends ``GetUser`` as GET).
Requests go through the same steps as at the cloud's gateway: find the signature (V3
``Authorization`` header or V2 ``Signature`` parameter), look up the AccessKeyId
(``InvalidAccessKeyId.NotFound``, HTTP 404), check the timestamp (15 minutes) and the
nonce, recompute the signature (``SignatureDoesNotMatch``, HTTP 400, echoing the
server's string to sign like the cloud); then the harness (:mod:`mailbridge.testing.emulator`)
throttles (``Throttling.User``, HTTP 400), applies injected faults and hands the business
parameters to :class:`~._state.EmulatorState`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mailbridge.testing.emulator import Call, EmulatorError, Reply, Request

from ._attachments import oss_error
from ._signatures import ACS3, canonical_v3, expected_v2, expected_v3, string_to_sign_v2
from ._state import DMError

__all__ = ["COMMON_PARAMS", "QUOTAS", "SECRET_PARAMS", "DMWire"]

COMMON_PARAMS = frozenset(
    {
        "Action", "Format", "Version", "AccessKeyId", "SignatureMethod", "SignatureVersion",
        "SignatureNonce", "Timestamp", "Signature", "RegionId", "SecurityToken", "SignatureType",
    }
)  # fmt: skip
SECRET_PARAMS = frozenset({"Password"})  # ModifyMailAddress, ModifyPWByDomain: masked in the request log
MAX_SKEW = 15 * 60  # reference A.5: InvalidTimeStamp.Expired beyond 15 minutes
# Reference A.6, the Quota Center table (calls, seconds), enforced with ``quotas=True``.
QUOTAS: dict[str, tuple[int, float]] = {
    "SingleSendMail": (100, 1), "BatchSendMail": (20, 60), "CreateReceiver": (10, 60),
    "DeleteReceiverDetail": (20, 1), "QueryReceiverDetail": (2, 1), "DescAccountSummary": (10, 60),
    "SenderStatisticsDetailByParam": (500, 60), "CreateTag": (30, 10), "CheckDomain": (10, 60),
    "QueryMailAddressByParam": (5, 1), "ModifyMailAddress": (300, 60), "DeleteMailAddress": (10, 1),
    "ApproveReplyMailAddress": (5, 1), "QueryTemplateByParam": (20, 1), "DescTemplate": (20, 1),
    "ModifyTemplate": (2, 1), "DeleteTemplate": (10, 1),
}  # fmt: skip


class DMWire:
    """Direct Mail's gateway: V2/V3 signatures against ``credentials``, JSON answers."""

    name = "mailbridge-aliyun-emulator"
    malformed_body = "<html><body>502 Bad Gateway (emulated)</body></html>"

    def __init__(self, credentials: dict[str, str], oss_host: Callable[[str], bool] = lambda host: False) -> None:
        self.credentials = dict(credentials)
        self.oss_host = oss_host  # whether a Host names an emulated OSS bucket (PostObject uploads)
        self._nonces: set[str] = set()
        self._lock = threading.Lock()

    def peek_action(self, request: Request) -> str | None:
        query = dict(parse_qsl(urlsplit(request.path).query))
        return {k.lower(): v for k, v in request.headers.items()}.get("x-acs-action") or query.get("Action")

    def authenticate(self, request: Request) -> Call:
        host = self._host(request)
        if request.method == "POST" and self.oss_host(host):  # an upload to the bucket, by post policy
            content_type = {k.lower(): v for k, v in request.headers.items()}.get("content-type", "")
            context = {"oss": True, "content_type": content_type, "body": request.body}
            return Call("PostObject", {"host": host}, {"signature": "post-policy"}, context)
        if request.method not in ("GET", "POST"):
            raise DMError(400, "UnsupportedHTTPMethod", "Direct Mail RPC actions are GET or POST requests.")
        action, params, version = self._authenticate(request)
        business = {k: v for k, v in params.items() if k not in COMMON_PARAMS}
        logged = {k: ("***" if k in SECRET_PARAMS else v) for k, v in business.items()}  # never keep a password
        api_version = {k.lower(): v for k, v in request.headers.items()}.get("x-acs-version") or params.get("Version")
        return Call(action, business, {"params": logged, "signature": version}, {"version": api_version, "all": params})

    def encode(self, call: Call, result: dict[str, Any]) -> Reply:
        return self._json(200, result)

    def encode_error(self, error: EmulatorError, request: Request) -> Reply:
        host = self._host(request)
        if request.method == "POST" and self.oss_host(host):
            return oss_error(error, host)
        body = {
            "RequestId": str(uuid.uuid4()).upper(),
            "HostId": host,
            "Code": error.code,
            "Message": error.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={error.code}&product=Dm",
        }
        return self._json(error.status or 400, body)

    def throttle_error(self, action: str, rate: float | None) -> EmulatorError:
        return DMError(400, "Throttling.User", "Request was denied due to user flow control.")

    def fault_error(self) -> EmulatorError:
        return DMError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")

    @staticmethod
    def _host(request: Request) -> str:
        return {k.lower(): v for k, v in request.headers.items()}.get("host", "dm.aliyuncs.com")

    @staticmethod
    def _json(status: int, body: dict[str, Any]) -> Reply:
        headers = {"x-acs-request-id": str(body["RequestId"])} if body.get("RequestId") else {}
        return Reply(status, json.dumps(body, ensure_ascii=False).encode(), "application/json;charset=utf-8", headers)

    def _nonce_used(self, nonce: str) -> bool:
        with self._lock:
            if nonce in self._nonces:
                return True
            self._nonces.add(nonce)
            return False

    def _authenticate(self, request: Request) -> tuple[str, dict[str, str], str]:
        body = request.body
        split = urlsplit(request.path)
        if split.path != "/":
            raise DMError(404, "InvalidApi.NotFound", "Specified api is not found, please check your url and method.")
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        form: dict[str, str] = {}
        if body:
            try:
                form = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False))
            except UnicodeDecodeError as exc:
                raise DMError(400, "InvalidParameter.Format", "Specified parameter format is not valid.") from exc
        params = {**query, **form}
        headers = {k.lower(): v for k, v in request.headers.items()}
        auth = headers.get("authorization", "")
        if auth.startswith(ACS3 + " "):
            return self._verify_v3(request, auth, query, params), params, "v3"
        if "Signature" in query or "Signature" in form:
            return self._verify_v2(request.method, params), params, "v2"
        raise DMError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")

    def _secret_for(self, key_id: str) -> str:
        secret = self.credentials.get(key_id)
        if secret is None:
            raise DMError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        return secret

    def _check_time_and_nonce(self, timestamp: str | None, nonce: str | None) -> None:
        when = _parse_acs_time(timestamp or "")
        if when is None:
            raise DMError(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs(time.time() - when) > MAX_SKEW:
            raise DMError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if not nonce:
            raise DMError(400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
        if self._nonce_used(nonce):
            raise DMError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    def _verify_v3(self, request: Request, auth: str, query: dict[str, str], params: dict[str, str]) -> str:
        body = request.body
        fields = dict(part.strip().split("=", 1) for part in auth[len(ACS3) + 1 :].split(",") if "=" in part)
        if not {"Credential", "SignedHeaders", "Signature"} <= set(fields):
            raise DMError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        secret = self._secret_for(fields["Credential"])
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = [h for h in fields["SignedHeaders"].split(";") if h]
        # The V3 spec: host and every x-acs-* header the request carries must be signed.
        unsigned = sorted(h for h in headers if (h == "host" or h.startswith("x-acs-")) and h not in signed)
        if unsigned:
            raise DMError(
                400, "IncompleteSignature", f"The request signature does not sign the header(s) {', '.join(unsigned)}."
            )
        self._check_time_and_nonce(headers.get("x-acs-date"), headers.get("x-acs-signature-nonce"))
        body_hash = hashlib.sha256(body).hexdigest()
        if headers.get("x-acs-content-sha256", body_hash) != body_hash:
            raise DMError(400, "SignatureDoesNotMatch", "The x-acs-content-sha256 header does not match the body.")
        canonical = canonical_v3(request.method, "/", query, headers, signed, body)
        if not hmac.compare_digest(expected_v3(canonical, secret), fields["Signature"]):
            raise DMError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:"
                f"{ACS3}\n{hashlib.sha256(canonical.encode()).hexdigest()}",
            )
        action = headers.get("x-acs-action") or params.get("Action")
        if not action:
            raise DMError(400, "MissingAction", "Action is mandatory for this action.")
        return action

    def _verify_v2(self, method: str, params: dict[str, str]) -> str:
        key_id = params.get("AccessKeyId", "")
        if not key_id:
            raise DMError(400, "MissingAccessKeyId", "AccessKeyId is mandatory for this action.")
        secret = self._secret_for(key_id)
        if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
            raise DMError(400, "InvalidSignatureMethod", "Specified signature method is not valid.")
        if params.get("Format", "XML").upper() not in ("XML", "JSON"):
            raise DMError(400, "InvalidParameter.Format", "Specified parameter format is not valid.")
        self._check_time_and_nonce(params.get("Timestamp"), params.get("SignatureNonce"))
        if not hmac.compare_digest(expected_v2(method, params, secret), params.get("Signature", "")):
            raise DMError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:"
                + string_to_sign_v2(method, params),
            )
        action = params.get("Action")
        if not action:
            raise DMError(400, "MissingAction", "Action is mandatory for this action.")
        return action


def _parse_acs_time(value: str) -> float | None:
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC).timestamp()
        except ValueError:
            continue
    return None
