"""``mailbridge domains ...`` and ``mailbridge senders ...``: what a provider needs before the first send."""

from __future__ import annotations

from typing import Any

import click

from .._models import SenderAddress, SenderDomain
from ._app import State, cli, json_flag, pass_state

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


@cli.group()
def domains() -> None:
    """Sender domains and the DNS records they need."""


@domains.command("list")
@json_flag
@pass_state
def list_domains(state: State) -> None:
    items = state.client().domains()
    state.output.data(
        [domain_dict(d) for d in items],
        lambda: state.output.table(
            ["domain", "verified", "status"], [[d.name, "yes" if d.verified else "no", d.status] for d in items]
        ),
    )


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
@json_flag
@pass_state
def remove_domain(state: State, name: str) -> None:
    state.client().delete_domain(name)
    state.output.data({"deleted": name}, lambda: state.output.note(f"deleted {name}"))


@cli.group()
def senders() -> None:
    """Sender addresses."""


@senders.command("list")
@json_flag
@pass_state
def list_senders(state: State) -> None:
    items = state.client().senders()
    state.output.data(
        [sender_dict(s) for s in items],
        lambda: state.output.table(
            ["address", "kind", "reply to", "status"], [[s.address, s.kind, s.reply_to, s.status] for s in items]
        ),
    )


@senders.command("add")
@click.argument("address")
@click.option("--kind", type=click.Choice(["transactional", "batch"]), help="Where the provider distinguishes them.")
@click.option("--reply-to", help="Reply-to address.")
@json_flag
@pass_state
def add_sender(state: State, address: str, kind: str | None, reply_to: str | None) -> None:
    sender = state.client().create_sender(address, kind=kind, reply_to=reply_to)
    state.output.data(sender_dict(sender), lambda: state.output.note(f"created sender {sender.address}"))


@senders.command("remove")
@click.argument("address")
@json_flag
@pass_state
def remove_sender(state: State, address: str) -> None:
    state.client().delete_sender(address)
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
@json_flag
@pass_state
def sender_password(state: State, address: str, password: str) -> None:
    """Set ADDRESS's SMTP password."""
    state.client().set_sender_password(address, password)
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
