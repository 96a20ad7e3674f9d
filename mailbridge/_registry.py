"""Finding backends: stevedore over the ``mailbridge.providers`` entry-point group.

Built-in backends are registered through the same entry points as third-party ones; the
core never imports a backend module by name.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from stevedore import DriverManager, ExtensionManager
from stevedore.exception import NoMatches

from ._backend import Backend
from ._exceptions import ConfigurationError, ProviderNotInstalled

__all__ = ["PROVIDER_GROUP", "available_providers", "load_backend_class"]

PROVIDER_GROUP = "mailbridge.providers"
EMULATOR_GROUP = "mailbridge.emulators"
LOAD_ENV = "MAILBRIDGE_PROVIDERS"  # comma-separated allow-list of provider names

log = logging.getLogger("mailbridge")


def _allowed(name: str) -> bool:
    allow = os.environ.get(LOAD_ENV)
    if not allow:
        return True
    return name in {n.strip() for n in allow.split(",")}


def _on_failure(manager: Any, entrypoint: Any, exc: BaseException) -> None:
    log.warning("mailbridge backend %r failed to load: %s", entrypoint.name, exc)


def available_providers() -> dict[str, type[Backend]]:
    """Every installed backend class that loads, by entry-point name (sorted)."""
    manager: ExtensionManager[Any] = ExtensionManager(
        PROVIDER_GROUP, invoke_on_load=False, on_load_failure_callback=_on_failure
    )
    found: dict[str, type[Backend]] = {}
    for ext in manager:
        if _allowed(ext.name) and isinstance(ext.plugin, type) and issubclass(ext.plugin, Backend):
            found[ext.name] = ext.plugin
    return dict(sorted(found.items()))


def _not_installed_hint(name: str) -> str:
    """Built only on failure: listing what is installed loads every backend (and its SDK)."""
    installed = ", ".join(available_providers()) or "none"
    return (
        f"no mailbridge backend named {name!r} is installed (installed: {installed}). "
        f"Install the distribution that provides it (for example `pip install mailbridge-{name}`); "
        f"it must register the entry point {name!r} in the group {PROVIDER_GROUP!r}"
    )


def load_backend_class(name: str) -> type[Backend]:
    """The backend class registered as ``name``; :class:`ProviderNotInstalled` if none.

    Only the requested backend is imported: a Direct Mail user never loads the Tencent SDK.
    """
    if not _allowed(name):
        raise ProviderNotInstalled(f"{_not_installed_hint(name)}; {LOAD_ENV} does not allow it")
    try:
        manager: DriverManager[Any] = DriverManager(PROVIDER_GROUP, name, invoke_on_load=False)
    except NoMatches:
        raise ProviderNotInstalled(_not_installed_hint(name)) from None
    except Exception as exc:  # the plugin is installed but broken
        raise ConfigurationError(f"the mailbridge backend {name!r} failed to load: {exc}") from exc
    plugin = manager.driver
    if not (isinstance(plugin, type) and issubclass(plugin, Backend)):
        raise ConfigurationError(f"entry point {name!r} in {PROVIDER_GROUP!r} is not a mailbridge Backend")
    return plugin


def load_emulator(name: str) -> Any:
    """The emulator entry point registered as ``name`` in ``mailbridge.emulators``."""
    try:
        return DriverManager(EMULATOR_GROUP, name, invoke_on_load=False).driver
    except NoMatches:
        manager: ExtensionManager[Any] = ExtensionManager(EMULATOR_GROUP, invoke_on_load=False)
        installed = ", ".join(sorted(manager.names())) or "none"
        raise ProviderNotInstalled(f"no emulator named {name!r} is installed (installed: {installed})") from None
