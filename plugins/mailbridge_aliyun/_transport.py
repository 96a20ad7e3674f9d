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

No httpx or JSON exception leaves this module: connect failures become
:class:`ProviderUnavailable` (the request certainly did not arrive); failures after
the request left (read timeout, reset, HTTP 504, a 2xx body that is not JSON) become
:class:`OutcomeUnknown` for sends and :class:`ProviderUnavailable` for everything else.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import uuid
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from mailbridge import MailbridgeError, OutcomeUnknown, ProviderUnavailable, Secret

from ._errors import error_from_response
from ._signing import authorization_v3, sha256_hex, sign_v2

__all__ = ["API_VERSION", "DirectMailTransport", "user_agent"]

API_VERSION = "2015-11-23"
PROVIDER = "aliyun"


def user_agent() -> str:
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


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class DirectMailTransport:
    """Signs and sends Direct Mail RPC calls over one :class:`httpx.Client`.

    **Parameters:** ``endpoint`` (``https://dm.aliyuncs.com`` or an emulator URL),
    ``access_key_id``, ``secret``, ``signature`` (``"v3"`` or ``"v2"``), ``timeout``
    (seconds), ``transport`` *(optional)*: an ``httpx.BaseTransport`` for unit tests.
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
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.host = urlsplit(self.endpoint).netloc
        self.access_key_id = access_key_id
        self._secret = secret
        self.signature = signature
        self.client = httpx.Client(
            base_url=self.endpoint,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=True,
            headers={"User-Agent": user_agent(), "Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"DirectMailTransport({self.endpoint!r}, signature={self.signature!r})"

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ building

    def build(self, action: str, params: Mapping[str, Any]) -> httpx.Request:
        """The signed request for one action (``None`` parameters are left out)."""
        business = {k: _wire(v) for k, v in params.items() if v is not None}
        body = urlencode(business).encode()
        headers = {
            "host": self.host,
            "content-type": "application/x-www-form-urlencoded",
            "x-acs-action": action,
            "x-acs-version": API_VERSION,
        }
        query: dict[str, str] = {}
        if self.signature == "v2":
            query = {
                "Action": action,
                "Format": "JSON",
                "Version": API_VERSION,
                "AccessKeyId": self.access_key_id,
                "SignatureMethod": "HMAC-SHA1",
                "SignatureVersion": "1.0",
                "SignatureNonce": uuid.uuid4().hex,
                "Timestamp": _utc_now(),
            }
            query["Signature"] = sign_v2("POST", {**query, **business}, self._secret.reveal())
        else:
            headers["x-acs-date"] = _utc_now()
            headers["x-acs-signature-nonce"] = uuid.uuid4().hex
            headers["x-acs-content-sha256"] = sha256_hex(body)
            headers["authorization"] = authorization_v3(
                "POST", "/", {}, headers, body, access_key_id=self.access_key_id, secret=self._secret.reveal()
            )
        return self.client.build_request("POST", "/", params=query or None, headers=headers, content=body)

    # ------------------------------------------------------------------ calling

    def call(self, action: str, params: Mapping[str, Any], *, operation: str, is_send: bool = False) -> dict[str, Any]:
        """Perform one action and return its decoded JSON body; raise a neutral error otherwise."""
        request = self.build(action, params)
        response = self._send(request, operation=operation, is_send=is_send)
        if is_send and response.status_code == 504:
            # A gateway timeout: the request went upstream and nobody knows what happened there.
            raise OutcomeUnknown(
                "Direct Mail's gateway timed out (HTTP 504); the message may have been sent",
                provider=PROVIDER,
                operation=operation,
                http_status=504,
            )
        try:
            decoded = json.loads(response.content) if response.content else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._bad_body(response, operation, is_send) from exc
        if not isinstance(decoded, dict):
            raise self._bad_body(response, operation, is_send)
        if response.status_code >= 300:
            raise error_from_response(
                response.status_code, decoded, response.headers, provider=PROVIDER, operation=operation
            )
        return decoded

    def _send(self, request: httpx.Request, *, operation: str, is_send: bool) -> httpx.Response:
        try:
            return self.client.send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol) as exc:
            raise ProviderUnavailable(
                f"cannot reach Direct Mail at {self.endpoint}: {type(exc).__name__}: {exc}",
                provider=PROVIDER,
                operation=operation,
            ) from exc
        except httpx.HTTPError as exc:  # the request left: read timeout, reset, protocol error
            what = f"no answer from Direct Mail at {self.endpoint}: {type(exc).__name__}: {exc}"
            if is_send:
                raise OutcomeUnknown(
                    what + "; the message may have been sent", provider=PROVIDER, operation=operation
                ) from exc
            raise ProviderUnavailable(what, provider=PROVIDER, operation=operation) from exc

    def _bad_body(self, response: httpx.Response, operation: str, is_send: bool) -> MailbridgeError:
        status = response.status_code
        snippet = response.content[:200].decode("utf-8", "replace")
        text = f"Direct Mail answered HTTP {status} with a body that is not a JSON object: {snippet!r}"
        if is_send and status < 400:
            return OutcomeUnknown(
                text + "; the message may have been sent", provider=PROVIDER, operation=operation, http_status=status
            )
        if 400 <= status < 500:
            return error_from_response(
                status, {"Message": text}, response.headers, provider=PROVIDER, operation=operation
            )
        return ProviderUnavailable(text, provider=PROVIDER, operation=operation, http_status=status)
