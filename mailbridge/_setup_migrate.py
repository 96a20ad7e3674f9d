"""``migrate --setup``: recreate sender domains, sender addresses and templates on the target.

``plan_setup()`` lists every object that would be created (nothing is written);
``apply_setup()`` creates what is missing, asks the target to verify each domain, and
reports the DNS records still to publish. Running it again after the records are in
place verifies them; objects that already exist are left alone.

Templates are matched by name and compared part by part (subject, text, HTML, each read
back into the neutral syntax, variables compared as variables): a template is created,
left alone when ``same``, replaced when it differs and ``update_templates`` is set, else
reported as ``differs`` (and listed in :attr:`SetupReport.manual_steps`).
"""

from __future__ import annotations

import logging
from typing import Any

from attrs import frozen

from ._client import Client
from ._exceptions import AlreadyExists, InvalidRequest, MailbridgeError, TemplateNotFound, UnsupportedFeature
from ._models import TEMPLATE_PARTS, DnsRecord, SenderAddress, SenderDomain, Template
from ._templating import NEUTRAL_SYNTAX

__all__ = ["SetupItem", "SetupReport", "apply_setup", "plan_setup", "template_differences", "template_steps"]

log = logging.getLogger("mailbridge.migrate")


@frozen
class SetupItem:
    """One object on the target: what it is, what was (or would be) done, and any records to publish."""

    kind: str  # "domain", "sender", "template"
    name: str
    # planned: "create", "exists", "failed"; templates also "same", "update", "differs".
    # applied: "created", "exists", "verified", "pending-dns", "failed"; templates also "same", "updated", "differs".
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
        """True when every object is on the target (templates with the same content) and every domain verified."""
        done = ("created", "exists", "verified", "same", "updated")
        return all(i.action in done for i in self.items if i.kind != "domain") and all(
            i.action == "verified" for i in self.items if i.kind == "domain"
        )

    @property
    def manual_steps(self) -> tuple[str, ...]:
        """What is left to do by hand on the target after this run (nothing the run did itself)."""
        steps = []
        for i in self.items:
            if i.kind == "domain" and i.action == "pending-dns":
                steps.append(f"sender domain {i.name}: publish its DNS records on {self.target}, then run again")
            elif i.action == "failed":
                steps.append(f"{i.kind} {i.name}: {i.detail or 'failed'}")
            elif i.action == "differs":
                steps.append(
                    f"template {i.name!r} differs on {self.target} ({i.detail}): "
                    "run again with --update-templates to replace it, or reconcile it by hand"
                )
        return tuple(steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "complete": self.complete,
            "items": [i.as_dict() for i in self.items],
            "manual_steps": list(self.manual_steps),
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
    templates = [source.get_template(t) for t in _safe_list(source.templates, "templates", source.provider)]
    return domains, senders, templates


def _normal(text: str | None) -> str | None:
    """A neutral part with its variables written one way (``{{ name }}`` is ``{{name}}``); else as it is."""
    try:
        return NEUTRAL_SYNTAX.from_provider(NEUTRAL_SYNTAX.to_provider(text))
    except InvalidRequest:  # a construct with no neutral form: compared as text
        return text


def template_differences(source: Template, target: Template) -> list[str]:
    """The parts in which two templates differ (``"subject unknown"`` where one side cannot tell)."""
    out = []
    for part in TEMPLATE_PARTS:
        unknown = [side for side, t in (("source", source), ("target", target)) if part in t.missing]
        if unknown:
            out.append(f"{part} unknown on {' and '.join(unknown)}")
        elif _normal(getattr(source, part)) != _normal(getattr(target, part)):
            out.append(part)
    return out


def _target_templates(target: Client) -> dict[str, Template]:
    """The target's templates by name (complete: read part by part)."""
    found = {}
    for summary in _safe_list(target.templates, "templates", target.provider):
        try:
            found[summary.name] = target.get_template(summary)
        except TemplateNotFound:
            continue
    return found


def _unusable(template: Template, target: Client) -> str | None:
    """Why the target cannot get this template as it is, or None."""
    if template.subject is None:
        return "its subject is unknown on the source (made outside mailbridge): set it there with templates update"
    try:
        for part in (template.subject, template.html, template.text):
            target.backend.template_syntax.to_provider(part)
    except MailbridgeError as exc:
        return exc.message
    return None


def _template_action(template: Template, existing: Template | None, target: Client, update: bool) -> SetupItem:
    """The planned action for one template."""
    if (problem := _unusable(template, target)) is not None:
        return SetupItem("template", template.name, "failed", problem)
    if existing is None:
        return SetupItem("template", template.name, "create", _source_note(template))
    differences = template_differences(template, existing)
    if not differences:
        return SetupItem("template", template.name, "same")
    return SetupItem("template", template.name, "update" if update else "differs", ", ".join(differences))


def _source_note(template: Template) -> str | None:
    if template.missing:
        return f"the source cannot tell its {', '.join(template.missing)}: created without"
    return None


def template_steps(source: Client, target: Client) -> list[str]:
    """The "to do by hand" lines for the templates the target lacks or holds differently (migrate without --setup)."""
    try:
        templates = [source.get_template(t) for t in source.templates()]
        existing = _target_templates(target)
    except (UnsupportedFeature, MailbridgeError):
        return []
    steps = []
    for t in templates:
        item = _template_action(t, existing.get(t.name), target, update=False)
        if item.action == "create":
            steps.append(f"template {t.name!r}: recreate it on {target.provider} (or run migrate --setup)")
        elif item.action in ("differs", "failed"):
            steps.append(f"template {t.name!r}: {item.action} on {target.provider} ({item.detail})")
    return steps


def plan_setup(source: Client, target: Client, *, update_templates: bool = False) -> SetupReport:
    """Every domain, sender address and template the target would get; nothing is written."""
    domains, senders, templates = _source_objects(source)
    have_domains = {d.name for d in _safe_list(target.domains, "sender domains", target.provider)}
    have_senders = {s.address.casefold() for s in _safe_list(target.senders, "sender addresses", target.provider)}
    have_templates = _target_templates(target) if templates else {}
    items = []
    for d in domains:
        items.append(SetupItem("domain", d.name, "exists" if d.name in have_domains else "create"))
    for s in senders:
        detail = ", ".join(f"{k}={v}" for k, v in (("kind", s.kind), ("reply_to", s.reply_to)) if v) or None
        items.append(
            SetupItem("sender", s.address, "exists" if s.address.casefold() in have_senders else "create", detail)
        )
    for t in templates:
        items.append(_template_action(t, have_templates.get(t.name), target, update_templates))
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


def _template(target: Client, template: Template, existing: Template | None, update: bool) -> SetupItem:
    planned = _template_action(template, existing, target, update)
    subject, html, text = template.subject or "", template.html, template.text
    try:
        if planned.action == "create":
            created = target.create_template(template.name, subject=subject, html=html, text=text)
            return SetupItem("template", template.name, "created", planned.detail or f"id {created.id}")
        if planned.action == "update" and existing is not None:
            target.update_template(existing, subject=subject, html=html, text=text)
            return SetupItem("template", template.name, "updated", f"{planned.detail} differed")
    except AlreadyExists:  # made on the target meanwhile: compare it on the next run
        return SetupItem("template", template.name, "differs", "created on the target meanwhile; run again")
    except MailbridgeError as exc:
        return SetupItem("template", template.name, "failed", f"{type(exc).__name__}: {exc.message}")
    return planned


def apply_setup(source: Client, target: Client, *, update_templates: bool = False) -> SetupReport:
    """Create on the target whatever the source has and the target lacks; verify domains.

    A template the target holds with other content is replaced with ``update_templates``,
    else reported as ``differs``.
    """
    domains, senders, templates = _source_objects(source)
    items = [_domain(target, d) for d in domains]
    items += [_sender(target, s) for s in senders]
    existing = _target_templates(target) if templates else {}
    items += [_template(target, t, existing.get(t.name), update_templates) for t in templates]
    for item in items:
        if item.action == "failed":
            log.warning("migrate --setup: %s %s failed: %s", item.kind, item.name, item.detail)
    return SetupReport(source.provider, target.provider, tuple(items))
