"""Direct Mail sends for asyncio: the synchronous transport's requests, carried by an ``httpx.AsyncClient``.

Nothing about a call is written twice: :meth:`DirectMailTransport.build` signs the request (an
``httpx.Request`` is transport-neutral), :class:`mailbridge._ahttp.AsyncGuardedHTTP` carries it with
the same per-request deadline and write tracking as the synchronous seam, and
:meth:`DirectMailTransport.no_answer` / :meth:`~DirectMailTransport.interpret` apply the same outcome
rule, decoding and error table. :class:`AsyncAliyunBackend` builds SingleSendMail's parameters and
receipt with the synchronous backend's own methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from mailbridge import ContentRejected, Message, Operation, SendReceipt
from mailbridge._ahttp import AsyncGuardedHTTP, async_guarded_transport
from mailbridge._http import CallFailed

from ._transport import DirectMailTransport, is_idempotent

if TYPE_CHECKING:
    from ._attachments import AsyncAttachmentUploader
    from ._backend import AliyunBackend

__all__ = ["AsyncAliyunBackend", "AsyncDirectMailTransport"]


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


class AsyncAliyunBackend:
    """Direct Mail's :class:`~mailbridge.AsyncBackend`: SingleSendMail on the event loop."""

    def __init__(self, backend: AliyunBackend, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.backend = backend
        self.api = AsyncDirectMailTransport(backend.api, transport=transport)
        self._transport = transport
        self._uploader: AsyncAttachmentUploader | None = None  # built on the first attachment

    def __repr__(self) -> str:
        return f"<AsyncAliyunBackend {self.backend.describe()}>"

    async def send(self, message: Message) -> SendReceipt:
        """:meth:`AliyunBackend.send`, awaited (the same parameters, receipt and quota refusal)."""
        from ._backend import quota_refusal

        params = self.backend.single_send_params(message)
        if message.attachments:  # OpenPlatform grants and OSS uploads, awaited, before SingleSendMail (._attachments)
            params.update(await self._attachments().upload(message.attachments))
        try:
            body = await self.api.call("SingleSendMail", params, operation=str(Operation.SEND), is_send=True)
        except ContentRejected as exc:
            if (quota := quota_refusal(exc, Operation.SEND)) is not None:
                raise quota from exc
            raise
        return self.backend.single_send_receipt(message, body)

    def _attachments(self) -> AsyncAttachmentUploader:
        if self._uploader is None:
            from ._attachments import AsyncAttachmentUploader

            self._uploader = AsyncAttachmentUploader(self.backend._attachments(), transport=self._transport)
        return self._uploader

    async def aclose(self) -> None:
        await self.api.aclose()
        if self._uploader is not None:
            await self._uploader.aclose()
