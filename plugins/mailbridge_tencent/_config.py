"""The ``tencent://`` URL: credentials, region, endpoint, timeout.

``tencent://SECRET_ID:SECRET_KEY@REGION?endpoint=http://127.0.0.1:PORT&timeout=SECONDS``, or
``tencent://?region=ap-guangzhou`` with the credentials in ``TENCENTCLOUD_SECRET_ID`` /
``TENCENTCLOUD_SECRET_KEY``. Regions: ap-guangzhou and ap-hongkong (``ses.tencentcloudapi.com``),
ap-singapore (``ses.intl.tencentcloudapi.com``). Unknown parameters are refused; an ``http://`` endpoint
is accepted for loopback only, unless ``insecure=true`` (:class:`mailbridge.UrlConfig`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from attrs import frozen

from mailbridge import INSECURE_PARAM, ConfigurationError, ProviderURL, Secret, UrlConfig
from mailbridge._url import is_loopback

__all__ = ["DEFAULT_TIMEOUT", "ENV_ID", "ENV_KEY", "REGIONS", "TencentConfig"]

#: Region -> API host (reference B.3).
REGIONS: dict[str, str] = {
    "ap-guangzhou": "ses.tencentcloudapi.com",
    "ap-hongkong": "ses.tencentcloudapi.com",
    "ap-singapore": "ses.intl.tencentcloudapi.com",
}
ENV_ID = "TENCENTCLOUD_SECRET_ID"
ENV_KEY = "TENCENTCLOUD_SECRET_KEY"
DEFAULT_TIMEOUT = 30.0
PROVIDER = "tencent"


@frozen(repr=False)
class TencentConfig:
    """Everything the backend needs, checked. The secret stays a :class:`Secret`."""

    secret_id: str
    secret_key: Secret
    region: str = "ap-guangzhou"
    endpoint: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    insecure: bool = False  # plain http off loopback (``insecure=true``)

    def __attrs_post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ConfigurationError(
                f"Tencent SES region {self.region!r} is not supported; use one of {', '.join(REGIONS)}",
                provider=PROVIDER,
            )
        self.api_host()

    @classmethod
    def from_url(cls, url: ProviderURL) -> TencentConfig:
        conf = UrlConfig.read(url, {"region", "endpoint"})
        secret_id, secret_key = conf.credentials(ENV_ID, ENV_KEY)
        if not secret_id or not secret_key:
            raise ConfigurationError(
                "Tencent SES needs a SecretId and SecretKey: put them in the URL "
                f"(tencent://SECRET_ID:SECRET_KEY@ap-guangzhou) or set {ENV_ID} and {ENV_KEY}",
                provider=PROVIDER,
            )
        return cls(
            secret_id=secret_id,
            secret_key=secret_key,
            region=conf.region("ap-guangzhou") or "ap-guangzhou",
            endpoint=conf.endpoint(scheme_optional=True),
            timeout=conf.seconds("timeout", DEFAULT_TIMEOUT),
            insecure=conf.insecure,
        )

    def api_host(self) -> tuple[str, str]:
        """(scheme, host[:port]) the SDK is pointed at: the region's, or the checked ``endpoint``."""
        if not self.endpoint:
            return "https", REGIONS[self.region]
        endpoint = self.endpoint
        parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("tencent URL parameter endpoint must be an http(s) URL", provider=PROVIDER)
        if parts.scheme == "http" and not self.insecure and not is_loopback(parts.hostname):
            raise ConfigurationError(
                "tencent endpoint (http://) is plain text to a host that is not loopback: "
                f"use https, or add {INSECURE_PARAM}=true to allow it",
                provider=PROVIDER,
            )
        # The SDK would send userinfo in the Host header (and log it): keep host and port only.
        return parts.scheme, parts.netloc.rsplit("@", 1)[-1]
