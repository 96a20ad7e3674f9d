"""Templates by name: one client's name -> id look-ups, its catalog, and sends by template name.

A template's neutral identity is its name, so ``Message(template="welcome")`` means the same
on every provider and can fail over: each client resolves the name to its own provider's id
(cached per client; a provider that no longer knows a cached id clears the cache and the send
is tried once more with a fresh look-up, which is safe because the provider refused it). A send
without ``subject`` takes the template's, rendered with ``template_data`` for a single send
(so no cloud is trusted to fill variables in a subject given at send time) and left to the
provider's per-member rendering for a group send.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar, cast

from ._catalog import CatalogEntry, TemplateCatalog, catalog_off, content_digest, open_catalog
from ._exceptions import InvalidRequest, TemplateNotFound, UnsupportedFeature
from ._flow import Flow, drive
from ._limits import Feature, Operation
from ._models import TEMPLATE_PARTS, Message, SendResult, Template
from ._templating import render_template
from ._validation import check_message

if TYPE_CHECKING:
    import os

    from ._backend import Backend
    from ._client import Client

__all__ = ["SEND_CACHE_SECONDS", "TemplateResolver", "resolves_template_names"]

log = logging.getLogger("mailbridge")
F = TypeVar("F", bound=Callable[..., SendResult])

#: A look-up of :meth:`TemplateResolver.finding`: a backend method's name and its arguments.
Lookup: TypeAlias = tuple[str, ...]

#: How long a send reuses a template it looked up (its id and subject), in seconds.
SEND_CACHE_SECONDS = 60.0


class TemplateResolver:
    """The template state of one :class:`~mailbridge.Client`."""

    def __init__(self, client: Client, catalog: str | os.PathLike[str] | TemplateCatalog | None) -> None:
        self.client = client
        self._catalog_spec = catalog
        self._catalog: TemplateCatalog | None = None
        self._opened = False
        self._ids: dict[str, str] = {}  # name -> provider id
        self._send_cache: dict[str, tuple[float, Template]] = {}  # name or id -> complete template

    # ------------------------------------------------------------------ the catalog

    @property
    def _backend(self) -> Backend:
        return self.client.backend

    @property
    def _outside(self) -> tuple[str, ...]:
        """The parts this provider cannot store."""
        return tuple(p for p in TEMPLATE_PARTS if p not in self._backend.template_parts)

    @property
    def _account(self) -> str:
        return str(self._backend.rate_limit_key)

    @property
    def catalog(self) -> TemplateCatalog | None:
        """The catalog (opened on first use), None when it is ``off``."""
        if not self._opened:
            self._catalog = open_catalog(self._catalog_spec)
            self._opened = True
        return self._catalog

    def require_catalog(self, parts: Mapping[str, str | None]) -> None:
        """Before a create/update call: refuse what would be lost, make sure the catalog is writable."""
        if not self._outside:
            return
        catalog = self.catalog
        if catalog is None:
            lost = [p for p in self._outside if parts.get(p) is not None]
            if lost:
                raise UnsupportedFeature(
                    f"{self._backend.display_name} templates cannot store a {' or '.join(lost)} part and the "
                    "template catalog is off (template_catalog=off); set a catalog to keep it",
                    provider=self.client.provider,
                )
            return
        catalog.check()

    def remember(self, stored: Template, given: Mapping[str, str | None]) -> Template:
        """After a create/update: record what the cloud did not take; return the complete template."""
        wanted = {p: given.get(p) for p in TEMPLATE_PARTS}
        cloud = stored.parts()
        kept = {p: wanted[p] for p in TEMPLATE_PARTS if p in self._outside or wanted[p] != cloud[p]}
        catalog = self.catalog if self._outside or kept else None
        if catalog is not None:
            if kept:
                catalog.put(self._account, stored.name, CatalogEntry(stored.id, kept, content_digest(cloud)))
            else:
                catalog.delete(self._account, stored.name)
        self._ids[stored.name] = stored.id
        if catalog is None and kept:  # catalog off: the parts the cloud changed are what it holds
            return self.complete(stored)
        return stored.with_parts(wanted)

    def complete(self, cloud: Template) -> Template:
        """A template read from the cloud, with the parts the catalog holds for it, or ``missing``."""
        if not self._outside:
            return cloud
        catalog = self.catalog
        entry = catalog.get(self._account, cloud.name) if catalog is not None else None
        if entry is not None and entry.template_id == cloud.id and entry.cloud_digest == content_digest(cloud.parts()):
            return cloud.with_parts(entry.parts)
        if entry is not None:
            log.warning(
                "%s: template %r changed outside mailbridge since its catalog entry was written; its %s unknown",
                self.client.provider,
                cloud.name,
                " and ".join(self._outside) + (" is" if len(self._outside) == 1 else " are"),
            )
        return cloud.with_parts(dict.fromkeys(self._outside), self._outside)

    def drop(self, template: Template) -> None:
        """After a delete: remove the catalog entry."""
        catalog = self.catalog if self._outside else None
        if catalog is not None:
            catalog.delete(self._account, template.name)

    def close(self) -> None:
        """Close the catalog this client opened (one passed in belongs to the caller)."""
        if self._catalog is not None and not isinstance(self._catalog_spec, TemplateCatalog):
            self._catalog.close()
        self._catalog, self._opened = None, False

    # ------------------------------------------------------------------ look-ups

    def find(self, key: str | Template) -> Template:
        """The cloud's template named ``key``, else the one with that id; :class:`TemplateNotFound`."""
        return drive(self.finding(key), self.look_up)

    def look_up(self, request: Lookup) -> Any:
        """One look-up of :meth:`finding`: the backend's method ``request[0]`` with the arguments that follow,
        through the client (paced, retried, errors tagged)."""
        method, *args = request
        return self.client._call(Operation.TEMPLATES, getattr(self._backend, method), *args)

    def finding(self, key: str | Template) -> Flow[Template]:
        """:meth:`find` as a flow (:mod:`mailbridge._flow`): its effects are the look-ups
        (``("get_template", id)``, ``("list_templates",)``), an unknown id is the :class:`TemplateNotFound`
        thrown in; it returns the template. The async client drives it too, natively."""
        if isinstance(key, Template):
            found: Template = yield ("get_template", key.id)
            if found.name != key.name:
                raise TemplateNotFound(
                    f"template id {key.id} on {self.client.provider} is now {found.name!r}, not {key.name!r}",
                    provider=self.client.provider,
                )
            self._ids[found.name] = found.id
            return found
        key = key.strip()
        if not key:
            raise InvalidRequest("a template name or id is needed")
        cached = self._ids.get(key)
        if cached is not None:
            try:
                hit: Template | None = yield ("get_template", cached)
            except TemplateNotFound:
                hit = None
            if hit is not None and hit.name == key:
                return hit
            self._ids.pop(key, None)
        summaries: list[Template] = yield ("list_templates",)
        for summary in summaries:
            if summary.name == key:
                self._ids[key] = summary.id
                listed: Template = yield ("get_template", summary.id)
                return listed
        try:
            found = yield ("get_template", key)
        except TemplateNotFound:
            raise TemplateNotFound(
                f"no template named {key!r} (nor with that id) on {self.client.provider}", provider=self.client.provider
            ) from None
        self._ids[found.name] = found.id
        return found

    def completes_offline(self) -> bool:
        """Whether :meth:`complete` reads nothing (the provider stores every part, or the catalog is off)."""
        if self._opened:
            return not self._outside or self._catalog is None
        return not self._outside or catalog_off(self._catalog_spec)

    def catalog_is_off(self) -> bool:
        """Whether the catalog is ``off`` (then no step of this resolver reads or writes one)."""
        return self._catalog is None if self._opened else catalog_off(self._catalog_spec)

    def forget(self, template: Template) -> None:
        """Drop every cached look-up of this template."""
        self._ids.pop(template.name, None)
        for key in (template.name, template.id):
            self._send_cache.pop(key, None)

    # ------------------------------------------------------------------ sends

    @staticmethod
    def _key(message: Message) -> str | None:
        if message.template is not None:
            return message.template
        if message.template_id is not None and not message.subject:
            return message.template_id  # a send by id without subject takes the template's
        return None

    def cached(self, message: Message) -> bool:
        """Whether a send of this message would reuse an earlier look-up."""
        key = self._key(message)
        hit = self._send_cache.get(key) if key is not None else None
        return hit is not None and self.client._clock() - hit[0] < SEND_CACHE_SECONDS

    def forget_message(self, message: Message) -> None:
        key = self._key(message)
        if key is not None:
            hit = self._send_cache.pop(key, None)
            self._ids.pop(key, None)
            if hit is not None:
                self._ids.pop(hit[1].name, None)

    def sendable(self, key: str, now: float) -> Template | None:
        """The template a send by ``key`` looked up less than :data:`SEND_CACHE_SECONDS` before ``now``."""
        hit = self._send_cache.get(key)
        return hit[1] if hit is not None and now - hit[0] < SEND_CACHE_SECONDS else None

    def keep_sendable(self, key: str, template: Template, since: float) -> Template:
        """Cache the template a send by ``key`` looked up at ``since`` (the client's clock)."""
        self._send_cache[key] = (since, template)
        return template

    def send_again(self, message: Message, resolved: Message, exc: TemplateNotFound, *, was_cached: bool) -> bool:
        """After the provider refused ``resolved``'s template as unknown (``exc``): forget the look-up and say
        whether to resolve ``message`` afresh and send once more (only a cached look-up, nothing sent)."""
        if resolved is message or exc.partial_result or exc.maybe_sent:
            return False
        self.forget_message(message)
        if was_cached:
            log.info(
                "%s: template %s unknown to the provider; looking it up again", self.client.provider, message.template
            )
        return was_cached

    def resolve_message(self, message: Message, *, group_send: bool) -> Message:
        """``message`` with this provider's ``template_id`` and, if it has none, the template's subject."""
        key = self.checked_key(message, group_send=group_send)
        if key is None:
            return message
        now = self.client._clock()
        template = self.sendable(key, now) or self.keep_sendable(key, self.complete(self.find(key)), now)
        return self.resolved(message, template, group_send=group_send)

    def checked_key(self, message: Message, *, group_send: bool) -> str | None:
        """The template name (or id) a send must look up, None if none; bad input refused before any look-up."""
        key = self._key(message)
        if key is None:
            return None
        if message.template is not None and message.template_id is not None:
            raise InvalidRequest("give a template name or a provider template id, not both")
        if message.html or message.text:
            raise InvalidRequest("give either a body (html/text) or a template, not both")
        if group_send and message.to:
            raise InvalidRequest("a group send takes its recipients from the group; give no 'to' addresses")
        if group_send:
            self.client._require(Feature.BATCH_SEND)
        if not self.client.ignore_unsupported_features:  # bad input fails before the look-up's calls
            placeholder = message.evolve(template_id=message.template_id or key, subject=message.subject or key)
            check_message(
                placeholder, self.client.limits, self.client.provider, ignore_unsupported=False, group_send=group_send
            )
        return key

    def resolved(self, message: Message, template: Template, *, group_send: bool) -> Message:
        """``message`` sending ``template``: its id and, without a subject of its own, the template's."""
        subject = message.subject
        if not subject:
            if template.subject is None:
                raise InvalidRequest(
                    f"template {template.name!r} on {self.client.provider} has no known subject "
                    f"({self._backend.display_name} templates cannot store one and the template catalog has no "
                    "record of it): give a subject, or update the template with mailbridge",
                    provider=self.client.provider,
                )
            subject = template.subject if group_send else render_template(template.subject, message.template_data)
        return message.evolve(template_id=template.id, subject=subject)


def resolves_template_names(method: F) -> F:
    """Decorate ``Client.send``/``send_to_group``: resolve ``Message.template`` for this client first.

    If the provider refuses a cached template id as unknown (nothing was sent), the cache is
    cleared and the send is tried once more with a fresh look-up.
    """
    group_send = method.__name__ == "send_to_group"

    @functools.wraps(method)
    def wrapper(client: Client, *args: Any, **kwargs: Any) -> SendResult:
        if "message" in kwargs:
            message = kwargs.pop("message")
        else:
            *head, message = args
            args = tuple(head)
        resolver = client._templates
        was_cached = resolver.cached(message)
        resolved = resolver.resolve_message(message, group_send=group_send)
        try:
            return method(client, *args, resolved, **kwargs)
        except TemplateNotFound as exc:
            if not resolver.send_again(message, resolved, exc, was_cached=was_cached):
                raise
            return method(client, *args, resolver.resolve_message(message, group_send=group_send), **kwargs)

    return cast(F, wrapper)
