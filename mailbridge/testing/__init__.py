"""Testing tools shipped with mailbridge, for its own tests and for third-party provider plugins.

- :mod:`mailbridge.testing.contract`: :class:`BackendContract`, the contract suite, gated by declared features.
- :mod:`mailbridge.testing.cassettes`: vcrpy set-up with scrubbing from the backends' ``secret_fields``,
  the record/replay switch (``MAILBRIDGE_RECORD_CASSETTES``) and the leak finder.
- :mod:`mailbridge.testing.emulator`: the emulator harness (:class:`EmulatorServer`, :class:`EmulatorFacade`:
  loopback server, faults, throttles, request log, control routes, ``serve()``) a provider's emulator is built on.
- :mod:`mailbridge.testing.outbox`: :class:`Outbox`, assertions on what a ``local://`` store sent.
- :mod:`mailbridge.testing.plugin`: the pytest plugin (registered as a ``pytest11`` entry point): the
  ``mailbridge_local`` fixture with its outbox assertions, and a fixture per installed emulator.

Importing this package imports neither pytest, vcrpy nor any backend: each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cassettes import find_leaks, make_vcr, record_mode
    from .contract import BackendContract, contract_for
    from .emulator import EmulatorFacade, EmulatorServer
    from .outbox import Outbox

__all__ = [
    "BackendContract",
    "EmulatorFacade",
    "EmulatorServer",
    "Outbox",
    "contract_for",
    "find_leaks",
    "make_vcr",
    "record_mode",
]

_HOME = {
    "BackendContract": "contract",
    "contract_for": "contract",
    "EmulatorFacade": "emulator",
    "EmulatorServer": "emulator",
    "find_leaks": "cassettes",
    "make_vcr": "cassettes",
    "record_mode": "cassettes",
    "Outbox": "outbox",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
