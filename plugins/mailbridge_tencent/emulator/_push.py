"""The SES emulator pushes callbacks as Tencent does (reference part 2, 1.1): one JSON object per
event, ``event``/``eventid``, ``email``, ``bulkId`` (the SendEmail MessageId), ``timestamp``,
``reason``, ``bounceType``, ``username`` (appId), ``from``, ``fromDomain``, ``templateId``,
``subject``, ``messageId``, ``sentTimestamp``.

For each recorded delivery: DeliverStatus 1 -> ``delivered`` (and ``open`` and ``click`` for
``opened.example``, which the delivery log marks opened and clicked), 2 -> ``dropped``,
3 -> ``bounce`` (``hard_bounce`` for a 5xx reply, else ``soft_bounce``), 8 -> ``deferred``.
A send Tencent never handed to an ESP (SendStatus other than 0) pushes nothing: no callback is
documented for it.
"""

from __future__ import annotations

import json
from typing import Any

from mailbridge._push import EventPusher

__all__ = ["DEFAULT_APP_ID", "PushEvents", "callbacks"]

DEFAULT_APP_ID = "251200670"
_BY_DELIVER_STATUS = {1: ("delivered", 1), 2: ("dropped", 2), 3: ("bounce", 3), 8: ("deferred", 8)}


def callbacks(row: dict[str, Any], mail: dict[str, Any], app_id: str) -> list[dict[str, Any]]:
    """The callback bodies of one delivery row of the emulator."""
    if row["SendStatus"] != 0 or row["DeliverStatus"] not in _BY_DELIVER_STATUS:
        return []
    sender = str(row["FromEmailAddress"])
    base = {
        "email": row["ToEmailAddress"],
        "bulkId": row["MessageId"],
        "timestamp": row["RequestTime"],
        "username": app_id,
        "from": sender,
        "fromDomain": sender.rsplit("@", 1)[-1],
        "templateId": mail.get("template_id") or 0,
        "subject": mail.get("subject", ""),
        "messageId": f"<{row['MessageId']}@{sender.rsplit('@', 1)[-1]}>",
        "sentTimestamp": row["RequestTime"],
    }
    name, event_id = _BY_DELIVER_STATUS[row["DeliverStatus"]]
    first = {"event": name, "eventid": event_id, **base}
    if name != "delivered":
        first["reason"] = row["DeliverMessage"]
    if name == "bounce":
        first["bounceType"] = "hard_bounce" if str(row["DeliverMessage"]).startswith("5") else "soft_bounce"
    out = [first]
    if row.get("UserOpened"):
        out.append(
            {"event": "open", "eventid": 4, **base, "timestamp": row["RequestTime"] + 1, "useragent": "emulator"}
        )
    if row.get("UserClicked"):
        out.append({"event": "click", "eventid": 5, **base, "timestamp": row["RequestTime"] + 2,
                    "link": "https://example.com/emulated", "useragent": "emulator"})  # fmt: skip
    return out


class PushEvents:
    """Mixed into ``TencentEmulator``: :meth:`push_events` and the hook ``_record`` calls."""

    pusher: EventPusher | None = None
    push_app_id = DEFAULT_APP_ID

    def push_events(self, url: str, *, app_id: str = DEFAULT_APP_ID) -> EventPusher:
        """Post Tencent's callback for every delivery from now on to ``url``. Returns the pusher:
        ``flush()`` waits until every event was posted; ``stop()`` closes it."""
        self.pusher, self.push_app_id = EventPusher(url), app_id
        return self.pusher

    def _push_row(self, row: dict[str, Any], mail: dict[str, Any]) -> None:
        if self.pusher is not None:
            for body in callbacks(row, mail, self.push_app_id):
                self.pusher.push(json.dumps(body, ensure_ascii=False).encode())

    def _close_pusher(self) -> None:
        if self.pusher is not None:
            self.pusher.flush()
            self.pusher.close()
            self.pusher = None
