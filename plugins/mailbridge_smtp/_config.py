"""The ``smtp://`` URL: relay, TLS mode, credentials, preset, deadline.

``smtp://USER:PASSWORD@HOST[:PORT]?tls=ssl|starttls|none&timeout=SECONDS&ca_file=PATH``, or a cloud's relay by
preset: ``smtp://ADDRESS:PASSWORD@?preset=aliyun&region=cn-hangzhou`` (``preset=tencent&region=ap-guangzhou``).
A host given with a preset replaces the preset's (the rules and limits stay). The login may be percent-encoded
(``noreply%40mail.example.com``) or plain: the last ``@`` ends it. Credentials missing from the URL come from
``MAILBRIDGE_SMTP_USERNAME`` / ``MAILBRIDGE_SMTP_PASSWORD``. ``tls=none`` is for a loopback relay only,
unless ``insecure=true`` (the one plain-text policy of :class:`mailbridge.UrlConfig`).

Why a parameter and not a scheme such as ``smtp+aliyun://``: the core finds a backend by the URL's scheme, so
every scheme would be one more entry point; one ``smtp`` entry point keeps the plugin one registered name, and a
preset is then just data (``failover://`` member URLs need no new names either).
"""

from __future__ import annotations

import hashlib
import os

from attrs import frozen

from mailbridge import ConfigurationError, ProviderURL, Secret, UrlConfig
from mailbridge._url import is_loopback

from ._presets import PLAIN, PRESETS, Preset

__all__ = ["ENV_PASSWORD", "ENV_USERNAME", "SmtpConfig", "is_loopback"]

ENV_USERNAME = "MAILBRIDGE_SMTP_USERNAME"
ENV_PASSWORD = "MAILBRIDGE_SMTP_PASSWORD"
TLS_MODES = ("ssl", "starttls", "none")
DEFAULT_TIMEOUT = 30.0
_KNOWN_PARAMS = {"tls", "ca_file", "preset", "region", "local_hostname"}
_DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}


@frozen(repr=False)
class SmtpConfig:
    """Everything one send needs, parsed and checked. The password stays a :class:`Secret`."""

    host: str
    port: int
    tls: str
    username: str | None = None
    password: Secret | None = None
    preset: Preset = PLAIN
    region: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    ca_file: str | None = None
    local_hostname: str | None = None

    @classmethod
    def from_url(cls, url: ProviderURL) -> SmtpConfig:
        conf = UrlConfig.read(url, _KNOWN_PARAMS)
        preset = PLAIN
        region: str | None = None
        if name := url.param("preset"):
            if name not in PRESETS:
                raise ConfigurationError(f"unknown smtp preset {name!r}; known: {', '.join(PRESETS)}")
            preset = PRESETS[name]
            region = url.param("region") or preset.default_region
            if region not in preset.hosts:
                raise ConfigurationError(
                    f"unknown {preset.display_name} region {region!r}; known: {', '.join(preset.hosts)}"
                )
        elif url.param("region"):
            raise ConfigurationError("smtp URL parameter region needs a preset (preset=aliyun or preset=tencent)")
        host = url.host or (preset.hosts[region] if region else None)
        if not host:
            raise ConfigurationError("smtp URL needs a host (smtp://USER:PASSWORD@HOST:PORT) or a preset")
        tls = (url.param("tls") or "").lower() or None
        if tls is not None and tls not in TLS_MODES:
            raise ConfigurationError(f"smtp URL parameter tls={tls!r} must be one of {', '.join(TLS_MODES)}")
        port = url.port
        if tls is None:  # the mode the preset documents for the port, else the preset's, else the port's
            implied = preset.tls if preset is not PLAIN or port is None else ("ssl" if port == 465 else "starttls")
            tls = preset.ports.get(port, implied) if port else implied
        if port is None:  # the preset's port for the mode, else the standard one
            port = next((p for p, mode in preset.ports.items() if mode == tls), _DEFAULT_PORTS[tls])
        if tls == "none":  # credentials and mail in plain text
            conf.check_plaintext(host, "relay (tls=none)")
        timeout = conf.seconds("timeout", DEFAULT_TIMEOUT)
        ca_file = url.param("ca_file")
        if ca_file is not None and not os.path.isfile(ca_file):
            raise ConfigurationError(f"smtp URL parameter ca_file={ca_file!r} is not a file")
        username, password = conf.credentials(ENV_USERNAME, ENV_PASSWORD)
        if bool(username) != bool(password):
            raise ConfigurationError(
                "smtp credentials need both a login and a password (smtp://USER:PASSWORD@HOST, "
                f"or {ENV_USERNAME} and {ENV_PASSWORD})"
            )
        if preset is not PLAIN and not username:
            raise ConfigurationError(
                f"the {preset.display_name} needs the sender address and its SMTP password: "
                f"smtp://ADDRESS:PASSWORD@?preset={preset.name}&region={region}"
            )
        return cls(
            host=host,
            port=port,
            tls=tls,
            username=username,
            password=password,
            preset=preset,
            region=region,
            timeout=timeout,
            ca_file=ca_file,
            local_hostname=url.param("local_hostname"),
        )

    def describe(self) -> str:
        """``smtp://nore***@smtpdm.aliyun.com:465?tls=ssl&preset=aliyun``: never the password."""
        params = {"tls": self.tls}
        if self.preset is not PLAIN:
            params["preset"] = self.preset.name
        if self.region:
            params["region"] = self.region
        return ProviderURL("smtp", username=self.username, host=self.host, port=self.port, params=params).redacted()

    @property
    def account_key(self) -> str:
        """Stable and not reversible: the relay and the login (for rate-limit keys)."""
        return hashlib.sha256(f"{self.host}:{self.port}:{self.username or ''}".encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"SmtpConfig({self.describe()!r})"
