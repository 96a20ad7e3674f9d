"""The shipped pytest fixtures (mailbridge.testing.plugin), used here as any project would use them."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

import mailbridge
from mailbridge import Message
from mailbridge.testing import Outbox
from mailbridge.testing.plugin import EMULATOR_GROUP, Emulator, installed_emulators


def test_local_client_and_its_outbox(mailbridge_local: mailbridge.Client, mailbridge_outbox: Outbox) -> None:
    mailbridge_outbox.assert_nothing_sent()
    mailbridge_local.send(
        Message(sender="shop@example.com", to=["Ann@Example.com"], cc=["bo@example.com"], subject="Hi", text="t")
    )
    mailbridge_local.send(Message(sender="shop@example.com", to=["cy@example.com"], subject="Bye", text="t"))
    first = mailbridge_outbox.assert_sent(to="ann@example.com", subject="Hi", sender="shop@example.com", count=1)
    assert first.get_content().strip() == "t"
    assert mailbridge_outbox.assert_sent(to="bo@example.com")["Subject"] == "Hi"  # Cc counts as sent to
    assert len(mailbridge_outbox) == 2
    assert [m["Subject"] for m in mailbridge_outbox] == ["Hi", "Bye"]
    assert os.environ["MAILBRIDGE_URL"].startswith("local://")  # code that connects by itself finds the store


def test_outbox_assertions_fail_with_what_was_sent(
    mailbridge_local: mailbridge.Client, mailbridge_outbox: Outbox
) -> None:
    mailbridge_local.send(Message(sender="shop@example.com", to=["ann@example.com"], subject="Hi", text="t"))
    with pytest.raises(AssertionError, match=r"matching \{'subject': 'Hello'\}.*'Hi'"):
        mailbridge_outbox.assert_sent(subject="Hello")
    with pytest.raises(AssertionError, match="2 message"):
        mailbridge_outbox.assert_sent(to="ann@example.com", count=2)
    with pytest.raises(AssertionError, match="empty outbox"):
        mailbridge_outbox.assert_nothing_sent()
    assert mailbridge_outbox.find(sender="other@example.com") == []


def test_every_installed_emulator_has_a_fixture(request: pytest.FixtureRequest) -> None:
    names = sorted(installed_emulators())
    assert {"aliyun", "tencent"} <= set(names)
    for name in names:
        emulator = request.getfixturevalue(f"mailbridge_emulator_{name}")
        with mailbridge.connect(emulator.url) as client:
            result = client.send(
                Message(sender="noreply@mail.example.com", to=["ann@example.com"], subject="s", text="t")
            )
        assert result.provider == name and result.message_ids


def test_emulator_factory_starts_fresh_ones_and_names_what_is_installed(
    mailbridge_emulator: Callable[..., Emulator],
) -> None:
    one, two = mailbridge_emulator("tencent"), mailbridge_emulator("tencent")
    assert one.url != two.url  # each on its own free port
    with pytest.raises(LookupError, match=r"no mailbridge emulator named 'nope'.*aliyun, tencent"):
        mailbridge_emulator("nope")
    assert EMULATOR_GROUP == "mailbridge.testing.emulators"


def test_backends_declare_their_environment() -> None:
    """What mailbridge_clean_env clears comes from the backends (the root conftest names no provider)."""
    declared = {name: cls.environment for name, cls in mailbridge.available_providers().items()}
    assert declared["aliyun"] == {"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"}
    assert declared["tencent"] == {"TENCENTCLOUD_SECRET_ID", "TENCENTCLOUD_SECRET_KEY"}
    assert declared["smtp"] == {"MAILBRIDGE_SMTP_USERNAME", "MAILBRIDGE_SMTP_PASSWORD"}
    assert not any(v in os.environ for names in declared.values() for v in names)


def test_every_fixture_is_documented() -> None:
    """docs/writing-a-provider.md lists each fixture the plugin defines (it cannot lose one silently)."""
    from pathlib import Path

    from mailbridge.testing import plugin

    doc = (Path(__file__).resolve().parents[2] / "docs" / "writing-a-provider.md").read_text(encoding="utf-8")
    names = {
        getattr(value, "name", None) or name
        for name, value in vars(plugin).items()
        if type(value).__name__ == "FixtureFunctionDefinition" or hasattr(value, "_pytestfixturefunction")
    }
    names = {n.removeprefix("_") for n in names}
    fixed = {n for n in names if not n.startswith("mailbridge_emulator_")}
    assert fixed == {
        "mailbridge_local",
        "mailbridge_local_url",
        "mailbridge_outbox",
        "mailbridge_emulator",
        "mailbridge_clean_env",
        "mailbridge_template_catalog",
        "mailbridge_no_retry_waits",
    }
    for name in fixed:
        assert f"`{name}`" in doc, name
    assert "`mailbridge_emulator_<name>`" in doc
