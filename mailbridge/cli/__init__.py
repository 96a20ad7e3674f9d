"""The ``mailbridge`` command line (click). See ``mailbridge --help``."""

from . import (
    _account,
    _deliveries,
    _demo,
    _emulator,
    _groups,
    _migrate,
    _providers,
    _recipients,
    _send,
    _setup,
    _suppressions,
    _templates,
    _webhooks,
)
from ._app import cli, main
from ._exit import ExitStatus

__all__ = ["ExitStatus", "cli", "main"]

del _account, _deliveries, _demo, _emulator, _groups, _migrate, _providers, _recipients, _send, _setup, _templates
del _suppressions, _webhooks
