"""Documented exit codes of the ``mailbridge`` command (see README "Scripting")."""

from __future__ import annotations

import enum

from .. import _exceptions as e

__all__ = ["ExitStatus", "exit_status_for"]


class ExitStatus(enum.IntEnum):
    SUCCESS = 0
    ERROR = 1  # any other mailbridge error
    USAGE = 2  # bad command line (click's own code)
    CONFIGURATION = 3  # bad URL, missing credentials, provider not installed
    INVALID_REQUEST = 4  # invalid input, limit exceeded, unsupported feature, content rejected, already exists
    NOT_FOUND = 5  # group, template or sender not found
    AUTHENTICATION = 6  # credentials rejected or lacking permission
    PROVIDER_FAILURE = 7  # unavailable, rate limited, quota used up, busy: try later or fail over
    OUTCOME_UNKNOWN = 8  # the request may have been accepted: do not blindly resend
    PARTIAL = 9  # finished, but some input was rejected (see the rejected file / JSON)
    NOT_CONFIRMED = 10  # a destructive command was not confirmed (answered no, or no terminal and no --yes)
    INTERRUPTED = 130


_ORDER: list[tuple[type[e.MailbridgeError], ExitStatus]] = [
    (e.ConfigurationError, ExitStatus.CONFIGURATION),
    (e.OutcomeUnknown, ExitStatus.OUTCOME_UNKNOWN),
    (e.NotFound, ExitStatus.NOT_FOUND),
    (e.AuthenticationError, ExitStatus.AUTHENTICATION),
    (e.PermissionDenied, ExitStatus.AUTHENTICATION),
    (e.InvalidRequest, ExitStatus.INVALID_REQUEST),
    (e.UnsupportedFeature, ExitStatus.INVALID_REQUEST),
    (e.ContentRejected, ExitStatus.INVALID_REQUEST),
    (e.AlreadyExists, ExitStatus.INVALID_REQUEST),
    (e.RateLimited, ExitStatus.PROVIDER_FAILURE),
    (e.QuotaExceeded, ExitStatus.PROVIDER_FAILURE),
    (e.ProviderUnavailable, ExitStatus.PROVIDER_FAILURE),
    (e.ResourceBusy, ExitStatus.PROVIDER_FAILURE),
]


def exit_status_for(error: e.MailbridgeError) -> ExitStatus:
    for cls, status in _ORDER:
        if isinstance(error, cls):
            return status
    return ExitStatus.ERROR
