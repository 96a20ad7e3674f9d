"""Every listing of both cloud backends ends against a server that never does (requests counted).

The servers misbehave in the ways issue 10 met and a few more: they ignore the cursor
(``Offset``/``NextStart``/``PageNo``) and claim an absurd ``TotalCount``; they answer an empty
page that says "more"; they repeat or cycle ``NextStart``; or they produce new full pages for
ever. The first kinds end cleanly after a counted handful of requests (what was read is every
distinct record); the last ends with ProviderUnavailable after exactly ``MAX_PAGES`` requests
and is not retried. Direct Mail is served through ``httpx.MockTransport``, SES through the SDK's
``requests`` session (:mod:`tests.tencent._http`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from attrs import frozen
from mailbridge_aliyun import AliyunBackend

import mailbridge
from mailbridge import Group, ProviderUnavailable, RateLimiter
from mailbridge import _paging as paging

from ..tencent._http import canned_backend

HUGE = 10**12
CAP = 7  # MAX_PAGES for these tests
BEIJING = dt.timezone(dt.timedelta(hours=8))
# A window inside SES's 30-day retention that is exactly one Beijing day (one query window on both clouds).
DAY = (dt.datetime.now(BEIJING) - dt.timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
START, END = DAY.astimezone(dt.UTC), (DAY + dt.timedelta(days=1)).astimezone(dt.UTC)
GROUP = Group(id="1001", name="news", provider="x")


@pytest.fixture(autouse=True)
def _small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paging, "MAX_PAGES", CAP)


@frozen
class Listing:
    """One listing: how it is consumed, which action pages it, and one record of page ``n``."""

    name: str
    action: str
    run: Callable[[mailbridge.Client], Any]
    record: Callable[[int, int], dict[str, Any]]  # (page, index) -> record
    size: int
    key: tuple[str, ...]  # where the records sit in the answer
    paging: str  # "next_start", "page_no" or "offset"


def _time(page: int, i: int) -> int:
    return int(START.timestamp()) + page * 100 + i


ALIYUN = [
    Listing("groups", "QueryReceiverByParam", lambda c: list(c.groups()),
            lambda p, i: {"ReceiverId": f"{p}-{i}", "ReceiversName": f"g{p}-{i}", "Count": 1}, 100,
            ("data", "receiver"), "next_start"),
    Listing("refresh_group", "QueryReceiverByParam", lambda c: c.refresh_group(GROUP),
            lambda p, i: {"ReceiverId": f"{p}-{i}", "ReceiversName": f"g{p}-{i}"}, 100,
            ("data", "receiver"), "next_start"),
    Listing("members", "QueryReceiverDetail", lambda c: list(c.members(GROUP)),
            lambda p, i: {"Email": f"u{p}-{i}@example.com"}, 100, ("data", "detail"), "next_start"),
    Listing("deliveries", "SenderStatisticsDetailByParam", lambda c: list(c.deliveries(START, END)),
            lambda p, i: {"Status": 0, "ToAddress": f"u{p}-{i}@example.com", "UtcLastUpdateTime": _time(p, i)}, 100,
            ("data", "mailDetail"), "next_start"),
    Listing("domains", "QueryDomainByParam", lambda c: c.domains(),
            lambda p, i: {"DomainId": p * 100 + i, "DomainName": f"d{p}-{i}.example.com"}, 50,
            ("data", "domain"), "page_no"),
    Listing("senders", "QueryMailAddressByParam", lambda c: c.senders(),
            lambda p, i: {"MailAddressId": p * 100 + i, "AccountName": f"s{p}-{i}@example.com"}, 50,
            ("data", "mailAddress"), "page_no"),
    Listing("tags", "QueryTagByParam", lambda c: c.tags(),
            lambda p, i: {"TagId": p * 100 + i, "TagName": f"t{p}-{i}"}, 50, ("data", "tag"), "page_no"),
    Listing("templates", "QueryTemplateByParam", lambda c: c.templates(),
            lambda p, i: {"TemplateId": p * 100 + i, "TemplateName": f"t{p}-{i}", "TemplateStatus": "2"}, 50,
            ("data", "template"), "page_no"),
]  # fmt: skip
TENCENT = [
    Listing("groups", "ListReceivers", lambda c: list(c.groups()),
            lambda p, i: {"ReceiverId": p * 1000 + i, "ReceiversName": f"g{p}-{i}", "ReceiversStatus": 3}, 100,
            ("Data",), "offset"),
    Listing("refresh_group", "ListReceivers", lambda c: c.refresh_group(GROUP),
            lambda p, i: {"ReceiverId": p * 1000 + i + 5000, "ReceiversName": f"g{p}-{i}"}, 100, ("Data",), "offset"),
    Listing("members", "ListReceiverDetails", lambda c: list(c.members(GROUP)),
            lambda p, i: {"Email": f"u{p}-{i}@example.com", "Status": 1}, 100, ("Data",), "offset"),
    Listing("deliveries", "GetSendEmailStatus", lambda c: list(c.deliveries(START, END)),
            lambda p, i: {"ToEmailAddress": f"u{p}-{i}@example.com", "RequestTime": _time(p, i), "DeliverStatus": 1},
            100, ("EmailStatusList",), "offset"),
    Listing("templates", "ListEmailTemplates", lambda c: c.templates(),
            lambda p, i: {"TemplateID": p * 1000 + i, "TemplateName": f"t{p}-{i}", "TemplateStatus": 0}, 100,
            ("TemplatesMetadata",), "offset"),
    Listing("send_task", "ListSendTasks", lambda c: c.backend.send_task("999999"),  # type: ignore[attr-defined]
            lambda p, i: {"TaskId": p * 1000 + i, "TaskStatus": 10}, 100, ("Data",), "offset"),
]  # fmt: skip


class Misbehaving:
    """Answers ``listing.action`` per ``mode``; counts the requests it gets."""

    def __init__(self, listing: Listing, mode: str) -> None:
        self.listing, self.mode = listing, mode
        self.count = 0

    def answer(self) -> dict[str, Any]:
        self.count += 1
        if self.count > 50 * CAP:  # a regression fails the test instead of hanging it
            raise AssertionError(f"{self.listing.action}: still paging after {self.count} requests")
        n, listing = self.count, self.listing
        if self.mode == "empty":
            records: list[dict[str, Any]] = []
        elif self.mode == "ignore":  # the cursor is ignored: always the first page
            records = [listing.record(1, i) for i in range(listing.size)]
        else:  # "fresh", "same_token", "cycle": new records on every page
            records = [listing.record(n, i) for i in range(listing.size)]
        token = {"same_token": "T", "cycle": "AB"[n % 2]}.get(self.mode, f"tok{n}")
        body: dict[str, Any] = {"TotalCount": HUGE, "NextStart": token, "PageNumber": n}
        node = body
        for part in listing.key[:-1]:
            node = node.setdefault(part, {})
        node[listing.key[-1]] = records
        return body


def aliyun_client(server: Misbehaving) -> mailbridge.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        action = request.headers["x-acs-action"]
        params = dict(parse_qsl(request.content.decode()))
        if action == "DescTemplate" and server.listing.action == "QueryTemplateByParam":  # one per listed template
            detail = {"TemplateName": "t", "TemplateSubject": "s", "TemplateText": "<p>x</p>", "TemplateStatus": "2"}
            return httpx.Response(200, json={"RequestId": "d", **detail})
        assert action == server.listing.action, action
        assert server.listing.paging != "page_no" or int(params["PageNo"]) == server.count + 1
        return httpx.Response(200, json={"RequestId": f"r{server.count}", **server.answer()})

    url = mailbridge.ProviderURL.parse("aliyun://LTAI5tPagingKey:paging-secret@cn-hangzhou")
    backend = AliyunBackend.from_url(url, transport=httpx.MockTransport(handler))
    return mailbridge.Client(backend, rate_limiter=RateLimiter.disabled(), sleep=lambda _: None)


def tencent_client(server: Misbehaving) -> mailbridge.Client:
    def handler(action: str, params: dict[str, Any]) -> Any:
        assert action == server.listing.action, action
        body = server.answer()
        body.pop("NextStart")
        body.pop("PageNumber")
        return body

    backend, _ = canned_backend(handler)
    return mailbridge.Client(backend, rate_limiter=RateLimiter.disabled(), sleep=lambda _: None)


CASES = [("aliyun", listing) for listing in ALIYUN] + [("tencent", listing) for listing in TENCENT]
IDS = [f"{provider}-{listing.name}" for provider, listing in CASES]


def _client(provider: str, server: Misbehaving) -> mailbridge.Client:
    return aliyun_client(server) if provider == "aliyun" else tencent_client(server)


def _consume(provider: str, listing: Listing, mode: str) -> tuple[Misbehaving, Any]:
    server = Misbehaving(listing, mode)
    with _client(provider, server) as client:
        try:
            return server, listing.run(client)
        except mailbridge.NotFound as exc:  # refresh_group / send_task of an id the endless list never has
            return server, exc


@pytest.mark.parametrize(("provider", "listing"), CASES, ids=IDS)
def test_a_server_ignoring_the_cursor_with_an_absurd_total_is_asked_twice(provider: str, listing: Listing) -> None:
    """The second page repeats the first: the listing stops there, each record read once."""
    server, result = _consume(provider, listing, "ignore")
    assert server.count == 2
    if isinstance(result, list) and listing.name not in ("refresh_group", "send_task"):
        assert len(result) == listing.size


@pytest.mark.parametrize(("provider", "listing"), CASES, ids=IDS)
def test_an_empty_page_that_claims_more_ends_the_listing(provider: str, listing: Listing) -> None:
    server, result = _consume(provider, listing, "empty")
    assert server.count == 1
    assert result == [] or isinstance(result, mailbridge.NotFound | dict)


@pytest.mark.parametrize(("provider", "listing"), CASES, ids=IDS)
def test_endless_new_pages_stop_at_the_cap_with_a_neutral_error(provider: str, listing: Listing) -> None:
    """New full pages for ever: ProviderUnavailable after exactly MAX_PAGES requests, not retried."""
    server = Misbehaving(listing, "fresh")
    with _client(provider, server) as client, pytest.raises(ProviderUnavailable) as info:
        listing.run(client)
    assert server.count == CAP
    assert not info.value.retryable and info.value.provider == provider
    assert f"after {CAP} pages" in info.value.message


NEXT_START = [listing for listing in ALIYUN if listing.paging == "next_start"]


@pytest.mark.parametrize("listing", NEXT_START, ids=[listing.name for listing in NEXT_START])
@pytest.mark.parametrize(("mode", "requests"), [("same_token", 2), ("cycle", 3)])
def test_a_next_start_that_repeats_or_cycles_ends_the_listing(listing: Listing, mode: str, requests: int) -> None:
    server, _ = _consume("aliyun", listing, mode)
    assert server.count == requests


def test_an_honest_listing_reads_every_page() -> None:
    """The bounds do not cut a real listing short: 3 full pages and a short one, all read."""
    listing = TENCENT[0]
    pages: list[list[dict[str, Any]]] = [[listing.record(p, i) for i in range(100)] for p in range(3)]
    pages.append([listing.record(3, i) for i in range(40)])
    seen: list[int] = []

    def handler(action: str, params: dict[str, Any]) -> Any:
        seen.append(params["Offset"])
        return {"TotalCount": 340, "Data": pages[params["Offset"] // 100]}

    backend, _ = canned_backend(handler)
    with mailbridge.Client(backend, rate_limiter=RateLimiter.disabled()) as client:
        groups = list(client.groups())
    assert seen == [0, 100, 200, 300]
    assert len(groups) == 340 and len({g.id for g in groups}) == 340
