"""Direct Mail's native asyncio writes (issue 15): groups (create, get-or-create, delete), members removed,
tags and templates (create, rename/update, delete).

Judged by the emulator, as :mod:`.test_async_native_reads` is: each operation runs once through the sync
client and once through the async client on a loop whose worker threads are refused; the emulator's
request logs of the two runs match call for call and the results are equal. The client's safe-repeat
rules hold natively too: a create whose answer was lost is looked up by name before a second create,
and a delete whose first attempt was lost but applied is a success.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator

import mailbridge

from .test_async_native import SENDER, NoThreads, async_client, run_without_threads
from .test_async_native_reads import sync_client, wire

MEMBERS = 250  # three listing pages: more than the removal asks about, so it looks each address up


@pytest.fixture
def emu() -> Iterator[AliyunEmulator]:
    with AliyunEmulator(daily_quota=10_000_000) as emulator:
        emulator.add_sender(SENDER)
        yield emulator


def populated(emu: AliyunEmulator, name: str, count: int = MEMBERS) -> None:
    with sync_client(emu.url) as client:
        client.create_group(name)
        client.upload(name, [f"r{i}@example.com" for i in range(count)], wait=True)


def natively(emu: AliyunEmulator, scenario: Callable[[mailbridge.AsyncClient], Awaitable[Any]], **kw: Any) -> Any:
    async def run() -> Any:
        async with async_client(emu.url, **kw) as client:
            client.sync.backend.api.http.send = None  # the synchronous seam must not be used
            return await scenario(client)

    return run_without_threads(run)


def without_ids(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Requests with the ids the emulator assigned left out (a run recreates what the other deleted)."""
    return [(a, {k: v for k, v in p.items() if k not in IDS}) for a, p in calls]


IDS = frozenset({"TagId", "TemplateId", "ReceiverId"})


def same_on_the_wire(
    emu: AliyunEmulator,
    blocking: Callable[[mailbridge.Client], Any],
    awaited: Callable[[mailbridge.AsyncClient], Awaitable[Any]],
    between: Callable[[mailbridge.Client], Any] | None = None,
    *,
    ids: bool = True,
) -> tuple[Any, Any, list[str]]:
    """Run ``blocking``, then ``between`` (unlogged here: it puts the account back as it was), then ``awaited``;
    assert their requests match call for call; return both results and the actions asked."""
    first = len(emu.server.requests)
    with sync_client(emu.url) as client:
        expected = blocking(client)
        done = len(emu.server.requests)
        if between is not None:
            between(client)
    second = len(emu.server.requests)
    got = natively(emu, awaited)
    sync_wire, async_wire = wire(emu, first)[: done - first], wire(emu, second)
    if not ids:
        sync_wire, async_wire = without_ids(sync_wire), without_ids(async_wire)
    assert async_wire == sync_wire
    return expected, got, [a for a, _ in async_wire]


def shape(group: mailbridge.Group) -> tuple[Any, ...]:
    return (group.name, group.description, group.recipient_count, group.status, group.extra.get("alias"))


def names(emu: AliyunEmulator) -> list[str]:
    return sorted(r.name for r in emu.lists.values())


def test_create_group_runs_on_the_loop_with_the_sync_requests(emu: AliyunEmulator) -> None:
    def blocking(client: mailbridge.Client) -> tuple[Any, ...]:
        return shape(client.create_group("alpha", "first", alias="alpha@example.com"))

    async def awaited(client: mailbridge.AsyncClient) -> tuple[Any, ...]:
        return shape(await client.create_group(" alpha ", "first", alias="alpha@example.com"))

    expected, got, actions = same_on_the_wire(emu, blocking, awaited, lambda c: c.delete_group("alpha"))
    assert got == expected == ("alpha", "first", 0, mailbridge.GroupStatus.EMPTY, "alpha@example.com")
    assert actions == ["QueryReceiverByParam", "CreateReceiver"]
    assert names(emu) == ["alpha"]


def test_get_or_create_group_twice_creates_once_natively(emu: AliyunEmulator) -> None:
    def blocking(client: mailbridge.Client) -> list[tuple[Any, ...]]:
        return [shape(client.get_or_create_group("news", "d")) for _ in range(2)]

    async def awaited(client: mailbridge.AsyncClient) -> list[tuple[Any, ...]]:
        return [shape(await client.get_or_create_group("news", "d")) for _ in range(2)]

    expected, got, actions = same_on_the_wire(emu, blocking, awaited, lambda c: c.delete_group("news"))
    assert got == expected and got[0][:2] == ("news", "d")
    assert actions == ["QueryReceiverByParam", "QueryReceiverByParam", "CreateReceiver", "QueryReceiverByParam"]
    assert names(emu) == ["news"]


def test_a_taken_name_is_already_exists_tagged_before_any_create(emu: AliyunEmulator) -> None:
    populated(emu, "taken", 1)

    async def scenario(client: mailbridge.AsyncClient) -> mailbridge.AlreadyExists:
        with pytest.raises(mailbridge.AlreadyExists) as taken:
            await client.create_group("taken")
        with pytest.raises(mailbridge.InvalidRequest, match="needs a name"):
            await client.create_group("   ")
        return taken.value

    before = len(emu.server.requests)
    taken = natively(emu, scenario)
    assert (taken.provider, taken.operation) == ("aliyun", "create_group")
    assert [a for a, _ in wire(emu, before)] == ["QueryReceiverByParam"]  # the blank name asked nothing


def lost_create(
    emu: AliyunEmulator, action: str, create: Callable[[mailbridge.AsyncClient], Awaitable[Any]]
) -> tuple[Any, list[str]]:
    """``create`` on the loop while ``action`` is applied but its answer lost: its result and the actions asked."""
    emu.inject("reset", action=action, apply=True)
    before = len(emu.server.requests)
    made = natively(emu, create, retries=3)
    return made, [a for a, _ in wire(emu, before)]


def test_a_create_whose_answer_was_lost_is_looked_up_before_creating_again(emu: AliyunEmulator) -> None:
    """CreateReceiver applied, its answer lost (OutcomeUnknown): the name is looked up, found, returned."""
    group, asked = lost_create(emu, "CreateReceiver", lambda client: client.create_group("lost"))
    assert asked == ["QueryReceiverByParam", "CreateReceiver", "QueryReceiverByParam"]
    assert group.name == "lost" and names(emu) == ["lost"]


def test_a_create_lost_unapplied_is_looked_up_then_created_once_more(emu: AliyunEmulator) -> None:
    """Lost before it was applied: the look-up finds nothing, so (and only so) the create is sent again."""
    emu.inject("reset", action="CreateReceiver")

    async def scenario(client: mailbridge.AsyncClient) -> mailbridge.Group:
        return await client.create_group("again")

    before = len(emu.server.requests)
    group = natively(emu, scenario, retries=3)
    assert [a for a, _ in wire(emu, before)] == [
        *("QueryReceiverByParam", "CreateReceiver"),
        *("QueryReceiverByParam", "QueryReceiverByParam", "CreateReceiver"),  # look-up; the create's own check
    ]
    assert group.name == "again" and names(emu) == ["again"]


def test_a_lost_create_without_retries_is_an_unknown_outcome_tagged(emu: AliyunEmulator) -> None:
    """No attempts left: the OutcomeUnknown itself, tagged, and no second create."""
    emu.inject("reset", action="CreateReceiver")

    async def scenario(client: mailbridge.AsyncClient) -> mailbridge.OutcomeUnknown:
        with pytest.raises(mailbridge.OutcomeUnknown) as lost:
            await client.create_group("unsettled")
        return lost.value

    before = len(emu.server.requests)
    lost = natively(emu, scenario, retries=1)
    assert (lost.provider, lost.operation) == ("aliyun", "create_group") and lost.maybe_sent
    assert [a for a, _ in wire(emu, before)] == ["QueryReceiverByParam", "CreateReceiver"]


def test_delete_group_runs_on_the_loop_with_the_sync_requests(emu: AliyunEmulator) -> None:
    populated(emu, "one", 1)
    populated(emu, "two", 1)

    def blocking(client: mailbridge.Client) -> list[str]:
        client.delete_group("one")
        return [g.name for g in client.groups()]

    async def awaited(client: mailbridge.AsyncClient) -> list[str]:
        await client.delete_group("two")
        return [g.name async for g in client.groups()]

    before = len(emu.server.requests)
    with sync_client(emu.url) as client:
        assert blocking(client) == ["two"]
    between = len(emu.server.requests)
    assert natively(emu, awaited) == []
    sync_actions = [a for a, _ in wire(emu, before)[: between - before]]
    assert [a for a, _ in wire(emu, between)] == sync_actions
    assert sync_actions == ["QueryReceiverByParam", "DeleteReceiver", "QueryReceiverByParam"]


def test_a_delete_applied_but_unanswered_is_a_success_on_retry(emu: AliyunEmulator) -> None:
    populated(emu, "doomed", 1)
    emu.inject("reset", action="DeleteReceiver", apply=True)

    async def scenario(client: mailbridge.AsyncClient) -> None:
        await client.delete_group("doomed")

    before = len(emu.server.requests)
    natively(emu, scenario, retries=3)
    assert [a for a, _ in wire(emu, before)] == ["QueryReceiverByParam", "DeleteReceiver", "DeleteReceiver"]
    assert names(emu) == []


@pytest.mark.parametrize("wanted", [1, 3], ids=["look-ups", "listing"])
def test_remove_runs_on_the_loop_with_the_sync_requests(emu: AliyunEmulator, wanted: int) -> None:
    """Fewer addresses than listing pages are looked up one by one; more, and the group is listed."""
    populated(emu, "members")  # 250 members: 2.5 pages of 100
    members = [f"r{i}@example.com" for i in range(10, 10 + wanted)]
    asked = [*members, "nobody@example.com", "bad address", members[0].upper(), ""]

    def report(r: mailbridge.RemoveReport) -> tuple[Any, ...]:
        return (list(r.removed), list(r.not_members), list(r.duplicates), [(x.email, x.code) for x in r.rejected])

    def blocking(client: mailbridge.Client) -> tuple[Any, ...]:
        return report(client.remove("members", asked))

    async def awaited(client: mailbridge.AsyncClient) -> tuple[Any, ...]:
        return report(await client.remove("members", asked))

    def put_back(client: mailbridge.Client) -> None:
        client.upload("members", members, wait=True)

    expected, got, actions = same_on_the_wire(emu, blocking, awaited, put_back)
    assert got == expected == (members, ["nobody@example.com"], [members[0].upper()], [("bad address", "invalid")])
    assert actions.count("DeleteReceiverDetail") == wanted
    if wanted == 1:  # member + nobody: two look-ups by KeyWord
        assert [p.get("KeyWord") for a, p in wire(emu, 0)[-3:] if a == "QueryReceiverDetail"] == [
            members[0],
            "nobody@example.com",
        ]
    else:
        assert actions.count("QueryReceiverDetail") == 3  # the whole group, page by page


def test_a_failed_removal_reports_what_was_removed(emu: AliyunEmulator) -> None:
    populated(emu, "members", 3)
    emu.inject("error", action="DeleteReceiverDetail", times=None, status=400, code="InvalidParameter", message="x")

    async def scenario(client: mailbridge.AsyncClient) -> mailbridge.MailbridgeError:
        with pytest.raises(mailbridge.InvalidRequest) as refused:
            await client.remove("members", ["r0@example.com", "r1@example.com", "r2@example.com"])
        return refused.value

    refused = natively(emu, scenario)
    assert (refused.provider, refused.operation) == ("aliyun", "remove_recipients")
    assert refused.partial_result.removed == ()
    assert refused.not_sent == ("r0@example.com", "r1@example.com", "r2@example.com")


# --------------------------------------------------------------------------- tags


def test_tags_are_created_renamed_and_deleted_on_the_loop_with_the_sync_requests(emu: AliyunEmulator) -> None:
    def blocking(client: mailbridge.Client) -> tuple[Any, ...]:
        tag = client.create_tag("weekly", "the digest")
        renamed = client.rename_tag(tag, "monthly")
        client.delete_tag(renamed)
        return (tag.name, tag.description, renamed.name, renamed.description, [t.name for t in client.tags()])

    async def awaited(client: mailbridge.AsyncClient) -> tuple[Any, ...]:
        tag = await client.create_tag("weekly", "the digest")
        renamed = await client.rename_tag(tag, "monthly")
        await client.delete_tag(renamed)
        return (tag.name, tag.description, renamed.name, renamed.description, [t.name for t in await client.tags()])

    expected, got, actions = same_on_the_wire(emu, blocking, awaited, ids=False)
    assert got == expected == ("weekly", "the digest", "monthly", "the digest", [])
    assert actions == ["CreateTag", "ModifyTag", "DeleteTag", "QueryTagByParam"]
    assert emu.tags == {}


def test_a_tag_create_whose_answer_was_lost_is_looked_up_not_repeated(emu: AliyunEmulator) -> None:
    tag, asked = lost_create(emu, "CreateTag", lambda client: client.create_tag("lost"))
    assert asked == ["CreateTag", "QueryTagByParam"]
    assert tag.name == "lost" and [t["TagName"] for t in emu.tags.values()] == ["lost"]


def test_a_refused_tag_write_is_tagged_with_provider_and_operation(emu: AliyunEmulator) -> None:
    emu.inject("error", action="ModifyTag", status=400, code="InvalidParameter", message="bad name")

    async def scenario(client: mailbridge.AsyncClient) -> mailbridge.InvalidRequest:
        tag = await client.create_tag("weekly")
        with pytest.raises(mailbridge.InvalidRequest) as refused:
            await client.rename_tag(tag, "x")
        return refused.value

    refused = natively(emu, scenario)
    assert (refused.provider, refused.operation) == ("aliyun", "tags")


# --------------------------------------------------------------------------- templates


def test_templates_are_created_updated_and_deleted_on_the_loop_with_the_sync_requests(emu: AliyunEmulator) -> None:
    def parts(t: mailbridge.Template) -> tuple[Any, ...]:
        return (t.name, t.subject, t.html, t.text, t.status)

    def blocking(client: mailbridge.Client) -> list[tuple[Any, ...]]:
        made = client.create_template("promo", subject="Hi {{name}}", html="<p>{{name}}</p>")
        changed = client.update_template("promo", subject="Hello {{name}}", html="<p>again {{name}}</p>")
        read = client.get_template("promo")
        client.delete_template("promo")
        return [parts(made), parts(changed), parts(read), [t.name for t in client.templates()]]

    async def awaited(client: mailbridge.AsyncClient) -> list[tuple[Any, ...]]:
        made = await client.create_template("promo", subject="Hi {{name}}", html="<p>{{name}}</p>")
        changed = await client.update_template("promo", subject="Hello {{name}}", html="<p>again {{name}}</p>")
        read = await client.get_template("promo")
        await client.delete_template("promo")
        return [parts(made), parts(changed), parts(read), [t.name for t in await client.templates()]]

    expected, got, actions = same_on_the_wire(emu, blocking, awaited, ids=False)
    assert got == expected
    assert got[1][:3] == ("promo", "Hello {{name}}", "<p>again {{name}}</p>")
    writes = {"CreateTemplate", "ModifyTemplate", "DeleteTemplate"}
    assert [a for a in actions if a in writes] == ["CreateTemplate", "ModifyTemplate", "DeleteTemplate"]
    assert "promo" not in got[3]


def test_a_template_create_whose_answer_was_lost_is_looked_up_not_repeated(emu: AliyunEmulator) -> None:
    made, asked = lost_create(
        emu, "CreateTemplate", lambda client: client.create_template("lost", subject="Hi", html="<p>hi</p>")
    )
    assert asked.count("CreateTemplate") == 1 and asked[-1] == "DescTemplate"  # found by name, read by id
    assert (made.name, made.subject, made.html) == ("lost", "Hi", "<p>hi</p>")


def test_a_template_the_provider_cannot_keep_whole_is_refused_before_any_call(emu: AliyunEmulator) -> None:
    async def scenario(client: mailbridge.AsyncClient) -> None:
        with pytest.raises(mailbridge.UnsupportedFeature, match="text"):  # DM keeps no text part; catalog off
            await client.create_template("plain", subject="Hi", text="hi")
        with pytest.raises(mailbridge.InvalidRequest, match="one-line subject"):
            await client.create_template("plain", subject="a\nb", html="<p>x</p>")

    before = len(emu.server.requests)
    natively(emu, scenario)
    assert wire(emu, before) == []


def test_a_template_catalog_is_written_off_the_loop_and_the_rest_natively(emu: AliyunEmulator, tmp_path: Path) -> None:
    """With a catalog (a file): its check, record and drop in worker threads; every provider call on the loop."""
    catalog = str(tmp_path / "catalog.db")
    executor = CatalogOnly()

    async def main() -> tuple[mailbridge.Template, mailbridge.Template]:
        asyncio.get_running_loop().set_default_executor(executor)
        async with mailbridge.connect_async(
            emu.url, rate_limiter=mailbridge.RateLimiter.disabled(), template_catalog=catalog
        ) as client:
            client.sync.backend.api.http.send = None
            made = await client.create_template("note", subject="Hi", html="<p>Hi</p>", text="Hi there")
            changed = await client.update_template(made, subject="Hey", html="<p>Hey</p>", text="Hey there")
            await client.delete_template(changed)
            return made, changed

    with asyncio.Runner() as runner:
        made, changed = runner.run(main())
    assert executor.refused == []
    assert executor.ran == [*("_check_template", "remember") * 2, "drop"]
    assert (made.text, changed.text) == ("Hi there", "Hey there")  # the part DM cannot store, from the catalog
    with mailbridge.connect(emu.url, template_catalog=catalog) as client:
        assert "note" not in [t.name for t in client.templates()]


class CatalogOnly(NoThreads):
    """The loop's executor: runs only the template catalog's steps (and the final close), refuses the rest."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        inner = fn.args[0] if isinstance(fn, functools.partial) and fn.args else fn
        name = getattr(inner, "__name__", "")
        if name in {"_check_template", "remember", "drop"}:
            self.ran.append(name)
            return concurrent.futures.ThreadPoolExecutor.submit(self, fn, *args, **kwargs)
        return super().submit(fn, *args, **kwargs)
