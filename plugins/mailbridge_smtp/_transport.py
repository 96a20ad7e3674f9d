"""One SMTP transaction with the standard library's ``smtplib``, under one deadline, with the outcome rule.

How far the dialogue got decides what a failure means (the core's rule, :mod:`mailbridge._outcome`):

* before the last byte of the message and its terminating ``.`` was handed to the socket (connect, TLS, EHLO,
  AUTH, MAIL FROM, RCPT TO, the DATA command, the body itself): the server cannot have taken the message, so a
  dropped connection or the deadline is ``NOT_SENT`` (retry, fail over) and an error reply a refusal;
* after the terminator: a drop, a timeout, the deadline or a garbled reply to the final ``.`` is ``UNKNOWN``
  (the server may have queued it): :class:`~mailbridge.OutcomeUnknown`, never retried, never failed over.

One connection per send, closed afterwards (``QUIT``): no pooled connection found dead half-way, nothing shared
between threads (``send_many`` runs sends in parallel), and the clouds' relays count and throttle per connection
anyway. The cost is one TCP+TLS handshake and AUTH per message (see the worked example in
``docs/writing-a-provider.md`` for the figure measured on loopback).

The deadline (``timeout=``, from connect to the last byte of the final reply) is applied to every socket wait:
before each command and each reply the socket's timeout is set to what is left of it.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from attrs import frozen

from mailbridge import AuthenticationError, InvalidAddress, MailbridgeError
from mailbridge._outcome import Stage, failed

from ._config import SmtpConfig
from ._errors import Step, error_for, reply_text
from ._message import Envelope

if TYPE_CHECKING:
    from typing_extensions import Buffer

__all__ = ["Delivered", "deliver"]

_TERMINATOR = b"\r\n.\r\n"


class DeadlinePassed(TimeoutError):
    """The send's deadline passed before the next socket wait."""


@frozen
class Delivered:
    """What the server took: the accepted recipients, the refused ones with their reply, the final reply."""

    accepted: tuple[str, ...]
    refused: dict[str, tuple[int, str]]
    code: int
    reply: str


class _Connection(smtplib.SMTP):
    """``smtplib.SMTP`` with implicit TLS (as ``SMTP_SSL`` does), one deadline, and a record of whether the
    message's terminator has been handed to the socket."""

    def __init__(
        self,
        *,
        deadline: float,
        clock: Callable[[], float],
        implicit_tls: ssl.SSLContext | None,
        local_hostname: str | None,
    ) -> None:
        self._deadline = deadline
        self._clock = clock
        self._implicit_tls = implicit_tls
        self.terminator_sent = False
        super().__init__(local_hostname=local_hostname, timeout=self._remaining())

    def _remaining(self) -> float:
        left = self._deadline - self._clock()
        if left <= 0:
            raise DeadlinePassed("the send's deadline passed")
        return left

    def connect(self, host: str = "localhost", port: int = 0, source_address: Any = None) -> tuple[int, bytes]:
        # smtplib records the host for STARTTLS's certificate check only when given to the constructor.
        self._host = host
        return super().connect(host, port, source_address)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((host, port), self._remaining(), self.source_address)
        if self._implicit_tls is not None:
            return self._implicit_tls.wrap_socket(sock, server_hostname=host)
        return sock

    def send(self, s: Buffer | str) -> None:
        if self.sock is not None:
            self.sock.settimeout(self._remaining())
        super().send(s)
        if isinstance(s, bytes | bytearray) and s.endswith(_TERMINATOR):
            self.terminator_sent = True

    def getreply(self) -> tuple[int, bytes]:
        if self.sock is not None:
            self.sock.settimeout(self._remaining())
        return super().getreply()


def _not_sent(text: str, *, retryable: bool = True) -> MailbridgeError:
    error = failed(Stage.NOT_SENT, text, idempotent=False, provider="smtp", operation="send")
    error.retryable = retryable
    return error


def _all_refused(refused: dict[str, tuple[int, str]]) -> MailbridgeError:
    """Every recipient refused: the error of the first transient refusal (a retry may pass), else the first."""
    errors = {
        address: error_for(Step.RCPT, code, reply, what=f"recipient {address} refused")
        for address, (code, reply) in refused.items()
    }
    chosen = next((e for e in errors.values() if e.retryable), next(iter(errors.values())))
    listing = "; ".join(f"{a}: {code} {reply}" for a, (code, reply) in refused.items())
    chosen.message = f"every recipient was refused ({listing}); nothing was sent"
    chosen.raw = {"refused": {a: f"{code} {reply}" for a, (code, reply) in refused.items()}}
    return chosen


def _check(code: int, reply: bytes, step: Step, what: str, ok: tuple[int, ...]) -> None:
    if code not in ok:
        raise error_for(step, code, reply, what=what)


class _Transaction:
    """The dialogue, step by step; ``step`` is where it is (what an error reply or a drop answers)."""

    def __init__(self, conn: _Connection, config: SmtpConfig, context: ssl.SSLContext) -> None:
        self.conn = conn
        self.config = config
        self.context = context
        self.step = Step.CONNECT

    def open(self) -> None:
        """Connect, greet, STARTTLS, AUTH."""
        conn, config = self.conn, self.config
        code, reply = conn.connect(config.host, config.port)
        _check(code, reply, Step.CONNECT, f"{config.host} refused the session", (220,))
        conn.ehlo_or_helo_if_needed()
        if config.tls == "starttls":
            if not conn.has_extn("starttls"):
                # Fail closed: sending in plain text after a stripped STARTTLS is what an attacker wants.
                raise _not_sent(f"{config.host} does not offer STARTTLS (tls=starttls)", retryable=False)
            conn.starttls(context=self.context)
            conn.ehlo()
        if config.username and config.password:
            self.step = Step.AUTH
            if not conn.has_extn("auth"):
                raise AuthenticationError(f"{config.host} offers no SMTP AUTH, but the URL has credentials")
            conn.login(config.username, config.password.reveal())

    def envelope(self, envelope: Envelope) -> tuple[list[str], dict[str, tuple[int, str]]]:
        """MAIL FROM and one RCPT TO per recipient: (accepted, refused)."""
        conn = self.conn
        self.step = Step.MAIL
        options: list[str] = []
        if envelope.smtputf8:
            if not conn.has_extn("smtputf8"):
                raise InvalidAddress(f"{self.config.host} does not offer SMTPUTF8, needed for a non-ASCII address")
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        code, reply = conn.mail(envelope.sender, options)
        _check(code, reply, Step.MAIL, f"sender {envelope.sender} refused", (250,))
        self.step = Step.RCPT
        accepted: list[str] = []
        refused: dict[str, tuple[int, str]] = {}
        for address in envelope.recipients:
            code, reply = conn.rcpt(address)
            if code in (250, 251):
                accepted.append(address)
            elif code == 421:  # the server is closing the session: nothing goes out
                raise error_for(Step.RCPT, code, reply, what=f"recipient {address}: the server closed the session")
            else:
                refused[address] = (code, reply_text(reply))
        if not accepted:
            _quietly(conn.rset)
            raise _all_refused(refused)
        return accepted, refused

    def data(self, envelope: Envelope) -> tuple[int, bytes]:
        self.step = Step.DATA
        return self.conn.data(envelope.data)

    def translate(self, exc: Exception) -> MailbridgeError:
        """A failure of smtplib or the socket as the neutral error, by how far the dialogue got."""
        host, step = self.config.host, self.step
        if isinstance(exc, smtplib.SMTPResponseException):  # an error reply (greeting, STARTTLS, AUTH, DATA)
            return error_for(step, exc.smtp_code, exc.smtp_error, what=_what(step, self.config))
        if isinstance(exc, ssl.SSLCertVerificationError):
            return _not_sent(f"the TLS certificate of {host} is not trusted: {exc.verify_message}", retryable=False)
        if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):  # refused, reset, TLS, timeouts, deadline
            return _dropped(self.conn, step, self.config, exc)
        if isinstance(exc, smtplib.SMTPException) and step is Step.AUTH:  # no usable mechanism
            return AuthenticationError(f"{host}: {exc}")
        return _not_sent(f"{host}: {exc}", retryable=False)  # STARTTLS/AUTH not supported and the like


def deliver(
    config: SmtpConfig,
    envelope: Envelope,
    *,
    context: ssl.SSLContext,
    clock: Callable[[], float] = time.monotonic,
) -> Delivered:
    """Run one SMTP transaction for ``envelope``; raise a neutral error (see the module docstring)."""
    conn = _Connection(
        deadline=clock() + config.timeout,
        clock=clock,
        implicit_tls=context if config.tls == "ssl" else None,
        local_hostname=config.local_hostname,
    )
    tx = _Transaction(conn, config, context)
    try:
        try:
            tx.open()
            accepted, refused = tx.envelope(envelope)
            code, reply = tx.data(envelope)
        except MailbridgeError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise tx.translate(exc) from exc
        if 200 <= code < 300:
            _quietly(conn.quit)
            return Delivered(tuple(accepted), refused, code, reply_text(reply))
        if code < 400 or code >= 600:  # not an SMTP reply to the final ".": unreadable, maybe queued
            raise failed(
                Stage.UNKNOWN,
                f"{config.host} answered the end of the message with {reply_text(reply)!r}",
                idempotent=False,
                provider="smtp",
                operation="send",
            )
        raise error_for(Step.DATA, code, reply, what="the message was refused")
    finally:
        conn.close()


def _what(step: Step, config: SmtpConfig) -> str:
    return {
        Step.CONNECT: f"{config.host} refused the session",
        Step.AUTH: f"{config.host} refused the login",
        Step.MAIL: "the sender was refused",
        Step.RCPT: "a recipient was refused",
        Step.DATA: "the message was refused",
    }[step]


def _dropped(conn: _Connection, step: Step, config: SmtpConfig, exc: BaseException) -> MailbridgeError:
    why = "the send's deadline passed" if isinstance(exc, TimeoutError | DeadlinePassed) else f"{exc}"
    if "timed out" in why:
        why = "the send's deadline passed (timed out)"
    if step is Step.DATA and conn.terminator_sent:
        return failed(
            Stage.UNKNOWN,
            f"{config.host}: no reply to the end of the message ({why})",
            idempotent=False,
            provider="smtp",
            operation="send",
        )
    return _not_sent(f"{config.host}: the session ended before the message was complete ({why}) at {step}")


def _quietly(call: Callable[[], object]) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        call()
