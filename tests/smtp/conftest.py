"""Fixtures for the SMTP backend tests: a real SMTP server (aiosmtpd) per test and a client on it."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

import mailbridge
from mailbridge import Client

from ._server import SmtpServer


@pytest.fixture(autouse=True)
def _smtp_test_env() -> None:
    """aiosmtpd's warning about AUTH without STARTTLS is expected on the implicit-TLS and loopback plain servers
    (it cannot tell an implicit-TLS socket is encrypted). The credential variables are cleared by the root
    conftest, from ``SmtpBackend.environment``."""
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def make_server(ca: trustme.CA, tmp_path: Path) -> Iterator[Callable[..., SmtpServer]]:
    started: list[SmtpServer] = []

    def make(tls: str = "starttls", **kwargs: object) -> SmtpServer:
        server = SmtpServer(tls, ca=ca, tmp_dir=str(tmp_path), **kwargs)  # type: ignore[arg-type]
        started.append(server.__enter__())
        return server

    yield make
    for server in reversed(started):
        server.__exit__(None, None, None)


@pytest.fixture
def server(make_server: Callable[..., SmtpServer]) -> SmtpServer:
    """STARTTLS with AUTH required, the common relay set-up."""
    return make_server("starttls")


@pytest.fixture
def client(server: SmtpServer) -> Iterator[Client]:
    """A client on ``server`` that does not retry (one attempt shows exactly what one send did)."""
    with mailbridge.connect(server.url(), retry=mailbridge.RetryPolicy(attempts=1)) as c:
        yield c
