"""The ``aliyun://`` URL: credentials, region, endpoint, signature version, timeout.

``aliyun://ACCESS_KEY_ID:ACCESS_KEY_SECRET@REGION?endpoint=URL&signature=v3|v2&timeout=SECONDS``
or ``aliyun://?region=cn-hangzhou`` with the credentials in ``ALIBABA_CLOUD_ACCESS_KEY_ID``
and ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``.

Attachments take two more hosts (:mod:`._attachments`): OpenPlatform (``AuthorizeFileUpload``,
``https://openplatform.aliyuncs.com``, the SDK's fixed host) and the OSS bucket it names
(``https://{Bucket}.{Endpoint}``). ``openplatform=URL`` and ``oss=URL`` send those calls elsewhere
(the OSS upload keeps ``Host: {Bucket}.{Endpoint}``, as OSS routes by it). An ``endpoint`` that is not
an ``*.aliyuncs.com`` host (an emulator, a gateway) serves all three unless they are given.
"""

from __future__ import annotations

import hashlib

from attrs import frozen

from mailbridge import ConfigurationError, ProviderURL, Secret, UrlConfig, redact_url

__all__ = ["ENDPOINTS", "ENV_KEY_ID", "ENV_SECRET", "OPENPLATFORM_ENDPOINT", "AliyunConfig"]

ENV_KEY_ID = "ALIBABA_CLOUD_ACCESS_KEY_ID"
ENV_SECRET = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"

# Reference A.2 (SDK _endpoint_map, alibabacloud-dm20151123 client.py).
ENDPOINTS = {
    "cn-hangzhou": "https://dm.aliyuncs.com",
    "ap-southeast-1": "https://dm.ap-southeast-1.aliyuncs.com",
    "ap-southeast-2": "https://dm.ap-southeast-2.aliyuncs.com",
    "us-east-1": "https://dm.us-east-1.aliyuncs.com",
    "eu-central-1": "https://dm.eu-central-1.aliyuncs.com",
}
DEFAULT_REGION = "cn-hangzhou"
DEFAULT_TIMEOUT = 30.0
_KNOWN_PARAMS = {"region", "endpoint", "signature", "openplatform", "oss"}
OPENPLATFORM_ENDPOINT = "https://openplatform.aliyuncs.com"  # the SDK's _open_platform_endpoint default


def _redact(key_id: str) -> str:
    return (key_id[:4] if len(key_id) > 8 else "") + "***"


@frozen(repr=False)
class AliyunConfig:
    """Everything the backend needs, parsed and checked. The secret stays a :class:`Secret`."""

    access_key_id: str
    secret: Secret
    region: str
    endpoint: str
    signature: str = "v3"
    timeout: float = DEFAULT_TIMEOUT
    openplatform_endpoint: str = OPENPLATFORM_ENDPOINT
    oss_endpoint: str | None = None  # where OSS uploads connect; None: https://{Bucket}.{Endpoint}

    @classmethod
    def from_url(cls, url: ProviderURL) -> AliyunConfig:
        conf = UrlConfig.read(url, _KNOWN_PARAMS)
        region = conf.region(DEFAULT_REGION) or DEFAULT_REGION
        endpoint = conf.endpoint() or ENDPOINTS.get(region)
        if not endpoint:
            raise ConfigurationError(
                f"unknown Direct Mail region {region!r}; known: {', '.join(ENDPOINTS)} (or give ?endpoint=URL)"
            )
        key_id, secret = conf.credentials(ENV_KEY_ID, ENV_SECRET)
        if not key_id or not secret:
            raise ConfigurationError(
                "Alibaba Cloud credentials missing: put them in the URL (aliyun://KEY_ID:SECRET@REGION) "
                f"or set {ENV_KEY_ID} and {ENV_SECRET}"
            )
        # An emulator or gateway at ``endpoint`` (not a cloud host) serves OpenPlatform and OSS too.
        own_host = not (ProviderURL.parse(endpoint).host or "").endswith(".aliyuncs.com")
        return cls(
            key_id,
            secret,
            region,
            endpoint,
            conf.choice("signature", ("v3", "v2"), "v3"),
            conf.seconds("timeout", DEFAULT_TIMEOUT),
            conf.endpoint("openplatform") or (endpoint if own_host else OPENPLATFORM_ENDPOINT),
            conf.endpoint("oss") or (endpoint if own_host else None),
        )

    def describe(self) -> str:
        """``aliyun://LTAI***@cn-hangzhou`` (plus a non-default endpoint), never the secret."""
        out = f"aliyun://{_redact(self.access_key_id)}@{self.region}"
        if self.endpoint != ENDPOINTS.get(self.region):
            out += f"?endpoint={redact_url(self.endpoint)}"
        return out

    @property
    def account_key(self) -> str:
        """A stable, non-reversible identifier of the account (for rate-limit keys)."""
        return hashlib.sha256(self.access_key_id.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"AliyunConfig({self.describe()!r}, signature={self.signature!r})"
