"""The receiver: authentication, de-duplication, callbacks, bad bodies, WSGI/ASGI/Flask mounting."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mailbridge
from mailbridge import DeliveryEvent, DeliveryStatus, EventAuth, EventReceiver, EventRequest, SQLiteEventStore

from . import samples
from .conftest import SECRET

DELIVERED = {"event": "delivered", "eventid": 1, "email": "a@example.com", "bulkId": "m1", "timestamp": 1700000000,
             "username": "251200670"}  # fmt: skip


def receiver(**options: Any) -> tuple[EventReceiver, list[DeliveryEvent]]:
    seen: list[DeliveryEvent] = []
    options.setdefault("on_event", seen.append)
    return EventReceiver(["tencent", "aliyun"], secret=SECRET, **options), seen


def post(r: EventReceiver, provider: str, body: bytes | str, secret: str = SECRET) -> tuple[int, dict[str, Any]]:
    data = body.encode() if isinstance(body, str) else body
    return r.handle(f"/hooks/{provider}/{secret}", EventRequest(body=data, url="http://h/x"))


def test_secret_and_routes() -> None:
    r, seen = receiver()
    assert post(r, "tencent", json.dumps(DELIVERED), secret="wrong-secret-0123456789")[0] == 401
    assert post(r, "tencent", json.dumps(DELIVERED), secret=SECRET[:-1])[0] == 401
    assert r.handle("/hooks/nosuch/" + SECRET, EventRequest(body=b"{}"))[0] == 404
    assert r.handle("/", EventRequest(body=b"{}"))[0] == 404
    assert r.handle(f"/tencent/{SECRET}", EventRequest(body=b"{}", method="GET"))[0] == 405
    assert seen == []
    assert SECRET not in repr(r)
    with pytest.raises(mailbridge.ConfigurationError):
        EventReceiver(["tencent"], secret="short")


def test_tencent_account_check() -> None:
    r, seen = receiver(auth={"tencent": EventAuth(account="251200670")})
    assert post(r, "tencent", json.dumps({**DELIVERED, "username": "999"}))[0] == 401
    assert post(r, "tencent", json.dumps({k: v for k, v in DELIVERED.items() if k != "username"}))[0] == 401
    assert post(r, "tencent", json.dumps(DELIVERED)) == (200, {"received": 1, "duplicates": 0})
    assert [e.status for e in seen] == [DeliveryStatus.DELIVERED]


def test_dm_account_check() -> None:
    r, seen = receiver(auth={"aliyun": EventAuth(account="123456789098****")})
    assert post(r, "aliyun", samples.DM_FAIL)[0] == 200
    assert post(r, "aliyun", samples.DM_FAIL.replace("123456789098****", "1"))[0] == 401
    assert len(seen) == 1


def test_redelivered_events_are_seen_once() -> None:
    r, seen = receiver()
    assert post(r, "tencent", json.dumps(DELIVERED))[1] == {"received": 1, "duplicates": 0}
    assert post(r, "tencent", json.dumps(DELIVERED))[1] == {"received": 0, "duplicates": 1}
    assert post(r, "aliyun", samples.DM_FAIL)[1]["received"] == 1
    assert post(r, "aliyun", samples.DM_FAIL)[1]["duplicates"] == 1
    later = {**DELIVERED, "timestamp": DELIVERED["timestamp"] + 1}  # another event of the same message
    assert post(r, "tencent", json.dumps(later))[1]["received"] == 1
    assert len(seen) == 3


def test_bounded_memory_store_forgets_oldest() -> None:
    store = mailbridge.MemoryEventStore(max_keys=2)
    event = mailbridge.parse_events("tencent", json.dumps(DELIVERED))[0]
    assert store.claim("a", event) and store.claim("b", event) and store.claim("c", event)
    assert len(store) == 2
    assert store.claim("a", event)  # forgotten
    assert not store.claim("c", event)


def test_sqlite_store_keeps_events_across_receivers(tmp_path: Any) -> None:
    path = tmp_path / "events.sqlite3"
    first, _ = receiver(store=SQLiteEventStore(path))
    assert post(first, "aliyun", samples.DM_FAIL)[1]["received"] == 1
    second, seen = receiver(store=SQLiteEventStore(path))  # a restarted receiver still de-duplicates
    assert post(second, "aliyun", samples.DM_FAIL)[1]["duplicates"] == 1
    assert seen == []
    (stored,) = list(SQLiteEventStore(path).events())
    assert stored["status"] == "invalid_address" and stored["raw"]["id"] == "45ef4dewdwe1-7c35-447a-bd93-fab****"


def test_bad_bodies_are_4xx_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    r, seen = receiver()
    with caplog.at_level(logging.WARNING, "mailbridge.webhooks"):
        assert post(r, "tencent", b"not json")[0] == 400
        assert post(r, "aliyun", b'{"type": 1}')[0] == 400
        assert post(r, "tencent", b"{" * (1 << 20 + 1))[0] == 413
    assert seen == []
    assert len([rec for rec in caplog.records if "refused" in rec.getMessage()]) == 3
    assert all(SECRET not in rec.getMessage() for rec in caplog.records)


def test_callback_failure_default_is_2xx_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    def boom(event: DeliveryEvent) -> None:
        raise RuntimeError("bug in the app")

    r, _ = receiver(on_event=boom)
    with caplog.at_level(logging.ERROR, "mailbridge.webhooks"):
        assert post(r, "tencent", json.dumps(DELIVERED)) == (200, {"received": 1, "duplicates": 0})
    assert "callback failed" in caplog.text


def test_callback_failure_opt_in_retry_is_503_then_redelivery_runs_again() -> None:
    calls: list[str] = []

    def flaky(event: DeliveryEvent) -> None:
        calls.append(event.recipient)
        if len(calls) == 1:
            raise RuntimeError("database down")

    r, _ = receiver(on_event=flaky, retry_on_callback_failure=True)
    assert post(r, "tencent", json.dumps(DELIVERED))[0] == 503
    assert post(r, "tencent", json.dumps(DELIVERED)) == (200, {"received": 1, "duplicates": 0})
    assert post(r, "tencent", json.dumps(DELIVERED))[1]["duplicates"] == 1
    assert calls == ["a@example.com", "a@example.com"]


def test_auto_suppression_of_hard_bounces_and_complaints(tmp_path: Any) -> None:
    client = mailbridge.connect(f"local://{tmp_path}")
    r, _ = receiver(auto_suppress=client)
    post(r, "tencent", samples.TENCENT_BOUNCE)  # hard bounce
    post(r, "tencent", json.dumps({**DELIVERED, "event": "spamreport", "eventid": 6, "email": "c@example.com"}))
    post(r, "tencent", json.dumps({**DELIVERED, "event": "deferred", "eventid": 8, "email": "d@example.com",
                                   "reason": "421 later"}))  # fmt: skip
    post(r, "tencent", json.dumps(DELIVERED))
    assert sorted((s.address, s.reason.value) for s in client.suppressions()) == [
        ("c@example.com", "complaint"),
        ("u@example.com", "bounce"),
    ]


def test_wsgi_over_real_http(serve: Any) -> None:
    r, seen = receiver()
    served = serve(r)
    answer = httpx.post(
        served.url("tencent"), content=json.dumps(DELIVERED), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200 and answer.json() == {"received": 1, "duplicates": 0}
    assert httpx.post(served.url("tencent", "x" * 20), content=json.dumps(DELIVERED)).status_code == 401
    assert httpx.post(served.url("aliyun"), content=b"\x00\xff").status_code == 400
    assert httpx.get(served.url("tencent")).status_code == 405
    assert [e.recipient for e in seen] == ["a@example.com"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
    provider=st.sampled_from(["tencent", "aliyun"]),
)
def test_no_body_crashes_the_receiver(body: bytes, provider: str) -> None:
    r, _ = receiver()
    status, answer = post(r, provider, body)
    assert status in (200, 400, 401)
    json.dumps(answer)


def _asgi(app: Any, path: str, body: bytes, method: str = "POST") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    chunks = [body[:5], body[5:]]

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [(b"host", b"h")], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_asgi_app() -> None:
    r, seen = receiver()
    status, body = _asgi(r.asgi_app, f"/hooks/tencent/{SECRET}", json.dumps(DELIVERED).encode())
    assert status == 200 and json.loads(body) == {"received": 1, "duplicates": 0}
    assert _asgi(r.asgi_app, "/hooks/tencent/nope-nope-nope-nope", b"{}")[0] == 401
    assert _asgi(r.asgi_app, f"/hooks/aliyun/{SECRET}", b"garbage")[0] == 400
    assert len(seen) == 1


def test_mounted_in_flask() -> None:
    """The README's Flask example: the receiver under /hooks of a Flask app (werkzeug dispatcher)."""
    flask = pytest.importorskip("flask")
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app = flask.Flask("shop")
    app.add_url_rule("/", "home", lambda: "shop")
    r, seen = receiver()
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/hooks": r.wsgi_app})  # type: ignore[method-assign]
    client = app.test_client()
    assert client.get("/").data == b"shop"
    answer = client.post(f"/hooks/tencent/{SECRET}", data=json.dumps(DELIVERED), content_type="application/json")
    assert answer.status_code == 200 and answer.json == {"received": 1, "duplicates": 0}
    assert client.post("/hooks/tencent/wrong-secret-123456789", data="{}").status_code == 401
    assert seen[0].status is DeliveryStatus.DELIVERED


def test_auto_suppression_to_a_callable() -> None:
    suppressed: list[str] = []
    r, _ = receiver(auto_suppress=suppressed.extend)
    post(r, "aliyun", samples.DM_FAIL)  # Status 2, SmtpNxBox: invalid address, hard
    post(r, "tencent", json.dumps(DELIVERED))
    assert suppressed == ["xxx****@aliyun.com"]
