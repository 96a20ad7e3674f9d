"""The HTTP seam: sign one Direct Mail call, send it with httpx, decode it, translate failures.

Wire format (both signatures): ``POST /`` with every business parameter in an
``application/x-www-form-urlencoded`` body. The RPC gateway treats form-body parameters
like query parameters (V2 signs their union, reference A.3), and the body has no URL
length limit (SaveReceiverDetail's 500-record Detail, HTML bodies).

* V3 (default): ``x-acs-action``, ``x-acs-version``, ``x-acs-date``,
  ``x-acs-signature-nonce``, ``x-acs-content-sha256`` headers and an ``Authorization``
  header; the query string is empty, so no credential ever appears in a URL.
* V2 (``signature=v2``): the common parameters (Action, Version, Format, AccessKeyId,
  SignatureMethod/Version/Nonce, Timestamp, Signature) in the query string, as the
  official SDK sends them.

No httpx, JSON or XML exception leaves this module. Every failure goes through the core's
outcome rule (:mod:`mailbridge._outcome`) with what this seam knows: the request never
left or left incomplete (``NOT_SENT``, from :class:`mailbridge._http.GuardedHTTP`), the
provider answered an error code (JSON or XML, at any HTTP status) that :mod:`._errors`
declares a refusal, or anything else after the request was written (``UNKNOWN``: a 5xx
without a code, a gateway page, a garbled 2xx body, a timeout, a dropped connection).
Actions in :data:`NOT_IDEMPOTENT` then become :class:`OutcomeUnknown`; the others are
retryable :class:`ProviderUnavailable`. One deadline (``timeout``) covers connect, write
and the whole answer.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import threading
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode, urlsplit

from mailbridge import MailbridgeError, Secret
from mailbridge._outcome import Stage, answered, failed

from ._errors import error_from_response, rule_for
from ._signing import authorization_v3, sha256_hex, sign_v2

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    import httpx

    from mailbridge._http import CallFailed, GuardedHTTP

__all__ = ["API_VERSION", "NOT_IDEMPOTENT", "DirectMailTransport", "decode_body", "user_agent"]

API_VERSION = "2015-11-23"
PROVIDER = "aliyun"

#: Actions a repeat could apply twice. A failure after the request was written is
#: OutcomeUnknown for these. SaveReceiverDetail is not here: DM de-duplicates addresses
#: (a repeated address is reported in ErrorCount), so repeating an upload adds nothing twice.
NOT_IDEMPOTENT = frozenset(
    {
        "SingleSendMail",
        "BatchSendMail",
        "CreateReceiver",
        "CreateTemplate",
        "CreateDomain",
        "CreateMailAddress",
        "CreateTag",
    }
)


def is_idempotent(action: str, *, is_send: bool = False) -> bool:
    """Whether repeating ``action`` cannot apply it twice (not a send, not in :data:`NOT_IDEMPOTENT`)."""
    return not is_send and action not in NOT_IDEMPOTENT


def user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    import httpx

    try:
        own = version("mailbridge")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        own = "0"
    return f"mailbridge/{own} (aliyun-directmail) httpx/{httpx.__version__} Python/{platform.python_version()}"


def _wire(value: Any) -> str:
    """Booleans as ``true``/``false`` (the SDK's ``True`` is wrong per the docs); the rest as str."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


FORM = b"application/x-www-form-urlencoded"


class _Prefab(NamedTuple):
    """The parts of every request that do not change between calls."""

    url: httpx.URL
    head: list[tuple[bytes, bytes]]
    extensions: dict[str, Any]


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DirectMailTransport:
    """Signs and sends Direct Mail RPC calls over one :class:`httpx.Client`.

    **Parameters:** ``endpoint`` (``https://dm.aliyuncs.com`` or an emulator URL),
    ``access_key_id``, ``secret``, ``signature`` (``"v3"`` or ``"v2"``), ``timeout``
    (seconds: one deadline per request, connect to the last byte of the answer),
    ``transport`` *(optional)*: an ``httpx.BaseTransport`` for unit tests, ``version``/``service``:
    the API version and the name in error text, for another product signed the same way (OpenPlatform).
    """

    def __init__(
        self,
        endpoint: str,
        access_key_id: str,
        secret: Secret,
        *,
        signature: str = "v3",
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        version: str = API_VERSION,
        service: str = "Direct Mail",
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.version = version  # another RPC product on the same gateway rules (OpenPlatform: 2019-12-19)
        self.service = service
        self.host = urlsplit(self.endpoint).netloc
        self.access_key_id = access_key_id
        self._secret = secret
        self.signature = signature
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None
        self._http: GuardedHTTP | None = None
        self._prefab: _Prefab
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        """The httpx client, built on first use: building a Direct Mail client imports no HTTP stack
        (httpx and httpcore are a third of a cold start)."""
        if self._client is None:
            self._connect()
        assert self._client is not None
        return self._client

    @property
    def http(self) -> GuardedHTTP:
        if self._http is None:
            self._connect()
        assert self._http is not None
        return self._http

    def _connect(self) -> None:
        with self._lock:  # send_many calls from several threads at once
            if self._client is not None:
                return
            import httpx

            from mailbridge._http import GuardedHTTP, guarded_transport

            timeout = self._timeout
            client = httpx.Client(
                base_url=self.endpoint,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                verify=True,
                headers={"User-Agent": user_agent(), "Accept": "application/json"},
                transport=self._transport or guarded_transport(verify=True),
                follow_redirects=False,
            )
            # What Client.build_request("POST", "/", headers=...) merges into every request, worked out once:
            # the URL joined to base_url, the client's headers first, then ours, then Content-Length; the
            # client's timeouts as the extension httpcore reads (tests compare with build_request itself).
            self._prefab = _Prefab(
                url=client.build_request("POST", "/").url,
                head=[*client.headers.raw, (b"host", self.host.encode("ascii")), (b"content-type", FORM)],
                extensions={"timeout": client.timeout.as_dict()},
            )
            self._http = GuardedHTTP(client, timeout=timeout)
            self._client = client

    def __repr__(self) -> str:
        return f"DirectMailTransport({self.endpoint!r}, signature={self.signature!r})"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # ------------------------------------------------------------------ building

    def build(self, action: str, params: Mapping[str, Any]) -> httpx.Request:
        """The signed request for one action (``None`` parameters are left out).

        Built as ``httpx.Client.build_request`` would build it, without its per-request URL join
        and header merge (the parts that never change are worked out once, in ``_connect``).
        """
        import httpx

        if self._client is None:
            self._connect()
        prefab = self._prefab
        business = {k: _wire(v) for k, v in params.items() if v is not None}
        body = urlencode(business).encode()
        url = prefab.url
        version = self.version
        if self.signature == "v2":
            query = {
                "Action": action,
                "Format": "JSON",
                "Version": version,
                "AccessKeyId": self.access_key_id,
                "SignatureMethod": "HMAC-SHA1",
                "SignatureVersion": "1.0",
                "SignatureNonce": uuid.uuid4().hex,
                "Timestamp": _utc_now(),
            }
            query["Signature"] = sign_v2("POST", {**query, **business}, self._secret.reveal())
            url = httpx.URL(url, params=query)
            signed = [(b"x-acs-action", action.encode()), (b"x-acs-version", version.encode())]
        else:
            headers = {
                "host": self.host,
                "content-type": FORM.decode(),
                "x-acs-action": action,
                "x-acs-version": version,
                "x-acs-date": _utc_now(),
                "x-acs-signature-nonce": uuid.uuid4().hex,
                "x-acs-content-sha256": sha256_hex(body),
            }
            headers["authorization"] = authorization_v3(
                "POST", "/", {}, headers, body, access_key_id=self.access_key_id, secret=self._secret.reveal()
            )
            signed = [(k.encode(), v.encode()) for k, v in headers.items() if k not in ("host", "content-type")]
        request = httpx.Request(
            "POST",
            url,
            headers=[*prefab.head, *signed, (b"Content-Length", str(len(body)).encode())],
            stream=httpx.ByteStream(body),
            extensions=prefab.extensions,
        )
        request.read()  # as build_request's content= does: request.content is there for whoever looks
        return request

    # ------------------------------------------------------------------ calling

    def call(self, action: str, params: Mapping[str, Any], *, operation: str, is_send: bool = False) -> dict[str, Any]:
        """Perform one action and return its decoded body; raise a neutral error otherwise.

        ``is_send`` is kept for callers that mark a send themselves; every action in
        :data:`NOT_IDEMPOTENT` is treated as one anyway.
        """
        from mailbridge._http import CallFailed

        idempotent = is_idempotent(action, is_send=is_send)
        request = self.build(action, params)
        try:
            response = self.http.send(request, idempotent=idempotent)
        except CallFailed as exc:
            raise self.no_answer(exc, operation, idempotent) from (exc.__cause__ or exc)
        return self.interpret(response, operation, idempotent)

    def no_answer(self, exc: CallFailed, operation: str, idempotent: bool) -> MailbridgeError:
        """The neutral error for a request that got no usable response (the outcome rule)."""
        return failed(
            exc.stage,
            f"no answer from {self.service} at {self.endpoint} ({exc.message})",
            idempotent=idempotent,
            provider=PROVIDER,
            operation=operation,
        )

    def interpret(self, response: httpx.Response, operation: str, idempotent: bool) -> dict[str, Any]:
        """A complete response's decoded body, or the neutral error it means (shared by the async transport)."""
        status = response.status_code
        decoded = decode_body(response.content)
        if status < 300:
            if decoded is None:
                raise self._garbled(response, operation, idempotent)
            return decoded
        if decoded is not None and (decoded.get("Code") or decoded.get("code")):
            error = error_from_response(status, decoded, response.headers, provider=PROVIDER, operation=operation)
            rule = rule_for(error.provider_code, status)
            raise answered(error, refused=rule.refused, idempotent=idempotent)
        if status >= 500:  # a gateway page or an empty 5xx: the request may have gone upstream
            raise self._garbled(response, operation, idempotent)
        # A 3xx/4xx without a provider code: refused by whatever answered (status fallback).
        raise error_from_response(
            status, {"Message": self._describe(response)}, response.headers, provider=PROVIDER, operation=operation
        )

    @staticmethod
    def _describe(response: httpx.Response) -> str:
        snippet = response.content[:200].decode("utf-8", "replace")
        return f"Direct Mail answered HTTP {response.status_code} with no provider error in the body: {snippet!r}"

    def _garbled(self, response: httpx.Response, operation: str, idempotent: bool) -> MailbridgeError:
        return failed(
            Stage.UNKNOWN,
            self._describe(response),
            idempotent=idempotent,
            provider=PROVIDER,
            operation=operation,
            http_status=response.status_code,
        )


def _element(node: ET.Element) -> Any:
    children = list(node)
    if not children:
        return (node.text or "").strip()
    result: dict[str, Any] = {}
    for child in children:
        value = _element(child)
        if child.tag in result:  # repeated elements are a list, as in the JSON form
            existing = result[child.tag]
            result[child.tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[child.tag] = value
    return result


def decode_body(content: bytes) -> dict[str, Any] | None:
    """A Direct Mail body, JSON or XML (``<Error><Code>..</Code>..</Error>``), as a dict; None if neither."""
    text = content.strip()
    if not text:
        return None
    if text.startswith(b"<"):
        import xml.etree.ElementTree as ET  # only for XML answers (errors from some gateways)

        try:
            root = ET.fromstring(text)  # expat expands no external entity
        except ET.ParseError:
            return None
        value = _element(root)
        # DM's answers, success (<ActionResponse>) or error (<Error>), all carry a RequestId;
        # a gateway's HTML page does not.
        return value if isinstance(value, dict) and "RequestId" in value else None
    try:
        decoded = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if isinstance(decoded, dict) else None
