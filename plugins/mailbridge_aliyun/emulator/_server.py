"""The emulator's HTTP front: the Direct Mail gateway (signatures, throttling, faults).

RPC actions come as GET or POST (the gateway takes both; the SDK sends ``GetUser`` as GET).
Requests go through the same steps as at the cloud's gateway: find the signature (V3
``Authorization`` header or V2 ``Signature`` parameter), look up the AccessKeyId
(``InvalidAccessKeyId.NotFound``, HTTP 404), check the timestamp (15 minutes) and the
nonce, recompute the signature (``SignatureDoesNotMatch``, HTTP 400, echoing the
server's string to sign like the cloud), throttle (``Throttling.User``, HTTP 400), apply
injected faults, then hand the business parameters to :class:`EmulatorState`.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import socket
import struct
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._attachments import OPENPLATFORM_VERSION, open_platform, oss_post
from ._signatures import ACS3, canonical_v3, expected_v2, expected_v3, string_to_sign_v2
from ._state import DMError, EmulatorState

__all__ = ["COMMON_PARAMS", "QUOTAS", "SECRET_PARAMS", "DMServer", "Fault"]

COMMON_PARAMS = frozenset(
    {
        "Action", "Format", "Version", "AccessKeyId", "SignatureMethod", "SignatureVersion",
        "SignatureNonce", "Timestamp", "Signature", "RegionId", "SecurityToken", "SignatureType",
    }
)  # fmt: skip
SECRET_PARAMS = frozenset({"Password"})  # ModifyMailAddress, ModifyPWByDomain: masked in the request log
MAX_SKEW = 15 * 60  # reference A.5: InvalidTimeStamp.Expired beyond 15 minutes
CONTROL_PREFIX = "/_emulator"
# Reference A.6, the Quota Center table (calls, seconds), enforced with ``quotas=True``.
QUOTAS: dict[str, tuple[int, float]] = {
    "SingleSendMail": (100, 1), "BatchSendMail": (20, 60), "CreateReceiver": (10, 60),
    "DeleteReceiverDetail": (20, 1), "QueryReceiverDetail": (2, 1), "DescAccountSummary": (10, 60),
    "SenderStatisticsDetailByParam": (500, 60), "CreateTag": (30, 10), "CheckDomain": (10, 60),
    "QueryMailAddressByParam": (5, 1), "ModifyMailAddress": (300, 60), "DeleteMailAddress": (10, 1),
    "ApproveReplyMailAddress": (5, 1), "QueryTemplateByParam": (20, 1), "DescTemplate": (20, 1),
    "ModifyTemplate": (2, 1), "DeleteTemplate": (10, 1),
}  # fmt: skip


@dataclass
class Fault:
    """An injected failure. ``kind``: ``error`` (an error answer with ``status``/``code``),
    ``reset`` (close the connection without answering), ``delay`` (sleep ``delay`` seconds
    first), ``malformed`` (answer ``status`` with a non-JSON body). ``action`` None matches
    every action; ``times`` None never runs out; ``apply`` processes the request before the
    fault hits (the answer is lost, the effect is not)."""

    kind: str = "error"
    action: str | None = None
    times: int | None = 1
    status: int = 503
    code: str = "ServiceUnavailable"
    message: str = "The request has failed due to a temporary failure of the server."
    delay: float = 0.0
    apply: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("error", "reset", "delay", "malformed"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.kind == "malformed" and self.status == 503:
            self.status = 200


class DMServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the emulator's configuration and state."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        state: EmulatorState,
        credentials: dict[str, str],
        *,
        rate: float | None = None,
        quotas: bool = False,
    ) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.credentials = dict(credentials)
        self.rate = rate
        self.quotas = quotas
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []  # every authenticated call: action, params, signature
        self._nonces: set[str] = set()
        self._hits: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet on resets
        pass

    def take_fault(self, action: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.action in (None, action) and (fault.times is None or fault.times > 0):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def nonce_used(self, nonce: str) -> bool:
        with self._lock:
            if nonce in self._nonces:
                return True
            self._nonces.add(nonce)
            return False

    def throttled(self, key: str) -> bool:
        """Whether one more call of action ``key`` is over ``rate`` per second, or over its A.6 quota."""
        limits: list[tuple[str, float, float]] = []
        if self.rate:
            limits.append((key, self.rate, 1.0))
        if self.quotas and key in QUOTAS:
            calls, per = QUOTAS[key]
            limits.append((f"quota:{key}", calls, per))
        if not limits:
            return False
        now = time.monotonic()
        with self._lock:
            for bucket, calls_allowed, window in limits:
                hits = self._hits[bucket]
                while hits and hits[0] <= now - window:
                    hits.popleft()
                if len(hits) >= calls_allowed:
                    return True
            for bucket, _calls, _window in limits:
                self._hits[bucket].append(now)
            return False


def _parse_acs_time(value: str) -> float | None:
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC).timestamp()
        except ValueError:
            continue
    return None


class _Handler(BaseHTTPRequestHandler):
    server: DMServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "mailbridge-aliyun-emulator"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    # ------------------------------------------------------------------ responses

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        if body.get("RequestId"):
            self.send_header("x-acs-request-id", str(body["RequestId"]))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str) -> None:
        request_id = str(uuid.uuid4()).upper()
        self._json(
            status,
            {
                "RequestId": request_id,
                "HostId": self.headers.get("host", "dm.aliyuncs.com"),
                "Code": code,
                "Message": message,
                "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}&product=Dm",
            },
        )

    def _reset(self) -> None:
        """Abort the connection with a TCP RST, no answer at all."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    # ------------------------------------------------------------------ entry points

    def do_GET(self) -> None:
        if self.path.startswith(CONTROL_PREFIX):
            self._control("GET")
            return
        self._rpc(self._body())

    def do_DELETE(self) -> None:
        if self.path.startswith(CONTROL_PREFIX):
            self._control("DELETE")
            return
        self._body()
        self._error(400, "UnsupportedHTTPMethod", "Direct Mail RPC actions are GET or POST requests.")

    def do_POST(self) -> None:
        body = self._body()
        if self.path.startswith(CONTROL_PREFIX):
            self._control("POST", body)
            return
        if oss_post(self, body):  # Host names an emulated OSS bucket: a PostObject upload
            return
        self._rpc(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _rpc(self, body: bytes) -> None:
        try:
            action, params, version = self._authenticate(body)
        except DMError as err:
            self._error(err.status, err.code, err.message)
            return
        business = {k: v for k, v in params.items() if k not in COMMON_PARAMS}
        logged = {k: ("***" if k in SECRET_PARAMS else v) for k, v in business.items()}  # never keep a password
        self.server.requests.append({"action": action, "params": logged, "signature": version})
        if self.server.throttled(action):
            self._error(400, "Throttling.User", "Request was denied due to user flow control.")
            return
        fault = self.server.take_fault(action)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
            fault = None
        if fault is not None and not fault.apply:
            self._fault(fault)
            return
        try:
            if (self.headers.get("x-acs-version") or params.get("Version")) == OPENPLATFORM_VERSION:
                answer = open_platform(self.server.state, action, params, params.get("AccessKeyId", "v3"))
            else:
                answer = self.server.state.dispatch(action, business)
        except DMError as err:
            if fault is not None:
                self._fault(fault)
            else:
                self._error(err.status, err.code, err.message)
            return
        if fault is not None:
            self._fault(fault)
            return
        self._json(200, answer)

    def _fault(self, fault: Fault) -> None:
        if fault.kind == "reset":
            self._reset()
        elif fault.kind == "malformed":
            data = b"<html><body>502 Bad Gateway (emulated)</body></html>"
            self.send_response(fault.status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        else:
            self._error(fault.status, fault.code, fault.message)

    # ------------------------------------------------------------------ signatures

    def _authenticate(self, body: bytes) -> tuple[str, dict[str, str], str]:
        split = urlsplit(self.path)
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
        auth = self.headers.get("authorization", "")
        if auth.startswith(ACS3 + " "):
            return self._verify_v3(auth, query, params, body), params, "v3"
        if "Signature" in query or "Signature" in form:
            return self._verify_v2(params), params, "v2"
        raise DMError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")

    def _secret_for(self, key_id: str) -> str:
        secret = self.server.credentials.get(key_id)
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
        if self.server.nonce_used(nonce):
            raise DMError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    def _verify_v3(self, auth: str, query: dict[str, str], params: dict[str, str], body: bytes) -> str:
        fields = dict(part.strip().split("=", 1) for part in auth[len(ACS3) + 1 :].split(",") if "=" in part)
        if not {"Credential", "SignedHeaders", "Signature"} <= set(fields):
            raise DMError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        secret = self._secret_for(fields["Credential"])
        headers = {k.lower(): v for k, v in self.headers.items()}
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
        canonical = canonical_v3(self.command, "/", query, headers, signed, body)
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

    def _verify_v2(self, params: dict[str, str]) -> str:
        key_id = params.get("AccessKeyId", "")
        if not key_id:
            raise DMError(400, "MissingAccessKeyId", "AccessKeyId is mandatory for this action.")
        secret = self._secret_for(key_id)
        if params.get("SignatureMethod", "HMAC-SHA1") != "HMAC-SHA1":
            raise DMError(400, "InvalidSignatureMethod", "Specified signature method is not valid.")
        if params.get("Format", "XML").upper() not in ("XML", "JSON"):
            raise DMError(400, "InvalidParameter.Format", "Specified parameter format is not valid.")
        self._check_time_and_nonce(params.get("Timestamp"), params.get("SignatureNonce"))
        if not hmac.compare_digest(expected_v2(self.command, params, secret), params.get("Signature", "")):
            raise DMError(
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation. server string to sign is:"
                + string_to_sign_v2(self.command, params),
            )
        action = params.get("Action")
        if not action:
            raise DMError(400, "MissingAction", "Action is mandatory for this action.")
        return action

    # ------------------------------------------------------------------ control endpoint

    def _control(self, method: str, body: bytes = b"") -> None:
        path = urlsplit(self.path).path[len(CONTROL_PREFIX) :]
        server = self.server
        if path == "/faults" and method == "POST":
            try:
                fault = Fault(**json.loads(body or b"{}"))
            except (TypeError, ValueError) as exc:
                self._json(400, {"error": str(exc)})
                return
            with server._lock:
                server.faults.append(fault)
            self._json(200, {"fault": asdict(fault)})
        elif path == "/faults" and method == "DELETE":
            with server._lock:
                server.faults.clear()
            self._json(200, {"faults": []})
        elif path == "/faults":
            self._json(200, {"faults": [asdict(f) for f in server.faults]})
        elif path == "/dns" and method == "POST":
            try:
                spec = json.loads(body or b"{}")
                records = spec.get("records")
                server.state.publish_dns(str(spec["domain"]), tuple(records) if records else None)
            except (KeyError, TypeError, ValueError) as exc:
                self._json(400, {"error": f"POST /_emulator/dns wants {{'domain': ..., 'records': [...]}}: {exc}"})
                return
            except DMError as err:
                self._json(404, {"error": err.message})
                return
            self._json(200, {"published": spec["domain"]})
        elif path == "/state":
            with server.state.lock:
                state = server.state
                snapshot = {
                    "lists": [
                        {"id": r.id, "name": r.name, "members": [m.email for m in r.members.values()]}
                        for r in state.receivers.values()
                    ],
                    "sent_mail": [
                        {"action": m.action, "env_id": m.env_id, "sender": m.sender, "to": m.to, "subject": m.subject}
                        for m in state.sent_mail
                    ],
                    "tags": state.tags,
                    "deliveries": len(state.deliveries),
                    "domains": [
                        {"name": d.name, "status": d.status, "published": sorted(d.published)} for d in state.domains
                    ],
                    "senders": [
                        {
                            "address": s["AccountName"],
                            "sendtype": s["Sendtype"],
                            "reply_to": s["ReplyAddress"],
                            "reply_status": s["ReplyStatus"],
                        }
                        for s in state.senders
                    ],
                    "reply_mails": list(state.reply_mails),
                }
            self._json(200, snapshot)
        else:
            self._json(404, {"error": f"unknown control endpoint {method} {self.path}"})
