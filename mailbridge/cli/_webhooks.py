"""``mailbridge webhooks serve``: a standalone receiver for pushed delivery events.

Runs :class:`mailbridge.EventReceiver` on the stdlib's threading WSGI server (``wsgiref``: no
extra dependency; put it behind a TLS-terminating proxy, as the clouds push over the internet).
Each new event is printed as one JSON line on stdout and optionally stored in SQLite.
"""

from __future__ import annotations

import json
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import click

from .._events import EventAuth
from .._models import DeliveryEvent
from .._webhooks import EventReceiver, EventStore, MemoryEventStore, SQLiteEventStore
from ._app import State, cli, pass_state

__all__ = ["webhooks"]

SECRET_ENV = "MAILBRIDGE_WEBHOOK_SECRET"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # access log on stderr, never the secret path
        sys.stderr.write(f"{self.command} {self.path.rsplit('/', 1)[0]}/*** {args[1] if len(args) > 1 else ''}\n")


@cli.group()
def webhooks() -> None:
    """Receive the delivery events the clouds push."""


@webhooks.command("serve")
@click.option("--provider", "providers", multiple=True, required=True, help="tencent, aliyun, ... (repeatable).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Tencent pushes only to 8080-8082.")
@click.option("--secret-env", default=SECRET_ENV, show_default=True, help="Environment variable holding the secret.")
@click.option("--tencent-app-id", help="Refuse Tencent callbacks whose username is not this appId.")
@click.option("--aliyun-account", help="Refuse Direct Mail events of another Alibaba Cloud account id.")
@click.option("--aliyun-signature/--no-aliyun-signature", default=False, help="Require EventBridge's signature.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False), help="Keep every event in this SQLite file.")
@click.option("--auto-suppress", is_flag=True, help="Suppress hard bounces and complaints on --url's provider.")
@click.option("--retry-on-callback-failure", is_flag=True, help="Answer 503 when suppressing fails (cloud retries).")
@pass_state
def serve(
    state: State,
    providers: tuple[str, ...],
    host: str,
    port: int,
    secret_env: str,
    tencent_app_id: str | None,
    aliyun_account: str | None,
    aliyun_signature: bool,
    store_path: str | None,
    auto_suppress: bool,
    retry_on_callback_failure: bool,
) -> None:
    """Serve POST /<provider>/<secret> until interrupted; print each new event as JSON."""
    secret = os.environ.get(secret_env)
    if not secret:
        raise click.UsageError(f"set {secret_env} to a long random secret (it is the last path segment)")
    store: EventStore = SQLiteEventStore(store_path) if store_path else MemoryEventStore()

    def show(event: DeliveryEvent) -> None:
        click.echo(json.dumps({k: v for k, v in event.as_dict().items() if k != "raw"}, default=str))

    receiver = EventReceiver(
        providers,
        secret=secret,
        on_event=show,
        auth={
            "tencent": EventAuth(account=tencent_app_id),
            "aliyun": EventAuth(account=aliyun_account, signature=aliyun_signature),
        },
        store=store,
        retry_on_callback_failure=retry_on_callback_failure,
        auto_suppress=state.client() if auto_suppress else None,
    )
    server = make_server(host, port, receiver.wsgi_app, server_class=_Server, handler_class=_Handler)
    state.output.note(f"receiving {', '.join(providers)} events on http://{host}:{server.server_port}/<provider>/<secret>")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        state.output.note("stopped")
    finally:
        server.server_close()
