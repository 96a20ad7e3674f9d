"""The embedded ``local`` mailbridge backend (SQLite + Maildir outbox), for development and tests."""

from ._backend import LocalBackend

__all__ = ["LocalBackend"]
