"""Property test (hypothesis): whatever each provider does with each call, a failover send's result says
exactly what happened, through FailoverClient and through AsyncFailoverClient.

Every provider is a real local backend whose calls are scripted: accepted, refused as a whole,
refused for this message (for now or for good), or an unknown outcome that was in fact delivered
or was not. The ground truth is what the backends delivered; the claims are the result or the
error's ``partial_result`` / ``not_sent`` / ``maybe_sent_to``.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mailbridge_local import LocalBackend

import mailbridge
from mailbridge import FailoverClient, Message, SendReceipt

from ..failover_modes import MODES

ACTIONS = ("ok", "down", "throttled", "rejected", "unknown_before", "unknown_after")


class Scripted(LocalBackend):
    name = "prop"

    def __init__(self, directory: Path, actions: list[str]) -> None:
        super().__init__(directory)
        self.actions = actions
        self.delivered: list[str] = []

    def send(self, message: Message) -> SendReceipt:
        action = self.actions.pop(0) if self.actions else "ok"
        addresses = [*message.to, *message.cc, *message.bcc]
        if action in ("ok", "unknown_after"):
            receipt = super().send(message)
            self.delivered += addresses
            if action == "ok":
                return receipt
            raise mailbridge.OutcomeUnknown("the answer was lost after the provider accepted")
        raise {
            "down": mailbridge.ProviderUnavailable("503"),
            "throttled": mailbridge.RateLimited("recipient paused", retry_after=5, failover_eligible=False),
            "rejected": mailbridge.ContentRejected("spam"),
            "unknown_before": mailbridge.OutcomeUnknown("no answer; the provider never got it"),
        }[action]


providers = st.lists(
    st.tuples(st.integers(1, 4), st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=4)), min_size=1, max_size=3
)


_TMP = tempfile.TemporaryDirectory(prefix="mailbridge-prop-")
_CLIENTS: dict[tuple[int, int], mailbridge.Client] = {}


def _client(slot: int, per_send: int, actions: list[str]) -> tuple[mailbridge.Client, Scripted]:
    """A client over a scripted backend, reused across examples (a local backend is slow to build)."""
    key = (slot, per_send)
    if key not in _CLIENTS:
        limits = LocalBackend.limits.evolve(recipients_per_send=per_send)
        cls: Any = type("B", (Scripted,), {"limits": limits})
        backend = cls(Path(_TMP.name) / f"p{slot}-{per_send}", [])
        _CLIENTS[key] = mailbridge.Client(
            backend, retry=mailbridge.RetryPolicy(attempts=1), rate_limiter=mailbridge.RateLimiter.disabled()
        )
    client = _CLIENTS[key]
    assert isinstance(client.backend, Scripted)
    client.backend.actions, client.backend.delivered = list(actions), []
    return client, client.backend


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# The cases, always tried: a split send whose every provider fails after part went out; the last
# provider unknown after an earlier one's receipts; at-least-once after an unknown, then a refusal or an outage;
# an unknown first part with later parts never tried.
@example(providers=[(2, ["ok", "down"]), (2, ["down"])], count=4, copy=True, at_least_once=False)
@example(providers=[(2, ["ok", "down"]), (2, ["ok", "unknown_after"])], count=6, copy=False, at_least_once=False)
@example(providers=[(1, ["unknown_before"]), (1, ["rejected"])], count=1, copy=False, at_least_once=True)
@example(providers=[(1, ["unknown_after"]), (1, ["down"])], count=2, copy=True, at_least_once=True)
@example(providers=[(2, ["unknown_before"]), (2, [])], count=5, copy=False, at_least_once=False)
@given(providers=providers, count=st.integers(1, 8), copy=st.booleans(), at_least_once=st.booleans())
def test_the_result_says_what_happened(
    mode: str, providers: list[tuple[int, list[str]]], count: int, copy: bool, at_least_once: bool
) -> None:
    to = [f"u{i}@example.com" for i in range(count)]
    cc = ["copy@example.com"] if copy else []
    everyone = {*to, *cc}
    pairs = [_client(slot, per_send, actions) for slot, (per_send, actions) in enumerate(providers)]
    fo = FailoverClient([c for c, _ in pairs], at_least_once=at_least_once)
    message = Message(sender="me@example.com", to=to, cc=cc, subject="s", text="t")
    # The async run drives the same client through AsyncFailoverClient (not closed: the members are reused).
    send = fo.send if mode == "sync" else lambda m: asyncio.run(mailbridge.AsyncFailoverClient(fo).send(m))
    try:
        result = send(message)
    except mailbridge.MailbridgeError as exc:
        error: mailbridge.MailbridgeError | None = exc
    else:
        error = None
    delivered = [a for _, b in pairs for a in b.delivered]
    if not at_least_once:
        assert len(delivered) == len(set(delivered)), "delivered twice without at_least_once"
    if error is None:
        assert everyone <= set(delivered), "a success delivered everyone"
        assert {a for r in result.receipts for a in r.accepted} <= set(delivered)
        return
    accepted = {a for r in error.partial_result or () for a in r.accepted}
    not_sent, maybe = set(error.not_sent), set(error.maybe_sent_to)
    assert not set(delivered) & not_sent, "an address reported certainly not sent was delivered"
    assert set(delivered) <= accepted | maybe, "something was delivered without the caller being told"
    assert accepted <= set(delivered), "a receipt for something not delivered"
    assert not not_sent & maybe
    assert everyone <= accepted | maybe | not_sent, "every address is accounted for"
    if maybe - accepted:
        assert error.maybe_sent, "an address that may have been sent comes with a maybe-sent error"
