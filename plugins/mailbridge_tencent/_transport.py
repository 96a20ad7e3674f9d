"""The SES transport: the official SDK signs and parses, the core's HTTP seam sends.

The SDK's sync ``SesClient`` with its retryer off (the core retries) and English error
messages. The SDK builds, signs and parses every request; the bytes travel over the core's shared
HTTP seam (:mod:`mailbridge._http`, httpx) instead of the SDK's ``requests`` session, so that a
Tencent call has what a Direct Mail call has: one deadline (``timeout=``) from connect to the
last byte, and a report of whether the request was written, which the core's outcome rule
(:mod:`mailbridge._outcome`) needs. Every call goes through :meth:`SesTransport.call`, which
uses the SDK's JSON path and reads ``Response.Error`` itself, at any HTTP status: the SDK only
notices an error when the Content-Type is exactly ``application/json`` (reference B.2) and the
status is 200, so a ``; charset=utf-8`` answer would otherwise pass as an empty success and an
error served with HTTP 4xx/5xx would lose its code.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx
import requests
from requests.structures import CaseInsensitiveDict
from tencentcloud.common.credential import Credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.retry import NoopRetryer
from tencentcloud.ses.v20201002.ses_client import SesClient

from mailbridge import ConfigurationError, MailbridgeError
from mailbridge._http import CallFailed, GuardedHTTP, guarded_transport, network_reason
from mailbridge._outcome import Stage, answered, failed

from ._config import TencentConfig
from ._errors import TABLE, error_for_code

__all__ = ["NOT_IDEMPOTENT", "SesTransport"]

#: Actions a repeat could apply twice (SES de-duplicates nothing): a failure after the request
#: was written is OutcomeUnknown for these (core rule, mailbridge._outcome), never retried.
#: UpdateEmailSmtpPassWord is here because repeating a password that was set is refused
#: (OperationDenied.RepeatPassWord), which would report a success as a failure.
NOT_IDEMPOTENT = frozenset(
    {
        "SendEmail",
        "BatchSendEmail",
        "CreateReceiver",
        "CreateReceiverDetail",
        "CreateReceiverDetailWithData",
        "CreateEmailTemplate",
        "CreateEmailIdentity",
        "CreateEmailAddress",
        "UpdateEmailSmtpPassWord",
    }
)


class _RedactAuthorization(logging.Filter):
    """The SDK logs whole requests at DEBUG, Authorization header included: mask it."""

    _pattern = re.compile(r'(Authorization: )[^\n]*|(Credential=)[^,\s]*|("Password": ")[^"]*')

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if "Authorization" in text or "Credential=" in text or '"Password"' in text:
            record.msg = self._pattern.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)
            record.args = None
        return True


logging.getLogger("tencentcloud_sdk_common").addFilter(_RedactAuthorization())


class _HTTPStatusError(TencentCloudSDKException):  # type: ignore[misc]
    """The SDK's ServerNetworkError, keeping the HTTP status it otherwise drops."""

    def __init__(self, status: int, content: bytes) -> None:
        super().__init__("ServerNetworkError", content)
        self.status = status
        self.content = content


class _SesClient(SesClient):  # type: ignore[misc]
    def _check_status(self, resp_inter: Any) -> None:
        if resp_inter.status_code != 200:
            raise _HTTPStatusError(resp_inter.status_code, resp_inter.content)


def _call_failure(exc: BaseException | None) -> CallFailed | None:
    """The transport's report in an exception chain (the SDK wraps it in ClientNetworkError)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, CallFailed):
            return exc
        seen += 1
        exc = exc.__cause__ or exc.__context__
    return None


def _maybe_sent(exc: BaseException | None) -> bool:
    """True unless the chain proves the request never left (the transport said ``NOT_SENT``)."""
    failure = _call_failure(exc)
    return failure is None or failure.stage is not Stage.NOT_SENT


def _error_body(content: bytes) -> dict[str, Any] | None:
    """``Response.Error`` of a body, whatever the HTTP status, or None."""
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    response = body.get("Response") if isinstance(body, dict) else None
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    if not isinstance(error, dict) or not error.get("Code"):
        return None
    return {
        "Code": str(error["Code"]),
        "Message": str(error.get("Message") or ""),
        "RequestId": response.get("RequestId"),
    }


class _Raw:
    version = 11  # read by the SDK's debug log formatter


class _SdkConnection:
    """Stands in for the SDK's ``ProxyConnection``: the SDK signs and parses, the shared seam sends.

    Through :class:`mailbridge._http.GuardedHTTP` a Tencent call gets what a Direct Mail call
    gets: one deadline from connect to the last byte (requests' timeouts are per socket
    operation, so a slow drip never trips them) and a report of whether the request was
    written, which the outcome rule needs.
    """

    def __init__(self, timeout: float) -> None:
        self.request_length = 0
        self.client = httpx.Client(
            transport=guarded_transport(verify=True),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
        )
        self.http = GuardedHTTP(self.client, timeout=timeout)

    def request(
        self, method: str, url: str, body: str | bytes | None = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        content = body.encode("utf-8") if isinstance(body, str) else body
        self.request_length = len(content or b"")
        action = (headers or {}).get("X-TC-Action", "")
        request = self.client.build_request(method, url, content=content, headers=headers)
        answer = self.http.send(request, idempotent=action not in NOT_IDEMPOTENT)
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response._content_consumed = True
        response.headers = CaseInsensitiveDict(answer.headers.items())
        response.reason = answer.reason_phrase
        response.url = str(answer.url)
        response.raw = _Raw()
        return response

    def close(self) -> None:
        self.client.close()


class SesTransport:
    """One SES account's SDK client over the shared HTTP seam; :meth:`call` is the one provider call."""

    name = "tencent"

    def __init__(self, config: TencentConfig) -> None:
        scheme, host = config.api_host()
        try:
            credential = Credential(config.secret_id, config.secret_key.reveal())
        except TencentCloudSDKException as exc:
            raise ConfigurationError(f"Tencent credentials rejected: {exc.message}", provider=self.name) from None
        profile = ClientProfile(
            httpProfile=HttpProfile(protocol=scheme, endpoint=host, reqTimeout=config.timeout),
            language="en-US",
            retryer=NoopRetryer(),  # the core owns retries and rate limits
        )
        self.client = _SesClient(credential, config.region, profile)
        self.connection = _SdkConnection(config.timeout)
        self.client.request.conn = self.connection

    def close(self) -> None:
        self.connection.close()

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        """One SES action; returns ``Response`` without errors or raises one neutral error.

        Failures go through the core's outcome rule: ``NOT_SENT`` from the transport,
        a ``Response.Error`` (at any HTTP status) through the error table and its
        ``refused`` flag, anything else after the request was written as ``UNKNOWN``.
        """
        idempotent = action not in NOT_IDEMPOTENT
        try:
            body = self.client.call_json(action, params)
        except TencentCloudSDKException as exc:
            failure = _call_failure(exc)
            if failure is not None:
                raise failed(
                    failure.stage, f"no answer from Tencent SES ({failure.message})", idempotent=idempotent,
                    provider=self.name,
                ) from (failure.__cause__ or exc)  # fmt: skip
            if exc.code == "ClientNetworkError":  # the SDK's own (urllib3's) words never reach users
                raise failed(
                    Stage.UNKNOWN, f"no answer from Tencent SES ({network_reason(exc)})", idempotent=idempotent,
                    provider=self.name,
                ) from exc  # fmt: skip
            status = getattr(exc, "status", None)
            if isinstance(exc, _HTTPStatusError):
                error = _error_body(exc.content)
                if error is None:  # a gateway page or a bare status
                    raise self._bare_status(action, status, exc.content, idempotent) from exc
                raise self._answered(action, error, status, idempotent) from exc
            code = str(exc.code or "ClientError")
            message = exc.message.decode("utf-8", "replace") if isinstance(exc.message, bytes) else str(exc.message)
            error = {"Code": code, "Message": message, "RequestId": exc.requestId}
            raise self._answered(action, error, status, idempotent) from exc
        except (ValueError, KeyError, TypeError) as exc:  # the body is not JSON, or not SES's shape
            raise self.garbled(action, f"malformed response: {exc!r}", idempotent) from exc
        response = body.get("Response") if isinstance(body, dict) else None
        if not isinstance(response, dict):
            raise self.garbled(action, "response has no 'Response' object", idempotent)
        error = response.get("Error")
        if isinstance(error, dict):  # detected here too: the SDK misses it behind "; charset=utf-8"
            found = {
                "Code": str(error.get("Code") or "FailedOperation"),
                "Message": str(error.get("Message") or ""),
                "RequestId": response.get("RequestId"),
            }
            raise self._answered(action, found, 200, idempotent, raw=body)
        return response

    def _answered(
        self, action: str, error: Mapping[str, Any], status: int | None, idempotent: bool, raw: Any = None
    ) -> MailbridgeError:
        code, message, request_id = error["Code"], error["Message"], error.get("RequestId")
        if raw is None and request_id:  # the server answered with Response.Error; keep it in the same shape
            raw = {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}
        neutral = error_for_code(code, message, provider=self.name, request_id=request_id, raw=raw, http_status=status)
        return answered(neutral, refused=TABLE.rule_for(code).refused, idempotent=idempotent)

    def _bare_status(self, action: str, status: int | None, content: bytes, idempotent: bool) -> MailbridgeError:
        text = f"HTTP {status or 'error'} from Tencent SES: " + content[:200].decode("utf-8", "replace")
        if status is not None and status < 500:  # refused by whatever answered (a gateway, a proxy)
            return TABLE.rule_for(None, status).build(
                text, provider=self.name, provider_code="ServerNetworkError", http_status=status
            )
        return failed(
            Stage.UNKNOWN, text, idempotent=idempotent, provider=self.name, http_status=status,
            provider_code="ServerNetworkError",
        )  # fmt: skip

    def garbled(self, action: str, text: str, idempotent: bool, request_id: str | None = None) -> MailbridgeError:
        return failed(
            Stage.UNKNOWN, text, idempotent=idempotent, provider=self.name, request_id=request_id,
            provider_code="ServerNetworkError",
        )  # fmt: skip

    def require(self, action: str, response: Mapping[str, Any], key: str) -> Any:
        """A field the answer must carry; its absence means we cannot know what happened."""
        if response.get(key) is None:
            raise self.garbled(
                action, f"{action} answer has no {key}", action not in NOT_IDEMPOTENT, response.get("RequestId")
            )
        return response[key]
