"""What a backend declares about itself: its limits, rates and optional features.

The core chunks, splits, paginates, rate-limits and validates from these declarations,
and the ``mailbridge providers`` matrix is generated from them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from attrs import field, frozen

__all__ = ["Feature", "Limits", "Operation", "Rate"]


class Operation(enum.StrEnum):
    """Neutral operations; rate limits and error contexts are keyed by these."""

    CREATE_GROUP = "create_group"
    LIST_GROUPS = "list_groups"
    GET_GROUP = "get_group"
    DELETE_GROUP = "delete_group"
    UPLOAD = "upload_recipients"
    LIST_MEMBERS = "list_recipients"
    REMOVE_MEMBERS = "remove_recipients"
    SEND = "send"
    SEND_TO_GROUP = "send_to_group"
    BATCH_STATUS = "batch_status"
    DELIVERIES = "deliveries"
    ACCOUNT = "account"
    STATISTICS = "statistics"
    DOMAINS = "domains"
    SENDERS = "senders"
    TAGS = "tags"
    TEMPLATES = "templates"
    SUPPRESSIONS = "suppressions"


class Feature(enum.StrEnum):
    """Optional capabilities. A backend lacking one raises ``UnsupportedFeature`` for it."""

    HTML_BODY = "html_body"
    TEXT_BODY = "text_body"
    TEMPLATE_SEND = "template_send"
    SENDER_NAME = "sender_name"
    CC = "cc"
    BCC = "bcc"
    REPLY_TO = "reply_to"
    REPLY_TO_NAME = "reply_to_name"
    HEADERS = "headers"
    TAGS = "tags"
    UNSUBSCRIBE = "unsubscribe"
    CLICK_TRACKING = "click_tracking"
    ATTACHMENTS = "attachments"
    INLINE_IMAGES = "inline_images"  # attachments with a content_id, shown by the html body (cid:)
    PROFILE_FIELDS = "profile_fields"
    TEMPLATE_DATA = "template_data"  # per-recipient data stored with group members
    TEMPLATE_DATA_READ = "template_data_read"  # listed members come back with their template data
    BATCH_SEND = "batch_send"  # send a template to a whole group in one call
    SCHEDULED_SEND = "scheduled_send"  # a group send that starts at a given time (send_to_group(schedule=))
    REMOVE_RECIPIENTS = "remove_recipients"
    DELIVERY_ENGAGEMENT = "delivery_engagement"  # opened/clicked flags in delivery events
    ACCOUNT_SUMMARY = "account_summary"
    STATISTICS = "statistics"
    DOMAINS = "domains"  # sender domains: create, list, get (DNS records), verify, delete
    SENDERS = "senders"  # sender addresses: create, list, delete
    SENDER_PASSWORD = "sender_password"  # set a sender address's SMTP password
    REPLY_TO_VERIFICATION = "reply_to_verification"  # verify a sender's reply-to address
    TAG_MANAGEMENT = "tag_management"
    TEMPLATES = "templates"  # create, list, get, update, delete
    SUPPRESSIONS = "suppressions"  # list, add and remove suppressed addresses
    SMTPUTF8 = "smtputf8"  # non-ASCII addresses (internationalised local parts and domains, RFC 6531)


@frozen
class Rate:
    """``calls`` requests per ``per`` seconds (``per`` a whole number of seconds)."""

    calls: int
    per: int = 1

    def __str__(self) -> str:
        return f"{self.calls}/s" if self.per == 1 else f"{self.calls}/{self.per}s"


def _features(value: Iterable[Feature | str]) -> frozenset[Feature]:
    return frozenset(Feature(v) for v in value)


def _rates(value: Mapping[Operation | str, Rate]) -> dict[str, Rate]:
    return {str(Operation(k)) if k != "*" else "*": v for k, v in value.items()}


def _filters(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


@frozen
class Limits:
    """A backend's declared limits. ``None`` means "no limit the core must enforce".

    ``rates`` maps an :class:`Operation` (or ``"*"`` for every other operation) to a
    :class:`Rate`. ``delivery_query_window`` is the longest window one delivery query may
    span (``delivery_query_by_day`` when each query must stay within one calendar day in
    ``timezone``); ``delivery_retention`` how far back the provider keeps delivery data.
    ``delivery_filters`` names the :class:`DeliveryQuery` filters the backend applies
    itself; the core applies the others to what comes back, except those in
    ``unsupported_delivery_filters`` (the events do not carry the field), which raise
    :class:`UnsupportedFeature`.
    """

    upload_batch_size: int
    recipients_per_send: int
    remove_batch_size: int = 1
    max_group_size: int | None = None
    max_groups: int | None = None
    group_name_length: int | None = None
    cc_per_send: int | None = None
    bcc_per_send: int | None = None
    subject_length: int | None = None
    sender_name_length: int | None = None
    headers_per_send: int | None = None
    tag_length: int | None = None
    template_data_bytes: int | None = None
    attachments_per_send: int | None = None
    attachments_total_bytes: int | None = None
    list_page_size: int = 100
    delivery_page_size: int = 100
    delivery_query_window: dt.timedelta | None = None
    delivery_query_by_day: bool = False
    delivery_retention: dt.timedelta | None = None
    delivery_filters: frozenset[str] = field(
        default=frozenset({"recipient", "sender", "message_id", "status", "tag"}), converter=_filters
    )
    unsupported_delivery_filters: frozenset[str] = field(default=frozenset(), converter=_filters)
    timezone: dt.tzinfo = dt.UTC
    async_upload: bool = False
    dedups_members: bool = True  # the provider skips (and reports) addresses the group has; False: the core reads them
    rates: dict[str, Rate] = field(factory=dict, converter=_rates, hash=False)
    features: frozenset[Feature] = field(factory=frozenset, converter=_features)
    suppression_batch_size: int = 100  # addresses per add_/remove_suppressions call

    def rate_for(self, operation: Operation | str) -> Rate | None:
        """The declared rate for an operation, falling back to ``"*"``."""
        return self.rates.get(str(operation)) or self.rates.get("*")

    def supports(self, feature: Feature | str) -> bool:
        # A Feature (a StrEnum) is found as such; anything else is checked to be a Feature's value.
        return feature in self.features or Feature(feature) in self.features

    def evolve(self, **changes: Any) -> Limits:
        return attrs.evolve(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for ``mailbridge providers --json``."""
        out: dict[str, Any] = {}
        for a in attrs.fields(Limits):
            value = getattr(self, a.name)
            if isinstance(value, dt.timedelta):
                value = value.total_seconds()
            elif isinstance(value, frozenset):
                value = sorted(str(v) for v in value)
            elif isinstance(value, dict):
                value = {k: str(v) for k, v in sorted(value.items())}
            elif isinstance(value, dt.tzinfo):
                value = str(value)
            out[a.name] = value
        return out
