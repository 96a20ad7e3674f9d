"""Connection URLs (Symfony-Mailer-style DSNs) and secrets that never print.

Grammar::

    PROVIDER://[USER[:SECRET]@][HOST][:PORT][/PATH][?key=value&...]

``PROVIDER`` names a backend entry point. What USER, SECRET, HOST and PATH mean is the
backend's business (for the clouds USER/SECRET are the access key pair and HOST the
region; for ``local`` PATH is the data directory). A URL prints redacted:
``aliyun://LTAI***@cn-hangzhou``; so do URLs inside parameters (``endpoint=``, the
``providers=`` of a failover URL), and every secret is registered with the scrubber
(:mod:`mailbridge._scrub`). Parse errors describe what is wrong, never echo the URL.

Credentials should be percent-encoded; unencoded ``/``, ``:`` and ``@`` in a secret are
understood when a host follows (the last ``@`` before the query ends the credentials).
``?``, ``#`` and ``&`` cannot be told from URL syntax and must be encoded.

The split is hand-written (about 60 lines) rather than ``urllib.parse.urlsplit``: urllib
starts the path at an unencoded ``/`` inside a secret, takes ``#`` as a fragment, and its
"Port could not be cast" error quotes the secret.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode

from attrs import field, frozen

from ._exceptions import ConfigurationError
from ._scrub import register_secret

__all__ = ["ProviderURL", "Secret", "is_loopback", "redact_url"]

_SECRET_PARAM = re.compile(r"secret|password|passwd|token|key(?!word)|signature|credential", re.I)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


class Secret:
    """A string that never shows up in a repr, str or f-string. ``reveal()`` gets it back."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

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
        """Parse a URL; raise :class:`ConfigurationError` naming what is wrong (never echoing the URL)."""
        if not isinstance(url, str) or "://" not in url:
            raise ConfigurationError(
                "not a mailbridge URL: expected PROVIDER://..., e.g. local:///path or aliyun://?region=cn-hangzhou"
            )
        scheme, rest = url.split("://", 1)
        scheme = scheme.lower()
        if not _SCHEME.match(scheme):
            raise ConfigurationError(
                "invalid provider name in URL: it must start with a letter and hold only letters, digits, + . -"
            )
        if any(c in url for c in "\r\n\t\x00"):
            raise ConfigurationError(f"malformed {scheme} URL: it contains a control character")
        if "#" in rest:
            raise ConfigurationError(f"malformed {scheme} URL: it contains '#'; {_ENCODE_HINT}")
        head, _, query = rest.partition("?")
        keys = [part.split("=", 1)[0] for part in query.split("&")] if query else []
        if any("@" in key or "/" in key for key in keys):  # USER:a?b@HOST: the '?' was part of a secret
            raise ConfigurationError(f"malformed {scheme} URL: a '?' inside the credentials; {_ENCODE_HINT}")
        userinfo, hostport, path = _split_head(head)
        host, port = _split_hostport(scheme, hostport)
        user, _, password = (userinfo or "").partition(":")
        params = dict(parse_qsl(query, keep_blank_values=True))
        for key, value in params.items():
            if _SECRET_PARAM.search(key):
                register_secret(value)
            elif "://" in value:
                _register_nested(value)
        return cls(
            provider=scheme,
            username=unquote(user) if user else None,
            password=Secret(unquote(password)) if password else None,
            host=unquote(host) if host else None,
            port=port,
            path=unquote(path) if path else None,
            params=params,
        )

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
            out += quote(_redact_user(self.username), safe="*") + "@"
        elif self.password:
            out += "***@"
        if self.host:
            out += self.host
        if self.port:
            out += f":{self.port}"
        if self.path:
            out += self.path
        if self.params:
            out += "?" + "&".join(f"{k}={_redact_param(k, v)}" for k, v in self.params.items())
        return out

    def unsplit(self) -> str:
        """The URL again, secrets revealed and every part percent-encoded (for an HTTP client)."""
        out = f"{self.provider}://"
        if self.username or self.password:
            out += quote(self.username or "", safe="")
            out += f":{quote(self.password.reveal(), safe='')}" if self.password else ""
            out += "@"
        out += self.host or ""
        out += f":{self.port}" if self.port else ""
        out += quote(self.path, safe="/") if self.path else ""
        return out + ("?" + urlencode(self.params) if self.params else "")

    def __repr__(self) -> str:
        return f"ProviderURL({self.redacted()!r})"

    def __str__(self) -> str:
        return self.redacted()


_ENCODE_HINT = "percent-encode / ? # @ : inside credentials (for example / as %2F, ? as %3F)"
_NESTED_USERINFO = re.compile(r"://(?:[^/?#@:]*):([^/?#@]*)@")


def _split_head(head: str) -> tuple[str | None, str, str]:
    """``USER:SECRET@HOST:PORT/PATH`` into userinfo, host-and-port and path.

    The authority ends at the first ``/`` (RFC 3986), unless it holds credentials (an ``@``,
    or a ``USER:X`` without a numeric port) and an ``@`` follows the ``/``: then the last
    ``@`` ends an unencoded secret (``tencent://AKID:ab/cd@region``, ``AKID:a@b/c@region``).
    """
    slash = head.find("/")
    authority = head if slash < 0 else head[:slash]
    at = authority.rfind("@")
    looks_like_credentials = at >= 0 or (":" in authority and not authority.rsplit(":", 1)[1].isdigit())
    if slash >= 0 and looks_like_credentials and "@" in head[slash:]:
        at = head.rfind("@")  # the last '@' ends the credentials: '/' and '@' inside a secret
    if at < 0:
        return None, authority, "" if slash < 0 else head[slash:]
    userinfo, after = head[:at], head[at + 1 :]
    slash = after.find("/")
    return userinfo, after if slash < 0 else after[:slash], "" if slash < 0 else after[slash:]


def _split_hostport(scheme: str, hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):  # an IPv6 literal keeps its brackets
        end = hostport.find("]")
        if end < 0:
            raise ConfigurationError(f"malformed {scheme} URL: an IPv6 host lacks its closing ']'")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ConfigurationError(f"malformed {scheme} URL: unexpected text after the IPv6 host")
        port_text = rest[1:]
    elif ":" in hostport:
        host, port_text = hostport.rsplit(":", 1)
    else:
        return hostport, None
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(
            f"malformed {scheme} URL: the text after the host's ':' is not a port number "
            f"(credentials need an '@' before the host; {_ENCODE_HINT})"
        )
    return host, int(port_text)


def _nested_urls(value: str) -> list[str]:
    """The URLs in a parameter: a comma-separated list (``providers=``) if every piece is a URL, else one."""
    pieces = value.split(",")
    return pieces if all("://" in p for p in pieces) else [value]


def _register_nested(value: str) -> None:
    """Register the secrets of URLs inside a parameter (``endpoint=``, ``providers=``)."""
    for piece in _nested_urls(value):
        inner = piece.strip()  # already percent-decoded once, with the rest of the query
        for match in _NESTED_USERINFO.finditer(inner):
            register_secret(unquote(match.group(1)))
        try:
            ProviderURL.parse(inner)
        except ConfigurationError:
            continue


def _redact_nested(piece: str) -> str:
    try:
        return ProviderURL.parse(piece.strip()).redacted()
    except ConfigurationError:
        return "***"


def _redact_param(key: str, value: str) -> str:
    if _SECRET_PARAM.search(key):
        return "***"
    if "://" in value:
        return ",".join(_redact_nested(p) for p in _nested_urls(value))
    return value


def redact_url(text: str) -> str:
    """A URL string (``http://u:PW@host``, ``aliyun://...``) with its secrets masked, for display."""
    return _redact_nested(text) if "://" in text else text


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost`` or a loopback address, IPv6 brackets allowed):
    the one place plain http, an unencrypted relay or an emulator is acceptable."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
