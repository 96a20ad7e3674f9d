"""Failover over local backends with injected failures: routing, health, never double-send."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mailbridge
from mailbridge import FailoverClient, MemoryHealthStore, Message

from ..redis_server import redis_server
from .conftest import MakeClient, backend_of


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def msg(**changes: Any) -> Message:
    fields: dict[str, Any] = {"sender": "me@example.com", "to": ["a@example.com"], "subject": "Hi", "text": "Hello"}
    fields.update(changes)
    return Message(**fields)


@pytest.fixture
def pair(make_client: MakeClient) -> tuple[mailbridge.Client, mailbridge.Client]:
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    return make_client(one_try), make_client(one_try)


def sent(client: mailbridge.Client) -> int:
    return len(backend_of(client).calls_to("send"))


def outbox(client: mailbridge.Client) -> int:
    return len(list(backend_of(client).outbox()))


def test_primary_takes_traffic_when_healthy(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    primary, secondary = pair
    fo = FailoverClient([primary, secondary])
    result = fo.send(msg())
    assert (outbox(primary), outbox(secondary)) == (1, 0)
    assert [(a.provider, a.outcome) for a in result.attempts] == [("scripted", "sent")]


def test_unhealthy_primary_fails_over_and_cools_down(
    pair: tuple[mailbridge.Client, mailbridge.Client], caplog: pytest.LogCaptureFixture
) -> None:
    """A failover-eligible error sends the message to the secondary and skips the primary for the cooldown."""
    primary, secondary = pair
    clock = Clock()
    fo = FailoverClient([primary, secondary], cooldown=30, health=MemoryHealthStore(clock))
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("HTTP 503")]
    caplog.set_level(logging.WARNING, "mailbridge.failover")
    result = fo.send(msg())
    assert [(a.provider, a.outcome, a.error) for a in result.attempts] == [
        ("scripted", "failed", "ProviderUnavailable"),
        ("scripted#2", "sent", None),
    ]
    assert "scripted send failed with ProviderUnavailable" in caplog.text
    assert (outbox(primary), outbox(secondary)) == (0, 1)
    fo.send(msg())
    assert sent(primary) == 1 and outbox(secondary) == 2, "the primary must be skipped while cooling down"
    assert fo.healthy() == {"scripted": False, "scripted#2": True}


def test_failback_after_a_single_probe(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    """After the cooldown one probe goes to the primary; success brings all traffic back."""
    primary, secondary = pair
    clock = Clock()
    health = MemoryHealthStore(clock)
    fo = FailoverClient([primary, secondary], cooldown=30, health=health)
    backend_of(primary).failures["send"] = [mailbridge.RateLimited("throttled")]
    fo.send(msg())
    clock.now = 31
    # Another worker holds the probe: this caller does not touch the primary.
    key = backend_of(primary).rate_limit_key
    assert health.claim_probe(key, 5)
    fo.send(msg())
    assert sent(primary) == 1
    clock.now = 37  # that probe's claim expired without an answer: this caller probes
    result = fo.send(msg())
    assert result.attempts[-1].provider == "scripted" and outbox(primary) == 1
    fo.send(msg())
    assert outbox(primary) == 2, "after a successful probe the primary takes traffic again"


def test_permanent_errors_do_not_harm_health(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    """An invalid address or a content rejection is raised at once; the provider stays healthy (Symfony #52551)."""
    primary, secondary = pair
    fo = FailoverClient([primary, secondary])
    backend_of(primary).failures["send"] = [mailbridge.ContentRejected("spam")]
    with pytest.raises(mailbridge.ContentRejected) as info:
        fo.send(msg())
    assert [(a.provider, a.outcome) for a in info.value.attempts] == [("scripted", "failed")]
    assert sent(secondary) == 0
    assert fo.healthy() == {"scripted": True, "scripted#2": True}
    with pytest.raises(mailbridge.InvalidAddress):
        fo.send(msg(to=["nope"]))
    assert sent(primary) == 1 and sent(secondary) == 0


def test_unknown_outcome_is_never_failed_over(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    """A maybe-sent send raises with its attempts and is not repeated anywhere."""
    primary, secondary = pair
    fo = FailoverClient([primary, secondary])
    backend_of(primary).failures["send"] = [mailbridge.OutcomeUnknown("read timeout")]
    with pytest.raises(mailbridge.OutcomeUnknown) as info:
        fo.send(msg())
    assert [(a.provider, a.outcome) for a in info.value.attempts] == [("scripted", "unknown")]
    assert sent(primary) == 1 and sent(secondary) == 0


def test_at_least_once_opt_in(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    primary, secondary = pair
    fo = FailoverClient([primary, secondary], at_least_once=True)
    backend_of(primary).failures["send"] = [mailbridge.OutcomeUnknown("read timeout")]
    result = fo.send(msg())
    assert [a.outcome for a in result.attempts] == ["unknown", "sent"] and outbox(secondary) == 1


def test_every_provider_down(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    primary, secondary = pair
    fo = FailoverClient([primary, secondary])
    backend_of(primary).failures["send"] = [mailbridge.QuotaExceeded("daily")]
    backend_of(secondary).failures["send"] = [mailbridge.AuthenticationError("bad key")]
    with pytest.raises(mailbridge.ProviderUnavailable, match="every provider failed") as info:
        fo.send(msg())
    assert [a.error for a in info.value.attempts] == ["QuotaExceeded", "AuthenticationError"]
    assert isinstance(info.value.__cause__, mailbridge.AuthenticationError)


def test_a_to_list_too_large_for_the_primary_is_refused_not_split(make_client: MakeClient) -> None:
    """Several 'to' addresses are one shared email: never split into subsets across providers."""
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    primary = make_client(one_try, recipients_per_send=2)
    secondary = make_client(one_try)
    fo = FailoverClient([primary, secondary])
    with pytest.raises(mailbridge.LimitExceeded, match="one shared email"):
        fo.send(msg(to=[f"u{i}@example.com" for i in range(5)]))
    assert backend_of(primary).calls_to("send") == [] and backend_of(secondary).calls_to("send") == []


def test_round_robin_alternates(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    primary, secondary = pair
    fo = FailoverClient([primary, secondary], strategy="round-robin")
    for _ in range(4):
        fo.send(msg())
    assert (outbox(primary), outbox(secondary)) == (2, 2)


def test_groups_are_written_to_every_provider(pair: tuple[mailbridge.Client, mailbridge.Client]) -> None:
    primary, secondary = pair
    fo = FailoverClient([primary, secondary])
    groups = fo.create_group("news")
    assert set(groups) == {"scripted", "scripted#2"} and all(isinstance(g, mailbridge.Group) for g in groups.values())
    assert fo.create_group("news")["scripted"] == groups["scripted"], "creating again finds the existing group"
    reports = fo.upload("news", (f"u{i}@example.com" for i in range(3)))
    assert {k: r.accepted for k, r in reports.items() if isinstance(r, mailbridge.UploadReport)} == {
        "scripted": 3,
        "scripted#2": 3,
    }
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    result = fo.send_to_group("news", Message(sender="me@example.com", to=(), subject="Hi", text="x"))
    assert len(result.accepted) == 3 and result.attempts[-1].outcome == "sent"


def test_failover_url_grammar(tmp_path: Path) -> None:
    url = mailbridge.failover_url(
        [f"local://{tmp_path}/a", f"local://{tmp_path}/b?x=1&y=2"], strategy="round-robin", cooldown=5
    )
    assert "%26y" in url
    with mailbridge.connect_failover(url) as fo:
        assert fo.strategy == "round-robin" and fo.cooldown == 5
        assert [c.backend.describe() for c in fo.clients] == [f"local://{tmp_path}/a", f"local://{tmp_path}/b"]
    with pytest.raises(mailbridge.ConfigurationError, match="connect_failover"):
        mailbridge.connect(url)
    with pytest.raises(mailbridge.ConfigurationError, match="strategy"):
        mailbridge.connect_failover(f"failover://?providers=local://{tmp_path}/a&strategy=random")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with redis_server(tmp_path) as url:
        yield url


def test_health_is_shared_through_redis(pair: tuple[mailbridge.Client, mailbridge.Client], redis_url: str) -> None:
    """Two failover clients (two workers) sharing Redis see each other's failures and probes."""
    primary, secondary = pair
    worker_a = FailoverClient([primary, secondary], cooldown=0.2, health=mailbridge.RedisHealthStore(redis_url))
    worker_b = FailoverClient([primary, secondary], cooldown=0.2, health=mailbridge.RedisHealthStore(redis_url))
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    worker_a.send(msg())
    assert worker_b.healthy()["scripted"] is False
    worker_b.send(msg())
    assert sent(primary) == 1, "worker B skipped the primary that worker A saw failing"
    import time

    time.sleep(0.25)
    key = backend_of(primary).rate_limit_key
    assert worker_a.health.claim_probe(key, 10) and not worker_b.health.claim_probe(key, 10)
    worker_a.health.mark_healthy(key)
    worker_b.send(msg())
    assert outbox(primary) == 1


def test_cli_send_through_failover(tmp_path: Path) -> None:
    """`mailbridge send` accepts a failover:// URL and reports the attempts."""
    import json

    from click.testing import CliRunner

    from mailbridge.cli import cli

    url = mailbridge.failover_url([f"local://{tmp_path}/a", f"local://{tmp_path}/b"])
    result = CliRunner().invoke(
        cli,
        [
            "--url",
            url,
            "--json",
            "send",
            "--from",
            "me@example.com",
            "--to",
            "a@example.com",
            "--subject",
            "s",
            "--text",
            "t",
        ],
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["provider"] == "local" and [a["outcome"] for a in out["attempts"]] == ["sent"]
