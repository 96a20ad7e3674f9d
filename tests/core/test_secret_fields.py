"""Secret field names are declared by each backend (``Backend.secret_fields``), not listed in the core: every
declared field is masked in an error's ``raw``, its value never reaches the error's text, repr, context or a log
line, for every installed provider and for a backend this repository has never seen."""

from __future__ import annotations

import logging
from typing import ClassVar

import pytest

import mailbridge
from mailbridge import Backend, MailbridgeError, Message

SECRET = "s3cr3t-value-never-shown"


def _everything_shown(error: MailbridgeError, caplog: pytest.LogCaptureFixture) -> str:
    logging.getLogger("mailbridge.test").error("failed: %s %r %s", error, error, error.context())
    return "\n".join([str(error), repr(error), repr(error.context()), repr(error.raw), caplog.text])


@pytest.mark.parametrize("provider", sorted(mailbridge.available_providers()))
def test_every_declared_field_is_masked_for_each_provider(provider: str, caplog: pytest.LogCaptureFixture) -> None:
    cls = mailbridge.available_providers()[provider]
    assert {"Authorization", "Password", "Token"} <= cls.secret_fields  # the base class's, extended with |
    for field in sorted(cls.secret_fields):
        raw = {"Code": "X", field: SECRET, "nested": [{field.lower(): SECRET}], "Message": "m"}
        error = mailbridge.ProviderUnavailable("boom", provider=provider, raw=raw)
        assert error.raw == {"Code": "X", field: "***", "nested": [{field.lower(): "***"}], "Message": "m"}
        assert SECRET not in _everything_shown(error, caplog)


def test_a_third_party_backends_field_is_masked_once_it_is_defined(caplog: pytest.LogCaptureFixture) -> None:
    raw = {"X-Toy-Session": SECRET}
    assert mailbridge.ProviderUnavailable("boom", raw=raw).raw == raw  # not a secret field of any loaded backend

    class ToyBackend(Backend):
        name = "toy-secrets"
        display_name = "Toy"
        secret_fields: ClassVar[frozenset[str]] = Backend.secret_fields | {"X-Toy-Session"}
        limits = mailbridge.Limits(upload_batch_size=1, recipients_per_send=1)

    error = mailbridge.ProviderUnavailable("boom", provider="toy-secrets", raw={"x-toy-session": SECRET})
    assert error.raw == {"x-toy-session": "***"}
    assert SECRET not in _everything_shown(error, caplog)
    assert ToyBackend.limits.features == frozenset()  # nothing implemented: neither groups nor deliveries


@pytest.mark.parametrize("name", ["aliyun", "tencent"])
def test_a_rejected_secret_never_shows_end_to_end(
    name: str, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    """A wrong secret against each cloud's emulator: AuthenticationError, and the secret is nowhere in it."""
    caplog.set_level(logging.DEBUG)
    emulator = request.getfixturevalue(f"mailbridge_emulator_{name}")
    url = mailbridge.ProviderURL.parse(emulator.url)
    assert url.password is not None
    wrong = emulator.url.replace(url.password.reveal(), "Wr0ng-" + SECRET)
    with mailbridge.connect(wrong, retry=mailbridge.RetryPolicy(attempts=1)) as client:
        with pytest.raises(mailbridge.AuthenticationError) as info:
            client.send(Message(sender="noreply@mail.example.com", to=["ann@example.com"], subject="s", text="t"))
        shown = _everything_shown(info.value, caplog) + repr(client)
    assert SECRET not in shown


def test_declaring_a_capability_without_its_methods_fails_at_definition() -> None:
    """Groups and the delivery log are optional: declared means implemented (checked when the class is made)."""
    with pytest.raises(TypeError, match=r"declares Feature.GROUPS but does not implement \['create_group'"):

        class Broken(Backend):  # defining it is the test
            name = "broken"
            display_name = "Broken"
            limits = mailbridge.Limits(upload_batch_size=1, recipients_per_send=1, features={"groups"})
