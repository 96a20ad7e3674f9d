"""Idempotency keys: a keyed send happens at most once, whatever store keeps the keys."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mailbridge
from mailbridge import FailoverClient, Message

from ..redis_server import RedisProcess
from .conftest import MakeClient, backend_of, msg

ONE_TRY = {"retry": mailbridge.RetryPolicy(attempts=1)}


def calls(client: mailbridge.Client) -> list[Message]:
    return list(backend_of(client).calls_to("send"))


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with RedisProcess(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> mailbridge.IdempotencyStore:
    if request.param == "memory":
        return mailbridge.MemoryIdempotencyStore()
    if request.param == "sqlite":
        return mailbridge.idempotency_store(f"sqlite:///{tmp_path}/keys.db")
    url = request.getfixturevalue("redis_url")
    return mailbridge.RedisIdempotencyStore(url, prefix=f"test:{request.node.name}")


@pytest.fixture
def client(make_client: MakeClient, store: mailbridge.IdempotencyStore) -> mailbridge.Client:
    return make_client({**ONE_TRY, "idempotency": store}, recipients_per_send=2)


def test_second_send_with_the_key_returns_the_first_receipts(client: mailbridge.Client) -> None:
    first = client.send(msg(idempotency_key="order-1"))
    again = client.send(msg(idempotency_key="order-1"))
    assert again.receipts == first.receipts and again.message_ids == first.message_ids
    assert len(calls(client)) == 1 and len(list(backend_of(client).outbox())) == 1
    client.send(msg(), idempotency_key="order-2")  # the send() argument works the same
    client.send(msg(), idempotency_key="order-2")
    assert len(calls(client)) == 2


def test_a_key_reused_for_another_message_is_refused(client: mailbridge.Client) -> None:
    client.send(msg(idempotency_key="k"))
    with pytest.raises(mailbridge.InvalidRequest, match="different message"):
        client.send(msg(idempotency_key="k", subject="Other"))
    assert len(calls(client)) == 1


def test_unknown_first_outcome_is_never_resent(client: mailbridge.Client) -> None:
    backend_of(client).failures["send"] = [mailbridge.OutcomeUnknown("read timeout")]
    with pytest.raises(mailbridge.OutcomeUnknown):
        client.send(msg(idempotency_key="k"))
    with pytest.raises(mailbridge.OutcomeUnknown, match="unknown outcome") as info:
        client.send(msg(idempotency_key="k"))
    assert info.value.maybe_sent_to == ("a@example.com",)
    assert len(calls(client)) == 1


def test_certainly_not_sent_gives_the_key_back(client: mailbridge.Client) -> None:
    backend_of(client).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    with pytest.raises(mailbridge.ProviderUnavailable):
        client.send(msg(idempotency_key="k"))
    result = client.send(msg(idempotency_key="k"))
    assert result.receipts and len(calls(client)) == 2


def test_a_send_certainly_not_sent_is_sent_on_the_retry_of_its_key(client: mailbridge.Client) -> None:
    to = ["u0@example.com", "u1@example.com"]
    backend_of(client).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    with pytest.raises(mailbridge.ProviderUnavailable) as info:
        client.send(msg(to=to, idempotency_key="k"))
    assert info.value.not_sent == tuple(to)
    result = client.send(msg(to=to, idempotency_key="k"))
    assert [m.to for m in calls(client)] == [tuple(to), tuple(to)]
    assert sorted(a for r in result.receipts for a in r.accepted) == sorted(to)
    assert client.send(msg(to=to, idempotency_key="k")).receipts == result.receipts
    assert len(calls(client)) == 2


def test_a_to_list_too_large_for_one_call_is_refused_before_the_key_is_claimed(client: mailbridge.Client) -> None:
    """One shared email is never split: refused with nothing sent and the key left free."""
    to = [f"u{i}@example.com" for i in range(5)]
    with pytest.raises(mailbridge.LimitExceeded, match="one shared email"):
        client.send(msg(to=to, idempotency_key="k"))
    assert calls(client) == []
    client.send(msg(to=to[:2], idempotency_key="k"))  # the key was never claimed: free for this message
    assert [m.to for m in calls(client)] == [tuple(to[:2])]


def test_a_key_in_flight_elsewhere_raises_outcome_unknown(
    make_client: MakeClient, store: mailbridge.IdempotencyStore
) -> None:
    """Worker A is mid-send with the key; worker B (same store) must not send it too."""
    a = make_client({**ONE_TRY, "idempotency": store})
    b = make_client({**ONE_TRY, "idempotency": store})
    entered, release = threading.Event(), threading.Event()
    original = backend_of(a).send

    def slow_send(message: Message) -> mailbridge.SendReceipt:
        entered.set()
        assert release.wait(10)
        return original(message)

    backend_of(a).send = slow_send  # type: ignore[method-assign]
    worker = threading.Thread(target=a.send, args=(msg(idempotency_key="job-7"),))
    worker.start()
    assert entered.wait(10)
    with pytest.raises(mailbridge.OutcomeUnknown, match="in flight"):
        b.send(msg(idempotency_key="job-7"))
    release.set()
    worker.join(10)
    assert b.send(msg(idempotency_key="job-7")).receipts
    assert calls(b) == [] and len(list(backend_of(a).outbox())) == 1


class FailingStore(mailbridge.MemoryIdempotencyStore):
    def __init__(self, fail: Callable[[str], bool]) -> None:
        super().__init__()
        self.fail = fail

    def claim(self, key: str, value: str, ttl: float) -> str | None:
        if self.fail("claim"):
            raise ConnectionError("store down")
        return super().claim(key, value, ttl)

    def put(self, key: str, value: str, ttl: float) -> None:
        if self.fail("put"):
            raise ConnectionError("store down")
        super().put(key, value, ttl)


def test_store_down_before_the_send_sends_nothing(make_client: MakeClient) -> None:
    client = make_client({**ONE_TRY, "idempotency": FailingStore(lambda op: op == "claim")})
    with pytest.raises(mailbridge.ProviderUnavailable, match="idempotency store did not answer") as info:
        client.send(msg(idempotency_key="k"))
    assert info.value.maybe_sent is False and calls(client) == []


def test_store_failing_after_the_send_still_returns_the_receipt(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client({**ONE_TRY, "idempotency": FailingStore(lambda op: op == "put")})
    caplog.set_level(logging.WARNING, "mailbridge.idempotency")
    result = client.send(msg(idempotency_key="k"))
    assert result.receipts and "could not record the outcome" in caplog.text
    with pytest.raises(mailbridge.OutcomeUnknown):  # unrecorded: stays blocked, never resent
        client.send(msg(idempotency_key="k"))
    assert len(calls(client)) == 1


def test_redis_store_down_fails_closed(make_client: MakeClient, tmp_path: Path) -> None:
    with RedisProcess(tmp_path) as server:
        store = mailbridge.RedisIdempotencyStore(server.url)
    client = make_client({**ONE_TRY, "idempotency": store})
    with pytest.raises(mailbridge.ProviderUnavailable, match="idempotency store"):
        client.send(msg(idempotency_key="k"))
    assert calls(client) == []


def test_failover_idempotency_from_the_url(tmp_path: Path) -> None:
    url = mailbridge.failover_url(
        [f"local://{tmp_path}/a", f"local://{tmp_path}/b"], idempotency=f"sqlite:///{tmp_path}/keys.db"
    )
    with mailbridge.connect_failover(url) as fo:
        first = fo.send(msg(idempotency_key="k"))
    with mailbridge.connect_failover(url) as fo:  # a new process would see the same file
        assert fo.send(msg(idempotency_key="k")).receipts == first.receipts
        assert len(list(fo.clients[0].backend.outbox())) == 1  # type: ignore[attr-defined]
    with pytest.raises(mailbridge.ConfigurationError, match="state"):
        mailbridge.connect_failover(mailbridge.failover_url([f"local://{tmp_path}/a"], idempotency="state"))
    with pytest.raises(mailbridge.ConfigurationError, match="unknown idempotency store"):
        mailbridge.connect_failover(mailbridge.failover_url([f"local://{tmp_path}/a"], idempotency="ftp://x"))


def test_failover_with_a_key_never_resends_an_unknown_outcome(make_client: MakeClient) -> None:
    primary, secondary = make_client(ONE_TRY), make_client(ONE_TRY)
    fo = FailoverClient([primary, secondary], at_least_once=True)
    backend_of(primary).failures["send"] = [mailbridge.OutcomeUnknown("timeout")]
    backend_of(secondary).failures["send"] = [mailbridge.ProviderUnavailable("503")]
    with pytest.raises(mailbridge.OutcomeUnknown):
        fo.send(msg(idempotency_key="k"))
    with pytest.raises(mailbridge.OutcomeUnknown):
        fo.send(msg(idempotency_key="k"))
    assert (len(calls(primary)), len(calls(secondary))) == (1, 1)
    assert all(m.idempotency_key is None for m in calls(primary) + calls(secondary))
