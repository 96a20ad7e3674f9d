"""``GuardedHTTP.send`` carries a request through the transport ``httpx.Client.send`` would choose, without the
client's cookie jar, auth and redirect machinery: judged against ``client.send`` itself on a real loopback
server (the same bytes on the wire, the same response), with a proxy mount honoured, httpx's log line kept and
a closed client refused as httpx refuses it."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from mailbridge._ahttp import AsyncGuardedHTTP, async_guarded_transport
from mailbridge._http import CallFailed, GuardedHTTP, guarded_transport
from mailbridge._outcome import Stage

Seen = list[tuple[str, str, list[tuple[str, str]], bytes]]  # method, path, headers, body of each request
Server = tuple[str, Seen]


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: Seen

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.command, self.path, list(self.headers.items()), body))
        answer = b'{"ok": true}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "acw_tc=abc; Path=/")  # a gateway cookie: never sent back
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    seen: Seen = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def _client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, transport=guarded_transport(), timeout=5.0, headers={"User-Agent": "t/1"})


def test_the_wire_and_the_answer_are_client_sends(server: Server) -> None:
    base, seen = server
    with _client(base) as client:
        http = GuardedHTTP(client, timeout=5.0)
        answers = []
        for _ in range(2):  # the second after the gateway set a cookie
            request = client.build_request("POST", "/x?a=1", content=b"k=v", headers={"x-acs-action": "A"})
            answers.append(http.send(request, idempotent=True))
        with_client = client.send(client.build_request("POST", "/x?a=1", content=b"k=v", headers={"x-acs-action": "A"}))
    ours, again, theirs = seen
    assert ours == again  # no cookie sent back
    assert (ours[0], ours[1], ours[3]) == (theirs[0], theirs[1], theirs[3])
    assert ours[2] == [h for h in theirs[2] if h[0].lower() != "cookie"]  # client.send returns the cookie; we do not
    for answer in answers:
        assert (answer.status_code, answer.content, answer.http_version) == (
            with_client.status_code,
            with_client.content,
            with_client.http_version,
        )
        assert [k for k, _ in answer.headers.raw] == [k for k, _ in with_client.headers.raw]
        assert answer.json() == {"ok": True} and answer.url == httpx.URL(base + "/x?a=1")
        assert answer.request.extensions["timeout"] == client.timeout.as_dict()


def test_a_mount_is_used_as_client_send_would(server: Server) -> None:
    """A proxy from HTTPS_PROXY / ALL_PROXY is a mount of the client: requests go through it."""
    base, seen = server
    carried: list[httpx.Request] = []

    def proxy(request: httpx.Request) -> httpx.Response:
        carried.append(request)
        return httpx.Response(200, content=b"via mount")

    client = httpx.Client(transport=guarded_transport(), mounts={"http://127.0.0.1": httpx.MockTransport(proxy)})
    with client:
        answer = GuardedHTTP(client, timeout=5.0).send(client.build_request("POST", base + "/", content=b"x"))
    assert answer.content == b"via mount" and len(carried) == 1 and seen == []


def test_httpx_log_line_is_kept(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    base, _ = server
    with _client(base) as client, caplog.at_level(logging.INFO, logger="httpx"):
        GuardedHTTP(client, timeout=5.0).send(client.build_request("POST", "/", content=b"x"))
    assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == [
        f'HTTP Request: POST {base}/ "HTTP/1.1 201 Created"'
    ]


def test_a_closed_client_is_refused_and_a_refused_connection_is_not_sent(server: Server) -> None:
    base, seen = server
    client = _client(base)
    http = GuardedHTTP(client, timeout=5.0)
    client.close()
    with pytest.raises(RuntimeError, match="client has been closed"):
        http.send(client.build_request("POST", "/", content=b"x"))
    assert seen == []
    with httpx.Client(transport=guarded_transport(), timeout=5.0) as refused, pytest.raises(CallFailed) as caught:
        GuardedHTTP(refused, timeout=5.0).send(refused.build_request("POST", "http://127.0.0.1:9/", content=b"x"))
    assert caught.value.stage is Stage.NOT_SENT and caught.value.message == "the connection was refused"
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.__cause__.request.url == httpx.URL("http://127.0.0.1:9/")


# --------------------------------------------------------------------------- the asyncio seam, judged the same way


def _aclient(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base, transport=async_guarded_transport(), timeout=5.0, headers={"User-Agent": "t/1"}
    )


def test_the_async_seam_puts_client_sends_wire_and_answer(server: Server) -> None:
    base, seen = server

    async def scenario() -> tuple[list[httpx.Response], httpx.Response]:
        async with _aclient(base) as client:
            http = AsyncGuardedHTTP(client, timeout=5.0)
            answers = []
            for _ in range(2):  # the second after the gateway set a cookie
                request = client.build_request("POST", "/x?a=1", content=b"k=v", headers={"x-acs-action": "A"})
                answers.append(await http.send(request, idempotent=True))
            theirs = await client.send(
                client.build_request("POST", "/x?a=1", content=b"k=v", headers={"x-acs-action": "A"})
            )
            return answers, theirs

    answers, with_client = asyncio.run(scenario())
    ours, again, theirs = seen
    assert ours == again
    assert (ours[0], ours[1], ours[3]) == (theirs[0], theirs[1], theirs[3])
    assert ours[2] == [h for h in theirs[2] if h[0].lower() != "cookie"]
    for answer in answers:
        assert (answer.status_code, answer.content, answer.http_version) == (
            with_client.status_code,
            with_client.content,
            with_client.http_version,
        )
        assert answer.json() == {"ok": True} and answer.request.extensions["timeout"] == {
            "connect": 5.0,
            "read": 5.0,
            "write": 5.0,
            "pool": 5.0,
        }


def test_the_async_seam_uses_a_mount_logs_httpx_line_and_refuses_a_closed_client(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    base, seen = server
    carried: list[httpx.Request] = []

    async def proxy(request: httpx.Request) -> httpx.Response:
        carried.append(request)
        return httpx.Response(200, content=b"via mount")

    async def scenario() -> None:
        mounted = httpx.AsyncClient(
            transport=async_guarded_transport(), mounts={"http://127.0.0.1": httpx.MockTransport(proxy)}
        )
        async with mounted:
            answer = await AsyncGuardedHTTP(mounted, timeout=5.0).send(
                mounted.build_request("POST", base + "/", content=b"x")
            )
        assert answer.content == b"via mount" and len(carried) == 1 and seen == []
        async with _aclient(base) as client:
            with caplog.at_level(logging.INFO, logger="httpx"):
                await AsyncGuardedHTTP(client, timeout=5.0).send(client.build_request("POST", "/", content=b"x"))
        assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == [
            f'HTTP Request: POST {base}/ "HTTP/1.1 201 Created"'
        ]
        with pytest.raises(RuntimeError, match="client has been closed"):
            await AsyncGuardedHTTP(client, timeout=5.0).send(client.build_request("POST", "/", content=b"x"))
        assert len(seen) == 1

    asyncio.run(scenario())
