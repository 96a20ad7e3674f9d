"""The SMTP backend passes the shipped contract suite for what it declares: sending.

Groups, uploads and the delivery log are not declared (``Feature.GROUPS``, ``Feature.DELIVERIES``), so the suite
skips their tests and proves instead that each such call raises UnsupportedFeature in the client, before the
backend runs; here, also that the relay saw no connection. The send tests add what the real server received.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import mailbridge
from mailbridge.testing import BackendContract

from ._server import LOGIN, SmtpServer


class TestSmtpContract(BackendContract):
    sender = LOGIN

    @pytest.fixture
    def server(self, make_server: Callable[..., SmtpServer]) -> SmtpServer:
        return make_server("starttls")

    @pytest.fixture
    def client(self, server: SmtpServer) -> Iterator[mailbridge.Client]:
        with mailbridge.connect(server.url()) as client:
            yield client

    def test_send_returns_a_receipt(self, client: mailbridge.Client, server: SmtpServer) -> None:
        super().test_send_returns_a_receipt(client)
        assert [r.rcpt_tos for r in server.received] == [["alice@example.com"]]

    def test_oversize_send_is_split(
        self, client: mailbridge.Client, monkeypatch: pytest.MonkeyPatch, server: SmtpServer
    ) -> None:
        super().test_oversize_send_is_split(client, monkeypatch)
        assert [len(r.rcpt_tos) for r in server.received] == [client.limits.recipients_per_send]  # one shared email

    def test_undeclared_capabilities_are_refused_before_the_backend(
        self, client: mailbridge.Client, monkeypatch: pytest.MonkeyPatch, server: SmtpServer
    ) -> None:
        assert not client.limits.supports(mailbridge.Feature.GROUPS)
        assert not client.limits.supports(mailbridge.Feature.DELIVERIES)
        super().test_undeclared_capabilities_are_refused_before_the_backend(client, monkeypatch)
        group = mailbridge.Group("1", "g", "smtp")
        for call in (
            lambda: list(client.groups()),
            lambda: client.get_group("mb-no-such-group"),
            lambda: client.delete_group(group),
            lambda: client.upload(group, ["alice@example.com"], wait=True),
            lambda: list(client.members(group)),
            lambda: client.refresh_group(group),
        ):
            with pytest.raises(mailbridge.UnsupportedFeature, match="SMTP relay does not support groups"):
                call()
        assert server.auth_attempts == [] and server.received == []
