"""Failover over local backends with injected failures: routing, health, never double-send."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mailbridge
from mailbridge import FailoverClient, MemoryHealthStore, Message

from ..failover_modes import Failovers
from ..redis_server import redis_server
from .conftest import Clock, MakeClient, backend_of, msg


@pytest.fixture
def pair(make_client: MakeClient) -> tuple[mailbridge.Client, mailbridge.Client]:
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    return make_client(one_try), make_client(one_try)


def sent(client: mailbridge.Client) -> int:
    return len(backend_of(client).calls_to("send"))


def outbox(client: mailbridge.Client) -> int:
    return len(list(backend_of(client).outbox()))


def test_primary_takes_traffic_when_healthy(
    pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers
) -> None:
    primary, secondary = pair
    fo = failovers([primary, secondary])
    result = fo.send(msg())
    assert (outbox(primary), outbox(secondary)) == (1, 0)
    assert [(a.provider, a.outcome) for a in result.attempts] == [("scripted", "sent")]


def test_unhealthy_primary_fails_over_and_cools_down(
    pair: tuple[mailbridge.Client, mailbridge.Client], caplog: pytest.LogCaptureFixture, failovers: Failovers
) -> None:
    """A failover-eligible error sends the message to the secondary and skips the primary for the cooldown."""
    primary, secondary = pair
    clock = Clock()
    fo = failovers([primary, secondary], cooldown=30, health=MemoryHealthStore(clock))
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


def test_failback_after_a_single_probe(pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers) -> None:
    """After the cooldown one probe goes to the primary; success brings all traffic back."""
    primary, secondary = pair
    clock = Clock()
    health = MemoryHealthStore(clock)
    fo = failovers([primary, secondary], cooldown=30, health=health)
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


def test_permanent_errors_do_not_harm_health(
    pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers
) -> None:
    """An invalid address or a content rejection is raised at once; the provider stays healthy (Symfony #52551)."""
    primary, secondary = pair
    fo = failovers([primary, secondary])
    backend_of(primary).failures["send"] = [mailbridge.ContentRejected("spam")]
    with pytest.raises(mailbridge.ContentRejected) as info:
        fo.send(msg())
    assert [(a.provider, a.outcome) for a in info.value.attempts] == [("scripted", "failed")]
    assert sent(secondary) == 0
    assert fo.healthy() == {"scripted": True, "scripted#2": True}
    with pytest.raises(mailbridge.InvalidAddress):
        fo.send(msg(to=["nope"]))
    assert sent(primary) == 1 and sent(secondary) == 0


def test_unknown_outcome_is_never_failed_over(
    pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers
) -> None:
    """A maybe-sent send raises with its attempts and is not repeated anywhere."""
    primary, secondary = pair
    fo = failovers([primary, secondary])
    backend_of(primary).failures["send"] = [mailbridge.OutcomeUnknown("read timeout")]
    with pytest.raises(mailbridge.OutcomeUnknown) as info:
        fo.send(msg())
    assert [(a.provider, a.outcome) for a in info.value.attempts] == [("scripted", "unknown")]
    assert sent(primary) == 1 and sent(secondary) == 0


def test_at_least_once_opt_in(pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers) -> None:
    primary, secondary = pair
    fo = failovers([primary, secondary], at_least_once=True)
    backend_of(primary).failures["send"] = [mailbridge.OutcomeUnknown("read timeout")]
    result = fo.send(msg())
    assert [a.outcome for a in result.attempts] == ["unknown", "sent"] and outbox(secondary) == 1


def test_every_provider_down(pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers) -> None:
    primary, secondary = pair
    fo = failovers([primary, secondary])
    backend_of(primary).failures["send"] = [mailbridge.QuotaExceeded("daily")]
    backend_of(secondary).failures["send"] = [mailbridge.AuthenticationError("bad key")]
    with pytest.raises(mailbridge.ProviderUnavailable, match="every provider failed") as info:
        fo.send(msg())
    assert [a.error for a in info.value.attempts] == ["QuotaExceeded", "AuthenticationError"]
    assert isinstance(info.value.__cause__, mailbridge.AuthenticationError)


def test_a_to_list_too_large_for_the_primary_is_refused_not_split(
    make_client: MakeClient, failovers: Failovers
) -> None:
    """Several 'to' addresses are one shared email: never split into subsets across providers."""
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    primary = make_client(one_try, recipients_per_send=2)
    secondary = make_client(one_try)
    fo = failovers([primary, secondary])
    with pytest.raises(mailbridge.LimitExceeded, match="one shared email"):
        fo.send(msg(to=[f"u{i}@example.com" for i in range(5)]))
    assert backend_of(primary).calls_to("send") == [] and backend_of(secondary).calls_to("send") == []


def test_round_robin_alternates(pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers) -> None:
    primary, secondary = pair
    fo = failovers([primary, secondary], strategy="round-robin")
    for _ in range(4):
        fo.send(msg())
    assert (outbox(primary), outbox(secondary)) == (2, 2)


def test_groups_are_written_to_every_provider(
    pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers
) -> None:
    primary, secondary = pair
    fo = failovers([primary, secondary])
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
        [f"local://{tmp_path}/a", f"local://{tmp_path}/b?busy_timeout=1&timeout=2"], strategy="round-robin", cooldown=5
    )
    assert "%26timeout" in url
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


def test_health_is_shared_through_redis(
    pair: tuple[mailbridge.Client, mailbridge.Client], redis_url: str, failovers: Failovers
) -> None:
    """Two failover clients (two workers) sharing Redis see each other's failures and probes."""
    primary, secondary = pair
    worker_a = failovers([primary, secondary], cooldown=0.2, health=mailbridge.RedisHealthStore(redis_url))
    worker_b = failovers([primary, secondary], cooldown=0.2, health=mailbridge.RedisHealthStore(redis_url))
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


# ---------------------------------------------------------------------- results that say what happened

SPLIT = [f"u{i}@example.com" for i in range(300)]


def test_a_send_where_every_provider_fails_reports_nothing_delivered(
    make_client: MakeClient, failovers: Failovers
) -> None:
    """300 addresses in one call (one shared email, never split): both refused, so all 300 are certainly not sent."""
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    primary = make_client(one_try, recipients_per_send=300)
    secondary = make_client(one_try, recipients_per_send=300)
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    backend_of(secondary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    fo = failovers([primary, secondary])
    with pytest.raises(mailbridge.ProviderUnavailable, match="every provider failed") as info:
        fo.send(msg(to=SPLIT))
    error = info.value
    assert not error.partial_result
    assert error.not_sent == tuple(SPLIT) and error.maybe_sent_to == ()
    assert outbox(primary) == 0 and backend_of(secondary).calls_to("send")[0].to == tuple(SPLIT)


def test_unknown_outcome_at_the_last_provider_makes_every_address_maybe_sent(
    make_client: MakeClient, failovers: Failovers
) -> None:
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    primary = make_client(one_try, recipients_per_send=300)
    secondary = make_client(one_try, recipients_per_send=300)
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    backend_of(secondary).failures["send"] = [mailbridge.OutcomeUnknown("read timeout")]
    fo = failovers([primary, secondary])
    with pytest.raises(mailbridge.OutcomeUnknown) as info:
        fo.send(msg(to=SPLIT))
    error = info.value
    assert not error.partial_result
    assert error.maybe_sent_to == tuple(SPLIT) and error.not_sent == ()
    assert [a.outcome for a in error.attempts] == ["failed", "unknown"]


def test_at_least_once_never_turns_unknown_into_not_sent(
    pair: tuple[mailbridge.Client, mailbridge.Client], failovers: Failovers
) -> None:
    primary, secondary = pair
    fo = failovers([primary, secondary], at_least_once=True)
    backend_of(primary).failures["send"] = [mailbridge.OutcomeUnknown("read timeout")]
    backend_of(secondary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    with pytest.raises(mailbridge.OutcomeUnknown, match="may have been sent") as info:
        fo.send(msg(to=["a@example.com", "b@example.com"], cc=["c@example.com"]))
    error = info.value
    assert error.maybe_sent is True
    assert error.maybe_sent_to == ("a@example.com", "b@example.com", "c@example.com") and error.not_sent == ()
    assert isinstance(error.__cause__, mailbridge.ProviderUnavailable)


def test_client_send_reports_the_unknown_part(make_client: MakeClient) -> None:
    client = make_client({"retry": mailbridge.RetryPolicy(attempts=1)}, recipients_per_send=6)
    backend_of(client).failures["send"] = [mailbridge.OutcomeUnknown("reset after write")]
    to = [f"u{i}@example.com" for i in range(6)]
    with pytest.raises(mailbridge.OutcomeUnknown) as info:
        client.send(msg(to=to, cc=["c@example.com"]))
    error = info.value
    assert error.partial_result == ()
    assert error.maybe_sent_to == (*to, "c@example.com")
    assert error.not_sent == ()


def test_client_send_too_large_for_one_call_is_refused_before_any_call(make_client: MakeClient) -> None:
    client = make_client({"retry": mailbridge.RetryPolicy(attempts=1)}, recipients_per_send=2)
    with pytest.raises(mailbridge.LimitExceeded, match="one shared email"):
        client.send(msg(to=[f"u{i}@example.com" for i in range(6)]))
    assert backend_of(client).calls_to("send") == []


class BrokenHealth(MemoryHealthStore):
    """A custom health store that fails after the provider answered."""

    def mark_healthy(self, provider: str) -> None:
        raise RuntimeError("health store down")

    def mark_failed(self, provider: str, cooldown: float) -> None:
        raise RuntimeError("health store down")


def test_health_bookkeeping_never_hides_a_receipt(
    pair: tuple[mailbridge.Client, mailbridge.Client], caplog: pytest.LogCaptureFixture, failovers: Failovers
) -> None:
    primary, secondary = pair
    clock = Clock()
    health = BrokenHealth(clock)
    health._open_until[backend_of(primary).rate_limit_key] = 0.0  # failed earlier: this send is its probe
    fo = failovers([primary, secondary], health=health)
    caplog.set_level(logging.WARNING, "mailbridge.failover")
    result = fo.send(msg())
    assert result.receipts and result.attempts[-1].outcome == "sent" and outbox(primary) == 1
    assert "health store failed in mark_healthy" in caplog.text
    backend_of(primary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    assert fo.send(msg()).attempts[-1].provider == "scripted#2" and outbox(secondary) == 1


# ---------------------------------------------------------------------- throttles


def test_long_throttle_cools_the_provider_for_its_retry_after(
    pair: tuple[mailbridge.Client, mailbridge.Client],
    failovers: Failovers,
) -> None:
    """A provider-wide throttle with retry_after=600 moves on at once and keeps the provider out for 600 s."""
    primary, secondary = pair
    clock = Clock()
    fo = failovers([primary, secondary], cooldown=30, health=MemoryHealthStore(clock))
    backend_of(primary).failures["send"] = [mailbridge.RateLimited("blocked", retry_after=600)]
    assert fo.send(msg()).attempts[-1].provider == "scripted#2"
    clock.now = 599
    assert fo.send(msg()).attempts[-1].provider == "scripted#2" and sent(primary) == 1
    clock.now = 601
    assert fo.send(msg()).attempts[-1].provider == "scripted" and sent(primary) == 2


def test_per_message_throttle_moves_the_message_and_harms_no_provider(
    pair: tuple[mailbridge.Client, mailbridge.Client],
    failovers: Failovers,
) -> None:
    """A throttle of this message only (retryable, not failover-eligible): the next provider takes it; health kept."""
    primary, secondary = pair
    fo = failovers([primary, secondary])
    backend_of(primary).failures["send"] = [
        mailbridge.RateLimited("recipient domain paused", retry_after=600, failover_eligible=False)
    ]
    assert fo.send(msg()).attempts[-1].provider == "scripted#2"
    assert fo.healthy() == {"scripted": True, "scripted#2": True}
    assert fo.send(msg()).attempts[-1].provider == "scripted", "the primary still takes the next message"
    backend_of(primary).failures["send"] = [mailbridge.RateLimited("paused", retry_after=60, failover_eligible=False)]
    backend_of(secondary).failures["send"] = [mailbridge.RateLimited("paused", retry_after=90, failover_eligible=False)]
    with pytest.raises(mailbridge.RateLimited) as info:
        fo.send(msg())
    assert info.value.retry_after == 90 and [a.outcome for a in info.value.attempts] == ["failed", "failed"]
    assert info.value.not_sent == ("a@example.com",)


def test_failover_url_timeout_reaches_every_member(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``timeout=`` on the failover URL is passed to connect() for each member."""
    seen: list[Any] = []

    def fake_connect(url: str, **options: Any) -> mailbridge.Client:
        seen.append(options.get("timeout"))
        return mailbridge.connect(url, retry=options["retry"], rate_limiter=options["rate_limiter"])

    parsed = mailbridge.ProviderURL.parse(
        mailbridge.failover_url([f"local://{tmp_path}/a", f"local://{tmp_path}/b"], timeout=2.5)
    )
    with FailoverClient.from_url(parsed, fake_connect):
        assert seen == [2.5, 2.5]
    with pytest.raises(mailbridge.ConfigurationError, match="timeout"):
        mailbridge.connect_failover(mailbridge.failover_url([f"local://{tmp_path}/a"], timeout=0))


# ---------------------------------------------------------------------------- failover by capability


def lacking(*features: mailbridge.Feature) -> dict[str, Any]:
    """``make_client`` changes for a backend that declares every feature but these."""
    return {"features": frozenset(mailbridge.Feature) - set(features)}


def test_member_that_cannot_carry_the_message_is_skipped_untouched(
    make_client: MakeClient, failovers: Failovers
) -> None:
    """The primary lacks tags and cc: skipped with the reason, never called, its health unchanged."""
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    primary = make_client(one_try, **lacking(mailbridge.Feature.TAGS, mailbridge.Feature.CC))
    secondary = make_client(one_try)
    fo = failovers([primary, secondary])
    result = fo.send(msg(tag="news", cc=["c@example.com"]))
    assert [(a.provider, a.outcome, a.detail) for a in result.attempts] == [
        ("scripted", "skipped", "cannot carry: cc, tag"),
        ("scripted#2", "sent", None),
    ]
    assert sent(primary) == 0
    (delivered,) = backend_of(secondary).calls_to("send")
    assert delivered.tag == "news" and delivered.cc == ("c@example.com",)
    assert fo.healthy() == {"scripted": True, "scripted#2": True}
    fo.send(msg())  # a plain message still goes to the primary: it was never marked failed
    assert (sent(primary), sent(secondary)) == (1, 1)


def test_member_ignoring_unsupported_features_gets_the_message_without_them(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture, failovers: Failovers
) -> None:
    one_try: dict[str, Any] = {"retry": mailbridge.RetryPolicy(attempts=1)}
    primary = make_client({**one_try, "ignore_unsupported_features": True}, **lacking(mailbridge.Feature.TAGS))
    secondary = make_client(one_try)
    caplog.set_level(logging.WARNING)
    result = failovers([primary, secondary]).send(msg(tag="news"))
    assert [(a.provider, a.outcome, a.detail) for a in result.attempts] == [("scripted", "sent", "dropped: tag")]
    (delivered,) = backend_of(primary).calls_to("send")
    assert delivered.tag is None and delivered.text == "Hello"
    assert "scripted cannot carry tag" in caplog.text
    assert sent(secondary) == 0


def test_no_member_can_carry_the_message_fails_before_any_call(make_client: MakeClient, failovers: Failovers) -> None:
    """Both lack something the message uses: UnsupportedFeature names each, nothing is called or marked."""
    primary = make_client(**lacking(mailbridge.Feature.TAGS))
    secondary = make_client(**lacking(mailbridge.Feature.ATTACHMENTS, mailbridge.Feature.TAGS))
    fo = failovers([primary, secondary])
    attachment = mailbridge.Attachment("a.txt", b"hi")
    with pytest.raises(mailbridge.UnsupportedFeature) as info:
        fo.send(msg(tag="news", attachments=[attachment]), idempotency_key="k-1")
    text = str(info.value)
    assert "scripted cannot carry tag;" in text and "scripted#2 cannot carry tag, attachments" in text
    assert "nothing was sent" in text
    outcomes = [(a.provider, a.outcome) for a in info.value.attempts]
    assert outcomes == [("scripted", "skipped"), ("scripted#2", "skipped")]
    assert info.value.not_sent == ("a@example.com",) and not info.value.maybe_sent
    assert (sent(primary), sent(secondary)) == (0, 0)
    assert fo.healthy() == {"scripted": True, "scripted#2": True}
    # the refused message did not use up its idempotency key: the same key sends a carriable message
    assert fo.send(msg(tag=None), idempotency_key="k-1").provider == "scripted"
    with pytest.raises(mailbridge.UnsupportedFeature, match="scripted cannot carry tag"):
        fo.send_to_group("customers", msg(to=(), tag="news"))


def test_only_carrier_cooling_down_is_unavailable_not_unsupported(
    make_client: MakeClient, failovers: Failovers
) -> None:
    one_try = {"retry": mailbridge.RetryPolicy(attempts=1)}
    primary = make_client(one_try, **lacking(mailbridge.Feature.TAGS))
    secondary = make_client(one_try)
    fo = failovers([primary, secondary], cooldown=30, health=MemoryHealthStore(Clock()))
    backend_of(secondary).failures["send"] = [mailbridge.ProviderUnavailable("HTTP 503")]
    with pytest.raises(mailbridge.ProviderUnavailable):
        fo.send(msg(tag="news"))
    assert fo.healthy() == {"scripted": True, "scripted#2": False}
    with pytest.raises(mailbridge.ProviderUnavailable, match="every provider that can carry this message") as info:
        fo.send(msg(tag="news"))
    assert [(a.outcome, a.detail) for a in info.value.attempts] == [
        ("skipped", "cannot carry: tag"),
        ("skipped", "cooling down after a failure"),
    ]
    assert sent(primary) == 0 and sent(secondary) == 1


def test_failover_url_ignore_unsupported_features(tmp_path: Path) -> None:
    """On the failover URL it reaches every member; on an inner URL only that one (and not its backend)."""
    seen: list[tuple[str, bool]] = []

    def fake_connect(url: str, **options: Any) -> mailbridge.Client:
        seen.append((url, options.get("ignore_unsupported_features", False)))
        return mailbridge.connect(url, **options)

    a, b = f"local://{tmp_path}/a", f"local://{tmp_path}/b"
    inner = mailbridge.failover_url([a + "?ignore_unsupported_features=true", b])
    with FailoverClient.from_url(mailbridge.ProviderURL.parse(inner), fake_connect) as fo:
        assert [c.ignore_unsupported_features for c in fo.clients] == [True, False]
    assert seen == [(a, True), (b, False)]
    seen.clear()
    with FailoverClient.from_url(
        mailbridge.ProviderURL.parse(mailbridge.failover_url([a, b], ignore_unsupported_features=True)), fake_connect
    ) as fo:
        assert [c.ignore_unsupported_features for c in fo.clients] == [True, True]
    with mailbridge.connect_failover(mailbridge.failover_url([a + "?ignore_unsupported_features=no", b])) as fo:
        assert [c.ignore_unsupported_features for c in fo.clients] == [False, False]
    with pytest.raises(mailbridge.ConfigurationError, match="ignore_unsupported_features"):
        mailbridge.connect_failover(mailbridge.failover_url([a + "?ignore_unsupported_features=maybe"]))


def test_check_message_takes_a_template_name() -> None:
    """``Message.template`` counts as a template for every check_message rule (the core's, before any look-up)."""
    from mailbridge._validation import check_message, unsupported_fields

    limits = mailbridge.Limits(upload_batch_size=100, recipients_per_send=50, features=frozenset(mailbridge.Feature))
    by_name = Message(sender="me@example.com", to=["a@example.com"], template="welcome")
    assert check_message(by_name, limits, "x", ignore_unsupported=False) == by_name
    with pytest.raises(mailbridge.InvalidRequest, match="not both"):
        check_message(by_name.evolve(html="<p>hi</p>"), limits, "x", ignore_unsupported=False)
    no_templates = limits.evolve(features=limits.features - {mailbridge.Feature.TEMPLATE_SEND})
    assert unsupported_fields(by_name, no_templates) == ("template_id",)
    with pytest.raises(mailbridge.UnsupportedFeature, match="template"):
        check_message(by_name, no_templates, "x", ignore_unsupported=False)
