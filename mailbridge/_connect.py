"""``connect()``: from a URL to a ready client."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import attrs

from ._client import Client, RetryPolicy
from ._exceptions import ConfigurationError
from ._ratelimit import RateLimiter
from ._registry import load_backend_class
from ._scrub import install_log_filter
from ._url import ProviderURL

if TYPE_CHECKING:
    from ._failover import FailoverClient

__all__ = ["DEFAULT_URL", "URL_ENV", "connect", "connect_failover"]

URL_ENV = "MAILBRIDGE_URL"
DEFAULT_URL = "local://.mailbridge"


def connect(
    url: str | ProviderURL | None = None,
    *,
    ignore_unsupported_features: bool = False,
    retry: RetryPolicy | None = None,
    rate_limiter: RateLimiter | None = None,
    timeout: float | None = None,
    **client_options: Any,
) -> Client:
    """Return a :class:`Client` for a provider URL.

    **Parameters:** ``url`` *(optional)*: e.g. ``local:///path/to/dir``,
    ``aliyun://?region=cn-hangzhou``, ``tencent://?region=ap-guangzhou``; default from
    ``MAILBRIDGE_URL``, else the embedded ``local`` backend in ``./.mailbridge/``. Any URL
    takes ``rate_limit=off`` to skip the provider's declared rates (for emulators only) and
    ``template_catalog=PATH|redis://...|off`` (see :class:`Client`).
    ``timeout`` *(optional)*: seconds each provider request may take, from connect to the
    last byte of the answer (one deadline, not per socket operation); the same as
    ``timeout=`` in the URL, which it overrides. A send whose deadline passes after the
    request was written raises :class:`OutcomeUnknown`; before, it is retried or failed over.
    The other parameters are passed to :class:`Client`.
    """
    text = url if url is not None else os.environ.get(URL_ENV) or DEFAULT_URL
    parsed = text if isinstance(text, ProviderURL) else ProviderURL.parse(text)
    if parsed.provider == "failover":
        raise ConfigurationError("a failover:// URL builds a FailoverClient: use mailbridge.connect_failover(url)")
    if "rate_limit" in parsed.params:  # rate_limit=off: skip the declared rates (emulators only)
        enforce = parsed.bool_param("rate_limit", True)
        parsed = attrs.evolve(parsed, params={k: v for k, v in parsed.params.items() if k != "rate_limit"})
        if not enforce and rate_limiter is None:
            rate_limiter = RateLimiter.disabled()
    if timeout is not None:
        if not timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")
        parsed = attrs.evolve(parsed, params={**parsed.params, "timeout": str(timeout)})
    if "template_catalog" in parsed.params:  # where template parts the provider cannot store are kept
        client_options.setdefault("template_catalog", parsed.params["template_catalog"])
        parsed = attrs.evolve(parsed, params={k: v for k, v in parsed.params.items() if k != "template_catalog"})
    backend_cls = load_backend_class(parsed.provider)
    install_log_filter()  # the plugin's loggers exist now
    backend = backend_cls.from_url(parsed)
    return Client(
        backend,
        ignore_unsupported_features=ignore_unsupported_features,
        retry=retry,
        rate_limiter=rate_limiter,
        **client_options,
    )


def connect_failover(url: str | ProviderURL) -> FailoverClient:
    """Return a :class:`FailoverClient` for a ``failover://?providers=URL1,URL2...`` URL."""
    parsed = url if isinstance(url, ProviderURL) else ProviderURL.parse(url)
    if parsed.provider != "failover":
        raise ConfigurationError(f"not a failover URL: {parsed}")
    from ._failover import FailoverClient  # imported here: a plain connect() does not need it

    return FailoverClient.from_url(parsed, connect)
