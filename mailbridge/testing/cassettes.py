"""Cassettes for every provider: vcrpy set-up, scrubbing, the record/replay switch and the leak finder.

**Scrubbing** is driven by the backends' own declarations: every field name in ``Backend.secret_fields`` (any case)
is removed from recorded request headers and query strings and replaced by :data:`SCRUBBED` in form, multipart and
JSON bodies, before anything is written *and* before a live request is matched (so a replay matches whatever secret
the test used); in recorded JSON answers too (a grant the provider hands out). A provider adds what is not secret
but changes on every call (timestamps, nonces, trace ids: ``drop_headers``, ``drop_query``), the secret values it
recorded with (``secrets``, replaced in response bodies) and text filters for what its answers echo
(``response_filters``). Response ``Date`` headers are dropped.

**Matching** is on the method, the path and the request's parameters (:func:`request_params`: query, form, multipart
(a file by its type and SHA-256) or JSON body, less ``ignore_params``, with ``placeholders`` for values that change
by day), plus any matcher the provider registers (its action header: :func:`action_matcher`). A mismatch is an
``AssertionError``, as vcrpy wants.

**The switch**: ``MAILBRIDGE_RECORD_CASSETTES`` is the one environment variable for every provider; empty or unset
replays (:func:`record_mode` is ``"none"``), ``emulator`` (or ``1``) re-records from the provider's emulator, and
``live`` from a real account where the provider's tests support it.

**The leak finder** (:func:`find_leaks`) lists every known secret value, every declared secret field with a value
that is not scrubbed, every signed-header credential and every nonce, timestamp or trace-id header in a cassette's
text. vcrpy is imported only when :func:`make_vcr` is called.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from .._scrub import secret_fields as registered_secret_fields

__all__ = [
    "RECORD_ENV",
    "SCRUBBED",
    "Placeholder",
    "action_matcher",
    "cassette_files",
    "find_leaks",
    "make_vcr",
    "record_mode",
    "request_params",
    "scrub_request",
]

RECORD_ENV = "MAILBRIDGE_RECORD_CASSETTES"
SCRUBBED = "<scrubbed>"
RecordMode = Literal["none", "emulator", "live"]
#: What stands in for a parameter's value when requests are matched: a fixed text, or a function of the value.
Placeholder = str | Callable[[str], str]
_MODES: dict[str, RecordMode] = {"": "none", "0": "none", "1": "emulator", "emulator": "emulator", "live": "live"}


def record_mode(environ: Mapping[str, str] | None = None) -> RecordMode:
    """``"none"`` (replay), ``"emulator"`` or ``"live"``, from ``MAILBRIDGE_RECORD_CASSETTES``."""
    value = (os.environ if environ is None else environ).get(RECORD_ENV, "").strip().lower()
    if value not in _MODES:
        raise ValueError(f"{RECORD_ENV}={value!r}: use emulator (or 1), live, or leave it unset to replay")
    return _MODES[value]


def _folded(names: Iterable[str] | None) -> frozenset[str]:
    return frozenset(n.casefold() for n in (registered_secret_fields() if names is None else names))


def _body_text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body)


def _json_object(body: Any) -> dict[str, Any] | None:
    try:
        data = json.loads(body or b"")
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _mask(data: Any, fields: frozenset[str]) -> tuple[Any, bool]:
    """A copy of decoded JSON with every value under a secret key masked, and whether anything was."""
    if isinstance(data, dict):
        out, changed = {}, False
        for key, value in data.items():
            if str(key).casefold() in fields:
                out[key], changed = SCRUBBED, True
            else:
                out[key], inner = _mask(value, fields)
                changed = changed or inner
        return out, changed
    if isinstance(data, list):
        pairs = [_mask(v, fields) for v in data]
        return [v for v, _ in pairs], any(c for _, c in pairs)
    return data, False


def _scrub_form(body: bytes, fields: frozenset[str]) -> bytes:
    parts = []
    for part in body.split(b"&"):
        key, sep, _ = part.partition(b"=")
        name = key.decode("utf-8", "replace")
        parts.append(key + b"=" + SCRUBBED.encode() if sep and name.casefold() in fields else part)
    return b"&".join(parts)


def _content_type(request: Any) -> str:
    return str(next((v for k, v in request.headers.items() if k.casefold() == "content-type"), "") or "")


def _multipart_fields(request: Any) -> list[tuple[str, str | None, str, bytes]]:
    """A multipart/form-data body's parts: (name, filename, content type, content)."""
    body = request.body if isinstance(request.body, bytes) else _body_text(request.body).encode()
    head = f"Content-Type: {_content_type(request)}\r\n\r\n".encode()
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts = []
    for part in parsed.iter_parts():
        payload = part.get_payload(decode=True)
        name = str(part.get_param("name", header="content-disposition"))
        parts.append(
            (name, part.get_filename(), part.get_content_type(), payload if isinstance(payload, bytes) else b"")
        )
    return parts


def scrub_request(
    request: Any,
    *,
    secret_fields: Iterable[str] | None = None,
    drop_headers: Iterable[str] = (),
    drop_query: Iterable[str] = (),
) -> Any:
    """A vcrpy request with every secret field scrubbed (headers and query parameters removed, body values
    replaced by :data:`SCRUBBED`) and the ``drop_*`` headers and parameters removed."""
    fields = _folded(secret_fields)
    headers = fields | _folded(drop_headers)
    for name in [h for h in request.headers if h.casefold() in headers]:
        del request.headers[name]
    query = fields | _folded(drop_query)
    if any(k.casefold() in query for k, _ in request.query):
        from vcr.filters import remove_query_parameters

        request = remove_query_parameters(request, [k for k, _ in request.query if k.casefold() in query])
    body = request.body
    if body and _content_type(request).startswith("multipart/form-data"):
        names = sorted({name for name, *_ in _multipart_fields(request) if name.casefold() in fields})
        if names:
            from vcr.filters import replace_post_data_parameters

            request = replace_post_data_parameters(request, {name: SCRUBBED for name in names})
    elif body:
        raw = body if isinstance(body, bytes) else str(body).encode()
        data = _json_object(raw)
        if data is not None:
            masked, changed = _mask(data, fields)
            if changed:
                request.body = json.dumps(masked, ensure_ascii=False).encode()
        elif b"=" in raw:
            scrubbed = _scrub_form(raw, fields)
            if scrubbed != raw:
                request.body = scrubbed
    return request


def request_params(
    request: Any, *, ignore: Iterable[str] = (), placeholders: Mapping[str, Placeholder] | None = None
) -> dict[str, Any] | str:
    """What a request asks for: its query and form parameters (or its JSON object), less ``ignore``, with
    ``placeholders`` standing in for values that change between recording and replay (a request date): a
    string replaces the parameter's value, a callable is given the value and returns what to compare."""
    skip = frozenset(ignore)
    data: dict[str, Any] | None
    if request.body and _content_type(request).startswith("multipart/form-data"):
        data = {
            name: (content.decode("utf-8", "replace") if filename is None else
                   f"{kind} sha256:{hashlib.sha256(content).hexdigest()}")
            for name, filename, kind, content in _multipart_fields(request)
        }  # fmt: skip
    else:
        data = _json_object(request.body)
    if data is None:
        text = _body_text(request.body)
        if text and "=" not in text:
            return text  # neither JSON nor a form: compared as it is
        data = dict(parse_qsl(urlsplit(request.uri).query, keep_blank_values=True))
        data.update(parse_qsl(text, keep_blank_values=True))
    else:
        data = {**dict(parse_qsl(urlsplit(request.uri).query, keep_blank_values=True)), **data}
    for key, placeholder in (placeholders or {}).items():
        if key in data:
            data[key] = placeholder(data[key]) if callable(placeholder) else placeholder
    return {k: v for k, v in data.items() if k not in skip}


def action_matcher(header: str, param: str | None = None) -> Callable[[Any, Any], None]:
    """A vcrpy matcher comparing the API action, sent in ``header`` (or the query parameter ``param``)."""

    def action(request: Any) -> str | None:
        value = request.headers.get(header)
        if value is None:
            value = next((v for k, v in request.headers.items() if k.casefold() == header.casefold()), None)
        if value is None and param is not None:
            value = dict(parse_qsl(urlsplit(request.uri).query)).get(param)
        return None if value is None else str(value)

    def match(r1: Any, r2: Any) -> None:
        assert action(r1) == action(r2), f"{action(r1)} != {action(r2)}"

    return match


def _response_scrubber(
    secrets: Sequence[str], filters: Sequence[Callable[[bytes], bytes]], fields: frozenset[str]
) -> Any:
    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        headers = response.get("headers") or {}
        for name in [h for h in headers if h.lower() == "date"]:
            del headers[name]
        body = response.get("body", {}).get("string")
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes):
            data = _json_object(body)
            if data is not None:
                masked, changed = _mask(data, fields)
                if changed:
                    body = json.dumps(masked, ensure_ascii=False).encode()
            for secret in secrets:
                if secret:
                    body = body.replace(secret.encode(), SCRUBBED.encode())
            for scrub in filters:
                body = scrub(body)
            response["body"]["string"] = body
        return response

    return before_record_response


def make_vcr(
    cassette_dir: Path | str,
    *,
    record_mode: str = "none",
    secret_fields: Iterable[str] | None = None,
    drop_headers: Iterable[str] = (),
    drop_query: Iterable[str] = (),
    secrets: Iterable[str] = (),
    response_filters: Sequence[Callable[[bytes], bytes]] = (),
    ignore_params: Iterable[str] = (),
    placeholders: Mapping[str, Placeholder] | None = None,
    matchers: Mapping[str, Callable[[Any, Any], None]] | None = None,
) -> Any:
    """A configured ``vcr.VCR`` writing to (or replaying from) ``cassette_dir``.

    ``record_mode`` is vcrpy's (``"none"`` replays and fails on any request not recorded; ``"all"`` re-records).
    ``secret_fields`` defaults to every loaded backend's declared ``secret_fields``. ``matchers`` are added to
    the method, path and parameters match (``{"action": action_matcher("X-TC-Action")}``).
    """
    import vcr

    fields = list(secret_fields) if secret_fields is not None else None
    dropped_headers, dropped_query = list(drop_headers), list(drop_query)
    ignored, marks = frozenset(ignore_params), dict(placeholders or {})

    def before_record_request(request: Any) -> Any:
        return scrub_request(request, secret_fields=fields, drop_headers=dropped_headers, drop_query=dropped_query)

    def params(r1: Any, r2: Any) -> None:
        one = request_params(r1, ignore=ignored, placeholders=marks)
        two = request_params(r2, ignore=ignored, placeholders=marks)
        assert one == two, f"{one} != {two}"

    extra = dict(matchers or {})
    recorder = vcr.VCR(
        cassette_library_dir=str(cassette_dir),
        record_mode=record_mode,
        match_on=["method", "path", *extra, "mailbridge_params"],
        before_record_request=before_record_request,
        before_record_response=_response_scrubber(list(secrets), list(response_filters), _folded(fields)),
        decode_compressed_response=True,
    )
    recorder.register_matcher("mailbridge_params", params)
    for name, matcher in extra.items():
        recorder.register_matcher(name, matcher)
    return recorder


# --------------------------------------------------------------------------- the leak finder

_UNSCRUBBED = r"(?!\*\*\*|REDACTED|%3Cscrubbed|<scrubbed)"
_SIGNED_HEADER = re.compile(r"\b[A-Z0-9]+-HMAC-SHA\d+ Credential=" + _UNSCRUBBED)
_VOLATILE_HEADER = re.compile(
    r"(?im)^\s*([\w-]*(nonce|timestamp|traceid)[\w-]*|x-[a-z]+-date):\s*\n?\s*-\s*'?[0-9A-Za-z]"
)


def _field_patterns(fields: Iterable[str]) -> list[re.Pattern[str]]:
    patterns = []
    for field in sorted(set(fields)):
        name = re.escape(field)
        # query/form (Name=value), JSON ("Name": "value", also escaped inside a quoted YAML string), a YAML
        # header list (Name:\n  - value) and a multipart field (name="Name"\r\n\r\nvalue, also escaped)
        json_or_form = rf'(?i)(?<![\w-]){name}(=|\\?"\s*:\s*\\?"?)(?!\s*\n){_UNSCRUBBED}[^&\s\'\\",}}]{{3,}}'
        patterns.append(re.compile(json_or_form))
        patterns.append(re.compile(rf"(?im)^\s*{name}:\s*\n\s*-\s*{_UNSCRUBBED}\S"))
        patterns.append(re.compile(rf'(?i)name=\\?"{name}\\?"(?:\\r\\n|\r\n)++{_UNSCRUBBED}\S'))
    return patterns


def find_leaks(text: str, *, secrets: Iterable[str] = (), secret_fields: Iterable[str] | None = None) -> list[str]:
    """Every secret or secret-shaped value in a cassette's text: a known ``secrets`` value, a declared secret
    field (default: every loaded backend's) with a value that is not scrubbed, a signed-header credential
    (``…-HMAC-SHA256 Credential=``), a nonce, timestamp or trace-id header."""
    leaks = [s for s in secrets if s and s in text]
    patterns = [*_field_patterns(_folded(secret_fields)), _SIGNED_HEADER, _VOLATILE_HEADER]
    leaks += [m.group(0) for p in patterns for m in p.finditer(text)]
    return leaks


def cassette_files(*roots: Path) -> list[Path]:
    """Every cassette (``.yaml``, ``.yml``, ``.json``) under ``roots``."""
    found = {p for root in roots if root.is_dir() for p in root.rglob("*") if p.suffix in {".yaml", ".yml", ".json"}}
    return sorted(found)
