"""The emulator's suppression actions (reference part 2, 4.1), mixed into ``EmulatorState``.

* QueryInvalidAddress / DeleteInvalidAddress live on ``EmulatorState`` itself (the invalid-address
  list sends add hard bounces to, ``invalid_addresses``: casefolded -> (address, first seen));
  :meth:`suppressed` reads it.
* CreateUserSuppression / ListUserSuppression / RemoveUserSuppression: the account's own list
  (an address or a domain); ListUserSuppression's time filters span at most 7 days (Unix s).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

CST = dt.timezone(dt.timedelta(hours=8))
_ADDRESS_OR_DOMAIN = re.compile(r"^([A-Za-z0-9._%+'-]+@)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
MAX_INVALID_DAYS = 30
MAX_SUPPRESSION_SPAN = 7 * 86400


def _cst(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, CST).strftime("%Y-%m-%dT%H:%MZ")


def _error(status: int, code: str, message: str) -> Exception:
    from ._state import DMError

    return DMError(status, code, message)


def _missing(name: str) -> Exception:
    return _error(400, f"Missing{name}", f"{name} is mandatory for this action.")


def _invalid(name: str) -> Exception:
    return _error(400, f"Invalid{name}", f"Specified parameter {name} is not valid.")


class SuppressionActions:
    """Needs ``clock``, ``invalid_addresses`` and ``user_suppressions`` on the state.

    Also holds the event push (``pusher``, set by ``AliyunEmulator.push_events``)."""

    clock: Callable[[], float]
    invalid_addresses: dict[str, tuple[str, float]]
    user_suppressions: dict[int, dict[str, Any]]
    pusher: Any = None
    push_region = "cn-hangzhou"
    push_account = "1234567890123456"

    def push_event(self, record: Any) -> None:
        """Queue the EventBridge CloudEvent of one delivery record (when pushing is on)."""
        if self.pusher is not None:
            from ._push import cloudevent, encode

            self.pusher.push(encode(cloudevent(record, region=self.push_region, account=self.push_account)))

    def suppressed(self, address: str) -> bool:
        """Whether a send to ``address`` is refused (invalid list, or the account's list by address or domain)."""
        key = address.casefold()
        domain = key.rsplit("@", 1)[-1]
        return key in self.invalid_addresses or any(
            s["Address"].casefold() in (key, domain) for s in self.user_suppressions.values()
        )

    def do_CreateUserSuppression(self, p: dict[str, str]) -> dict[str, Any]:
        address = p.get("Address", "").strip()
        if not address:
            raise _missing("Address")
        if not _ADDRESS_OR_DOMAIN.match(address):
            raise _invalid("Address")
        for sid, entry in self.user_suppressions.items():
            if entry["Address"].casefold() == address.casefold():
                return {"SuppressionId": str(sid)}
        sid = max(self.user_suppressions, default=7_000_000) + 1
        self.user_suppressions[sid] = {"Address": address, "CreateTime": int(self.clock()), "LastBounceTime": 0,
                                       "SuppressionId": sid, "Type": "user"}  # fmt: skip
        return {"SuppressionId": str(sid)}

    def _unix(self, p: dict[str, str], name: str) -> int | None:
        value = p.get(name)
        if not value:
            return None
        if not value.isdigit():
            raise _invalid(name)
        return int(value)

    def do_ListUserSuppression(self, p: dict[str, str]) -> dict[str, Any]:
        entries = list(self.user_suppressions.values())
        if p.get("Address"):
            entries = [e for e in entries if e["Address"].casefold() == p["Address"].casefold()]
        for field_name, prefix in (("CreateTime", "CreateTime"), ("LastBounceTime", "BounceTime")):
            low, high = self._unix(p, f"Start{prefix}"), self._unix(p, f"End{prefix}")
            if low is not None and high is not None and (high < low or high - low > MAX_SUPPRESSION_SPAN):
                raise _invalid(f"End{prefix}")
            if low is not None:
                entries = [e for e in entries if e[field_name] >= low]
            if high is not None:
                entries = [e for e in entries if e[field_name] <= high]
        page_no, page_size = self._unix(p, "PageNo") or 1, self._unix(p, "PageSize") or 10
        if page_no < 1 or not 1 <= page_size <= 100:
            raise _invalid("PageSize")
        chunk = entries[(page_no - 1) * page_size : page_no * page_size]
        return {"PageNumber": page_no, "PageSize": page_size, "TotalCount": len(entries),
                "Data": {"UserSuppressions": [dict(e) for e in chunk]}}  # fmt: skip

    def do_RemoveUserSuppression(self, p: dict[str, str]) -> dict[str, Any]:
        ids = [i.strip() for i in p.get("SuppressionIds", "").split(",") if i.strip()]
        if not ids:
            raise _missing("SuppressionIds")
        if not all(i.isdigit() for i in ids):
            raise _invalid("SuppressionIds")
        for sid in ids:
            self.user_suppressions.pop(int(sid), None)
        return {}
