"""The SES emulator's blacklist actions (reference part 2, 4.2; SDK ``models.py``), mixed into
``TencentEmulator``.

* ListBlackEmailAddress(StartDate, EndDate ``YYYY-MM-DD`` required, Limit <= 100, Offset,
  EmailAddress?) -> BlackList[{BounceTime, EmailAddress, IspDesc}], TotalCount: Tencent's shared
  hard-bounce list (``blacklist``; SendEmail refuses these with EmailAddrInBlacklist).
* DeleteBlackList(EmailAddressList, at least one).
* CreateCustomBlacklist(Emails[], ExpireDate?) -> TotalCount, ValidCount, TooLongCount,
  RepeatCount, InvalidCount; ListCustomBlacklist(Offset, Limit <= 100, Status 0/1/2 required,
  Email?) -> TotalCount, Data[{Id, Email, CreateTime, ExpireDate, Status}];
  UpdateCustomBlackList(Id, Email, ExpireDate?); DeleteCustomBlackList(Emails[]).
  An active custom entry is refused by SendEmail like the shared list (emulator choice: the docs
  name EmailAddrInBlacklist and no separate code).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from mailbridge import CHINA_TIME

__all__ = ["BLACKLIST_PARAMS", "BlacklistActions"]

BLACKLIST_PARAMS: dict[str, set[str]] = {
    "ListBlackEmailAddress": {"StartDate", "EndDate", "Limit", "Offset", "EmailAddress", "TaskID"},
    "DeleteBlackList": {"EmailAddressList"},
    "CreateCustomBlacklist": {"Emails", "ExpireDate"},
    "ListCustomBlacklist": {"Offset", "Limit", "Status", "Email"},
    "UpdateCustomBlackList": {"Id", "Email", "ExpireDate"},
    "DeleteCustomBlackList": {"Emails"},
}
_BEIJING = CHINA_TIME
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
MAX_EMAIL_LENGTH = 254  # TooLongCount: longer than an address may be (RFC 5321)


def _error(code: str, message: str) -> Exception:
    from ._state import _Error

    return _Error(code, message)


def _date(params: dict[str, Any], name: str, *, required: bool) -> dt.date | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise _error("MissingParameter", f"the parameter {name} is required")
        return None
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        pass
    raise _error("InvalidParameterValue", f"{name} must be YYYY-MM-DD")


def _list(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name)
    if not isinstance(value, list) or not value:
        raise _error("MissingParameter", f"the parameter {name} needs at least one address")
    if not all(isinstance(v, str) for v in value):
        raise _error("InvalidParameter", f"{name} is a list of strings")
    return value


class BlacklistActions:
    """Needs ``clock``, ``blacklist`` (casefolded addresses) on the emulator."""

    clock: Callable[[], float]
    blacklist: set[str]

    def _lists(self) -> tuple[dict[str, dict[str, Any]], dict[int, dict[str, Any]]]:
        if not hasattr(self, "_black_entries"):
            self._black_entries: dict[str, dict[str, Any]] = {}
            self._custom: dict[int, dict[str, Any]] = {}
        now = self._stamp()
        for key in self.blacklist:  # addresses given to the constructor, or added by tests
            self._black_entries.setdefault(key, {"BounceTime": now, "EmailAddress": key, "IspDesc": "550 5.1.1"})
        for key in [k for k in self._black_entries if k not in self.blacklist]:
            del self._black_entries[key]
        return self._black_entries, self._custom

    def _stamp(self) -> str:
        return dt.datetime.fromtimestamp(self.clock(), _BEIJING).strftime("%Y-%m-%d %H:%M:%S")

    def _today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.clock(), _BEIJING).date()

    def custom_blacklisted(self, address: str) -> bool:
        """Whether an active custom blacklist entry covers ``address``."""
        _, custom = self._lists()
        key = address.casefold()
        return any(e["Email"].casefold() == key and self._active(e) for e in custom.values())

    def _active(self, entry: dict[str, Any]) -> bool:
        return not entry["ExpireDate"] or dt.date.fromisoformat(entry["ExpireDate"]) >= self._today()

    def _do_ListBlackEmailAddress(self, params: dict[str, Any]) -> dict[str, Any]:
        from ._state import _page

        start = _date(params, "StartDate", required=True)
        end = _date(params, "EndDate", required=True)
        assert start is not None and end is not None
        if end < start:
            raise _error("InvalidParameterValue", "EndDate is before StartDate")
        offset, limit = _page(params)
        entries, _ = self._lists()
        rows = [e for e in entries.values() if start <= dt.date.fromisoformat(e["BounceTime"][:10]) <= end]
        if params.get("EmailAddress"):
            rows = [e for e in rows if e["EmailAddress"] == str(params["EmailAddress"]).casefold()]
        return {"BlackList": [dict(e) for e in rows[offset : offset + limit]], "TotalCount": len(rows)}

    def _do_DeleteBlackList(self, params: dict[str, Any]) -> dict[str, Any]:
        for address in _list(params, "EmailAddressList"):
            self.blacklist.discard(address.casefold())
        self._lists()
        return {}

    def _do_CreateCustomBlacklist(self, params: dict[str, Any]) -> dict[str, Any]:
        emails = _list(params, "Emails")
        expire = _date(params, "ExpireDate", required=False)
        _, custom = self._lists()
        known = {e["Email"].casefold() for e in custom.values()}
        counts = {"TotalCount": len(emails), "ValidCount": 0, "TooLongCount": 0, "RepeatCount": 0, "InvalidCount": 0}
        for email in emails:
            if len(email) > MAX_EMAIL_LENGTH:
                counts["TooLongCount"] += 1
            elif not _EMAIL.match(email):
                counts["InvalidCount"] += 1
            elif email.casefold() in known:
                counts["RepeatCount"] += 1
            else:
                known.add(email.casefold())
                entry_id = max(custom, default=0) + 1
                custom[entry_id] = {"Id": entry_id, "Email": email, "CreateTime": self._stamp(),
                                    "ExpireDate": expire.isoformat() if expire else "", "Status": 1}  # fmt: skip
                counts["ValidCount"] += 1
        return counts

    def _do_ListCustomBlacklist(self, params: dict[str, Any]) -> dict[str, Any]:
        from ._state import _int, _page

        status = _int(params, "Status")
        if status not in (0, 1, 2):
            raise _error("InvalidParameterValue", "Status is 0 (expired), 1 (active) or 2 (all)")
        offset, limit = _page(params)
        _, custom = self._lists()
        rows = [{**e, "Status": 1 if self._active(e) else 0} for e in sorted(custom.values(), key=lambda e: e["Id"])]
        if status != 2:
            rows = [r for r in rows if r["Status"] == status]
        if params.get("Email"):
            rows = [r for r in rows if r["Email"].casefold() == str(params["Email"]).casefold()]
        return {"TotalCount": len(rows), "Data": rows[offset : offset + limit]}

    def _do_UpdateCustomBlackList(self, params: dict[str, Any]) -> dict[str, Any]:
        from ._state import _int

        entry_id = _int(params, "Id")
        email = params.get("Email")
        if not isinstance(email, str) or not _EMAIL.match(email):
            raise _error("InvalidParameterValue", "Email is not a valid address")
        _, custom = self._lists()
        if entry_id not in custom:
            raise _error("InvalidParameterValue", "no custom blacklist entry with this Id")
        expire = _date(params, "ExpireDate", required=False)
        custom[entry_id].update(Email=email, ExpireDate=expire.isoformat() if expire else "")
        return {}

    def _do_DeleteCustomBlackList(self, params: dict[str, Any]) -> dict[str, Any]:
        emails = {e.casefold() for e in _list(params, "Emails")}
        _, custom = self._lists()
        for entry_id in [i for i, e in custom.items() if e["Email"].casefold() in emails]:
            del custom[entry_id]
        return {}
