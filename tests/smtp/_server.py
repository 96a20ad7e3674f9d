"""A real SMTP server in the test process: aiosmtpd, with AUTH (LOGIN, PLAIN), STARTTLS or implicit TLS on a
throwaway certificate (trustme), and faults by address or step. What it received is kept as parsed messages.

aiosmtpd is an independent implementation of the server side of RFC 5321/4954/3207: the plugin is judged by a
server it did not build, over real sockets and real TLS.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from attrs import define, field

LOGIN = "noreply@mail.example.com"
PASSWORD = "Sm7pPassw0rdMB"  # never to appear in an error, a repr or a log


@define
class Received:
    """One message the server accepted: the envelope, the raw bytes, the parsed message, who logged in."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    mail_options: list[str]

    def raw_header(self, name: str) -> str:
        """A header as it was on the wire, unfolded, not decoded."""
        raw = email.message_from_bytes(self.data, policy=email.policy.compat32)[name]
        return str(raw).replace("\r\n", "").replace("\n", "")

    @property
    def message(self) -> EmailMessage:
        # Decoded first: a SMTPUTF8 message has UTF-8 headers, which the bytes parser would leave escaped.
        parsed = email.message_from_string(self.data.decode("utf-8", "surrogateescape"), policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@define
class Faults:
    """What the server does instead of accepting; each knob applies to every session until changed."""

    rcpt: dict[str, str] = field(factory=dict)  # address -> reply, e.g. "550 5.1.1 No such user"
    mail: str | None = None
    data: str | None = None  # the reply to the final "."
    drop_after_data: bool = False  # take the message, then drop the connection without a reply
    data_delay: float = 0.0  # take the message, answer after this long
    rcpt_delay: float = 0.0
    queue_id: str = "4Fq2Xh0Z3Lz9"


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        if self.server.faults.mail:
            return self.server.faults.mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        faults = self.server.faults
        if faults.rcpt_delay:
            await asyncio.sleep(faults.rcpt_delay)
        if address in faults.rcpt:
            return faults.rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        faults = self.server.faults
        if faults.data:
            return faults.data
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or b""),
            login=login,
            mail_options=list(envelope.mail_options),
        )
        with self.server.lock:
            self.server.received.append(received)
        if faults.drop_after_data:
            assert smtp.transport is not None
            smtp.transport.abort()
            return "250 never seen"
        if faults.data_delay:
            await asyncio.sleep(faults.data_delay)
        return f"250 2.0.0 Ok: queued as {faults.queue_id}"


class _Controller(Controller):
    """aiosmtpd's controller on a free port (it wants a fixed one)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """``with SmtpServer(tls="starttls") as server: server.url``; ``tls`` is ``starttls``, ``ssl`` or ``none``.

    ``server.ca_file`` is the throwaway CA the client must trust (``ca_file=`` in the URL).
    """

    def __init__(self, tls: str = "starttls", *, users: dict[str, str] | None = None, ca: trustme.CA | None = None,
                 auth: bool = True, tmp_dir: str | None = None) -> None:  # fmt: skip
        self.tls = tls
        self.users = {LOGIN: PASSWORD} if users is None else users
        self.auth = auth
        self.faults = Faults()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.ca = ca or trustme.CA()
        self._tmp_dir = tmp_dir
        self._ca_file_handle: Any = None
        self.auth_attempts: list[tuple[str, str]] = []  # (mechanism, login)

    def _authenticate(self, smtp: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        self.auth_attempts.append((mechanism, login))
        return AuthResult(success=self.users.get(login) == password, handled=False, auth_data=data)

    def __enter__(self) -> SmtpServer:
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(server_ctx)
        self._ca_file_handle = self.ca.cert_pem.tempfile(dir=self._tmp_dir)
        self.ca_file = self._ca_file_handle.__enter__()
        kwargs: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": 0,
            "server_hostname": "relay.test",
            "authenticator": self._authenticate if self.auth else None,
            "auth_required": self.auth,
            "auth_require_tls": self.tls == "starttls",
            "ready_timeout": 10.0,
        }
        if self.tls == "starttls":
            kwargs.update(tls_context=server_ctx, require_starttls=True)
        elif self.tls == "ssl":
            kwargs.update(ssl_context=server_ctx)
        self.controller = _Controller(_Handler(self), **kwargs)
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
        self._ca_file_handle.__exit__(None, None, None)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def client_context(self) -> ssl.SSLContext:
        """An SSL context trusting this server's CA (the injection point instead of ``ca_file=``)."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        return ctx

    def url(self, login: str | None = LOGIN, password: str | None = PASSWORD, **params: str) -> str:
        """``smtp://noreply%40mail.example.com:...@127.0.0.1:PORT?tls=...&ca_file=...``."""
        from urllib.parse import quote, urlencode

        auth = f"{quote(login, safe='')}:{quote(password or '', safe='')}@" if login else ""
        query = {"tls": self.tls, **({"ca_file": self.ca_file} if self.tls != "none" else {}), **params}
        return f"smtp://{auth}127.0.0.1:{self.port}?{urlencode(query)}"

    def messages(self) -> Iterator[EmailMessage]:
        for received in self.received:
            yield received.message
