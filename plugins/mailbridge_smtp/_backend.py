"""A send-only backend for any SMTP relay, and presets for the two clouds' relays.

``send`` is one SMTP transaction (:mod:`._transport`) for a message built by :mod:`._message`. The backend
declares only what SMTP can do (bodies, display names, copies, reply-to, headers, attachments; tags on Direct
Mail's relay through ``X-AliDM-Trace``); groups, uploads and delivery queries do not exist on a relay and raise
:class:`~mailbridge.UnsupportedFeature` before any connection.

Each preset is a subclass with its own :class:`~mailbridge.Limits` (the core reads limits from the backend's
class), built by :meth:`SmtpBackend.from_url`.
"""

from __future__ import annotations

import functools
import logging
import socket
import ssl
from collections.abc import Sequence
from typing import Any, ClassVar, NoReturn, Self, cast

import attrs

from mailbridge import (
    Backend,
    BatchResult,
    DeliveryEvent,
    DeliveryQuery,
    Group,
    InvalidRequest,
    LimitExceeded,
    Limits,
    Member,
    Message,
    Page,
    ProviderURL,
    Recipient,
    RejectedAddress,
    SenderNotFound,
    SendReceipt,
    UnsupportedFeature,
)

from . import _message
from ._config import SmtpConfig
from ._presets import ALIYUN, PLAIN, TENCENT, Preset
from ._transport import Delivered, deliver

__all__ = ["SmtpBackend"]

log = logging.getLogger("mailbridge.smtp")


@functools.cache
def _local_hostname() -> str:
    """The EHLO name, looked up once (``socket.getfqdn`` may wait on DNS)."""
    name = socket.getfqdn()
    return name if "." in name else "localhost.localdomain"


def queue_id(reply: str) -> str | None:
    """The server's id for the queued message in a reply to DATA, where it gives one.

    ``250 2.0.0 Ok: queued as 4Fq2Xh0Z3Lz9`` (Postfix), ``250 Data Ok: queued as freedom ###envid=6000...``
    (Direct Mail: its EnvId is the id its events carry), ``250 OK id=1tA0bC-000123-4F`` (Exim).
    """
    for marker in ("envid=", "queued as ", " id="):
        index = reply.find(marker)
        if index >= 0:
            rest = reply[index + len(marker) :].split()
            if rest:
                return rest[0].strip("<>.,;")
    return None


class SmtpBackend(Backend):
    """Any SMTP relay: ``smtp://USER:PASSWORD@HOST:PORT?tls=ssl|starttls|none``, or a cloud's relay by preset
    (``smtp://ADDRESS:PASSWORD@?preset=aliyun&region=cn-hangzhou``).

    ``ssl_context`` replaces the default (system trust store, or ``ca_file=`` from the URL); verification of
    the server's certificate and host name stays on either way.
    """

    name = "smtp"
    display_name = PLAIN.display_name
    install_hint = "pip install mailbridge"
    limits: ClassVar[Limits] = PLAIN.limits
    preset: ClassVar[Preset] = PLAIN

    def __init__(self, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> None:
        if config.preset is not self.preset:
            raise TypeError(f"{type(self).__name__} is for the {self.preset.display_name}: use SmtpBackend.for_config")
        self.config = config
        self.ssl_context = ssl_context or ssl.create_default_context(cafile=config.ca_file)

    @classmethod
    def for_config(cls, config: SmtpConfig, *, ssl_context: ssl.SSLContext | None = None) -> SmtpBackend:
        """The backend for a config: the preset's subclass, whose limits are that relay's."""
        return _BY_PRESET[config.preset.name](config, ssl_context=ssl_context)

    @classmethod
    def from_url(cls, url: ProviderURL, *, ssl_context: ssl.SSLContext | None = None) -> Self:
        return cast(Self, cls.for_config(SmtpConfig.from_url(url), ssl_context=ssl_context))

    def describe(self) -> str:
        return self.config.describe()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    @property
    def rate_limit_key(self) -> str:
        return f"smtp:{self.config.account_key}"

    # ---------------------------------------------------------------- sending

    def check(self, message: Message) -> None:
        """The relay's rules the core's limits cannot say; raised before any connection."""
        preset, login = self.preset, self.config.username
        if message.template_id or message.template:
            raise UnsupportedFeature(f"{self.display_name} sends bodies only, not stored templates", provider="smtp")
        if message.provider_options:
            raise InvalidRequest(
                f"{self.display_name} takes no provider_options (got {', '.join(sorted(message.provider_options))}); "
                "put extra header fields in the message's headers",
                provider="smtp",
            )
        if preset.sender_is_login and login and message.sender.casefold() != login.casefold():
            raise SenderNotFound(
                f"the {preset.display_name} sends only as the address it logs in with ({login}), not {message.sender}",
                provider="smtp",
            )
        if problem := preset.check(message):
            raise InvalidRequest(problem, provider="smtp")

    def send(self, message: Message) -> SendReceipt:
        """One SMTP transaction. Recipients the server refused while it took the others are listed in the
        receipt's ``extra["refused"]`` (:class:`~mailbridge.RejectedAddress`, ``code`` the SMTP reply code)."""
        self.check(message)
        envelope = _message.build(message, self.preset.extra_headers(message))
        limit = self.preset.max_message_bytes
        if limit is not None and len(envelope.data) > limit:
            raise LimitExceeded(
                f"the message is {len(envelope.data)} bytes encoded; {self.display_name} takes at most {limit}",
                provider="smtp",
            )
        config = self.config
        if config.local_hostname is None:
            config = _with_hostname(config)
        delivered = deliver(config, envelope, context=self.ssl_context)
        return self._receipt(envelope, delivered)

    def _receipt(self, envelope: _message.Envelope, delivered: Delivered) -> SendReceipt:
        refused = tuple(
            RejectedAddress(email=address, reason=f"{code} {reply}".strip(), code=str(code))
            for address, (code, reply) in delivered.refused.items()
        )
        for rejected in refused:
            log.warning("smtp: %s refused recipient %s: %s", self.config.host, rejected.email, rejected.reason)
        queued = queue_id(delivered.reply)
        extra: dict[str, Any] = {
            "message_id_header": f"<{envelope.message_id}>",
            "reply": f"{delivered.code} {delivered.reply}",
            "refused": refused,
        }
        if queued:
            extra["queue_id"] = queued
        return SendReceipt(
            provider=self.name,
            message_ids=(queued or envelope.message_id,),
            accepted=delivered.accepted,
            request_id=queued,
            extra=extra,
        )

    # ---------------------------------------------------------------- what a relay does not have

    def _send_only(self, what: str) -> NoReturn:
        raise UnsupportedFeature(f"{self.display_name} is send-only: it has no {what}", provider=self.name)

    def create_group(self, name: str, description: str | None = None, *, alias: str | None = None) -> Group:
        self._send_only("recipient groups")

    def list_groups(self, *, keyword: str | None, cursor: str | None, page_size: int) -> Page[Group]:
        self._send_only("recipient groups")

    def get_group(self, group_id: str) -> Group:
        self._send_only("recipient groups")

    def delete_group(self, group: Group) -> None:
        self._send_only("recipient groups")

    def upload_batch(self, group: Group, recipients: Sequence[Recipient]) -> BatchResult:
        self._send_only("recipient groups")

    def list_members(self, group: Group, *, cursor: str | None, page_size: int) -> Page[Member]:
        self._send_only("recipient groups")

    def query_deliveries(self, query: DeliveryQuery, *, cursor: str | None, page_size: int) -> Page[DeliveryEvent]:
        self._send_only("delivery log (an SMTP relay answers the send only)")


def _with_hostname(config: SmtpConfig) -> SmtpConfig:
    return attrs.evolve(config, local_hostname=_local_hostname())


class AliyunSmtpBackend(SmtpBackend):
    """Direct Mail's SMTP relay (section 8.1)."""

    display_name = ALIYUN.display_name
    limits = ALIYUN.limits
    preset = ALIYUN


class TencentSmtpBackend(SmtpBackend):
    """Tencent Cloud SES's SMTP relay (section 8.2)."""

    display_name = TENCENT.display_name
    limits = TENCENT.limits
    preset = TENCENT


_BY_PRESET: dict[str, type[SmtpBackend]] = {"": SmtpBackend, "aliyun": AliyunSmtpBackend, "tencent": TencentSmtpBackend}
