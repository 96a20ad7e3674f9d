"""A canned SES server at the HTTP level: an ``httpx.MockTransport`` under the backend's HTTP seam.

The backend sends the SDK's signed requests through the core's guarded httpx client
(``mailbridge._http``). Swapping that client's transport replaces only the socket: the SDK
still signs and serialises the request, the seam builds the response from raw bytes, and the
SDK and the backend decode it exactly as from a real server. Every request is counted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from mailbridge_tencent import TencentBackend

from mailbridge import Secret
from mailbridge._http import GuardedHTTP

SECRET_ID, SECRET_KEY = "AKIDmailbridgeFuzzSecretId0000", "mailbridge-fuzz-secret-key-tencent"
#: (action, params) -> the Response object, or (status, body bytes, content type) for raw answers.
Handler = Callable[[str, dict[str, Any]], Any]


class CannedSES:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        action = str(request.headers.get("X-TC-Action", ""))
        params = json.loads(request.content.decode() or "{}")
        self.requests.append((action, params))
        answer = self.handler(action, params)
        if isinstance(answer, tuple):
            status, body, content_type = answer
        else:
            status, content_type = 200, "application/json"
            body = json.dumps({"Response": {"RequestId": f"req-{len(self.requests)}", **answer}}).encode()
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    def actions(self) -> list[str]:
        return [action for action, _ in self.requests]


def canned_backend(handler: Handler) -> tuple[TencentBackend, CannedSES]:
    """A TencentBackend whose HTTP is answered by ``handler``."""
    backend = TencentBackend(
        secret_id=SECRET_ID, secret_key=Secret(SECRET_KEY), endpoint="http://127.0.0.1:9", timeout=5
    )
    canned = CannedSES(handler)
    connection = backend._connection
    connection.client.close()
    connection.client = httpx.Client(transport=httpx.MockTransport(canned), follow_redirects=False)
    connection.http = GuardedHTTP(connection.client, timeout=5)
    return backend, canned
