"""A loopback Tencent Cloud SES emulator that speaks the real wire format.

Like moto for AWS: it verifies TC3-HMAC-SHA256 signatures against configured test credentials
(with its own code, :mod:`._wire`, never the SDK's or the backend's), keeps state (groups,
members, sent mail, delivery records, domains, senders, templates: :mod:`._state`), imports
uploads asynchronously as SES does, keeps connections alive (HTTP/1.1), answers
``RequestLimitExceeded`` past ``rate`` calls per second per action and takes injected faults.
Server, faults, throttle, request log and control routes are the shared harness's
(:mod:`mailbridge.testing.emulator`, the same API as the Direct Mail emulator)::

    with TencentEmulator(port=0) as emu:
        client = mailbridge.connect(emu.url)
        ...
        emu.sent_mail[-1]["subject"]
        emu.inject("reset", action="SendEmail")  # the next send gets no answer

Command line: ``mailbridge emulator tencent --port 9025`` (calls :func:`serve`); faults over
HTTP: ``POST /_emulator/faults`` with a JSON :class:`Fault`, ``DELETE /_emulator/faults``,
``GET /_emulator/state``.

Simulated delivery, by recipient domain (the same domains and SMTP replies as the Direct Mail
emulator and the local backend): ``bounce.example`` is refused by the recipient's ESP with
``550 5.1.1`` (DeliverStatus 3), ``spam.example`` refused with ``554 5.7.1`` (3),
``drop.example`` dropped by Tencent (2), ``fail.example`` fails to connect (SendStatus 1004,
``421 4.4.0``), ``delay.example`` delayed (8),
``invalid.example`` fails the address pre-check (SendStatus 3024), ``opened.example`` is
delivered, opened and clicked; every other address is delivered (1).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

from mailbridge.testing.emulator import EmulatorServer, Fault, flag
from mailbridge.testing.emulator import serve as serve_emulator

from ._state import ACTION_PARAMS, DEFAULT_UPLOAD_DELAY, MAX_GROUP, TEST_SECRET_ID, TEST_SECRET_KEY, SESAccount
from ._wire import SESWire, tc3_signature

__all__ = [
    "OPTIONS",
    "TEST_SECRET_ID",
    "TEST_SECRET_KEY",
    "Fault",
    "SESAccount",
    "TencentEmulator",
    "serve",
    "tc3_signature",
]


class TencentEmulator(SESAccount):
    """An in-process SES emulator on a loopback port (``port=0`` picks a free one).

    **Parameters:** ``secret_id`` / ``secret_key`` *(optional)*: the accepted credentials;
    ``region``: the one in :attr:`url`; ``rate`` *(optional)*: calls per second per action
    (default 20, SES's documented rate; None or 0: unlimited); the account's own parameters
    (``upload_delay``, ``allow_simple``, ``templates``, ``domains``, ...) are :class:`SESAccount`'s.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        secret_id: str = TEST_SECRET_ID,
        secret_key: str = TEST_SECRET_KEY,
        region: str = "ap-guangzhou",
        rate: float | None = 20,
        upload_delay: float = DEFAULT_UPLOAD_DELAY,
        allow_simple: bool = True,
        templates: Mapping[int, str] | None = None,
        domains: Iterable[str] | None = None,
        blacklist: Iterable[str] = (),
        max_groups: int = 100,
        max_group_size: int = MAX_GROUP,
        template_review: bool = False,
        auto_verify: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            upload_delay=upload_delay,
            allow_simple=allow_simple,
            templates=templates,
            domains=domains,
            blacklist=blacklist,
            max_groups=max_groups,
            max_group_size=max_group_size,
            template_review=template_review,
            auto_verify=auto_verify,
            clock=clock,
        )
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.region = region
        self.server = EmulatorServer(
            SESWire(secret_id, secret_key, ACTION_PARAMS, clock),
            self.dispatch,
            host=host,
            port=port,
            rate=rate,
            snapshot=self.snapshot,
            on_stop=self._close_pusher,
        )

    def __repr__(self) -> str:
        return f"<TencentEmulator {self.endpoint}>"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    @property
    def url(self) -> str:
        """A mailbridge URL for this emulator, with the test credentials."""
        return f"tencent://{self.secret_id}:{self.secret_key}@{self.region}?endpoint={self.endpoint}"

    # ------------------------------------------------------------------ faults, rate, request log

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every authenticated call so far: ``{"action", "params", "headers"}`` (no Authorization)."""
        return list(self.server.requests)

    @property
    def faults(self) -> list[Fault]:
        """The faults still waiting."""
        return list(self.server.faults)

    @property
    def faults_served(self) -> int:
        """How many requests a fault answered."""
        return self.server.faults_served

    def calls(self, action: str) -> list[dict[str, Any]]:
        """The parameters of every call of one action."""
        return self.server.calls(action)

    def inject(self, kind: str = "error", action: str | None = None, *, times: int | None = 1, **options: Any) -> Fault:
        """Add a :class:`Fault` rule; it applies to the next ``times`` matching calls."""
        return self.server.inject(kind, action, times=times, **options)

    def clear_faults(self) -> None:
        self.server.clear_faults()

    def set_rate(self, rate: float | None) -> None:
        self.server.set_rate(rate)


def _names(value: str) -> list[str]:
    return [d for d in value.split(",") if d]


#: ``mailbridge emulator tencent KEY=VALUE`` options.
OPTIONS: dict[str, Callable[[str], Any]] = {
    "upload_delay": float,
    "rate": float,
    "allow_simple": flag,
    "secret_id": str,
    "secret_key": str,
    "region": str,
    "max_groups": int,
    "max_group_size": int,
    "auto_verify": flag,
    "template_review": flag,
    "domains": _names,
    "blacklist": _names,
}


def serve(host: str = "127.0.0.1", port: int = 9025, **options: str) -> None:
    """Run the emulator in the foreground until interrupted (``mailbridge emulator tencent``).

    ``options`` (strings, as from a command line): see :data:`OPTIONS` (``domains`` and
    ``blacklist`` comma-separated), and ``callback_url`` (push each delivery's callback there).
    The URL to connect with is printed on stderr.
    """
    serve_emulator(TencentEmulator, "Tencent SES", host, port, options, OPTIONS)
