"""Direct Mail's :class:`~mailbridge.AsyncBackend`: sends, group sends, reads and writes on the event loop.

Nothing about an operation is written twice. SingleSendMail's parameters and receipt are the
synchronous backend's (:meth:`AliyunBackend.single_send_params`, ``single_send_receipt``); every
other operation here is the synchronous backend's own request plan (:mod:`._calls`: the same
parameters on the wire, the same parsing and paging rules), executed call by call over
:class:`~._async_transport.AsyncDirectMailTransport` instead of the blocking transport. DM's quota
refusal is translated by the same :func:`~._backend.quota_translated`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from mailbridge import (
    AccountSummary,
    DeliveryEvent,
    DeliveryQuery,
    Group,
    Member,
    Message,
    Operation,
    Page,
    SendReceipt,
    StatisticsRow,
    Tag,
    Template,
)
from mailbridge._flow import adrive

from ._async_transport import AsyncDirectMailTransport
from ._backend import quota_translated
from ._calls import Call, Plan

if TYPE_CHECKING:
    import httpx

    from ._attachments import AsyncAttachmentUploader
    from ._backend import AliyunBackend

__all__ = ["AsyncAliyunBackend"]

T = TypeVar("T")


class AsyncAliyunBackend:
    """The awaited face of one :class:`AliyunBackend` (its config, plans and parsing), bound to one event loop.

    ``transport`` *(optional)*: an ``httpx.AsyncBaseTransport`` for unit tests.
    """

    def __init__(self, backend: AliyunBackend, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.backend = backend
        self.api = AsyncDirectMailTransport(backend.api, transport=transport)
        self._transport = transport
        self._uploader: AsyncAttachmentUploader | None = None  # built on the first attachment

    def __repr__(self) -> str:
        return f"<AsyncAliyunBackend {self.backend.describe()}>"

    async def aclose(self) -> None:
        await self.api.aclose()
        if self._uploader is not None:
            await self._uploader.aclose()

    async def _run(self, plan: Plan[T]) -> T:
        """Execute a request plan of the synchronous backend, call by call, awaited."""
        return await adrive(plan, self._execute)

    async def _execute(self, call: Call) -> dict[str, Any]:
        if not call.is_send:
            return await self.api.call(call.action, call.params, operation=str(call.operation))
        with quota_translated(call.operation):
            return await self.api.call(call.action, call.params, operation=str(call.operation), is_send=True)

    # ------------------------------------------------------------------ sending

    async def send(self, message: Message) -> SendReceipt:
        """:meth:`AliyunBackend.send`, awaited (the same parameters, receipt and quota refusal)."""
        params = self.backend.single_send_params(message)
        if message.attachments:  # OpenPlatform grants and OSS uploads, awaited, before SingleSendMail (._attachments)
            params.update(await self._attachments().upload(message.attachments))
        body = await self._execute(Call("SingleSendMail", params, Operation.SEND, is_send=True))
        return self.backend.single_send_receipt(message, body)

    def _attachments(self) -> AsyncAttachmentUploader:
        if self._uploader is None:
            from ._attachments import AsyncAttachmentUploader

            self._uploader = AsyncAttachmentUploader(self.backend._attachments(), transport=self._transport)
        return self._uploader

    async def send_to_group(self, group: Group, message: Message) -> SendReceipt:
        """:meth:`AliyunBackend.send_to_group` (BatchSendMail, after DescTemplate for a stored template)."""
        return await self._run(self.backend.plan_send_to_group(group, message))

    # ------------------------------------------------------------------ groups and members

    async def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        return await self._run(self.backend.plan_create_group(name, description, alias))

    async def delete_group(self, group: Group) -> None:
        await self._run(self.backend.plan_delete_group(group))

    async def find_members(self, group: Group, emails: Sequence[str]) -> Mapping[str, str] | None:
        return await self._run(self.backend.plan_find_members(group, emails))

    async def remove_members(self, group: Group, emails: Sequence[str]) -> None:
        await self._run(self.backend.plan_remove_members(group, emails))

    # ------------------------------------------------------------------ tags and templates

    async def create_tag(self, name: str, description: str | None = None) -> Tag:
        return await self._run(self.backend.plan_create_tag(name, description))

    async def rename_tag(self, tag: Tag, new_name: str) -> Tag:
        return await self._run(self.backend.plan_rename_tag(tag, new_name))

    async def delete_tag(self, tag: Tag) -> None:
        await self._run(self.backend.plan_delete_tag(tag))

    async def create_template(
        self, name: str, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        return await self._run(self.backend.plan_create_template(name, subject, html, text))

    async def update_template(
        self, template: Template, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        return await self._run(self.backend.plan_update_template(template, subject, html, text))

    async def delete_template(self, template: Template) -> None:
        await self._run(self.backend.plan_delete_template(template))

    # ------------------------------------------------------------------ reads

    async def list_groups(self, *, keyword: str | None, cursor: str | None, page_size: int) -> Page[Group]:
        return await self._run(self.backend.plan_list_groups(keyword, cursor, page_size))

    async def get_group(self, group_id: str) -> Group:
        return await self._run(self.backend.plan_get_group(group_id))

    async def list_members(self, group: Group, *, cursor: str | None, page_size: int) -> Page[Member]:
        return await self._run(self.backend.plan_list_members(group, cursor, page_size))

    async def query_deliveries(
        self, query: DeliveryQuery, *, cursor: str | None, page_size: int
    ) -> Page[DeliveryEvent]:
        return await self._run(self.backend.plan_query_deliveries(query, cursor, page_size))

    async def account_summary(self) -> AccountSummary:
        return await self._run(self.backend.plan_account_summary())

    async def statistics(self, start: str, end: str) -> list[StatisticsRow]:
        return await self._run(self.backend.plan_statistics(start, end))

    async def list_tags(self) -> list[Tag]:
        return await self._run(self.backend.plan_list_tags())

    async def list_templates(self) -> list[Template]:
        return await self._run(self.backend.plan_list_templates())

    async def get_template(self, template_id: str) -> Template:
        return await self._run(self.backend.plan_get_template(template_id))
