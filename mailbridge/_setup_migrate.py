"""``migrate --setup``: recreate sender domains, sender addresses and templates on the target.

``plan_setup()`` lists every object that would be created (nothing is written);
``apply_setup()`` creates what is missing, asks the target to verify each domain, and
reports the DNS records still to publish. Running it again after the records are in
place verifies them; objects that already exist are left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from attrs import frozen

from ._client import Client
from ._exceptions import AlreadyExists, MailbridgeError, NotFound, UnsupportedFeature
from ._models import DnsRecord, SenderAddress, SenderDomain, Template

__all__ = ["SetupItem", "SetupReport", "apply_setup", "plan_setup"]

log = logging.getLogger("mailbridge.migrate")


@frozen
class SetupItem:
    """One object on the target: what it is, what was (or would be) done, and any records to publish."""

    kind: str  # "domain", "sender", "template"
    name: str
    # planned: "create", "exists", "failed"; applied: "created", "exists", "verified", "pending-dns", "failed"
    action: str
    detail: str | None = None
    records: tuple[DnsRecord, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "detail": self.detail,
            "records": [
                {"type": r.type, "host": r.host, "value": r.value, "purpose": r.purpose, "verified": r.verified}
                for r in self.records
            ],
        }


@frozen
class SetupReport:
    source: str
    target: str
    items: tuple[SetupItem, ...]

    @property
    def complete(self) -> bool:
        """True when every object exists on the target and every domain is verified."""
        return all(i.action in ("created", "exists", "verified") for i in self.items if i.kind != "domain") and all(
            i.action == "verified" for i in self.items if i.kind == "domain"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "complete": self.complete,
            "items": [i.as_dict() for i in self.items],
        }


def _safe_list(call: Any, what: str, provider: str) -> list[Any]:
    try:
        return list(call())
    except UnsupportedFeature:
        log.info("migrate --setup: %s does not support %s", provider, what)
        return []


def _source_objects(source: Client) -> tuple[list[SenderDomain], list[SenderAddress], list[Template]]:
    domains = _safe_list(source.domains, "sender domains", source.provider)
    senders = _safe_list(source.senders, "sender addresses", source.provider)
    templates = [source.get_template(t.id) for t in _safe_list(source.templates, "templates", source.provider)]
    return domains, senders, templates


def plan_setup(source: Client, target: Client) -> SetupReport:
    """Every domain, sender address and template the target would get; nothing is written."""
    domains, senders, templates = _source_objects(source)
    have_domains = {d.name for d in _safe_list(target.domains, "sender domains", target.provider)}
    have_senders = {s.address.casefold() for s in _safe_list(target.senders, "sender addresses", target.provider)}
    have_templates = {t.name for t in _safe_list(target.templates, "templates", target.provider)}
    items = []
    for d in domains:
        items.append(SetupItem("domain", d.name, "exists" if d.name in have_domains else "create"))
    for s in senders:
        detail = ", ".join(f"{k}={v}" for k, v in (("kind", s.kind), ("reply_to", s.reply_to)) if v) or None
        items.append(
            SetupItem("sender", s.address, "exists" if s.address.casefold() in have_senders else "create", detail)
        )
    for t in templates:
        action = "exists" if t.name in have_templates else "create"
        detail = None
        if action == "create":
            try:
                for part in (t.subject, t.html, t.text):
                    target.backend.template_syntax.to_provider(part)
            except MailbridgeError as exc:
                action, detail = "failed", exc.message
        items.append(SetupItem("template", t.name, action, detail))
    return SetupReport(source.provider, target.provider, tuple(items))


def _domain(target: Client, domain: SenderDomain) -> SetupItem:
    try:
        try:
            target.create_domain(domain.name)
            created = True
        except AlreadyExists:
            created = False
        state = target.verify_domain(domain.name)
    except MailbridgeError as exc:
        return SetupItem("domain", domain.name, "failed", f"{type(exc).__name__}: {exc.message}")
    if state.verified:
        return SetupItem("domain", domain.name, "verified", None, state.records)
    note = "created; publish these DNS records, then run again" if created else "publish these DNS records"
    return SetupItem("domain", domain.name, "pending-dns", note, tuple(r for r in state.records if not r.verified))


def _sender(target: Client, sender: SenderAddress) -> SetupItem:
    try:
        target.create_sender(sender.address, kind=sender.kind, reply_to=sender.reply_to)
        return SetupItem("sender", sender.address, "created")
    except AlreadyExists:
        return SetupItem("sender", sender.address, "exists")
    except MailbridgeError as exc:
        return SetupItem("sender", sender.address, "failed", f"{type(exc).__name__}: {exc.message}")


def _template(target: Client, template: Template, existing: set[str]) -> SetupItem:
    if template.name in existing:
        return SetupItem("template", template.name, "exists")
    try:
        created = target.create_template(
            template.name, subject=template.subject or "", html=template.html, text=template.text
        )
        return SetupItem("template", template.name, "created", f"id {created.id}")
    except (AlreadyExists, NotFound) as exc:
        return SetupItem("template", template.name, "exists", exc.message)
    except MailbridgeError as exc:
        return SetupItem("template", template.name, "failed", f"{type(exc).__name__}: {exc.message}")


def apply_setup(source: Client, target: Client) -> SetupReport:
    """Create on the target whatever the source has and the target lacks; verify domains."""
    domains, senders, templates = _source_objects(source)
    items = [_domain(target, d) for d in domains]
    items += [_sender(target, s) for s in senders]
    existing = {t.name for t in _safe_list(target.templates, "templates", target.provider)}
    items += [_template(target, t, existing) for t in templates]
    for item in items:
        if item.action == "failed":
            log.warning("migrate --setup: %s %s failed: %s", item.kind, item.name, item.detail)
    return SetupReport(source.provider, target.provider, tuple(items))
