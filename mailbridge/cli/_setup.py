"""``mailbridge domains ...`` and ``mailbridge senders ...``: what a provider needs before the first send."""

from __future__ import annotations

from typing import Any

import click

from .._models import SenderAddress, SenderDomain
from ._app import State, cli, json_flag, pass_state
from ._confirm import confirm, yes_option
from ._output import Column, Listing, listing_options

__all__ = ["domain_dict", "domains", "sender_dict", "senders"]


def domain_dict(d: SenderDomain) -> dict[str, Any]:
    return {
        "name": d.name,
        "provider": d.provider,
        "verified": d.verified,
        "status": d.status,
        "records": [
            {"type": r.type, "host": r.host, "value": r.value, "purpose": r.purpose, "verified": r.verified}
            for r in d.records
        ],
    }


def sender_dict(s: SenderAddress) -> dict[str, Any]:
    return {"address": s.address, "provider": s.provider, "kind": s.kind, "reply_to": s.reply_to, "status": s.status}


def _records_table(state: State, domain: SenderDomain) -> None:
    """The DNS records as a table a person can paste into a DNS console."""
    state.output.table(
        ["type", "host", "value", "purpose", "verified"],
        [
            [r.type, r.host, r.value, r.purpose, "-" if r.verified is None else ("yes" if r.verified else "no")]
            for r in domain.records
        ],
    )


DOMAINS: Listing[SenderDomain] = Listing(
    columns=[
        Column("domain", 32, lambda d: d.name),
        Column("verified", 8, lambda d: "yes" if d.verified else "no"),
        Column("status", 0, lambda d: d.status),
    ],
    record=domain_dict,
    fields=["name", "provider", "verified", "status", "records"],
)
SENDERS: Listing[SenderAddress] = Listing(
    columns=[
        Column("address", 32, lambda s: s.address),
        Column("kind", 13, lambda s: s.kind),
        Column("reply to", 32, lambda s: s.reply_to),
        Column("status", 0, lambda s: s.status),
    ],
    record=sender_dict,
    fields=["address", "provider", "kind", "reply_to", "status"],
)


@cli.group()
def domains() -> None:
    """Sender domains and the DNS records they need."""


@domains.command("list")
@listing_options
@json_flag
@pass_state
def list_domains(state: State, limit: int | None, fmt: str | None) -> None:
    """Registered sender domains and whether each is verified."""
    state.output.stream(state.client().domains(), DOMAINS, fmt=fmt, limit=limit)


@domains.command("add")
@click.argument("name")
@json_flag
@pass_state
def add_domain(state: State, name: str) -> None:
    """Register NAME and print the DNS records to publish."""
    domain = state.client().create_domain(name)
    state.output.data(domain_dict(domain), lambda: _records_table(state, domain))


@domains.command("show")
@click.argument("name")
@json_flag
@pass_state
def show_domain(state: State, name: str) -> None:
    """The DNS records NAME needs and whether each is verified."""
    domain = state.client().domain(name)
    state.output.data(domain_dict(domain), lambda: _records_table(state, domain))


@domains.command("verify")
@click.argument("name")
@json_flag
@pass_state
def verify_domain(state: State, name: str) -> None:
    """Have the provider check NAME's DNS records now."""
    domain = state.client().verify_domain(name)

    def human() -> None:
        _records_table(state, domain)
        state.output.note(f"{domain.name}: {'verified' if domain.verified else 'not verified yet'}")

    state.output.data(domain_dict(domain), human)


@domains.command("remove")
@click.argument("name")
@yes_option
@json_flag
@pass_state
def remove_domain(state: State, name: str, yes: bool) -> None:
    """Delete sender domain NAME (asks first; --yes off a terminal)."""
    client = state.client()
    domain = client.domain(name)
    confirm(f"delete sender domain {domain.name} on {client.provider} (sending from it stops)", yes=yes)
    client.delete_domain(domain.name)
    state.output.data({"deleted": name}, lambda: state.output.note(f"deleted {name}"))


@cli.group()
def senders() -> None:
    """Sender addresses."""


@senders.command("list")
@listing_options
@json_flag
@pass_state
def list_senders(state: State, limit: int | None, fmt: str | None) -> None:
    """Registered sender addresses."""
    state.output.stream(state.client().senders(), SENDERS, fmt=fmt, limit=limit)


@senders.command("add")
@click.argument("address")
@click.option("--kind", type=click.Choice(["transactional", "batch"]), help="Where the provider distinguishes them.")
@click.option("--reply-to", help="Reply-to address.")
@json_flag
@pass_state
def add_sender(state: State, address: str, kind: str | None, reply_to: str | None) -> None:
    """Register sender ADDRESS (on a verified domain)."""
    sender = state.client().create_sender(address, kind=kind, reply_to=reply_to)
    state.output.data(sender_dict(sender), lambda: state.output.note(f"created sender {sender.address}"))


@senders.command("remove")
@click.argument("address")
@yes_option
@json_flag
@pass_state
def remove_sender(state: State, address: str, yes: bool) -> None:
    """Delete sender ADDRESS (asks first; --yes off a terminal)."""
    client = state.client()
    sender = client.sender(address)
    confirm(f"delete sender address {sender.address} on {client.provider}", yes=yes)
    client.delete_sender(sender)
    state.output.data({"deleted": address}, lambda: state.output.note(f"deleted {address}"))


@senders.command("password")
@click.argument("address")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    envvar="MAILBRIDGE_SMTP_PASSWORD",
    help="New SMTP password (prompted if not given).",
)
@yes_option
@json_flag
@pass_state
def sender_password(state: State, address: str, password: str, yes: bool) -> None:
    """Replace ADDRESS's SMTP password (asks first unless typed at the prompt; --yes off a terminal)."""
    client = state.client()
    # Typing the new password twice at the prompt is the confirmation; a password from --password or
    # MAILBRIDGE_SMTP_PASSWORD replaces the old one unasked only with --yes.
    typed = click.get_current_context().get_parameter_source("password") is click.core.ParameterSource.PROMPT
    confirm(
        f"replace the SMTP password of {address} on {client.provider} (whatever uses the old one stops signing in)",
        yes=yes or typed,
    )
    client.set_sender_password(address, password)
    state.output.data({"updated": address}, lambda: state.output.note(f"SMTP password set for {address}"))


@senders.command("verify-reply-to")
@click.argument("address")
@json_flag
@pass_state
def verify_reply_to(state: State, address: str) -> None:
    """Start verification of ADDRESS's reply-to address."""
    state.client().verify_reply_to(address)
    state.output.data(
        {"verification_started": address},
        lambda: state.output.note(f"verification mail sent for {address}'s reply-to address"),
    )
