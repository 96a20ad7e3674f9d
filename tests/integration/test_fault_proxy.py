"""Issue 9's judge: "never sends twice", checked through an independent loopback fault proxy.

A :class:`tests.faultproxy.FaultProxy` sits in front of each emulator (Direct Mail and Tencent
SES) and spoils requests by a seeded random schedule: resets before forwarding, connections dropped
after the provider accepted, 500/502/503/504 gateway answers after the provider accepted, the
provider's own throttle errors, answers held past the timeout, answers dribbled slower than it and
truncated answers.
Thousands of ``failover://`` sends run in each order (threads with a FailoverClient each, and asyncio tasks
sharing one AsyncFailoverClient); every message has a unique subject and is
counted in both emulators' sent mail, then matched against what the caller was told:

* ``sent`` (a receipt): delivered exactly once, by the provider the result names;
* ``unknown`` (:class:`mailbridge.OutcomeUnknown`): delivered at most once;
* ``not sent`` (any other mailbridge error, ``maybe_sent`` false): delivered zero times;
* nothing else may escape ``send()``.

The focused tests below pin the exact neutral class of each fault kind, one send each.
``MAILBRIDGE_FAULT_SEED`` changes the seed (default fixed, so a failure reproduces).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ..failover_modes import Failovers
from ..faultproxy import NOT_FORWARDED, Fault, FaultProxy, FaultSpec, proxied_url

SENDER = "noreply@mail.example.com"
BATCH_SENDER = "news@mail.example.com"
TIMEOUT = 0.25  # the client's timeout in the big runs; the proxy's delay and drip pace follow from it
FOCUS_TIMEOUT = 0.5  # one send per test: room for a loaded machine, so a pass-through never times out
SENDS = int(os.environ.get("MAILBRIDGE_FAULT_SENDS", "3000"))  # per order (issue 9: at least 3,000)
WORKERS = 32  # client threads: most of the time is spent waiting out timeouts, not on the CPU
COOLDOWN = float(os.environ.get("MAILBRIDGE_FAULT_COOLDOWN", "0.01"))
SEED = int(os.environ.get("MAILBRIDGE_FAULT_SEED", "20261201"))
ORDERS = [("aliyun", "tencent"), ("tencent", "aliyun")]
PROVIDERS = ("aliyun", "tencent")


# ---------------------------------------------------------------------- rig


@dataclass
class Rig:
    """Both emulators, each behind its own fault proxy."""

    ali: AliyunEmulator
    ten: TencentEmulator
    proxies: dict[str, FaultProxy]
    timeout: float

    def url(self, provider: str) -> str:
        if provider == "aliyun":
            return self.proxies["aliyun"].proxied(self.ali.url_with(timeout=str(self.timeout)))
        return self.proxies["tencent"].proxied(f"{self.ten.url}&timeout={self.timeout}")

    def delivered(self) -> dict[str, collections.Counter[str]]:
        """Subject -> how many times each emulator accepted it (once the proxies are done)."""
        for proxy in self.proxies.values():
            proxy.wait_idle()
        return {
            "aliyun": collections.Counter(m.subject for m in self.ali.sent_mail),
            "tencent": collections.Counter(m["subject"] for m in self.ten.sent_mail),
        }

    def message_ids(self) -> dict[str, dict[str, list[str]]]:
        """Subject -> the ids each emulator gave it (what a receipt must name)."""
        ids: dict[str, dict[str, list[str]]] = {p: collections.defaultdict(list) for p in PROVIDERS}
        for m in self.ali.sent_mail:
            ids["aliyun"][m.subject].append(m.env_id)
        for t in self.ten.sent_mail:
            ids["tencent"][t["subject"]].append(t["message_id"])
        return ids

    def client(self, provider: str, *, retries: int = 1) -> mailbridge.Client:
        return mailbridge.connect(
            self.url(provider),
            retry=mailbridge.RetryPolicy(attempts=retries, wait_initial=0.01, wait_jitter=0.01),
            rate_limiter=mailbridge.RateLimiter.disabled(),
        )

    def failover(
        self, order: tuple[str, str], *, at_least_once: bool = False, failovers: Failovers | None = None
    ) -> mailbridge.FailoverClient:
        """A failover client over both proxies (``failovers``: sync, or behind an AsyncFailoverClient)."""
        url = mailbridge.failover_url(
            [self.url(p) for p in order],
            cooldown=COOLDOWN,
            retries=2,
            rate_limit="off",
            at_least_once=at_least_once,
        )
        return (failovers or Failovers("sync")).connect(url)


@contextlib.contextmanager
def rig(
    seed: int = SEED,
    *,
    weights: dict[Fault, float] | None = None,
    idle_close: float | None = None,
    timeout: float = TIMEOUT,
) -> Iterator[Rig]:
    def proxy(endpoint: str, flavor: Literal["aliyun", "tencent"], seed: int) -> FaultProxy:
        return FaultProxy(endpoint, flavor=flavor, timeout=timeout, seed=seed, weights=weights, idle_close=idle_close)

    with (
        AliyunEmulator(daily_quota=10_000_000) as ali,
        TencentEmulator(rate=0) as ten,
        proxy(ali.endpoint, "aliyun", seed) as ali_proxy,
        proxy(ten.endpoint, "tencent", seed + 1) as ten_proxy,
    ):
        ali.add_sender(SENDER)
        ali.add_sender(BATCH_SENDER, "batch")  # Direct Mail group sends need a batch sender
        yield Rig(ali, ten, {"aliyun": ali_proxy, "tencent": ten_proxy}, timeout)


CLEAN = {Fault.PASS: 1.0}


@pytest.fixture
def quiet(caplog: pytest.LogCaptureFixture) -> None:
    """Thousands of expected failover and retry warnings: keep only errors."""
    caplog.set_level(logging.ERROR, logger="mailbridge")
    caplog.set_level(logging.ERROR, logger="stamina")


def message(subject: str) -> mailbridge.Message:
    return mailbridge.Message(sender=SENDER, to=[f"{subject}@example.com"], subject=subject, text="hi")


# ---------------------------------------------------------------------- the big run


@dataclass
class Told:
    """What the caller was told about one message."""

    kind: str  # "sent" | "unknown" | "not_sent" | "escaped"
    provider: str | None = None
    error: str | None = None
    tried: bool = True  # False: every provider was cooling down, no request left
    refused: int = 0  # times the caller was told "every provider is cooling down, nothing tried" first
    message_ids: tuple[str, ...] = ()
    accounted: bool = True  # an error put the address in maybe_sent_to (unknown) or not_sent (not sent)


@dataclass
class Run:
    order: tuple[str, str]
    at_least_once: bool
    seed: int
    told: dict[str, Told] = field(default_factory=dict)
    delivered: dict[str, collections.Counter[str]] = field(default_factory=dict)
    ids: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    faults: dict[str, collections.Counter[str]] = field(default_factory=dict)
    forwarded: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    senders: str = "threads, each with its own FailoverClient"

    def total(self, subject: str) -> int:
        return sum(self.delivered[p][subject] for p in PROVIDERS)

    def violations(self) -> dict[str, list[str]]:
        told, total = self.told, self.total
        return {
            "escaped": sorted(s for s, t in told.items() if t.kind == "escaped"),
            "delivered_twice": sorted(s for s in told if total(s) > 1),
            "receipt_but_not_delivered": sorted(
                s for s, t in told.items() if t.kind == "sent" and self.delivered[str(t.provider)][s] == 0
            ),
            "receipt_names_another_message": sorted(
                s
                for s, t in told.items()
                if t.kind == "sent"
                and not (t.message_ids and set(t.message_ids) <= set(self.ids[str(t.provider)].get(s, ())))
            ),
            "not_sent_but_delivered": sorted(s for s, t in told.items() if t.kind == "not_sent" and total(s) > 0),
            "delivered_but_not_success_or_unknown": sorted(
                s for s, t in told.items() if total(s) > 0 and t.kind not in ("sent", "unknown")
            ),
            "error_misplaces_the_address": sorted(s for s, t in told.items() if not t.accounted),
            "stray_deliveries": sorted(
                s for p in PROVIDERS for s in self.delivered[p] if s not in told
            ),  # the emulators got a subject nobody sent
        }

    def summary(self) -> str:
        name = " -> ".join(self.order) + (" at_least_once" if self.at_least_once else "")
        lines = [
            f"== failover {name}: {len(self.told)} sends in {self.seconds:.1f}s, {WORKERS} {self.senders}, "
            f"seed {self.seed} (Direct Mail proxy; SES proxy +1)"
        ]
        kinds = [str(k) for k in Fault]
        lines.append("  faults     " + " ".join(f"{k:>9}" for k in kinds) + "  requests forwarded")
        for p in PROVIDERS:
            row = " ".join(f"{self.faults[p][k]:>9}" for k in kinds)
            lines.append(f"  {p:<10} {row}  {sum(self.faults[p].values()):>8} {self.forwarded[p]:>9}")
        outcomes = collections.Counter(
            f"sent via {t.provider}" if t.kind == "sent" else f"{t.kind} ({t.error}{'' if t.tried else ', untried'})"
            for t in self.told.values()
        )
        lines.append("  outcomes   " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))
        refusals = sum(t.refused for t in self.told.values())
        lines.append(f"  refused untried (all cooling down), sent again a cooldown later: {refusals}")
        per_kind: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        for s, t in self.told.items():
            per_kind[t.kind][self.total(s)] += 1
        lines.append(
            "  delivered  "
            + "; ".join(
                f"{kind}: " + ", ".join(f"{n}x={c}" for n, c in sorted(counts.items()))
                for kind, counts in sorted(per_kind.items())
            )
        )
        lines.append("  violations " + ", ".join(f"{k}={len(v)}" for k, v in self.violations().items()))
        return "\n".join(lines)


UNTRIED_RESENDS = 100  # a caller told "nothing was tried" sends the message again a cooldown later


def _told(subject: str, outcome: mailbridge.SendResult | Exception, refused: int) -> Told | None:
    """What a careful caller was told by one send's ``outcome`` (its result or what it raised); None when
    nothing was tried (every provider cooling down) and it sends the message again a cooldown later."""
    if isinstance(outcome, mailbridge.MailbridgeError):
        exc = outcome
        kind = "unknown" if isinstance(exc, mailbridge.OutcomeUnknown) else "not_sent"
        if exc.maybe_sent is not (kind == "unknown"):
            return Told("escaped", error=f"{type(exc).__name__} with maybe_sent={exc.maybe_sent}")
        tried = any(a.outcome != "skipped" for a in exc.attempts)
        if not tried and refused < UNTRIED_RESENDS:  # every provider cooling down: nothing left
            return None
        to = f"{subject}@example.com"
        accounted = (to in exc.maybe_sent_to, to in exc.not_sent) == (kind == "unknown", kind == "not_sent")
        return Told(kind, error=type(exc).__name__, tried=tried, refused=refused, accounted=accounted)
    if isinstance(outcome, Exception):  # anything else escaping send() is a finding
        return Told("escaped", error=f"{type(outcome).__module__}.{type(outcome).__name__}: {outcome}"[:200])
    if outcome.attempts[-1].outcome != "sent":
        return Told("escaped", error=f"a result whose last attempt is {outcome.attempts[-1]}")
    return Told("sent", provider=outcome.attempts[-1].provider, refused=refused, message_ids=outcome.message_ids)


def _send_one(fo: mailbridge.FailoverClient, subject: str) -> Told:
    """Send one message the way a careful caller would; what it was told in the end."""
    refused = 0
    while True:
        try:
            outcome: mailbridge.SendResult | Exception = fo.send(message(subject))
        except Exception as exc:
            outcome = exc
        if (told := _told(subject, outcome, refused)) is not None:
            return told
        refused += 1
        time.sleep(COOLDOWN)


async def _asend_one(fo: mailbridge.AsyncFailoverClient, subject: str) -> Told:
    """:func:`_send_one` through the async client (the cooldown awaited)."""
    for refused in range(UNTRIED_RESENDS + 1):
        try:
            told = _told(subject, await fo.send(message(subject)), refused)
        except Exception as exc:
            told = _told(subject, exc, refused)
        if told is not None:
            return told
        await asyncio.sleep(COOLDOWN)
    raise AssertionError("unreachable: the last resend is always told")


def _send_all(rig: Rig, order: tuple[str, str], *, at_least_once: bool, sends: int, tag: str, seed: int) -> Run:
    run = Run(order, at_least_once, seed)
    lock = threading.Lock()

    def worker(w: int) -> None:
        with rig.failover(order, at_least_once=at_least_once) as fo:
            for i in range(w, sends, WORKERS):
                subject = f"{tag}-{i}"
                told = _send_one(fo, subject)
                with lock:
                    run.told[subject] = told

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,), name=f"sender-{w}") for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return _tally(rig, run, time.monotonic() - started)


def _send_all_async(rig: Rig, order: tuple[str, str], *, at_least_once: bool, sends: int, tag: str, seed: int) -> Run:
    """:func:`_send_all` as an asyncio app does it: WORKERS tasks on one loop share one AsyncFailoverClient
    (one health store); Direct Mail sends natively, SES in the loop's WORKERS threads."""
    run = Run(order, at_least_once, seed, senders="asyncio tasks on one AsyncFailoverClient")

    async def main() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(WORKERS, thread_name_prefix="ses"))
        async with mailbridge.AsyncFailoverClient(rig.failover(order, at_least_once=at_least_once)) as fo:

            async def worker(w: int) -> None:
                for i in range(w, sends, WORKERS):
                    run.told[f"{tag}-{i}"] = await _asend_one(fo, f"{tag}-{i}")

            await asyncio.gather(*(worker(w) for w in range(WORKERS)))

    started = time.monotonic()
    asyncio.run(main())
    return _tally(rig, run, time.monotonic() - started)


def _tally(rig: Rig, run: Run, seconds: float) -> Run:
    """The run's ground truth once the proxies are idle: deliveries, ids, faults served."""
    run.seconds = seconds
    run.delivered = rig.delivered()
    run.ids = rig.message_ids()
    for p in PROVIDERS:
        log = rig.proxies[p].log
        run.faults[p] = collections.Counter(str(i.spec.kind) for i in log)
        run.forwarded[p] = sum(i.forwarded for i in log)
    return run


def _check_the_run_was_meaningful(run: Run) -> None:
    """The judge itself: every fault kind hit both proxies, and both kinds of answer came back."""
    least = max(1, len(run.told) // 300)  # 10 of each kind in a full run
    for p in PROVIDERS:
        missing = [str(k) for k in Fault if run.faults[p][str(k)] < least]
        assert not missing, f"{p}: too few faults of kinds {missing}: {run.faults[p]}"
    kinds = collections.Counter(t.kind for t in run.told.values())
    # At least 2% clean receipts: on a loaded machine most sends outlive the 0.25 s timeout (unknown), which is
    # still a meaningful run; what matters is that both kinds of answer were judged.
    assert kinds["sent"] > len(run.told) // 50, kinds
    assert run.at_least_once or kinds["unknown"] > 0, kinds
    assert any(t.kind == "sent" and t.provider == run.order[1] for t in run.told.values()), "no failover happened"


def _judge(run: Run, sends: int, capsys: pytest.CaptureFixture[str]) -> None:
    """No violation in a meaningful run (at-least-once runs may deliver an unknown outcome twice)."""
    with capsys.disabled():
        print("\n" + run.summary())
    assert len(run.told) == sends
    _check_the_run_was_meaningful(run)
    violations = run.violations()
    if run.at_least_once:
        del violations["delivered_twice"]  # at-least-once: an unknown outcome is sent again elsewhere
    found = {k: len(v) for k, v in violations.items()}
    examples = {k: v[:5] for k, v in violations.items() if v}
    assert found == dict.fromkeys(found, 0), f"{found}; e.g. {examples}"


def _big_run(
    order: tuple[str, str], capsys: pytest.CaptureFixture[str], seeds: tuple[int, int], tag: str, **how: Any
) -> None:
    """One judged run of SENDS in ``order`` (``seeds``: the seed offset for each first provider)."""
    seed = SEED + seeds[order[0] != "aliyun"]
    run_all = _send_all_async if how.pop("asyncio", False) else _send_all
    with rig(seed) as r:
        run = run_all(r, order, at_least_once=how.pop("at_least_once", False), sends=SENDS, tag=tag, seed=seed)
    _judge(run, SENDS, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("senders", ["threads", "asyncio"])
@pytest.mark.parametrize("order", ORDERS, ids=["aliyun-first", "tencent-first"])
def test_failover_never_sends_twice_under_random_faults(
    order: tuple[str, str], senders: str, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    """Threads with a FailoverClient each, or asyncio tasks sharing one AsyncFailoverClient (Direct Mail native)."""
    if senders == "threads":
        _big_run(order, capsys, (0, 100), f"nt-{order[0]}")
    else:
        _big_run(order, capsys, (400, 500), f"ant-{order[0]}", asyncio=True)


@pytest.mark.slow
@pytest.mark.parametrize("order", ORDERS, ids=["aliyun-first", "tencent-first"])
def test_at_least_once_never_reports_a_delivered_message_as_not_sent(
    order: tuple[str, str], capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    _big_run(order, capsys, (200, 300), f"alo-{order[0]}", at_least_once=True)


# ---------------------------------------------------------------------- split sends, address by address

SPLIT_SENDS = int(os.environ.get("MAILBRIDGE_FAULT_SPLIT_SENDS", "150"))  # per order and mode
SPLIT_TO = 120  # Direct Mail takes 100 addresses a call (2 calls), SES 50 (3 calls)


@dataclass
class Split:
    """What the caller was told about one split send, address by address."""

    addresses: tuple[str, ...]
    kind: str  # "sent" | "unknown" | "not_sent" | "escaped"
    error: str | None = None
    receipts: dict[str, set[str]] = field(default_factory=dict)  # provider -> accepted addresses
    not_sent: set[str] = field(default_factory=set)
    maybe: set[str] = field(default_factory=set)


def _split_one(fo: mailbridge.FailoverClient, subject: str) -> Split:
    addresses = tuple(f"{subject}.{k}@example.com" for k in range(SPLIT_TO))
    batch = mailbridge.Message(sender=SENDER, to=addresses, subject=subject, text="hi")
    for _ in range(UNTRIED_RESENDS):
        try:
            result = fo.send(batch)
        except mailbridge.MailbridgeError as exc:
            if not any(a.outcome != "skipped" for a in exc.attempts):
                time.sleep(COOLDOWN)  # nothing was tried: send it again a cooldown later
                continue
            told = Split(addresses, "unknown" if exc.maybe_sent else "not_sent", type(exc).__name__)
            receipts = exc.partial_result or ()
            told.not_sent, told.maybe = set(exc.not_sent), set(exc.maybe_sent_to)
        except Exception as exc:  # anything else escaping send() is a finding
            return Split(addresses, "escaped", f"{type(exc).__module__}.{type(exc).__name__}: {exc}"[:200])
        else:
            told, receipts = Split(addresses, "sent"), result.receipts
        for receipt in receipts:
            told.receipts.setdefault(receipt.provider, set()).update(receipt.accepted)
        return told
    return Split(addresses, "not_sent", "every provider cooling down", not_sent=set(addresses))


def _split_violations(
    splits: dict[str, Split], delivered: dict[str, collections.Counter[str]], at_least_once: bool
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = collections.defaultdict(list)
    for subject, told in splits.items():
        if told.kind == "escaped":
            found["escaped"].append(f"{subject}: {told.error}")
            continue
        for a in told.addresses:
            total = sum(delivered[p][a] for p in PROVIDERS)
            receipted = [p for p, accepted in told.receipts.items() if a in accepted]
            claims = (bool(receipted), a in told.not_sent, a in told.maybe)
            if total > 1 and not at_least_once:
                found["address_delivered_twice"].append(a)
            if any(delivered[p][a] == 0 for p in receipted):
                found["receipt_but_not_delivered_there"].append(a)
            if a in told.not_sent and total > 0:
                found["not_sent_but_delivered"].append(a)
            if total > 0 and not receipted and a not in told.maybe:
                found["delivered_but_neither_receipted_nor_maybe"].append(a)
            if told.kind == "sent" and claims != (True, False, False):
                found["success_without_a_receipt_for_it"].append(a)
            one_claim = sum(claims) == 1  # exactly one of: receipted, certainly not sent, maybe sent
            loose = any(claims) and not (claims[1] and sum(claims) > 1)  # at least once: receipted and maybe
            if told.kind != "sent" and not (loose if at_least_once else one_claim):
                found["error_claims_overlap_or_miss_it"].append(a)
    return found


def _split_all(
    rig: Rig, order: tuple[str, str], at_least_once: bool
) -> tuple[dict[str, Split], dict[str, collections.Counter[str]]]:
    splits: dict[str, Split] = {}
    lock = threading.Lock()
    tag = f"split-{order[0]}-{int(at_least_once)}"

    def worker(w: int) -> None:
        with rig.failover(order, at_least_once=at_least_once) as fo:
            for i in range(w, SPLIT_SENDS, WORKERS // 2):
                told = _split_one(fo, f"{tag}-{i}")
                with lock:
                    splits[f"{tag}-{i}"] = told

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS // 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for proxy in rig.proxies.values():
        proxy.wait_idle()
    delivered = {
        "aliyun": collections.Counter(a for m in rig.ali.sent_mail for a in m.to),
        "tencent": collections.Counter(a for m in rig.ten.sent_mail for a in m["to"]),
    }
    return splits, delivered


@pytest.mark.skip(
    reason="send() no longer splits a to-list (issue 11: several 'to' are one shared email, a list larger than one "
    "call is refused before any call; mailbridge/testing/contract.py pins it); send_many carries one copy each"
)
@pytest.mark.slow
@pytest.mark.parametrize("at_least_once", [False, True], ids=["at-most-once", "at-least-once"])
@pytest.mark.parametrize("order", ORDERS, ids=["aliyun-first", "tencent-first"])
def test_split_failover_sends_account_for_every_address(
    order: tuple[str, str], at_least_once: bool, capsys: pytest.CaptureFixture[str], quiet: None
) -> None:
    """Issue 9, results that say exactly what happened: receipts, ``not_sent`` and ``maybe_sent_to``
    of 120-address sends (split 100 + 20 on Direct Mail, 50 + 50 + 20 on SES) under random faults."""
    with rig(SEED + (400 if order[0] == "aliyun" else 500) + int(at_least_once)) as r:
        splits, delivered = _split_all(r, order, at_least_once)
        faults = {p: sum(i.spec.kind is not Fault.PASS for i in r.proxies[p].log) for p in PROVIDERS}
    found = _split_violations(splits, delivered, at_least_once)
    kinds = collections.Counter(t.kind for t in splits.values())
    partial = sum(1 for t in splits.values() if t.kind != "sent" and t.receipts)
    with capsys.disabled():
        print(
            f"\n== split sends {' -> '.join(order)}{' at_least_once' if at_least_once else ''}: {len(splits)} x "
            f"{SPLIT_TO} addresses, faults {faults}, outcomes {dict(kinds)}, errors with partial receipts {partial}, "
            f"addresses delivered {sum(sum(c.values()) for c in delivered.values())}; violations "
            + ", ".join(f"{k}={len(v)}" for k, v in found.items())
        )
    assert len(splits) == SPLIT_SENDS
    assert {k: len(v) for k, v in found.items()} == {}, {k: v[:3] for k, v in found.items()}
    assert partial > 0, "no split send failed half-way: the judge saw nothing"


# ---------------------------------------------------------------------- the judge's own behaviour


def _raw_exchange(
    proxy: FaultProxy, requests: int = 1, *, close: bool = False
) -> tuple[list[bytes], BaseException | None]:
    """Send ``requests`` GETs for the emulator's state on one connection; every recv() chunk, and how it ended."""
    chunks: list[bytes] = []
    header = b"Connection: close\r\n" if close else b""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall((b"GET /_emulator/state HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"\r\n") * requests)
        try:
            while data := sock.recv(65536):
                chunks.append(data)
                if b"".join(chunks).count(b"HTTP/1.") == requests and b"".join(chunks).endswith(b"}"):
                    break
        except OSError as exc:
            return chunks, exc
    return chunks, None


def test_the_proxy_passes_answers_through_byte_for_byte_on_a_kept_alive_connection(fresh: Rig) -> None:
    direct = _state_direct(fresh.ali.port)
    chunks, error = _raw_exchange(fresh.proxies["aliyun"], requests=2)
    assert error is None
    answers = b"".join(chunks).split(b"HTTP/1.1 ")[1:]
    assert len(answers) == 2
    assert all(a.rsplit(b"\r\n\r\n", 1)[1] == direct.rsplit(b"\r\n\r\n", 1)[1] for a in answers)


def _state_direct(port: int) -> bytes:
    """The emulator's own answer to the same GET, without the proxy."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /_emulator/state HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_a_reset_is_an_rst_and_a_drop_a_fin_after_forwarding(fresh: Rig) -> None:
    proxy = fresh.proxies["aliyun"]
    before = len(proxy.log)
    proxy.queue(Fault.RESET)
    chunks, error = _raw_exchange(proxy)
    assert (chunks, type(error)) == ([], ConnectionResetError)
    proxy.queue(Fault.DROP)
    chunks, error = _raw_exchange(proxy)
    assert (chunks, error) == ([], None)  # an orderly close, no byte of the answer
    proxy.queue(FaultSpec(Fault.DROP, rst=True))
    chunks, error = _raw_exchange(proxy)
    assert (chunks, type(error)) == ([], ConnectionResetError)
    assert [(i.spec.label(), i.forwarded) for i in proxy.log[before:]] == [
        ("reset", False),
        ("drop fin", True),
        ("drop rst", True),
    ]


def test_a_drip_delivers_the_real_answer_a_few_bytes_at_a_time(fresh: Rig) -> None:
    proxy = fresh.proxies["tencent"]
    proxy.queue(Fault.DRIP)
    chunks, error = _raw_exchange(proxy)
    answer = b"".join(chunks)
    assert error is None and len(chunks) > 1
    assert proxy.log[-1].writes == -(-len(answer) // proxy.drip_chunk)  # a few bytes per write
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]).keys() == {"groups", "sent_mail"}


def test_a_truncated_answer_is_cut_short_or_well_framed_but_half(fresh: Rig) -> None:
    proxy = fresh.proxies["aliyun"]
    real = _state_direct(fresh.ali.port).split(b"\r\n\r\n", 1)[1]
    for garbled in (False, True):
        proxy.queue(FaultSpec(Fault.TRUNCATE, garbled=garbled))
        chunks, error = _raw_exchange(proxy, close=True)
        head, body = b"".join(chunks).split(b"\r\n\r\n", 1)
        length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")).split(b":")[1])
        assert (error, body) == (None, real[: len(real) // 2])
        assert length == (len(body) if garbled else len(real))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_throttle_is_the_providers_own_error_body(fresh: Rig, provider: str) -> None:
    proxy = fresh.proxies[provider]
    proxy.queue(Fault.THROTTLE)
    chunks, _ = _raw_exchange(proxy)
    head, body = b"".join(chunks).split(b"\r\n\r\n", 1)
    decoded = json.loads(body)
    if provider == "aliyun":
        assert head.startswith(b"HTTP/1.1 400 ") and decoded["Code"] == "Throttling.User"
    else:
        assert head.startswith(b"HTTP/1.1 200 ") and decoded["Response"]["Error"]["Code"] == "RequestLimitExceeded"
    assert proxy.log[-1].forwarded is False


# ---------------------------------------------------------------------- one fault, one send


@pytest.fixture(scope="module")
def clean() -> Iterator[Rig]:
    """Both emulators behind proxies that pass everything unless a test queues a fault."""
    with rig(weights=CLEAN, timeout=FOCUS_TIMEOUT) as r:
        yield r


@pytest.fixture
def fresh(clean: Rig) -> Iterator[Rig]:
    yield clean
    for proxy in clean.proxies.values():
        proxy.clear()


_subjects = iter(range(1_000_000))


def unique(name: str) -> str:
    return f"focus-{name.replace(' ', '-')}-{next(_subjects)}"


def delivered(r: Rig, subject: str) -> dict[str, int]:
    counts = r.delivered()
    return {p: counts[p][subject] for p in PROVIDERS}


# (fault, expected neutral class or None for a receipt, deliveries): the answer is lost after the
# provider accepted -> OutcomeUnknown and delivered once; never forwarded -> delivered zero times.
ONE_FAULT: list[tuple[FaultSpec, type[mailbridge.MailbridgeError] | None, int]] = [
    (FaultSpec(Fault.PASS), None, 1),
    (FaultSpec(Fault.RESET), mailbridge.OutcomeUnknown, 0),  # the client cannot tell it from a drop
    (FaultSpec(Fault.DROP), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.DROP, rst=True), mailbridge.OutcomeUnknown, 1),
    *[
        (FaultSpec(Fault.GATEWAY, status=status, empty=empty, close=close), mailbridge.OutcomeUnknown, 1)
        for status in (500, 502, 503, 504)
        for empty, close in ((False, False), (True, True))
    ],
    (FaultSpec(Fault.THROTTLE), mailbridge.RateLimited, 0),
    (FaultSpec(Fault.DELAY), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.DRIP), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.TRUNCATE), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.TRUNCATE, garbled=True), mailbridge.OutcomeUnknown, 1),
]


def outcome(send: Callable[[], object]) -> tuple[str, mailbridge.MailbridgeError | None]:
    """("receipt", None) when the call returned, or (the neutral class name, the error)."""
    try:
        send()
    except mailbridge.MailbridgeError as exc:
        return type(exc).__name__, exc
    return "receipt", None


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("spec", "expected", "count"), ONE_FAULT, ids=[s.label() for s, _, _ in ONE_FAULT])
def test_one_fault_gives_the_exact_neutral_class(
    fresh: Rig, provider: str, spec: FaultSpec, expected: type[mailbridge.MailbridgeError] | None, count: int
) -> None:
    """One send, one fault, retries allowed: a wrong "not sent" shows as a retry and a second delivery."""
    proxy = fresh.proxies[provider]
    before = len(proxy.log)
    subject = unique(f"{provider}-{spec.label()}")
    retries = 1 if spec.kind is Fault.THROTTLE else 3  # a throttle is retried: see the next test
    proxy.queue(spec)
    with fresh.client(provider, retries=retries) as client:
        got, error = outcome(lambda: client.send(message(subject)))
    requests = proxy.log[before:]
    seen = (got, [i.spec.label() for i in requests], delivered(fresh, subject))
    want = (
        expected.__name__ if expected else "receipt",
        [spec.label()],  # never retried: a throttle because retries=1, the rest because they are not refusals
        {p: count if p == provider else 0 for p in PROVIDERS},
    )
    assert seen == want, f"{provider} {spec.label()}: got {seen}; error: {error}"
    if error is not None:
        assert error.maybe_sent is (expected is mailbridge.OutcomeUnknown)
    assert requests[0].forwarded is (spec.kind not in NOT_FORWARDED)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_throttle_is_retried_and_delivered_once(fresh: Rig, provider: str) -> None:
    proxy = fresh.proxies[provider]
    before = len(proxy.log)
    subject = unique(f"{provider}-throttle-retried")
    proxy.queue(Fault.THROTTLE, FaultSpec(Fault.THROTTLE, close=True))
    with fresh.client(provider, retries=3) as client:
        result = client.send(message(subject))
    assert [str(i.spec.kind) for i in proxy.log[before:]] == ["throttle", "throttle", "pass"]
    assert result.provider == provider
    assert delivered(fresh, subject) == {p: int(p == provider) for p in PROVIDERS}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_receipt_names_the_message_the_emulator_kept(fresh: Rig, provider: str) -> None:
    subject = unique(f"{provider}-receipt")
    with fresh.client(provider) as client:
        result = client.send(message(subject))
    if provider == "aliyun":
        kept = [m.env_id for m in fresh.ali.sent_mail if m.subject == subject]
    else:
        kept = [m["message_id"] for m in fresh.ten.sent_mail if m["subject"] == subject]
    assert list(result.message_ids) == kept


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_kept_alive_connection_closed_while_idle_is_not_an_unknown_outcome(provider: str) -> None:
    """A load balancer closes idle connections (here after 0.3 s): the next send must not be "maybe sent"."""
    with rig(weights=CLEAN, idle_close=0.3, timeout=FOCUS_TIMEOUT) as r, r.client(provider) as client:
        subjects = [unique(f"{provider}-idle-{n}") for n in range(3)]
        client.send(message(subjects[0]))
        client.send(message(subjects[1]))  # at once: on the same, pooled connection
        time.sleep(0.9)  # the proxy has closed the pooled connection by now
        got, error = outcome(lambda: client.send(message(subjects[2])))
        assert got == "receipt", error
        assert [delivered(r, s) for s in subjects] == [{p: int(p == provider) for p in PROVIDERS}] * 3
        first, again, last = (i.connection for i in r.proxies[provider].log)
        assert first == again != last  # the scenario happened: a kept-alive connection, closed while idle


CREATE_FAULTS = [
    FaultSpec(Fault.RESET),
    FaultSpec(Fault.DROP),
    FaultSpec(Fault.GATEWAY, status=502),
    FaultSpec(Fault.GATEWAY, status=504, empty=True),
    FaultSpec(Fault.DELAY),
    FaultSpec(Fault.TRUNCATE),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("spec", CREATE_FAULTS, ids=lambda s: s.label())
def test_a_create_whose_answer_is_lost_leaves_exactly_one_group(fresh: Rig, provider: str, spec: FaultSpec) -> None:
    """Issue 9, creates safe to repeat: the group is looked up by name, never created twice."""
    name = f"grp-{next(_subjects)}"  # group names: at most 30 characters on Direct Mail
    fresh.proxies[provider].queue(spec, action="CreateReceiver")
    with fresh.client(provider, retries=3) as client:
        got, error = outcome(lambda: client.create_group(name))
        assert got == "receipt", error
    fresh.proxies[provider].wait_idle()
    if provider == "aliyun":
        names = [r.name for r in fresh.ali.lists.values()]
    else:
        with fresh.ten._lock:
            names = [g.name for g in fresh.ten.groups.values()]
    assert names.count(name) == 1


GROUP_FAULTS: list[tuple[FaultSpec, type[mailbridge.MailbridgeError], int]] = [
    (FaultSpec(Fault.RESET), mailbridge.OutcomeUnknown, 0),
    (FaultSpec(Fault.DROP, rst=True), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.GATEWAY, status=503), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.GATEWAY, status=502, empty=True), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.THROTTLE), mailbridge.RateLimited, 0),
    (FaultSpec(Fault.DELAY), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.DRIP), mailbridge.OutcomeUnknown, 1),
    (FaultSpec(Fault.TRUNCATE, garbled=True), mailbridge.OutcomeUnknown, 1),
]
BATCH_ACTION = {"aliyun": "BatchSendMail", "tencent": "BatchSendEmail"}


@pytest.fixture(scope="module")
def one_member_groups(clean: Rig) -> dict[str, str]:
    """A group of one address on each provider (a group send then delivers once per run)."""
    names = {}
    for provider in PROVIDERS:
        with clean.client(provider) as client:
            group = client.create_group(f"batch-{provider}")
            client.upload(group, ["member@example.com"], wait=True)
            names[provider] = group.name
    return names


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("spec", "expected", "count"), GROUP_FAULTS, ids=[s.label() for s, _, _ in GROUP_FAULTS])
def test_a_group_send_under_one_fault_gives_the_exact_neutral_class(
    fresh: Rig,
    one_member_groups: dict[str, str],
    provider: str,
    spec: FaultSpec,
    expected: type[mailbridge.MailbridgeError],
    count: int,
) -> None:
    """Group sends are not idempotent either: never retried unless certainly refused."""
    subject = unique(f"batch-{provider}-{spec.label()}")
    if provider == "aliyun":
        batch = mailbridge.Message(sender=BATCH_SENDER, to=(), subject=subject, text="hi")
    else:  # SES group sends take a template (the emulator's template 1)
        batch = mailbridge.Message(sender=SENDER, to=(), subject=subject, template_id="1", template_data={})
    proxy = fresh.proxies[provider]
    before = len(proxy.log)
    proxy.queue(spec, action=BATCH_ACTION[provider])
    with fresh.client(provider, retries=1 if spec.kind is Fault.THROTTLE else 3) as client:
        got, error = outcome(lambda: client.send_to_group(one_member_groups[provider], batch))
    sends = [i.spec.label() for i in proxy.log[before:] if i.action == BATCH_ACTION[provider]]
    seen = (got, sends, delivered(fresh, subject)[provider])
    assert seen == (expected.__name__, [spec.label()], count), f"{provider} {spec.label()}: got {seen}; {error}"


# ---------------------------------------------------------------------- one fault on the primary


@pytest.mark.parametrize("order", ORDERS, ids=["aliyun-first", "tencent-first"])
def test_a_throttled_primary_fails_over_and_delivers_once(
    fresh: Rig, order: tuple[str, str], failovers: Failovers
) -> None:
    primary, secondary = order
    subject = unique(f"fo-throttle-{primary}")
    fresh.proxies[primary].queue(Fault.THROTTLE, Fault.THROTTLE)  # retries=2: both attempts throttled
    with fresh.failover(order, failovers=failovers) as fo:
        result = fo.send(message(subject))
    assert [(a.provider, a.outcome) for a in result.attempts] == [(primary, "failed"), (secondary, "sent")]
    assert delivered(fresh, subject) == {primary: 0, secondary: 1}


@pytest.mark.parametrize("order", ORDERS, ids=["aliyun-first", "tencent-first"])
@pytest.mark.parametrize(
    "spec",
    [FaultSpec(Fault.RESET), FaultSpec(Fault.DROP), FaultSpec(Fault.GATEWAY, status=502), FaultSpec(Fault.DRIP)],
    ids=lambda s: s.label(),
)
def test_an_unknown_outcome_on_the_primary_is_not_failed_over(
    fresh: Rig, order: tuple[str, str], spec: FaultSpec, failovers: Failovers
) -> None:
    primary, secondary = order
    subject = unique(f"fo-{spec.label()}-{primary}")
    fresh.proxies[primary].queue(spec)
    with fresh.failover(order, failovers=failovers) as fo, pytest.raises(mailbridge.MailbridgeError) as caught:
        fo.send(message(subject))
    assert type(caught.value) is mailbridge.OutcomeUnknown, f"{type(caught.value).__name__}: {caught.value}"
    assert [(a.provider, a.outcome) for a in caught.value.attempts] == [(primary, "unknown")]
    reached = int(spec.kind is not Fault.RESET)
    assert delivered(fresh, subject) == {primary: reached, secondary: 0}


@pytest.mark.parametrize("order", ORDERS, ids=["aliyun-first", "tencent-first"])
def test_a_primary_refusing_connections_fails_over_and_delivers_once(
    fresh: Rig, order: tuple[str, str], failovers: Failovers
) -> None:
    """Connection refused: the request certainly never left, so the secondary may take it."""
    primary, secondary = order
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    urls = {p: fresh.url(p) for p in PROVIDERS}
    urls[primary] = proxied_url(urls[primary], closed)
    url = mailbridge.failover_url([urls[p] for p in order], cooldown=COOLDOWN, retries=2, rate_limit="off")
    subject = unique(f"fo-refused-{primary}")
    with failovers.connect(url) as fo:
        result = fo.send(message(subject))
    assert [(a.provider, a.outcome) for a in result.attempts] == [(primary, "failed"), (secondary, "sent")]
    assert delivered(fresh, subject) == {primary: 0, secondary: 1}


@pytest.mark.parametrize("order", ORDERS, ids=["aliyun-first", "tencent-first"])
def test_at_least_once_sends_again_elsewhere_after_an_unknown_outcome(
    fresh: Rig, order: tuple[str, str], failovers: Failovers
) -> None:
    primary, secondary = order
    subject = unique(f"alo-drop-{primary}")
    fresh.proxies[primary].queue(Fault.DROP)
    with fresh.failover(order, at_least_once=True, failovers=failovers) as fo:
        result = fo.send(message(subject))
    assert [(a.provider, a.outcome) for a in result.attempts] == [(primary, "unknown"), (secondary, "sent")]
    assert delivered(fresh, subject) == {primary: 1, secondary: 1}  # at least once: maybe twice


@pytest.mark.parametrize("order", ORDERS, ids=["aliyun-first", "tencent-first"])
def test_at_least_once_never_turns_an_unknown_outcome_into_not_sent(
    fresh: Rig, order: tuple[str, str], failovers: Failovers
) -> None:
    """Primary: accepted, answer lost; secondary: throttled (certainly not sent). The message was delivered."""
    primary, secondary = order
    subject = unique(f"alo-drop-throttle-{primary}")
    fresh.proxies[primary].queue(Fault.DROP)
    fresh.proxies[secondary].queue(Fault.THROTTLE, Fault.THROTTLE)
    with (
        fresh.failover(order, at_least_once=True, failovers=failovers) as fo,
        pytest.raises(mailbridge.MailbridgeError) as caught,
    ):
        fo.send(message(subject))
    assert delivered(fresh, subject) == {primary: 1, secondary: 0}
    assert caught.value.maybe_sent, f"{type(caught.value).__name__} (maybe_sent false) for a delivered message"
    assert isinstance(caught.value, mailbridge.OutcomeUnknown)
