"""mailbridge: one provider-neutral interface to transactional and bulk email clouds.

>>> import mailbridge
>>> client = mailbridge.connect("local:///tmp/mailbridge-doc")   # or aliyun://..., tencent://...
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ._backend import Backend
from ._bounce import refine_status
from ._bulk import SendManyInterrupted, SendManyProgress, SendOutcome
from ._catalog import RedisCatalog, SqliteCatalog, TemplateCatalog
from ._client import Client, RetryPolicy, UploadProgress
from ._connect import connect, connect_failover
from ._csvio import RecipientsFile, UnreadableRow, read_recipients_csv, write_rejected_csv
from ._events import EventAuth, EventRequest, event_key, parse_events
from ._exceptions import (
    AlreadyExists,
    AuthenticationError,
    ConfigurationError,
    ContentRejected,
    GroupNotFound,
    InvalidAddress,
    InvalidRequest,
    LimitExceeded,
    MailbridgeError,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    ProviderNotInstalled,
    ProviderUnavailable,
    QuotaExceeded,
    RateLimited,
    ResourceBusy,
    SenderNotFound,
    TemplateNotFound,
    UnsupportedFeature,
)
from ._health import HealthStore, MemoryHealthStore, RedisHealthStore
from ._idempotency import (
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    SQLiteIdempotencyStore,
    idempotency_store,
)
from ._limits import Feature, Limits, Operation, Rate
from ._models import (
    AccountSummary,
    Attachment,
    Attempt,
    BatchResult,
    BounceType,
    DeliveryEvent,
    DeliveryQuery,
    DeliveryStatus,
    DnsRecord,
    Group,
    GroupStatus,
    Member,
    Message,
    Page,
    Recipient,
    RejectedAddress,
    RemoveReport,
    SenderAddress,
    SenderDomain,
    SendReceipt,
    SendResult,
    StatisticsRow,
    Suppression,
    SuppressionReason,
    Tag,
    Template,
    UploadReport,
)
from ._paging import follow_pages
from ._ratelimit import RateLimiter
from ._reader import CHINA_TIME, ResponseReader
from ._registry import available_providers
from ._scrub import install_log_filter as _install_log_filter
from ._scrub import scrub_text
from ._templating import NEUTRAL_SYNTAX, TemplateSyntax, render_template
from ._url import ProviderURL, Secret, redact_url
from ._url_config import CORE_URL_PARAMS, INSECURE_PARAM, UrlConfig

if TYPE_CHECKING:
    from ._async import AsyncClient, AsyncSendMany, connect_async
    from ._async_backend import AsyncBackend
    from ._async_failover import AsyncFailoverClient, connect_failover_async
    from ._failover import FailoverClient, failover_url
    from ._migrate import (
        GroupPlan,
        GroupResult,
        MigrationPlan,
        MigrationReport,
        Verification,
        migrate,
        plan_migration,
        verify_migration,
    )
    from ._setup_migrate import SetupItem, SetupReport, apply_setup, plan_setup
    from ._webhooks import EventReceiver, EventStore, MemoryEventStore, SQLiteEventStore

# Imported on first use (PEP 562): building a client needs none of these, and asyncio, the
# migration and the webhook machinery cost a cold start ~100 ms.
_LAZY = {
    **dict.fromkeys(["AsyncClient", "AsyncSendMany", "connect_async"], "._async"),
    **dict.fromkeys(["AsyncFailoverClient", "connect_failover_async"], "._async_failover"),
    "AsyncBackend": "._async_backend",
    **dict.fromkeys(["FailoverClient", "failover_url"], "._failover"),
    **dict.fromkeys(
        [
            "GroupPlan",
            "GroupResult",
            "MigrationPlan",
            "MigrationReport",
            "Verification",
            "migrate",
            "plan_migration",
            "verify_migration",
        ],
        "._migrate",
    ),
    **dict.fromkeys(["SetupItem", "SetupReport", "apply_setup", "plan_setup"], "._setup_migrate"),
    **dict.fromkeys(["EventReceiver", "EventStore", "MemoryEventStore", "SQLiteEventStore"], "._webhooks"),
}

__all__ = [
    "CHINA_TIME",
    "CORE_URL_PARAMS",
    "INSECURE_PARAM",
    "NEUTRAL_SYNTAX",
    "AccountSummary",
    "AlreadyExists",
    "AsyncBackend",
    "AsyncClient",
    "AsyncFailoverClient",
    "AsyncSendMany",
    "Attachment",
    "Attempt",
    "AuthenticationError",
    "Backend",
    "BatchResult",
    "BounceType",
    "Client",
    "ConfigurationError",
    "ContentRejected",
    "DeliveryEvent",
    "DeliveryQuery",
    "DeliveryStatus",
    "DnsRecord",
    "EventAuth",
    "EventReceiver",
    "EventRequest",
    "EventStore",
    "FailoverClient",
    "Feature",
    "Group",
    "GroupNotFound",
    "GroupPlan",
    "GroupResult",
    "GroupStatus",
    "HealthStore",
    "IdempotencyStore",
    "InvalidAddress",
    "InvalidRequest",
    "LimitExceeded",
    "Limits",
    "MailbridgeError",
    "Member",
    "MemoryEventStore",
    "MemoryHealthStore",
    "MemoryIdempotencyStore",
    "Message",
    "MigrationPlan",
    "MigrationReport",
    "NotFound",
    "Operation",
    "OutcomeUnknown",
    "Page",
    "PermissionDenied",
    "ProviderNotInstalled",
    "ProviderURL",
    "ProviderUnavailable",
    "QuotaExceeded",
    "Rate",
    "RateLimited",
    "RateLimiter",
    "Recipient",
    "RecipientsFile",
    "RedisCatalog",
    "RedisHealthStore",
    "RedisIdempotencyStore",
    "RejectedAddress",
    "RemoveReport",
    "ResourceBusy",
    "ResponseReader",
    "RetryPolicy",
    "SQLiteEventStore",
    "SQLiteIdempotencyStore",
    "Secret",
    "SendManyInterrupted",
    "SendManyProgress",
    "SendOutcome",
    "SendReceipt",
    "SendResult",
    "SenderAddress",
    "SenderDomain",
    "SenderNotFound",
    "SetupItem",
    "SetupReport",
    "SqliteCatalog",
    "StatisticsRow",
    "Suppression",
    "SuppressionReason",
    "Tag",
    "Template",
    "TemplateCatalog",
    "TemplateNotFound",
    "TemplateSyntax",
    "UnreadableRow",
    "UnsupportedFeature",
    "UploadProgress",
    "UploadReport",
    "UrlConfig",
    "Verification",
    "apply_setup",
    "available_providers",
    "connect",
    "connect_async",
    "connect_failover",
    "connect_failover_async",
    "event_key",
    "failover_url",
    "follow_pages",
    "idempotency_store",
    "migrate",
    "parse_events",
    "plan_migration",
    "plan_setup",
    "read_recipients_csv",
    "redact_url",
    "refine_status",
    "render_template",
    "scrub_text",
    "verify_migration",
    "write_rejected_csv",
]



def _show_as_public(obj: object) -> None:
    """Tracebacks and reprs show the public names (httpx's habit)."""
    if hasattr(obj, "__module__") and getattr(obj, "__module__", "").startswith("mailbridge._"):
        with contextlib.suppress(AttributeError, TypeError):
            obj.__module__ = "mailbridge"


for _name in __all__:
    if _name not in _LAZY:
        _show_as_public(globals()[_name])
del _name
_install_log_filter()


def __getattr__(name: str) -> object:
    if name == "__version__":
        from importlib.metadata import version

        return version("mailbridge")
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(_LAZY[name], __name__), name)
        _show_as_public(value)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mailbridge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY} - {"TYPE_CHECKING", "contextlib"})
