"""A canned SES server at the HTTP level: a ``requests`` transport adapter mounted on the SDK's session.

The Tencent SDK sends through ``requests.Session`` (reference B.2). Mounting this adapter replaces
only the socket: the SDK still signs and serialises the request, ``requests`` and ``urllib3``
build the response from raw bytes, and the SDK and the backend decode it exactly as from a
real server. Every request is counted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import requests
import urllib3
from mailbridge_tencent import TencentBackend
from requests.adapters import BaseAdapter, HTTPAdapter

from mailbridge import Secret

SECRET_ID, SECRET_KEY = "AKIDmailbridgeFuzzSecretId0000", "mailbridge-fuzz-secret-key-tencent"
#: (action, params) -> the Response object, or (status, body bytes, content type) for raw answers.
Handler = Callable[[str, dict[str, Any]], Any]


class CannedSES(BaseAdapter):  # type: ignore[misc]
    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        action = str(request.headers.get("X-TC-Action", ""))
        raw = request.body or b"{}"
        params = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        self.requests.append((action, params))
        answer = self.handler(action, params)
        if isinstance(answer, tuple):
            status, body, content_type = answer
        else:
            status, content_type = 200, "application/json"
            body = json.dumps({"Response": {"RequestId": f"req-{len(self.requests)}", **answer}}).encode()
        raw_response = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            headers={"Content-Type": content_type, "Content-Length": str(len(body))},
            status=status,
            preload_content=False,
            decode_content=False,
        )
        return HTTPAdapter().build_response(request, raw_response)

    def close(self) -> None:
        pass

    def actions(self) -> list[str]:
        return [action for action, _ in self.requests]


def canned_backend(handler: Handler) -> tuple[TencentBackend, CannedSES]:
    """A TencentBackend whose HTTP is answered by ``handler``."""
    backend = TencentBackend(
        secret_id=SECRET_ID, secret_key=Secret(SECRET_KEY), endpoint="http://127.0.0.1:9", timeout=5
    )
    adapter = CannedSES(handler)
    backend._client.request.conn._session.mount("http://", adapter)
    return backend, adapter
