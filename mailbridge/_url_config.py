"""One reading of a backend's URL: declared parameters, credentials, region, endpoints, one plain-text policy.

Every backend declares the parameters it understands; :meth:`UrlConfig.read` refuses any other
with one neutral :class:`ConfigurationError` that names it and lists the known ones (never a
value, so never a secret). The parameters every URL takes (:data:`CORE_URL_PARAMS`: the client's
and the failover's) are accepted by all. Booleans have one syntax (``true/false``, ``1/0``,
``yes/no``, ``on/off``).

Plain text (an ``http://`` endpoint, an SMTP relay without TLS) is allowed to a loopback host
only (the emulators, a local relay), unless the URL says ``insecure=true``: the one documented
opt-in, for a gateway on a trusted network.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from attrs import frozen

from ._exceptions import ConfigurationError
from ._url import ProviderURL, Secret, is_loopback

__all__ = ["CORE_URL_PARAMS", "INSECURE_PARAM", "UrlConfig"]

INSECURE_PARAM = "insecure"
#: Parameters any backend URL may carry: read by ``connect()``, the client or a failover URL.
CORE_URL_PARAMS = frozenset(
    {
        "timeout",
        "rate_limit",
        "retries",
        "template_catalog",
        "ignore_unsupported_features",
        "idempotency",
        "state",
        INSECURE_PARAM,
    }
)


@frozen
class UrlConfig:
    """A backend's URL with its parameters checked against the declared ones."""

    url: ProviderURL
    known: frozenset[str]

    @classmethod
    def read(cls, url: ProviderURL, known: Iterable[str] = ()) -> UrlConfig:
        """Check ``url``'s parameters: anything neither in ``known`` nor a core parameter is refused."""
        declared = frozenset(known) | CORE_URL_PARAMS
        unknown = sorted(set(url.params) - declared)
        if unknown:
            raise ConfigurationError(
                f"unknown {url.provider} URL parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(declared))}"
            )
        return cls(url, declared)

    @property
    def provider(self) -> str:
        return self.url.provider

    def text(self, name: str, default: str | None = None) -> str | None:
        return self.url.params.get(name) or default

    def flag(self, name: str, default: bool = False) -> bool:
        return self.url.bool_param(name, default)

    def choice(self, name: str, choices: Iterable[str], default: str) -> str:
        """A parameter that must be one of ``choices`` (case-insensitive)."""
        options = tuple(choices)
        value = (self.text(name) or default).lower()
        if value not in options:
            raise ConfigurationError(f"{self.provider} URL parameter {name} must be one of {', '.join(options)}")
        return value

    def seconds(self, name: str, default: float) -> float:
        """A positive number of seconds."""
        value = self.url.float_param(name, default)
        if not value > 0:
            raise ConfigurationError(f"{self.provider} URL parameter {name} must be a positive number of seconds")
        return value

    def credentials(self, env_user: str, env_secret: str) -> tuple[str | None, Secret | None]:
        """USER and SECRET from the URL, each falling back to the environment variable the backend declares."""
        user = self.url.username or os.environ.get(env_user) or None
        secret = (self.url.password.reveal() if self.url.password else None) or os.environ.get(env_secret) or None
        return user, Secret(secret) if secret else None

    def region(self, default: str | None, known: Mapping[str, object] | None = None) -> str | None:
        """The URL's host or ``region=`` (not two different ones), else ``default``; checked against ``known``."""
        host, param = self.url.host, self.text("region")
        if host and param and host != param:
            raise ConfigurationError(f"{self.provider} region given twice: {host!r} and {param!r}")
        region = host or param or default
        if known is not None and region not in known:
            raise ConfigurationError(f"unknown {self.provider} region {region!r}; known: {', '.join(known)}")
        return region

    @property
    def insecure(self) -> bool:
        """Whether the URL opted in to plain text off loopback (``insecure=true``)."""
        return self.flag(INSECURE_PARAM)

    def check_plaintext(self, host: str, what: str) -> None:
        """Refuse plain text to ``host`` unless it is loopback or the URL opted in."""
        if not is_loopback(host) and not self.insecure:
            raise ConfigurationError(
                f"{self.provider} {what} is plain text to a host that is not loopback: "
                f"use https (or TLS), or add {INSECURE_PARAM}=true to allow it"
            )

    def endpoint(self, name: str = "endpoint", *, scheme_optional: bool = False) -> str | None:
        """An ``http(s)://`` URL parameter, well-formed and percent-encoded, plain http per the one policy.

        ``scheme_optional``: a bare ``host[:port]`` means ``https://host[:port]``.
        """
        value = self.text(name)
        if not value:
            return None
        if scheme_optional and "://" not in value:
            value = "https://" + value
        if not value.startswith(("http://", "https://")):
            raise ConfigurationError(f"{self.provider} URL parameter {name} must be an http(s) URL")
        parsed = ProviderURL.parse(value)
        if not parsed.host:
            raise ConfigurationError(f"{self.provider} URL parameter {name} must name a host")
        if parsed.provider == "http":
            self.check_plaintext(parsed.host, f"{name} (http://)")
        return parsed.unsplit().rstrip("/")
