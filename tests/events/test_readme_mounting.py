"""The README's webhook examples, run as written: the receiver mounted in Flask, FastAPI and Django."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "change-me-to-a-long-random-secret"
EVENT = {"event": "bounce", "eventid": 3, "email": "u@example.com", "bulkId": "m1", "timestamp": 1654064683,
         "reason": "550 5.1.1 no such user", "username": "251200670"}  # fmt: skip


def blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Delivery events (webhooks)", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(found) == 4, "the README's receiver + Flask/FastAPI/Django examples changed: update this test"
    return found


def setup(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(blocks()[0], namespace)
    return namespace


def check(post: Any, capsys: pytest.CaptureFixture[str]) -> None:
    status, body = post(f"/hooks/tencent/{SECRET}", json.dumps(EVENT))
    assert (status, body) == (200, {"received": 1, "duplicates": 0})
    assert post(f"/hooks/tencent/{SECRET}", json.dumps(EVENT)) == (200, {"received": 0, "duplicates": 1})
    assert post("/hooks/tencent/not-the-secret-at-all", json.dumps(EVENT))[0] == 401
    assert post(f"/hooks/tencent/{SECRET}", json.dumps({**EVENT, "username": "1"}))[0] == 401
    assert post(f"/hooks/aliyun/{SECRET}", '{"id": "1", "type": "dm:Deliver:Succeed"}')[0] == 401  # unsigned
    assert post(f"/hooks/tencent/{SECRET}", "not json")[0] == 400
    assert "tencent u@example.com invalid_address hard m1" in capsys.readouterr().out


def test_flask(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = setup(capsys)
    exec(blocks()[1], namespace)
    client = namespace["app"].test_client()

    def post(path: str, body: str) -> tuple[int, Any]:
        answer = client.post(path, data=body, content_type="application/json")
        return answer.status_code, answer.get_json()

    check(post, capsys)


def test_fastapi(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("fastapi")
    import asyncio

    import httpx

    namespace = setup(capsys)
    exec(blocks()[2], namespace)
    transport = httpx.ASGITransport(app=namespace["api"])

    def post(path: str, body: str) -> tuple[int, Any]:
        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.post(path, content=body)

        answer = asyncio.run(call())
        return answer.status_code, answer.json()

    check(post, capsys)


def test_django(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("django")
    import django
    from django.conf import settings

    namespace = setup(capsys)
    urls = types.ModuleType("readme_urls")
    exec(blocks()[3], namespace)
    urls.urlpatterns = namespace["urlpatterns"]  # type: ignore[attr-defined]
    sys.modules["readme_urls"] = urls
    if not settings.configured:
        settings.configure(ROOT_URLCONF="readme_urls", ALLOWED_HOSTS=["testserver"], SECRET_KEY="test", DEBUG=False)
        django.setup()
    from django.test import Client
    from django.test.utils import override_settings

    client = Client()

    def post(path: str, body: str) -> tuple[int, Any]:
        answer = client.post(path, data=body, content_type="application/json")
        return answer.status_code, json.loads(answer.content)

    # Another test module may have configured Django first (the email backend's settings): route to the README's URLs.
    with override_settings(ROOT_URLCONF="readme_urls", ALLOWED_HOSTS=["testserver"]):
        check(post, capsys)
