"""Issue 15's done-when: the async client passes the same cross-backend scenario as the sync one.

The scenario of :mod:`tests.integration.test_same_meaning`, unchanged, through :func:`mailbridge.connect_async`
on local (threads), the Direct Mail emulator (native asyncio sends) and the SES emulator (threads): every call
is a coroutine of the async client run on one event loop, every listing an async iterator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mailbridge_aliyun.emulator import AliyunEmulator
from mailbridge_tencent.emulator import TencentEmulator

import mailbridge

from ..core.test_async import BlockingFacade
from .test_same_meaning import (
    LIST_SIZE,
    _off,
    a_send_with_every_neutral_field,
    group_send_bounces_and_delivery_queries,
    groups_uploads_and_reports,
    remove_with_non_members,
    upload_larger_than_one_list,
)


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[dict[str, Any]]:
    tmp = tmp_path / "local"
    with contextlib.ExitStack() as stack, asyncio.Runner() as runner:
        dm = stack.enter_context(AliyunEmulator(max_list_size=LIST_SIZE))
        ses = stack.enter_context(TencentEmulator(rate=0, max_group_size=LIST_SIZE))
        urls = {"local": f"local://{tmp}", "aliyun": _off(dm.url), "tencent": _off(ses.url)}
        out: dict[str, Any] = {}
        opened: list[mailbridge.AsyncClient] = []
        for name, url in urls.items():
            client = mailbridge.connect_async(url, sleep=lambda _: None)
            opened.append(client)
            client.backend.limits = client.limits.evolve(max_group_size=LIST_SIZE)
            out[name] = BlockingFacade(client, runner)
        assert {n: c.native for n, c in zip(urls, opened, strict=True)} == {
            "local": False,
            "aliyun": True,
            "tencent": False,
        }
        try:
            yield out
        finally:
            for client in opened:
                runner.run(client.aclose())


def test_the_same_scenario_means_the_same_through_the_async_client(clients: dict[str, Any]) -> None:
    groups_uploads_and_reports(clients)
    a_send_with_every_neutral_field(clients)
    group_send_bounces_and_delivery_queries(clients)
    upload_larger_than_one_list(clients)
    remove_with_non_members(clients)
