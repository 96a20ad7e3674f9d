"""SES input rules shared by the backend (checked before any call) and the emulator (enforced)."""

from __future__ import annotations

__all__ = ["smtp_password_error"]


def smtp_password_error(password: str) -> str | None:
    """Why SES refuses an SMTP password, or None (InvalidParameterValue.InvalidSmtpPassWord:
    10-20 characters with at least 2 different digits, 2 lower-case and 2 upper-case letters)."""
    if not 10 <= len(password) <= 20:
        return "it must have 10 to 20 characters"
    for label, chars in (
        ("digits", {c for c in password if c.isdigit()}),
        ("lower-case letters", {c for c in password if c.islower()}),
        ("upper-case letters", {c for c in password if c.isupper()}),
    ):
        if len(chars) < 2:
            return f"it needs at least 2 different {label}"
    return None
