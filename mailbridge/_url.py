"""Connection URLs (Symfony-Mailer-style DSNs) and secrets that never print.

Grammar::

    PROVIDER://[USER[:SECRET]@][HOST][:PORT][/PATH][?key=value&...]

``PROVIDER`` names a backend entry point. What USER, SECRET, HOST and PATH mean is the
backend's business (for the clouds USER/SECRET are the access key pair and HOST the
region; for ``local`` PATH is the data directory). A URL prints redacted:
``aliyun://LTAI***@cn-hangzhou``.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from attrs import field, frozen

from ._exceptions import ConfigurationError

__all__ = ["ProviderURL", "Secret"]

_SECRET_PARAM = re.compile(r"secret|password|passwd|token|key(?!word)|signature|credential", re.I)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


class Secret:
    """A string that never shows up in a repr, str or f-string. ``reveal()`` gets it back."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return (Secret, (self._value,))


def _redact_user(user: str) -> str:
    return (user[:4] if len(user) > 8 else "") + "***"


@frozen(repr=False)
class ProviderURL:
    """A parsed connection URL. ``password`` (and secret-looking params) are :class:`Secret`."""

    provider: str
    username: str | None = None
    password: Secret | None = None
    host: str | None = None
    port: int | None = None
    path: str | None = None
    params: dict[str, str] = field(factory=dict, hash=False)

    @classmethod
    def parse(cls, url: str) -> ProviderURL:
        """Parse a URL; raise :class:`ConfigurationError` naming what is wrong."""
        if not isinstance(url, str) or "://" not in url:
            raise ConfigurationError(
                f"not a mailbridge URL: {cls._safe(url)!r}; expected PROVIDER://..., e.g. local:///path"
                " or aliyun://?region=cn-hangzhou"
            )
        scheme = url.split("://", 1)[0].lower()
        if not _SCHEME.match(scheme):
            raise ConfigurationError(f"invalid provider name {scheme!r} in URL")
        # urlsplit refuses unknown-scheme netlocs with brackets etc.; parse as http for the netloc.
        try:
            parts = urlsplit("http://" + url.split("://", 1)[1])
            port = parts.port
        except ValueError as exc:
            raise ConfigurationError(f"malformed URL for {scheme}: {exc}") from exc
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        # The host keeps its case (a local directory name is a "host" too).
        hostport = parts.netloc.rsplit("@", 1)[-1]
        host = hostport.rsplit(":", 1)[0] if port is not None else hostport
        return cls(
            provider=scheme,
            username=unquote(parts.username) if parts.username else None,
            password=Secret(unquote(parts.password)) if parts.password else None,
            host=unquote(host) if host else None,
            port=port,
            path=unquote(parts.path) if parts.path else None,
            params=params,
        )

    @staticmethod
    def _safe(url: object) -> str:
        text = str(url)
        return re.sub(r"[^/@:]*:[^@]*@", "***@", text) if "@" in text else text

    def param(self, name: str, default: str | None = None) -> str | None:
        return self.params.get(name, default)

    def bool_param(self, name: str, default: bool = False) -> bool:
        value = self.params.get(name)
        if value is None:
            return default
        if value.lower() in {"1", "true", "yes", "on"}:
            return True
        if value.lower() in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigurationError(f"{self.provider} URL parameter {name}={value!r} must be true or false")

    def float_param(self, name: str, default: float) -> float:
        value = self.params.get(name)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ConfigurationError(f"{self.provider} URL parameter {name}={value!r} must be a number") from None

    def credential(self, url_value: str | None, env_var: str) -> str | None:
        """A credential from the URL if given, else from the environment."""
        return url_value or os.environ.get(env_var) or None

    def redacted(self) -> str:
        """The URL with every secret masked (safe for logs and reprs)."""
        out = f"{self.provider}://"
        if self.username:
            out += quote(_redact_user(self.username), safe="*")
            out += "@"
        if self.host:
            out += self.host
        if self.port:
            out += f":{self.port}"
        if self.path:
            out += self.path
        if self.params:
            out += "?" + "&".join(f"{k}={'***' if _SECRET_PARAM.search(k) else v}" for k, v in self.params.items())
        return out

    def __repr__(self) -> str:
        return f"ProviderURL({self.redacted()!r})"

    def __str__(self) -> str:
        return self.redacted()
