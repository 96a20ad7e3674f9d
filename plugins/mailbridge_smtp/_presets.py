"""The two clouds' SMTP relays: hosts, ports, TLS, limits and header rules (reference part 2, section 8).

A preset is what ``smtp://ADDRESS:PASSWORD@?preset=aliyun&region=cn-hangzhou`` selects. Everything in it is
declared data; the backend applies it (limits through the core, the rest before any connection).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping

from attrs import field, frozen

from mailbridge import Feature, Limits, Message, Rate

__all__ = ["PLAIN", "PRESETS", "Preset"]

#: What any SMTP relay can carry: bodies, display names, copies, reply-to, headers, attachments.
SMTP_FEATURES = frozenset(
    {
        Feature.HTML_BODY,
        Feature.TEXT_BODY,
        Feature.SENDER_NAME,
        Feature.CC,
        Feature.BCC,
        Feature.REPLY_TO,
        Feature.REPLY_TO_NAME,
        Feature.HEADERS,
        Feature.ATTACHMENTS,
    }
)
_TAG_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # Direct Mail's TagName rule (seed 002), also for the header


def _no_headers(message: Message) -> dict[str, str]:
    return {}


def _aliyun_trace(message: Message) -> dict[str, str]:
    """``X-AliDM-Trace``: Base64 of ``{"OpenTrace":"1","LinkTrace":"1","TagName":"<tag>"}`` (section 8.1)."""
    if not message.tag:
        return {}
    trace = {"OpenTrace": "1", "LinkTrace": "1", "TagName": message.tag}
    return {"X-AliDM-Trace": base64.b64encode(json.dumps(trace, separators=(",", ":")).encode()).decode("ascii")}


def _aliyun_check(message: Message) -> str | None:
    if message.tag and not _TAG_NAME.match(message.tag):
        return f"tag {message.tag!r} must be 1-128 of A-Z a-z 0-9 _ - (Direct Mail TagName)"
    return None


def _no_check(message: Message) -> str | None:
    return None


@frozen
class Preset:
    """One relay family: ``hosts`` by region, ``tls`` its default mode, ``ports`` the ports it documents
    with their TLS mode (the first one of a mode is that mode's default port)."""

    name: str
    display_name: str
    limits: Limits
    hosts: Mapping[str, str] = field(factory=dict)
    default_region: str | None = None
    tls: str = "ssl"
    ports: Mapping[int, str] = field(factory=dict)
    max_message_bytes: int | None = None
    #: The relay authenticates one sender address: the From must be that address.
    sender_is_login: bool = False
    extra_headers: Callable[[Message], dict[str, str]] = _no_headers
    check: Callable[[Message], str | None] = _no_check


PLAIN = Preset(
    name="",
    display_name="SMTP relay",
    tls="starttls",
    limits=Limits(
        upload_batch_size=1,  # no groups: the number is never used
        # RFC 5321 4.5.3.1.8: a server must accept at least 100 recipients per message.
        recipients_per_send=100,
        # SMTPUTF8: sent only when the server advertises it; inline images: multipart/related, any server takes it.
        features=SMTP_FEATURES | {Feature.SMTPUTF8, Feature.INLINE_IMAGES},
    ),
)

ALIYUN = Preset(
    name="aliyun",
    display_name="Alibaba Cloud Direct Mail SMTP relay",
    hosts={
        "cn-hangzhou": "smtpdm.aliyun.com",
        "ap-southeast-1": "smtpdm-ap-southeast-1.aliyuncs.com",
        "us-east-1": "smtpdm-us-east-1.aliyuncs.com",
        "eu-central-1": "smtpdm-eu-central-1.aliyuncs.com",
    },
    default_region="cn-hangzhou",
    tls="ssl",  # implicit SSL on 465; 25 (blocked on ECS) and 80 take STARTTLS
    ports={465: "ssl", 25: "starttls", 80: "starttls"},
    max_message_bytes=15 * 1024 * 1024,  # section 8.1: 15 MB per message
    sender_is_login=True,  # section 8.1: the login is the full sender address
    extra_headers=_aliyun_trace,
    check=_aliyun_check,
    limits=Limits(
        upload_batch_size=1,
        recipients_per_send=30,  # section 8.1: <= 30 per a sample (unverified)
        attachments_per_send=100,  # section 8.1: <= 100 attachments
        tag_length=128,  # the TagName rule of the API, carried in X-AliDM-Trace
        features=SMTP_FEATURES | {Feature.TAGS},
    ),
)

TENCENT = Preset(
    name="tencent",
    display_name="Tencent Cloud SES SMTP relay",
    hosts={
        "ap-hongkong": "smtp.qcloudmail.com",
        "ap-guangzhou": "gz-smtp.qcloudmail.com",
        "ap-singapore": "sg-smtp.qcloudmail.com",
    },
    default_region="ap-guangzhou",
    tls="ssl",  # section 8.2: 465 SSL; 25 listed but disabled; 587 STARTTLS per one sample only (unverified)
    ports={465: "ssl", 587: "starttls"},
    max_message_bytes=4 * 1024 * 1024,  # section 8.2: the API's 4 MB per mail applies
    sender_is_login=True,
    limits=Limits(
        upload_batch_size=1,
        recipients_per_send=50,  # the API's Destination <= 50 ("otherwise the API's checks apply")
        attachments_per_send=10,  # the API's FailedOperation.TooManyAttachments: 10
        rates={"send": Rate(20)},  # section 8.2: 20 calls/s per appId
        # section 8.2: no Cc/Bcc; Reply-To "not used" (so refused rather than silently dropped).
        features=SMTP_FEATURES - {Feature.CC, Feature.BCC, Feature.REPLY_TO, Feature.REPLY_TO_NAME},
    ),
)

PRESETS: dict[str, Preset] = {p.name: p for p in (ALIYUN, TENCENT)}
