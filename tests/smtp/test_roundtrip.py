"""Property: whatever a neutral message holds arrives as such, parsed back by ``email`` from what a real SMTP
server received (hypothesis draws display names, subjects, header values, bodies and attachments)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mailbridge
from mailbridge import Attachment, Message

from ._server import LOGIN, SmtpServer

# Words of letters (any script), digits and punctuation that needs quoting or encoding, joined by single spaces:
# header unfolding does not keep runs of spaces or edge spaces, so the neutral model should not promise them.
_word = st.text(st.characters(categories=["L", "N", "P", "S"], exclude_characters="\r\n"), min_size=1, max_size=12)
_phrase = st.lists(_word, min_size=1, max_size=8).map(" ".join)
_line = st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=60)
_body = st.lists(st.one_of(_line, _line.map(lambda t: "." + t)), min_size=1, max_size=8).map(
    "\n".join
)  # dot-first lines too


@pytest.fixture(scope="module")
def relay() -> Iterator[tuple[SmtpServer, mailbridge.Client]]:
    with (
        SmtpServer("starttls", ca=trustme.CA()) as server,
        mailbridge.connect(server.url(timeout="3"), retry=mailbridge.RetryPolicy(attempts=1)) as client,
    ):
        yield server, client


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_phrase, subject=_phrase, value=_phrase, text=_body, html=_body, payload=st.binary(max_size=300),
       filename=_phrase.map(lambda p: p.replace("/", "_").replace("\\", "_") + ".bin"))  # fmt: skip
def test_everything_arrives_as_given(
    relay: tuple[SmtpServer, mailbridge.Client], name: str, subject: str, value: str, text: str, html: str,
    payload: bytes, filename: str,
) -> None:  # fmt: skip
    server, client = relay
    before = len(server.received)
    client.send(Message(sender=LOGIN, sender_name=name, to=["ada@example.com"], reply_to="help@example.com",
                        reply_to_name=name, subject=subject, text=text, html=html, headers={"X-Note": value},
                        attachments=[Attachment(filename, payload)]))  # fmt: skip
    mail = server.received[before].message
    assert mail["From"].addresses[0].display_name == name
    assert mail["Reply-To"].addresses[0].display_name == name
    assert mail["Subject"] == subject
    assert mail["X-Note"] == value
    plain, rich = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == text.replace("\r\n", "\n").rstrip("\n")
    assert rich.get_content().replace("\r\n", "\n").rstrip("\n") == html.replace("\r\n", "\n").rstrip("\n")
    [part] = mail.iter_attachments()
    assert (part.get_filename(), part.get_content()) == (filename, payload)
