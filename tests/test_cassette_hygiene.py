"""No cassette holds a credential, a signature, a nonce or a timestamp header.

Nothing here names a provider: the cassettes are every file under ``cassettes/``, the secret field names are the
installed backends' declared ``secret_fields``, and the published test credentials are read from each installed
emulator's URL (``mailbridge.testing.emulators`` entry points). A new provider adds nothing to this file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

import mailbridge
from mailbridge.testing import find_leaks
from mailbridge.testing.cassettes import cassette_files
from mailbridge.testing.plugin import installed_emulators

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"


@cache
def published_secrets() -> tuple[str, ...]:
    """The credentials every emulator accepts (and every emulator recording used)."""
    found: list[str] = []
    for factory in installed_emulators().values():
        emulator = factory()
        emulator.start()
        try:
            url = mailbridge.ProviderURL.parse(emulator.url)
        finally:
            emulator.stop()
        found += [v for v in (url.username, url.password.reveal() if url.password else None) if v]
    return tuple(found)


def leaks(text: str) -> list[str]:
    mailbridge.available_providers()  # every installed backend's secret_fields are registered as it loads
    return find_leaks(text, secrets=published_secrets())


def test_the_declarations_are_found() -> None:
    """Each installed cloud's test credentials and secret fields reach the check."""
    secrets = published_secrets()
    assert len(secrets) >= 2 * len(installed_emulators()) >= 4
    fields = {f for cls in mailbridge.available_providers().values() for f in cls.secret_fields}
    assert {"AccessKeyId", "SecretKey", "Password"} <= fields


@pytest.mark.parametrize("path", cassette_files(CASSETTES), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_is_scrubbed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert leaks(text) == []
    # Bodies that are not UTF-8 (an attachment's bytes) are stored base64 (``!!binary``): look inside too.
    assert [leak for blob in _binaries(yaml.safe_load(text)) for leak in leaks(blob)] == []


def _binaries(node: object) -> list[str]:
    if isinstance(node, bytes):
        return [node.decode("utf-8", "replace")]
    if isinstance(node, dict):
        return [b for v in node.values() for b in _binaries(v)]
    if isinstance(node, list):
        return [b for v in node for b in _binaries(v)]
    return []


@pytest.mark.parametrize(
    "planted",
    [
        "uri: https://dm.aliyuncs.com/?AccessKeyId=LTAI5tABCDEFGHIJKLMN&Signature=abcdEFGH1234%3D",
        "Authorization:\n    - TC3-HMAC-SHA256 Credential=AKIDabcdef0123456789abcd/2026-11-23/ses/tc3_request",
        "Authorization:\n    - ACS3-HMAC-SHA256 Credential=someid,SignedHeaders=host,Signature=00ff",
        "  x-acs-signature-nonce:\n  - 2c6ff2da6f0af7027d46c9cd571a4e06",
        "body: AccessKeySecret=mailbridge-test-secret-aliyun",
        "body: AccountName=news%40mail.example.com&Password=Ab12Cd34Ef56",
        'body: \'{"EmailAddress": "a@b.com", "Password": "Ab12Cd34Ef56"}\'',
        'body: \'{"SecretId": "AKIDabcdef0123456789abcd"}\'',
        "  X-TC-Timestamp:\n  - '1764500000'",
        # An attachment upload's grant: AuthorizeFileUpload's answer and the OSS PostObject form fields.
        'string: \'{"Bucket": "b", "EncodedPolicy": "eyJleHBpcmF0aW9uIjoi", "Signature": "c2lnbmF0dXJl"}\'',
        'body: "--b\\r\\nContent-Disposition: form-data; name=\\"Signature\\"\\r\\n\\r\\nc2lnbmF0dXJl\\r\\n--b--"',
        'body: "--b\\r\\nContent-Disposition: form-data; name=\\"policy\\"\\r\\n\\r\\neyJleHBp\\r\\n--b--"',
        'string: "{\\"AccessKeyId\\": \\"STS.NUx0aXwq\\"}"',
    ],
)
def test_the_check_catches_planted_secrets(planted: str) -> None:
    """The hygiene check itself finds each kind of leak (so an empty result above means something)."""
    assert leaks(planted)


def test_a_third_party_backends_declared_field_is_checked() -> None:
    """A field only a plugin outside this repository declares is a leak once its backend is loaded."""
    planted = "body: Account=a%40b.com&X-Toy-Api-Key=live-key-0123456789"
    assert leaks(planted) == []

    class ToyBackend(mailbridge.Backend):
        name = "toy-hygiene"
        display_name = "Toy"
        secret_fields: ClassVar[frozenset[str]] = mailbridge.Backend.secret_fields | {"X-Toy-Api-Key"}
        limits = mailbridge.Limits(upload_batch_size=1, recipients_per_send=1)

    assert leaks(planted) == ["X-Toy-Api-Key=live-key-0123456789"]
    assert ToyBackend.secret_fields


def test_scrubbed_forms_pass() -> None:
    clean = "AccessKeyId=REDACTED&Signature=REDACTED&Password=%3Cscrubbed%3E\nAuthorization:\n- REDACTED\n"
    assert leaks(clean) == []
    assert leaks('body: \'{"Password": "<scrubbed>", "EmailAddress": "noreply@mail.example.com"}\'') == []
    grant = '{"AccessKeyId": "<scrubbed>", "Signature": "<scrubbed>"} name=\\"policy\\"\\r\\n\\r\\n<scrubbed>\n'
    assert leaks(grant) == []
