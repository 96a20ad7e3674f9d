"""The sent mail of a ``local://`` store, for assertions in tests (standard library only: no pytest needed)."""

from __future__ import annotations

import email.policy
import mailbox
import re
from collections.abc import Iterator
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

__all__ = ["Outbox"]

_MAILDIR_KEY = re.compile(r"^(\d+)\.M(\d+)P\d+Q(\d+)")


def _delivery_order(key: str) -> tuple[int, int, int, str]:
    """The order ``mailbox.Maildir`` wrote files in: its keys are ``SECONDS.MMICROSECONDSPpidQcounter.host``."""
    match = _MAILDIR_KEY.match(key)
    return (*(int(g) for g in match.groups()), key) if match else (0, 0, 0, key)  # type: ignore[return-value]


class Outbox:
    """The sent mail of a ``local://`` store: its ``outbox/`` Maildir, one RFC 5322 file per message.

    Each message is an :class:`email.message.EmailMessage`; ``to`` matches the ``To`` and ``Cc`` headers
    (``Bcc`` recipients are not written into the file, as on any real transport).
    """

    def __init__(self, directory: Path | str) -> None:
        self.path = Path(directory) / "outbox"

    @property
    def messages(self) -> list[EmailMessage]:
        """Every sent message, in the order they were written."""
        if not self.path.is_dir():
            return []
        box = mailbox.Maildir(self.path, create=False)
        parser = BytesParser(policy=email.policy.default)
        found = []
        for key in box.iterkeys():
            message = parser.parsebytes(box.get_bytes(key))
            if isinstance(message, EmailMessage):
                found.append((_delivery_order(key), message))
        return [message for _, message in sorted(found, key=lambda item: item[0])]

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[EmailMessage]:
        return iter(self.messages)

    @staticmethod
    def _recipients(message: EmailMessage) -> set[str]:
        values = [str(v) for h in ("To", "Cc") for v in message.get_all(h, [])]
        return {address.casefold() for _, address in getaddresses(values) if address}

    def find(
        self, *, to: str | None = None, subject: str | None = None, sender: str | None = None
    ) -> list[EmailMessage]:
        """The messages sent to ``to`` (among To/Cc, any case), with exactly ``subject``, from ``sender``."""
        found = []
        for message in self.messages:
            if to is not None and to.casefold() not in self._recipients(message):
                continue
            if subject is not None and str(message.get("Subject", "")) != subject:
                continue
            if sender is not None:
                senders = {a.casefold() for _, a in getaddresses([str(message.get("From", ""))])}
                if sender.casefold() not in senders:
                    continue
            found.append(message)
        return found

    def assert_sent(
        self, *, to: str | None = None, subject: str | None = None, sender: str | None = None, count: int | None = None
    ) -> EmailMessage:
        """Fail unless a message matching every given criterion was sent (exactly ``count`` when given);
        return the first one."""
        found = self.find(to=to, subject=subject, sender=sender)
        wanted = {k: v for k, v in {"to": to, "subject": subject, "sender": sender}.items() if v is not None}
        if not found or (count is not None and len(found) != count):
            seen = [(str(m.get("To", "")), str(m.get("Subject", ""))) for m in self.messages]
            expected = "no message" if count is None else f"{count} message(s)"
            raise AssertionError(f"{expected} matching {wanted} in the outbox ({len(found)} found); sent: {seen}")
        return found[0]

    def assert_nothing_sent(self) -> None:
        sent = [(str(m.get("To", "")), str(m.get("Subject", ""))) for m in self.messages]
        if sent:
            raise AssertionError(f"expected an empty outbox; sent: {sent}")
