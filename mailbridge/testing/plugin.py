"""The mailbridge pytest plugin (a ``pytest11`` entry point: active wherever mailbridge is installed).

Fixtures for code that sends mail through mailbridge:

- ``mailbridge_local``: a :class:`mailbridge.Client` on a fresh ``local://`` store in a temporary directory, and
  ``mailbridge_outbox``, the :class:`Outbox` of that store (``outbox.assert_sent(to=..., subject=...)``).
  ``mailbridge_local_url`` is the store's URL, also set as ``MAILBRIDGE_URL`` for code that connects by itself.
- ``mailbridge_emulator``: ``mailbridge_emulator("aliyun", **options)`` starts an installed provider emulator on
  loopback (stopped after the test); ``mailbridge_emulator_<name>`` is one already started, one fixture per
  emulator installed in the group :data:`EMULATOR_GROUP` (the facade's ``url`` is a ready ``connect()`` URL).
- ``mailbridge_clean_env`` (no ``MAILBRIDGE_URL``/``MAILBRIDGE_PROVIDERS`` nor any installed backend's declared
  ``environment`` variables), ``mailbridge_template_catalog`` (a template catalog of the test's own) and
  ``mailbridge_no_retry_waits`` (retries happen, at most 3 attempts, but never sleep): opt in, or make them
  autouse in a ``conftest.py``.

A plugin registers its emulator for these fixtures with an entry point whose object, called with keyword
options, returns an unstarted emulator with ``start()``, ``stop()`` and ``url``::

    [project.entry-points."mailbridge.testing.emulators"]
    myprovider = "mailbridge_myprovider.emulator:MyEmulator"

Nothing here imports a backend or an emulator before a fixture needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from .outbox import Outbox

if TYPE_CHECKING:
    import mailbridge

__all__ = ["EMULATOR_GROUP", "Emulator", "installed_emulators"]

EMULATOR_GROUP = "mailbridge.testing.emulators"


class Emulator(Protocol):
    """What the fixtures use of an emulator facade."""

    @property
    def url(self) -> str: ...

    def start(self) -> Any: ...

    def stop(self) -> None: ...


def installed_emulators() -> dict[str, Callable[..., Emulator]]:
    """Every emulator factory registered in :data:`EMULATOR_GROUP`, by name (loaded on call)."""
    return {ep.name: ep.load() for ep in sorted(entry_points(group=EMULATOR_GROUP), key=lambda e: e.name)}


def _emulator_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=EMULATOR_GROUP)})


# --------------------------------------------------------------------------- environment


@pytest.fixture
def mailbridge_clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``MAILBRIDGE_URL``, ``MAILBRIDGE_PROVIDERS`` or installed backend's declared variables in the test."""
    import mailbridge

    names = {"MAILBRIDGE_URL", "MAILBRIDGE_PROVIDERS"}
    for cls in mailbridge.available_providers().values():
        names |= set(cls.environment)
    for name in sorted(names):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mailbridge_template_catalog(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template catalog of the test's own, never the user's data directory (subprocesses inherit it)."""
    path = tmp_path_factory.mktemp("catalog") / "templates.sqlite3"
    monkeypatch.setenv("MAILBRIDGE_TEMPLATE_CATALOG", str(path))
    return path


@pytest.fixture
def mailbridge_no_retry_waits() -> Iterator[None]:
    """Retries happen (at most 3 attempts, fewer if a RetryPolicy says so) but never sleep."""
    import stamina

    with stamina.set_testing(True, attempts=3, cap=True):
        yield


# --------------------------------------------------------------------------- the local backend


@pytest.fixture
def mailbridge_local_url(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, mailbridge_template_catalog: Path
) -> str:
    """``local://DIR`` on a fresh temporary store, also set as ``MAILBRIDGE_URL``."""
    url = f"local://{tmp_path_factory.mktemp('mailbridge-local')}"
    monkeypatch.setenv("MAILBRIDGE_URL", url)
    return url


@pytest.fixture
def mailbridge_local(mailbridge_local_url: str) -> Iterator[mailbridge.Client]:
    """A client on the fresh local store of ``mailbridge_local_url`` (closed after the test)."""
    import mailbridge

    with mailbridge.connect(mailbridge_local_url) as client:
        yield client


@pytest.fixture
def mailbridge_outbox(mailbridge_local_url: str) -> Outbox:
    """The outbox of the ``mailbridge_local`` store."""
    return Outbox(mailbridge_local_url.removeprefix("local://"))


# --------------------------------------------------------------------------- emulators


@pytest.fixture
def mailbridge_emulator() -> Iterator[Callable[..., Emulator]]:
    """``start(name, **options)``: an installed emulator, started on loopback and stopped after the test."""
    started: list[Emulator] = []
    factories: dict[str, Callable[..., Emulator]] = {}

    def start(name: str, **options: Any) -> Emulator:
        if name not in factories:
            found = {ep.name: ep for ep in entry_points(group=EMULATOR_GROUP)}
            if name not in found:
                installed = ", ".join(sorted(found)) or "none"
                raise LookupError(f"no mailbridge emulator named {name!r} is installed (installed: {installed})")
            factories[name] = found[name].load()
        emulator = factories[name](**options)
        emulator.start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()


def _emulator_fixture(name: str) -> Any:
    def fixture(mailbridge_emulator: Callable[..., Emulator]) -> Emulator:
        return mailbridge_emulator(name)

    fixture.__doc__ = f"The {name!r} emulator, started on loopback with its defaults (stopped after the test)."
    return pytest.fixture(name=f"mailbridge_emulator_{name}")(fixture)


for _name in _emulator_names():
    globals()[f"_mailbridge_emulator_{_name}"] = _emulator_fixture(_name)
