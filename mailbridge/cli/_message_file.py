"""``send --message-file``: a JSON object of Message fields, checked field by field.

Every problem is an :class:`InvalidRequest` naming the file and the field (``attachments[1].
content_base64``), never a traceback. Attachments are objects with ``filename``, optional
``content_type`` and either ``content_base64`` or ``path`` (relative to the file).

Hand-written rather than a schema library (jsonschema, cattrs): the checks are one per field
type, the messages must name JSON types and field paths the way a user wrote them, and the
semantic checks (addresses, headers) stay in :mod:`mailbridge._validation`, shared with the API.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import attrs

from .._exceptions import InvalidRequest
from .._models import Attachment, Message

__all__ = ["read_message_file"]

_TEXT = ("sender", "subject", "html", "text", "sender_name", "reply_to", "reply_to_name", "tag", "template")
_ADDRESSES = ("to", "cc", "bcc")
_FLAGS = ("unsubscribe", "click_tracking")
_STRING_MAPS = ("headers", "template_data")
_ATTACHMENT_KEYS = {"filename", "content_type", "content_base64", "path"}


def _kind(value: Any) -> str:
    """The JSON name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, field: str, problem: str) -> InvalidRequest:
        return InvalidRequest(f"{self.path}: field {field!r} {problem}")

    def text(self, field: str, value: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise self.fail(field, f"must be a string, not {_kind(value)}")

    def addresses(self, field: str, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise self.fail(field, f"must be an address or an array of addresses, not {_kind(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{field}[{index}]", f"must be a string, not {_kind(item)}")
        return value

    def string_map(self, field: str, value: Any, *, numbers: bool) -> dict[str, str] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(field, f"must be an object of strings, not {_kind(value)}")
        out: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(item, str):
                out[key] = item
            elif numbers and isinstance(item, int | float) and not isinstance(item, bool):
                out[key] = json.dumps(item)
            else:
                raise self.fail(f"{field}.{key}", f"must be a string, not {_kind(item)}")
        return out

    def attachment(self, index: int, value: Any) -> Attachment:
        where = f"attachments[{index}]"
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object with filename and content_base64 or path, not {_kind(value)}")
        unknown = sorted(set(value) - _ATTACHMENT_KEYS)
        if unknown:
            raise self.fail(f"{where}.{unknown[0]}", f"is not known; use {', '.join(sorted(_ATTACHMENT_KEYS))}")
        filename = self.text(f"{where}.filename", value.get("filename"))
        if not filename:
            raise self.fail(f"{where}.filename", "is required")
        content_type = self.text(f"{where}.content_type", value.get("content_type")) or "application/octet-stream"
        encoded = self.text(f"{where}.content_base64", value.get("content_base64"))
        source = self.text(f"{where}.path", value.get("path"))
        if (encoded is None) == (source is None):
            raise self.fail(where, "needs exactly one of content_base64 and path")
        if encoded is not None:
            try:
                content = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise self.fail(f"{where}.content_base64", "is not valid base64") from None
        else:
            assert source is not None
            file = (self.path.parent / source).expanduser()
            try:
                content = file.read_bytes()
            except OSError as exc:
                raise self.fail(f"{where}.path", f"cannot be read: {exc.strerror or exc}") from None
        return Attachment(filename=filename, content=content, content_type=content_type)


def read_message_file(path: Path) -> dict[str, Any]:
    """Message keyword arguments from a JSON file; :class:`InvalidRequest` naming the field if wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(fields, dict):
        raise InvalidRequest(f"{path}: expected a JSON object of Message fields, not {_kind(fields)}")
    known = {a.name for a in attrs.fields(Message)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidRequest(f"{path}: unknown field {unknown[0]!r}; Message fields are {', '.join(sorted(known))}")
    check = _Checker(path)
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _TEXT:
            out[name] = check.text(name, value)
        elif name == "template_id":
            numeric = isinstance(value, int) and not isinstance(value, bool)
            out[name] = str(value) if numeric else check.text(name, value)
        elif name in _ADDRESSES:
            out[name] = check.addresses(name, value)
        elif name in _FLAGS:
            if value is not None and not isinstance(value, bool):
                raise check.fail(name, f"must be true, false or null, not {_kind(value)}")
            out[name] = value
        elif name in _STRING_MAPS:
            out[name] = check.string_map(name, value, numbers=name == "template_data")
        elif name == "provider_options":
            if value is not None and not isinstance(value, dict):
                raise check.fail(name, f"must be an object, not {_kind(value)}")
            out[name] = value
        elif name == "attachments":
            if value is None:
                continue
            if not isinstance(value, list):
                raise check.fail(name, f"must be an array of attachment objects, not {_kind(value)}")
            out[name] = [check.attachment(i, item) for i, item in enumerate(value)]
        else:  # a Message field added later: Message and the validation layer check it
            out[name] = value
    return {k: v for k, v in out.items() if v is not None}
