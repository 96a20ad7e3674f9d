"""Checking that a pushed Direct Mail event came from EventBridge (reference part 2, 1.2).

EventBridge signs what it pushes to HTTP targets (scheme v2): an RSA signature over SHA-256
of a string-to-sign, Base64 in ``x-eventbridge-signature-v2``, with
``x-eventbridge-hash-method``, ``x-eventbridge-signature-timestamp`` and
``x-eventbridge-signature-url`` (the public-key certificate, which must be served from
``https://<region>-eventbridge.oss-accelerate.aliyuncs.com``). The check: the timestamp within
``max_age`` (60 s), the certificate URL of that form, then the signature.

The string-to-sign of v2 is not documented (reference: "whether v2 signs the same string is
unverified"); this reads it as v1's: the called URL, the fixed signature headers as
``name: value`` lines, then the body, joined by ``\\n``. The emulator signs with the same
function, so the emulator loop cannot prove that reading; a live capture can.
RSA needs ``cryptography`` (the ``webhooks`` extra).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import threading
import time
from collections.abc import Callable

from mailbridge import AuthenticationError, ConfigurationError
from mailbridge._events import EventAuth, EventRequest, json_body

__all__ = ["SIGNED_HEADERS", "check_account", "sign", "string_to_sign", "verify"]

PROVIDER = "aliyun"
SIGNATURE = "x-eventbridge-signature-v2"
TIMESTAMP = "x-eventbridge-signature-timestamp"
HASH_METHOD = "x-eventbridge-hash-method"
CERT_URL = "x-eventbridge-signature-url"
SIGNED_HEADERS = (TIMESTAMP, HASH_METHOD, CERT_URL)
_CERT_HOST = re.compile(r"^https://[a-z0-9-]+-eventbridge\.oss-accelerate\.aliyuncs\.com(/[^\s?#]*)?$")
_cache: dict[str, bytes] = {}
_cache_lock = threading.Lock()


def _crypto() -> object:
    try:
        from cryptography.hazmat.primitives import hashes
    except ImportError as exc:
        raise ConfigurationError(
            "verifying EventBridge signatures needs the 'cryptography' package: pip install 'mailbridge[webhooks]'"
        ) from exc
    return hashes


def string_to_sign(url: str, headers: dict[str, str], body: bytes) -> bytes:
    """The bytes the signature covers (see the module docstring for the reading)."""
    lines = [url] + [f"{name}: {headers.get(name, '')}" for name in SIGNED_HEADERS]
    return ("\n".join(lines) + "\n").encode() + body


def sign(private_key_pem: bytes, url: str, headers: dict[str, str], body: bytes) -> str:
    """Base64 RSA-SHA256 signature (what EventBridge puts in ``x-eventbridge-signature-v2``)."""
    _crypto()
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError("an EventBridge signing key is an RSA key")
    signature = key.sign(string_to_sign(url, headers, body), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _default_fetch(url: str) -> bytes:
    import httpx

    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.content


def _certificate(url: str, fetch: Callable[[str], bytes] | None) -> bytes:
    with _cache_lock:
        if url in _cache:
            return _cache[url]
    try:
        pem = (fetch or _default_fetch)(url)
    except Exception as exc:
        raise AuthenticationError(f"the EventBridge signing certificate could not be fetched: {exc}") from exc
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[url] = pem
    return pem


def _public_key(pem: bytes) -> object:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        if b"CERTIFICATE" in pem:
            return x509.load_pem_x509_certificate(pem).public_key()
        return serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise AuthenticationError("the EventBridge signing certificate is not a PEM certificate or key") from exc


def verify(request: EventRequest, auth: EventAuth) -> None:
    """Raise :class:`AuthenticationError` unless the request carries a valid, fresh signature."""
    _crypto()
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    signature, stamp, cert_url = (request.header(h) for h in (SIGNATURE, TIMESTAMP, CERT_URL))
    if not signature or not stamp or not cert_url:
        raise AuthenticationError("the event carries no EventBridge signature", provider=PROVIDER)
    try:
        sent = float(stamp)
    except ValueError:
        raise AuthenticationError("the EventBridge signature timestamp is not a number", provider=PROVIDER) from None
    sent = sent / 1000 if sent > 1e11 else sent  # milliseconds or seconds (not documented)
    now = (auth.clock or time.time)()
    if abs(now - sent) > auth.max_age:
        raise AuthenticationError("the EventBridge signature is too old (or from the future)", provider=PROVIDER)
    if not _CERT_HOST.match(cert_url):
        raise AuthenticationError("the EventBridge certificate URL is not EventBridge's", provider=PROVIDER)
    hash_method = (request.header(HASH_METHOD) or "SHA256").upper().replace("-", "")
    if hash_method not in ("SHA256", "RSASHA256", "SHA256WITHRSA"):
        raise AuthenticationError(f"unsupported EventBridge hash method {hash_method!r}", provider=PROVIDER)
    key = _public_key(_certificate(cert_url, auth.fetch_certificate))
    if not isinstance(key, rsa.RSAPublicKey):
        raise AuthenticationError("the EventBridge certificate holds no RSA key", provider=PROVIDER)
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, string_to_sign(request.url, request.headers, request.body), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        raise AuthenticationError("the EventBridge signature does not match", provider=PROVIDER) from None


def check_account(request: EventRequest, account: str | None) -> None:
    """CloudEvents must carry ``aliyunaccountid`` == ``account`` (constant-time)."""
    if account is None or request.body.lstrip()[:1] not in (b"{", b"["):
        return
    data = json_body(request)
    for item in data if isinstance(data, list) else [data]:
        value = str(item.get("aliyunaccountid", "")) if isinstance(item, dict) else ""
        if not hmac.compare_digest(value.encode(), account.encode()):
            raise AuthenticationError("the event is for another Alibaba Cloud account", provider=PROVIDER)
