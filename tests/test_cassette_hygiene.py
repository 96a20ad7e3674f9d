"""No cassette holds a credential, a signature, a nonce or a timestamp header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"

# The test credentials every emulator and recording uses, and what a real credential looks like.
SECRETS = [
    "mailbridge-test-secret-aliyun",
    "LTAI5tMailbridgeTestKeyId",
    "mailbridge-test-secret-tencent",
    "AKIDMailbridgeTestSecretId0000",
]
PATTERNS = [
    re.compile(r"AccessKeyId=(?!\*\*\*|REDACTED)[A-Za-z0-9]{6,}"),
    re.compile(r"Signature=(?!\*\*\*|REDACTED)[A-Za-z0-9+/%]{8,}"),
    re.compile(r"SignatureNonce=(?!\*\*\*|REDACTED)[A-Za-z0-9-]{6,}"),
    re.compile(r"(ACS3-HMAC-SHA256|TC3-HMAC-SHA256) Credential=(?!\*\*\*|REDACTED)"),
    re.compile(r"(?i)(password|passwd)(=|\"?:\s*\"?)(?!\*\*\*|REDACTED|%3Cscrubbed|<scrubbed)[^&\s'\",}]{3,}"),
    re.compile(r"\bLTAI[0-9A-Za-z]{12,}"),
    # An attachment upload's grant: AuthorizeFileUpload's answer and the OSS PostObject form fields.
    re.compile(r'"(AccessKeyId|Signature|EncodedPolicy|SecurityToken)":\s*"(?!<scrubbed>|\*\*\*|REDACTED)'),
    re.compile(r'name=\\?"(OSSAccessKeyId|Signature|policy|x-oss-security-token)\\?"(?:\\r\\n|\r\n)++(?!<scrubbed>)'),
    re.compile(r"\bAKID[0-9A-Za-z]{16,}"),
    re.compile(
        r"(?i)^\s*(x-acs-signature-nonce|x-tc-timestamp|x-acs-date|x-tc-traceid):\s*\n?\s*-\s*'?[0-9A-Za-z]", re.M
    ),
]


def find_leaks(text: str) -> list[str]:
    """Every secret or secret-shaped value in a cassette's text."""
    leaks = [s for s in SECRETS if s in text]
    leaks += [m.group(0) for p in PATTERNS for m in p.finditer(text)]
    return leaks


def cassette_files() -> list[Path]:
    return sorted(p for p in CASSETTES.rglob("*") if p.suffix in {".yaml", ".yml", ".json"})


@pytest.mark.parametrize("path", cassette_files(), ids=lambda p: str(p.relative_to(CASSETTES)))
def test_cassette_is_scrubbed(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert find_leaks(text) == []
    # Bodies that are not UTF-8 (an attachment's bytes) are stored base64 (``!!binary``): look inside too.
    assert [leak for blob in _binaries(yaml.safe_load(text)) for leak in find_leaks(blob)] == []


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
        'string: \'{"Bucket": "b", "EncodedPolicy": "eyJleHBpcmF0aW9uIjoi", "Signature": "c2lnbmF0dXJl"}\'',
        'body: "--b\\r\\nContent-Disposition: form-data; name=\\"Signature\\"\\r\\n\\r\\nc2lnbmF0dXJl\\r\\n--b--"',
        'body: "--b\\r\\nContent-Disposition: form-data; name=\\"policy\\"\\r\\n\\r\\neyJleHBp\\r\\n--b--"',
    ],
)
def test_the_check_catches_planted_secrets(planted: str) -> None:
    """The hygiene check itself finds each kind of leak (so an empty result above means something)."""
    assert find_leaks(planted)


def test_scrubbed_forms_pass() -> None:
    clean = "AccessKeyId=REDACTED&Signature=REDACTED&Password=%3Cscrubbed%3E\nAuthorization:\n- REDACTED\n"
    clean += '{"AccessKeyId": "<scrubbed>", "Signature": "<scrubbed>"} name=\\"policy\\"\\r\\n\\r\\n<scrubbed>\n'
    assert find_leaks(clean) == []
