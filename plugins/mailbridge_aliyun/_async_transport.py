"""Direct Mail sends for asyncio: the synchronous transport's requests, carried by an ``httpx.AsyncClient``.

Nothing about a call is written twice: :meth:`DirectMailTransport.build` signs the request (an
``httpx.Request`` is transport-neutral), :class:`mailbridge._ahttp.AsyncGuardedHTTP` carries it with
the same per-request deadline and write tracking as the synchronous seam, and
:meth:`DirectMailTransport.no_answer` / :meth:`~DirectMailTransport.interpret` apply the same outcome
rule, decoding and error table. :class:`~._async_backend.AsyncAliyunBackend` runs the synchronous
backend's request plans over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from mailbridge._ahttp import AsyncGuardedHTTP, async_guarded_transport
from mailbridge._http import CallFailed

from ._transport import DirectMailTransport, is_idempotent

__all__ = ["AsyncDirectMailTransport"]


class AsyncDirectMailTransport:
    """Sends the calls ``sync`` builds over one :class:`httpx.AsyncClient` (bound to one event loop).

    ``transport`` *(optional)*: an ``httpx.AsyncBaseTransport`` for unit tests.
    """

    def __init__(self, sync: DirectMailTransport, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.sync = sync
        timeout = sync.http.timeout
        self.client = httpx.AsyncClient(
            base_url=sync.endpoint,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=True,
            transport=transport or async_guarded_transport(verify=True),
            follow_redirects=False,
        )
        self.http = AsyncGuardedHTTP(self.client, timeout=timeout)

    def __repr__(self) -> str:
        return f"AsyncDirectMailTransport({self.sync.endpoint!r}, signature={self.sync.signature!r})"

    async def aclose(self) -> None:
        await self.client.aclose()

    async def call(
        self, action: str, params: Mapping[str, Any], *, operation: str, is_send: bool = False
    ) -> dict[str, Any]:
        """:meth:`DirectMailTransport.call`, awaited: the decoded body or the same neutral error."""
        idempotent = is_idempotent(action, is_send=is_send)
        request = self.sync.build(action, params)  # headers (User-Agent, signature) as the sync client sends them
        try:
            response = await self.http.send(request, idempotent=idempotent)
        except CallFailed as exc:
            raise self.sync.no_answer(exc, operation, idempotent) from (exc.__cause__ or exc)
        return self.sync.interpret(response, operation, idempotent)
