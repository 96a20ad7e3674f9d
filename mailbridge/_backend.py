"""The backend contract: what a provider plugin implements.

A backend does exactly one provider call per method call, with input the core has
already validated, de-duplicated, chunked and rate-limited against the backend's own
:class:`~mailbridge.Limits`. It translates every provider or transport error into one
:class:`~mailbridge.MailbridgeError` subclass (``raise ... from exc``); nothing else may
escape.

Only :meth:`Backend.from_url` and :meth:`Backend.send` are required. Every other operation is
optional, behind a declared :class:`~mailbridge.Feature` (groups and uploads behind
``Feature.GROUPS``, the delivery log behind ``Feature.DELIVERIES``, templates, domains, senders,
tags, suppressions ...): the client checks the declaration before calling, and the base class
raises :class:`~mailbridge.UnsupportedFeature` for an operation not overridden, so a send-only
provider (an SMTP relay) declares what it has and implements nothing else.

Register a backend as an entry point in the group ``mailbridge.providers``::

    [project.entry-points."mailbridge.providers"]
    myprovider = "mailbridge_myprovider:MyBackend"
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, NoReturn, Self

from ._exceptions import GroupNotFound, UnsupportedFeature
from ._limits import Feature, Limits
from ._models import (
    AccountSummary,
    BatchResult,
    DeliveryEvent,
    DeliveryQuery,
    DeliveryStatus,
    Group,
    Member,
    Message,
    Page,
    Recipient,
    SenderAddress,
    SenderDomain,
    SendReceipt,
    StatisticsRow,
    Suppression,
    SuppressionReason,
    Tag,
    Template,
)
from ._paging import follow_pages
from ._scrub import register_secret_fields
from ._templating import NEUTRAL_SYNTAX, TemplateSyntax
from ._url import ProviderURL, Secret

if TYPE_CHECKING:
    from ._async_backend import AsyncBackend
    from ._events import EventAuth, EventRequest

__all__ = ["Backend"]

#: The methods an optional capability is made of: a backend implementing all of them has it
#: (backends written before groups and the delivery log became optional keep working undeclared).
_IMPLEMENTED_BY: Mapping[Feature, tuple[str, ...]] = {
    Feature.GROUPS: ("create_group", "list_groups", "delete_group", "upload_batch", "list_members"),
    Feature.DELIVERIES: ("query_deliveries",),
}


class Backend(abc.ABC):
    """Base class of every provider backend.

    Class attributes to set: ``name`` (the entry-point name), ``display_name`` (for
    messages), ``limits`` (a :class:`Limits`, whose ``features`` say which optional operations
    exist), and optionally ``install_hint``, ``secret_fields`` and ``environment``.

    ``Feature.GROUPS`` and ``Feature.DELIVERIES`` are also implied by implementing their
    methods (``create_group``, ``list_groups``, ``delete_group``, ``upload_batch`` and
    ``list_members``; ``query_deliveries``); declaring one without its methods is a ``TypeError``
    when the class is defined.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    limits: ClassVar[Limits]
    template_syntax: ClassVar[TemplateSyntax] = NEUTRAL_SYNTAX  # how the provider writes {{variables}}
    #: The provider's raw delivery codes and the neutral status each maps to before the SMTP
    #: reply refines it (``"Status=2": INVALID_ADDRESS``); docs/semantics.md is generated from it.
    delivery_codes: ClassVar[Mapping[str, DeliveryStatus]] = {}
    #: The template parts the provider stores (the client keeps the others in its template catalog).
    template_parts: ClassVar[frozenset[str]] = frozenset({"subject", "html", "text"})
    #: Names of the request/response fields, headers and parameters whose values are secret
    #: (any case). Masked in every error's ``raw`` and in cassettes (``mailbridge.testing``);
    #: collected from every backend class as it is defined. Extend the default with ``|``.
    secret_fields: ClassVar[frozenset[str]] = frozenset({"Authorization", "Password", "Token"})
    #: The environment variables the backend reads (credentials, region), so that test fixtures
    #: can clear them (``mailbridge.testing``) and documentation can list them.
    environment: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        register_secret_fields(cls.secret_fields)
        limits = getattr(cls, "limits", None)
        if not isinstance(limits, Limits):
            return
        implied = set(limits.features)
        for feature, methods in _IMPLEMENTED_BY.items():
            implemented = all(getattr(cls, m) is not getattr(Backend, m) for m in methods)
            if implemented:
                implied.add(feature)
            elif feature in limits.features:
                missing = [m for m in methods if getattr(cls, m) is getattr(Backend, m)]
                raise TypeError(f"{cls.__name__} declares Feature.{feature.name} but does not implement {missing}")
        if implied != limits.features:
            cls.limits = limits.evolve(features=implied)

    # ---------------------------------------------------------------- construction

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: ProviderURL) -> Self:
        """Build the backend from a parsed URL (credentials from the URL or the environment).

        Raise :class:`ConfigurationError` for anything missing or malformed.
        """

    def describe(self) -> str:
        """A redacted one-line description (shown in the client's repr)."""
        return f"{self.name}://"

    @property
    def rate_limit_key(self) -> str:
        """Identifies the account whose rate limits apply; must not contain a secret."""
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Default: nothing to release."""

    def async_backend(self) -> AsyncBackend | None:
        """A native asyncio implementation of this backend's sends, or None (the default): the
        async client then runs the synchronous methods in worker threads. Called once per async
        client, which closes what it returns (:meth:`AsyncBackend.aclose`)."""
        return None

    def unsupported(self, feature: Feature | str, why: str | None = None) -> NoReturn:
        """Raise :class:`UnsupportedFeature` for ``feature``."""
        text = f"{self.display_name} does not support {Feature(feature).value.replace('_', ' ')}"
        raise UnsupportedFeature(text + (f": {why}" if why else ""), provider=self.name)

    def check_recipient(self, recipient: Recipient) -> str | None:
        """Return why the provider would refuse this recipient, or None.

        Called by the core before any upload call, for rules the generic ``Limits`` cannot
        express (for example a size limit on the serialized template data).
        """
        return None

    # ---------------------------------------------------------------- groups

    def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        """Create an empty recipient group. ``alias``: a provider's second name for the group
        (Direct Mail's ReceiversAlias); providers without one ignore it."""
        self.unsupported(Feature.GROUPS)

    def list_groups(self, *, keyword: str | None, cursor: str | None, page_size: int) -> Page[Group]:
        """One page of groups (``keyword`` filters by name where the provider can)."""
        self.unsupported(Feature.GROUPS)

    def get_group(self, group_id: str) -> Group:
        """A group by id, with current count and status. Default: scan :meth:`list_groups` (bounded, see
        :func:`~mailbridge.follow_pages`)."""
        size = self.limits.list_page_size

        def fetch(cursor: str | None) -> Page[Group]:
            return self.list_groups(keyword=None, cursor=cursor, page_size=size)

        for page in follow_pages(fetch, provider=self.name, operation="get_group"):
            for group in page.items:
                if group.id == group_id:
                    return group
        raise GroupNotFound(f"no group with id {group_id!r}", provider=self.name)

    def delete_group(self, group: Group) -> None:
        """Delete a group and its members."""
        self.unsupported(Feature.GROUPS)

    # ---------------------------------------------------------------- members

    def upload_batch(self, group: Group, recipients: Sequence[Recipient]) -> BatchResult:
        """Add at most ``limits.upload_batch_size`` unique, valid recipients in one call."""
        self.unsupported(Feature.GROUPS)

    def list_members(self, group: Group, *, cursor: str | None, page_size: int) -> Page[Member]:
        """One page of a group's members."""
        self.unsupported(Feature.GROUPS)

    def remove_members(self, group: Group, emails: Sequence[str]) -> None:
        """Remove addresses from a group."""
        self.unsupported(Feature.REMOVE_RECIPIENTS)

    def find_members(self, group: Group, emails: Sequence[str]) -> Mapping[str, str] | None:
        """Which of a few ``emails`` are members (casefolded address -> address as stored), looked up
        one by one where the provider can; None (the default) when the core should list the group."""
        return None

    # ---------------------------------------------------------------- sending

    @abc.abstractmethod
    def send(self, message: Message) -> SendReceipt:
        """Send one message (at most ``limits.recipients_per_send`` recipients in ``to``).

        Raise :class:`OutcomeUnknown` when the request may have reached the provider
        without an answer (read timeout, reset after sending); any other error must mean
        the provider certainly did not accept the message.
        """

    def send_to_group(self, group: Group, message: Message) -> SendReceipt:
        """Send a template to every member of a group in one call.

        A backend declaring ``Feature.SCHEDULED_SEND`` also takes ``schedule`` (an aware,
        future datetime, checked by the core) as a keyword argument.
        """
        self.unsupported(Feature.BATCH_SEND)

    # ---------------------------------------------------------------- delivery & account

    def query_deliveries(self, query: DeliveryQuery, *, cursor: str | None, page_size: int) -> Page[DeliveryEvent]:
        """One page of delivery events within one allowed window."""
        self.unsupported(Feature.DELIVERIES)

    def account_summary(self) -> AccountSummary:
        """Quota and account standing."""
        self.unsupported(Feature.ACCOUNT_SUMMARY)

    def statistics(self, start: str, end: str) -> list[StatisticsRow]:
        """Daily volumes between two ISO dates (inclusive)."""
        self.unsupported(Feature.STATISTICS)

    # ---------------------------------------------------------------- sender domains

    def create_domain(self, name: str) -> SenderDomain:
        """Register a sending domain; the result lists the DNS records it needs (unverified)."""
        self.unsupported(Feature.DOMAINS)

    def list_domains(self) -> list[SenderDomain]:
        self.unsupported(Feature.DOMAINS)

    def get_domain(self, name: str) -> SenderDomain:
        """A domain with its DNS records and their current verification status."""
        self.unsupported(Feature.DOMAINS)

    def verify_domain(self, name: str) -> SenderDomain:
        """Ask the provider to check the domain's DNS records now; return the new state."""
        self.unsupported(Feature.DOMAINS)

    def delete_domain(self, name: str) -> None:
        self.unsupported(Feature.DOMAINS)

    # ---------------------------------------------------------------- sender addresses

    def create_sender(self, address: str, *, kind: str | None = None, reply_to: str | None = None) -> SenderAddress:
        """Register a sender address (``kind``: "transactional" or "batch" where the cloud has it)."""
        self.unsupported(Feature.SENDERS)

    def list_senders(self) -> list[SenderAddress]:
        self.unsupported(Feature.SENDERS)

    def delete_sender(self, sender: SenderAddress) -> None:
        self.unsupported(Feature.SENDERS)

    def set_sender_password(self, sender: SenderAddress, password: Secret) -> None:
        """Set the SMTP password; validate the provider's password rules before any call."""
        self.unsupported(Feature.SENDER_PASSWORD)

    def verify_reply_to(self, sender: SenderAddress) -> None:
        """Start verification of the sender's reply-to address (the provider mails it a link)."""
        self.unsupported(Feature.REPLY_TO_VERIFICATION)

    # ---------------------------------------------------------------- tags

    def list_tags(self) -> list[Tag]:
        self.unsupported(Feature.TAG_MANAGEMENT)

    def create_tag(self, name: str, description: str | None = None) -> Tag:
        self.unsupported(Feature.TAG_MANAGEMENT)

    def rename_tag(self, tag: Tag, new_name: str) -> Tag:
        self.unsupported(Feature.TAG_MANAGEMENT)

    def delete_tag(self, tag: Tag) -> None:
        self.unsupported(Feature.TAG_MANAGEMENT)

    # ---------------------------------------------------------------- templates (neutral {{var}} syntax)

    def create_template(self, name: str, *, subject: str, html: str | None = None, text: str | None = None) -> Template:
        """Store a template given in the neutral syntax (translate with ``template_syntax``).

        Return it as the provider now holds it, read back into the neutral syntax: a part
        outside ``template_parts`` is ``None``, a body the provider derived is what it derived.
        """
        self.unsupported(Feature.TEMPLATES)

    def list_templates(self) -> list[Template]:
        self.unsupported(Feature.TEMPLATES)

    def get_template(self, template_id: str) -> Template:
        """A template by the provider's id, translated back to the neutral syntax.

        Raise :class:`TemplateNotFound` for an id the provider does not have, also one it
        could never issue (the client tries names that way).
        """
        self.unsupported(Feature.TEMPLATES)

    def update_template(
        self, template: Template, *, subject: str, html: str | None = None, text: str | None = None
    ) -> Template:
        """Replace a template's content; return it as the provider now holds it (see create)."""
        self.unsupported(Feature.TEMPLATES)

    def delete_template(self, template: Template) -> None:
        self.unsupported(Feature.TEMPLATES)

    # ---------------------------------------------------------------- pushed events (webhooks)

    @classmethod
    def parse_events(cls, request: EventRequest) -> list[DeliveryEvent]:
        """Parse one request the cloud pushed into neutral events (pure: no network).

        Raise :class:`InvalidRequest` for a body that is not the cloud's format; an event type
        not known gets status ``unknown`` and its raw body.
        """
        raise UnsupportedFeature(f"{cls.display_name} does not push delivery events", provider=cls.name)

    @classmethod  # noqa: B027 - an optional hook: doing nothing is the default
    def authenticate_events(cls, request: EventRequest, auth: EventAuth) -> None:
        """Check the cloud's own proof of origin (signature, account) beyond the receiver's URL
        secret; raise :class:`AuthenticationError` if it fails. Default: nothing more to check."""

    # ---------------------------------------------------------------- suppression list

    def list_suppressions(self, *, cursor: str | None, page_size: int) -> Page[Suppression]:
        """One page of suppressed addresses (every list the provider keeps, account and shared)."""
        self.unsupported(Feature.SUPPRESSIONS)

    def add_suppressions(self, addresses: Sequence[str], reason: SuppressionReason = SuppressionReason.MANUAL) -> None:
        """Suppress valid, unique addresses (at most ``limits.suppression_batch_size`` per call);
        ``reason`` is kept where the provider's list has one."""
        self.unsupported(Feature.SUPPRESSIONS)

    def remove_suppressions(self, addresses: Sequence[str]) -> None:
        """Take addresses off every list the account may edit; absent ones are no error."""
        self.unsupported(Feature.SUPPRESSIONS)


register_secret_fields(Backend.secret_fields)
