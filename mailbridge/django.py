"""A Django email backend that sends through mailbridge (``pip install "mailbridge[django]"``).

In ``settings.py``::

    EMAIL_BACKEND = "mailbridge.django.EmailBackend"
    MAILBRIDGE = {
        "URL": "aliyun://KEY:SECRET@cn-hangzhou",     # or failover://?providers=..., or a list of URLs
        "IGNORE_UNSUPPORTED_FEATURES": False,          # drop (and log) what the provider cannot send
    }

Without ``MAILBRIDGE["URL"]`` the backend reads ``MAILBRIDGE_URL`` (a setting, then the
environment), as :func:`mailbridge.connect` does. A list of URLs, or a ``failover://`` URL, gives
a :class:`~mailbridge.FailoverClient`.

Every Django ``EmailMessage`` feature is mapped onto a neutral :class:`~mailbridge.Message`
through Django's own MIME (``message.message()``, read by :meth:`Message.from_email_message`),
so headers, encodings, alternatives, attachments and inline images come out as Django would write
them. An inline image is a ``MIMEImage`` with a ``Content-ID`` (see :func:`attach_inline_image`);
it becomes an :class:`~mailbridge.Attachment` with a ``content_id``, sent by backends declaring
``Feature.INLINE_IMAGES`` (local, generic SMTP) and refused before any call elsewhere (a
failover skips the members that cannot carry it). What the neutral model or the provider cannot
carry (recipient display names, a second tag, alternatives other than HTML, cc/bcc on a provider
without them) raises a neutral error naming it (:class:`~mailbridge.InvalidRequest`,
:class:`~mailbridge.UnsupportedFeature`).

django-anymail's extra attributes map where they can: ``tags`` (one tag), ``template_id``
(the provider's id) or ``template`` (mailbridge's neutral template name), ``merge_global_data``
(template data), ``merge_data`` (``{address: data}``: one message per ``to`` address, sent
through :meth:`~mailbridge.Client.send_many`), ``esp_extra`` (``provider_options``) and
``track_clicks``. After a send, ``message.mailbridge_results`` lists the
:class:`~mailbridge.SendResult` of each neutral message sent.

``fail_silently`` swallows mailbridge's errors (never a programming error). One client is opened
per ``send_messages`` call (or once around ``with get_connection() as conn:``), like Django's SMTP
backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.utils import parseaddr
from typing import Any

try:
    from django.conf import settings
    from django.core.mail.backends.base import BaseEmailBackend
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError('mailbridge.django needs Django: pip install "mailbridge[django]"') from exc

from ._client import Client
from ._connect import connect, connect_failover
from ._exceptions import InvalidRequest, MailbridgeError
from ._failover import FailoverClient, failover_url
from ._models import Message, SendResult
from ._stdmail import from_email_message

__all__ = ["EmailBackend", "attach_inline_image", "to_neutral_messages"]

#: anymail attributes the neutral model has no place for: refused rather than dropped.
_REFUSED_EXTRAS = ("metadata", "send_at", "track_opens", "merge_metadata", "merge_headers")


class EmailBackend(BaseEmailBackend):  # type: ignore[misc]  # Django ships no type hints
    """Sends Django email through a mailbridge client (see the module docstring for settings)."""

    def __init__(
        self,
        fail_silently: bool = False,
        *,
        url: str | Sequence[str] | None = None,
        ignore_unsupported_features: bool | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(fail_silently=fail_silently, **kwargs)
        options: Mapping[str, Any] = getattr(settings, "MAILBRIDGE", None) or {}
        self.url: str | Sequence[str] | None = url or options.get("URL") or getattr(settings, "MAILBRIDGE_URL", None)
        self.ignore_unsupported_features = bool(
            options.get("IGNORE_UNSUPPORTED_FEATURES", False)
            if ignore_unsupported_features is None
            else ignore_unsupported_features
        )
        self.timeout = timeout if timeout is not None else getattr(settings, "EMAIL_TIMEOUT", None)
        self.client: Client | FailoverClient | None = None

    # ---------------------------------------------------------------- connection

    def _connect(self) -> Client | FailoverClient:
        url = self.url
        if url is not None and not isinstance(url, str):
            url = failover_url(list(url))
        if url is not None and url.startswith("failover:"):
            client = connect_failover(url)
            for member in client.clients:
                member.ignore_unsupported_features = self.ignore_unsupported_features
            return client
        return connect(url, ignore_unsupported_features=self.ignore_unsupported_features, timeout=self.timeout)

    def open(self) -> bool:
        """Open the client; True when this call opened it (Django's SMTP backend's contract)."""
        if self.client is not None:
            return False
        try:
            self.client = self._connect()
        except MailbridgeError:
            if not self.fail_silently:
                raise
            return False
        return True

    def close(self) -> None:
        """Close the client (its HTTP connections, the local store)."""
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except MailbridgeError:
                if not self.fail_silently:
                    raise

    # ---------------------------------------------------------------- sending

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        """Send each Django message; return how many were sent (every neutral part accepted)."""
        if not email_messages:
            return 0
        opened = self.open()
        if self.client is None:  # failed silently
            return 0
        sent = 0
        try:
            for django_message in email_messages:
                try:
                    if self._send(self.client, django_message):
                        sent += 1
                except MailbridgeError:
                    if not self.fail_silently:
                        raise
        finally:
            if opened:
                self.close()
        return sent

    def _send(self, client: Client | FailoverClient, django_message: Any) -> bool:
        messages = to_neutral_messages(django_message)
        results: list[SendResult] = []
        django_message.mailbridge_results = results
        if len(messages) == 1:
            results.append(client.send(messages[0]))
            return True
        first_error: MailbridgeError | None = None
        for outcome in client.send_many(messages):
            if outcome.result is not None:
                results.append(outcome.result)
            elif first_error is None:
                first_error = outcome.error
        if first_error is not None:
            raise first_error
        return True


def to_neutral_messages(django_message: Any) -> list[Message]:
    """The neutral message(s) a Django ``EmailMessage`` stands for: one, or one per ``to`` address with ``merge_data``.

    Raises :class:`~mailbridge.InvalidRequest` naming whatever cannot be carried.
    """
    for name in _REFUSED_EXTRAS:
        if getattr(django_message, name, None):
            raise InvalidRequest(f"mailbridge has no neutral field for the message's {name}")
    to, cc = _bare(django_message.to, "to"), _bare(django_message.cc, "cc")
    message = from_email_message(django_message.message())
    overridden = {str(k).lower() for k in (django_message.extra_headers or {})} & {"to", "cc"}
    if overridden and {a.casefold() for a in (*message.to, *message.cc)} != {a.casefold() for a in (*to, *cc)}:
        raise InvalidRequest("extra headers To/Cc differ from the message's to/cc; a neutral message has one list")
    # The envelope is what Django's SMTP backend sends to (Bcc is never a header).
    message = message.evolve(to=to, cc=cc, bcc=_bare(django_message.bcc, "bcc"))

    tags = list(getattr(django_message, "tags", None) or [])
    if len(tags) > 1:
        raise InvalidRequest(f"a neutral message carries one tag, not {len(tags)} ({', '.join(map(str, tags))})")
    if tags:
        if message.tag and message.tag != tags[0]:
            raise InvalidRequest("both tags and an X-Mailbridge-Tag header: give one")
        message = message.evolve(tag=str(tags[0]))
    if (esp_extra := getattr(django_message, "esp_extra", None)) is not None:
        if not isinstance(esp_extra, Mapping):
            raise InvalidRequest("esp_extra must be a mapping (it becomes the provider options)")
        message = message.evolve(provider_options=dict(esp_extra))
    if (track_clicks := getattr(django_message, "track_clicks", None)) is not None:
        message = message.evolve(click_tracking=bool(track_clicks))

    template_id = getattr(django_message, "template_id", None)
    template = getattr(django_message, "template", None)
    global_data = getattr(django_message, "merge_global_data", None) or {}
    merge_data = getattr(django_message, "merge_data", None)
    if template_id is not None or template is not None:
        if message.text or message.html:
            raise InvalidRequest("give either a body or a template (template/template_id), not both")
        message = message.evolve(
            template_id=None if template_id is None else str(template_id),
            template=template,
            template_data=global_data,
            text=None,
            html=None,
            subject=message.subject or None,
        )
    elif global_data or merge_data:
        raise InvalidRequest("merge_global_data and merge_data need a template (template or template_id)")
    if merge_data is None:
        return [message]
    if message.cc or message.bcc:
        raise InvalidRequest("merge_data sends one message per 'to' address: cc and bcc cannot go with it")
    known = {a.casefold() for a in message.to}
    if unknown := [a for a in merge_data if str(a).casefold() not in known]:
        raise InvalidRequest(f"merge_data names addresses that are not in 'to': {', '.join(map(str, unknown))}")
    per_address = {str(k).casefold(): v for k, v in merge_data.items()}
    return [
        message.evolve(to=(address,), template_data={**global_data, **per_address.get(address.casefold(), {})})
        for address in message.to
    ]


def attach_inline_image(
    message: Any, content: bytes, filename: str | None = None, subtype: str | None = None, *, idstring: str = "img"
) -> str:
    """Attach an image the HTML body shows inline; return its content id for ``<img src="cid:...">``.

    django-anymail's helper of the same name, for a Django ``EmailMessage``: a ``MIMEImage`` with a
    fresh ``Content-ID`` and ``Content-Disposition: inline``. ``subtype`` (``png``, ``jpeg``, ...) is
    guessed from the bytes when not given. Set ``message.mixed_subtype = "related"`` for the RFC 2387
    structure Django then writes (multipart/related); both structures send the same neutral message.
    """
    from email.mime.image import MIMEImage
    from email.utils import make_msgid

    cid = make_msgid(idstring, domain="mailbridge.invalid")[1:-1]
    image = MIMEImage(content, subtype) if subtype else MIMEImage(content)
    image.add_header("Content-ID", f"<{cid}>")
    if filename:
        image.add_header("Content-Disposition", "inline", filename=filename)
    else:
        image.add_header("Content-Disposition", "inline")
    message.attach(image)
    return cid


def _bare(addresses: Sequence[str], field: str) -> tuple[str, ...]:
    """The addresses as given; ``Name <address>`` is refused (a bare string goes to the neutral address check)."""
    out = []
    for value in map(str, addresses):
        name, address = parseaddr(value) if "<" in value else ("", value.strip())
        if name:
            raise InvalidRequest(
                f"a neutral message carries no recipient display names ({field}: {name!r} <{address}>); "
                "give the bare address"
            )
        out.append(address or value)
    return tuple(out)
