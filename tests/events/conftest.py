"""A real HTTP receiver (stdlib wsgiref in a thread) for the event tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

import mailbridge

SECRET = "s3cr3t-0123456789abcdef"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Served:
    def __init__(self, receiver: mailbridge.EventReceiver) -> None:
        self.receiver = receiver
        self.server = make_server("127.0.0.1", 0, receiver.wsgi_app, server_class=_Threading, handler_class=_Quiet)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, provider: str, secret: str = SECRET) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/{provider}/{secret}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def serve() -> Iterator[object]:
    started: list[Served] = []

    def start(receiver: mailbridge.EventReceiver) -> Served:
        started.append(Served(receiver))
        return started[-1]

    yield start
    for s in started:
        s.close()
