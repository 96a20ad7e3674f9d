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

Simulated delivery by recipient domain (``bounce.example``, ``spam.example``, ...): see :mod:`._state`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mailbridge.testing.emulator import EmulatorFacade, EmulatorServer, Fault, flag
from mailbridge.testing.emulator import serve as serve_emulator

from ._state import ACTION_PARAMS, TEST_SECRET_ID, TEST_SECRET_KEY, SESAccount
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


class TencentEmulator(EmulatorFacade, SESAccount):
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
        clock: Callable[[], float] = time.time,
        **account: Any,
    ) -> None:
        super().__init__(clock=clock, **account)
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

    @property
    def url(self) -> str:
        """A mailbridge URL for this emulator, with the test credentials."""
        return f"tencent://{self.secret_id}:{self.secret_key}@{self.region}?endpoint={self.endpoint}"


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
