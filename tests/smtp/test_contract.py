"""The SMTP backend passes the core's contract suite for what it declares: sending.

The suite is not feature-gated (issue 12 asks for that): its group, upload and delivery-log tests assume every
backend has them. A send-only backend cannot, so those tests are replaced here by the promise that does apply:
each such call raises UnsupportedFeature, before any connection to the relay.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest

import mailbridge

from ..contract.suite import BackendContract
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

    # ------------------------------------------------------------ what a relay does not have

    def _refused(self, call: Callable[[], object], server: SmtpServer) -> None:
        with pytest.raises(mailbridge.UnsupportedFeature, match="send-only"):
            call()
        assert server.auth_attempts == [] and server.received == []

    def test_group_lifecycle(self, client: mailbridge.Client, unique_name: str, server: SmtpServer) -> None:
        self._refused(lambda: client.create_group(unique_name, "contract suite"), server)
        self._refused(lambda: list(client.groups()), server)
        self._refused(lambda: client.delete_group(mailbridge.Group("1", unique_name, "smtp")), server)

    def test_unknown_group_is_not_found(self, client: mailbridge.Client, server: SmtpServer) -> None:
        self._refused(lambda: client.get_group("mb-no-such-group"), server)

    def test_upload_report_is_exact(self, client: mailbridge.Client, server: SmtpServer) -> None:
        group = mailbridge.Group("1", "g", "smtp")
        self._refused(lambda: client.upload(group, ["alice@example.com"], wait=True), server)
        self._refused(lambda: list(client.members(group)), server)

    def test_resumed_upload_skips_existing(self, client: mailbridge.Client, server: SmtpServer) -> None:
        group = mailbridge.Group("1", "g", "smtp")
        self._refused(lambda: client.upload(group, ["alice@example.com"], skip_existing=True, wait=True), server)

    def test_upload_is_chunked_to_the_declared_limit(self, client: mailbridge.Client, server: SmtpServer) -> None:
        group = mailbridge.Group("1", "g", "smtp")
        self._refused(lambda: client.upload(group, (f"user{i}@example.com" for i in range(3)), wait=True), server)

    def test_sent_mail_shows_in_deliveries(self, client: mailbridge.Client, server: SmtpServer) -> None:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        self._refused(lambda: list(client.deliveries(start, recipient="erin@example.com")), server)
