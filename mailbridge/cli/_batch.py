"""``mailbridge send --batch FILE``: one personalised message per row of a CSV or JSON Lines file.

Each row's columns are its template data: the stored template's variables with
``--template NAME``, or ``{{column}}`` placeholders in ``--subject``/``--text``/``--html``
(filled here by the core's :func:`~mailbridge.render_template`; HTML values escaped). The
address comes from ``--to-column`` (default ``email``, else ``address``). Rows are sent
through ``send_many`` of the client (or failover client): its pacing, in-flight bound and
per-message errors apply. A row that cannot be sent as written (no or bad address, a
template variable without a value, an unreadable line) is refused before any call for it
and the batch goes on.

**Results file** (``--results``, default ``FILE.results.csv``): one CSV line per row,
written and flushed as its outcome is known (completion order; sort by ``row`` for input
order), fsynced on exit. Columns: ``row`` (1 = the first record after the CSV header, or
the first non-blank JSON line), ``address``, ``status`` (``sent``, ``maybe_sent``,
``not_sent``: the provider certainly did not send it, ``rejected``: refused before any
call), ``provider``, ``message_id``, ``error`` (the neutral error class), ``reason``,
``maybe_sent`` (``true``/``false``).

**Resume** (``--resume``): rows recorded ``sent`` or ``maybe_sent`` (or on a damaged line)
are never sent again; rows recorded ``not_sent`` or ``rejected`` were certainly not sent
and are tried again; unrecorded rows are sent. If a recorded row's address is no longer
the file's address for that row, the file changed: nothing is sent.

**Idempotency keys**: row N's key is ``mailbridge-batch:<batch id>:N`` (the batch id is
``--batch-id``, default a digest of the file's bytes). With a shared store
(``--idempotency sqlite:PATH``, ``redis://...``, or a failover URL's ``idempotency=``) a
resume after a crash that lost the last lines of the results file still sends no row twice:
the store answers the first receipts, or "maybe sent" for a send that never finished.

**Ctrl-C**: no new row is started; the calls in flight finish and are recorded; exit 130.
After the last row was read, the rows already queued (at most 4 x in flight) still go out
and are recorded. An error that every later row would meet too (credentials, permission,
quota, configuration, sender or template not found), or 20 rows in a row failed by an
unavailable or throttling provider (after retries and failover), stops the batch the same way.

**Exit code**: that error's code, else 130 if interrupted, else 8 if a row may have been
sent, else 9 if a row was not sent, else 0.

Why ``click.progressbar``: click is the CLI's framework already and its bar does what is
needed on stderr (hidden when stderr is not a terminal); rich or tqdm would be a new
dependency for the same bar.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click
from attrs import frozen

from .._bulk import SendManyInterrupted, SendOutcome
from .._client import Client
from .._connect import URL_ENV
from .._csvio import UnreadableRow
from .._exceptions import (
    AuthenticationError,
    ConfigurationError,
    InvalidAddress,
    InvalidRequest,
    MailbridgeError,
    PermissionDenied,
    QuotaExceeded,
    SenderNotFound,
    TemplateNotFound,
)
from .._failover import FailoverClient
from .._idempotency import IdempotencyGuard, MemoryIdempotencyStore, idempotency_store
from .._limits import Feature
from .._models import Message, Template
from .._templating import render_template, variables
from .._url import ProviderURL
from .._validation import address_error
from ._app import State
from ._batch_results import MAYBE_SENT, NOT_SENT, REJECTED, SENT, ResultsFile, one_line
from ._batch_rows import BatchInput, CsvRows, JsonRows, Row
from ._exit import ExitStatus, exit_status_for

__all__ = ["BatchOptions", "batch_options", "send_batch"]

F = TypeVar("F", bound=Callable[..., Any])

# Errors every later row would meet too: the batch stops instead of repeating them row after row.
_STOPS_THE_BATCH = (
    AuthenticationError,
    PermissionDenied,
    QuotaExceeded,
    ConfigurationError,
    SenderNotFound,
    TemplateNotFound,
)
# Rows in a row that failed because the provider is unavailable or throttling (after the client's own
# retries and failover): the provider is down, so the batch stops instead of failing every later row.
_UNHEALTHY_STREAK = 20


# ---------------------------------------------------------------------- options


def batch_options(f: F) -> F:
    """The ``--batch`` options of ``mailbridge send``."""
    options = [
        click.option(
            "--batch",
            "batch_file",
            type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
            help="Send one message per row of this CSV or JSON Lines file (- for stdin); columns are template data.",
        ),
        click.option(
            "--to-column", metavar="NAME", help="With --batch: the column holding each address (default: email)."
        ),
        click.option(
            "--results",
            "results_path",
            type=click.Path(dir_okay=False, path_type=Path),
            help="With --batch: the results CSV, a line per row as it finishes (default: FILE.results.csv).",
        ),
        click.option(
            "--resume",
            is_flag=True,
            help="With --batch: continue the results file's batch: skip rows sent or maybe sent, retry rows not sent.",
        ),
        click.option(
            "--idempotency",
            "idempotency_spec",
            metavar="STORE",
            help="With --batch: keep each row's idempotency key in sqlite:PATH, redis://HOST:PORT/DB or 'state' "
            "(the failover URL's state=); default: the URL's idempotency=, else this process only.",
        ),
        click.option(
            "--batch-id",
            metavar="TEXT",
            help="With --batch: the batch's name in the idempotency keys (default: a digest of the file).",
        ),
        click.option(
            "--allow-empty",
            is_flag=True,
            help="With --batch: an empty value fills a template variable (default: such a row is refused).",
        ),
        click.option("--encoding", help="With --batch: the CSV file's encoding (default: BOM, UTF-8, else GB18030)."),
        click.option(
            "--delimiter",
            type=click.Choice([",", ";", "tab"]),
            help="With --batch: the CSV delimiter (default: detected from the header line).",
        ),
        click.option(
            "--max-in-flight",
            type=click.IntRange(1, 256),
            help="With --batch: calls at once (default: from the provider's declared send rate).",
        ),
        click.option(
            "--progress/--no-progress", default=None, help="With --batch: progress bar on stderr (default: if a tty)."
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@frozen
class BatchOptions:
    """The ``--batch`` options, taken out of the ``send`` command's flags."""

    file: Path | None
    to_column: str | None
    results: Path | None
    resume: bool
    idempotency: str | None
    batch_id: str | None
    allow_empty: bool
    encoding: str | None
    delimiter: str | None
    max_in_flight: int | None
    progress: bool | None

    @classmethod
    def pop(cls, flags: dict[str, Any]) -> BatchOptions:
        """Remove the batch options from ``flags``; a usage error if one is given without ``--batch``."""
        delimiter = flags.pop("delimiter")
        options = cls(
            file=flags.pop("batch_file"),
            to_column=flags.pop("to_column"),
            results=flags.pop("results_path"),
            resume=flags.pop("resume"),
            idempotency=flags.pop("idempotency_spec"),
            batch_id=flags.pop("batch_id"),
            allow_empty=flags.pop("allow_empty"),
            encoding=flags.pop("encoding"),
            delimiter="\t" if delimiter == "tab" else delimiter,
            max_in_flight=flags.pop("max_in_flight"),
            progress=flags.pop("progress"),
        )
        if options.file is None:
            given = [
                name
                for name, value in [
                    ("--to-column", options.to_column),
                    ("--results", options.results),
                    ("--resume", options.resume),
                    ("--idempotency", options.idempotency),
                    ("--batch-id", options.batch_id),
                    ("--allow-empty", options.allow_empty),
                    ("--encoding", options.encoding),
                    ("--delimiter", options.delimiter),
                    ("--max-in-flight", options.max_in_flight),
                    ("--progress/--no-progress", options.progress),
                ]
                if value not in (None, False)
            ]
            if given:
                raise click.UsageError(f"{', '.join(given)} only apply with --batch FILE")
        return options


# ---------------------------------------------------------------------- composing messages


class _Composer:
    """Turns a row into its message, or the error that refuses the row before any call."""

    def __init__(
        self,
        base: Message,
        template: Template | None,
        address_column: str,
        *,
        allow_empty: bool,
        smtputf8: bool,
        batch_id: str,
    ) -> None:
        self.base = base
        self.address_column = address_column
        self.allow_empty = allow_empty
        self.smtputf8 = smtputf8
        self.batch_id = batch_id
        self.by_template = base.template is not None or base.template_id is not None
        if self.by_template and (base.text or base.html):
            raise InvalidRequest("give either a body (--text/--html) or --template, not both")
        if not self.by_template and not (base.subject and (base.text or base.html)):
            raise InvalidRequest("--batch needs --template NAME, or --subject with --text and/or --html")
        parts = [base.subject]
        parts += [template.subject, template.html, template.text] if template else [base.text, base.html]
        self.required = sorted(set().union(*(variables(p) for p in parts)))

    def key(self, number: int) -> str:
        return f"mailbridge-batch:{self.batch_id}:{number}"

    def compose(self, number: int, row: Row) -> tuple[str, Message | MailbridgeError]:
        if isinstance(row, UnreadableRow):
            return "", InvalidRequest(row.reason)
        address = row.get(self.address_column, "").strip()
        if not address:
            return "", InvalidAddress(f"no address in column {self.address_column!r}")
        if problem := address_error(address, self.smtputf8):
            return address, InvalidAddress(f"address {address!r} is invalid: {problem}")
        data = dict(self.base.template_data)  # --data KEY=VALUE: defaults for empty or absent columns
        data.update((k, v) for k, v in row.items() if v != "" or k not in data)
        missing = [v for v in self.required if v not in data or (not self.allow_empty and not data[v].strip())]
        if missing:
            names = ", ".join("{{" + v + "}}" for v in missing)
            return address, InvalidRequest(f"no value for {names} (give the column a value, or --allow-empty)")
        subject = render_template(self.base.subject, data)
        if self.by_template:
            message = self.base.evolve(to=(address,), subject=subject, template_data=data)
        else:
            message = self.base.evolve(
                to=(address,),
                subject=subject,
                text=render_template(self.base.text, data),
                html=render_template(self.base.html, data, escape=True),
                template_data={},
            )
        return address, message.evolve(idempotency_key=self.key(number))


# ---------------------------------------------------------------------- Ctrl-C


class _Stop:
    """Ctrl-C during the batch sets a flag instead of raising where it lands.

    The next row read raises ``KeyboardInterrupt`` inside ``send_many`` instead (so the
    rows not yet started are cancelled and the calls in flight are finished and handed
    over by :class:`SendManyInterrupted`); no line of the results file is left half written.
    """

    def __init__(self) -> None:
        self.requested = False
        self.error: MailbridgeError | None = None  # an error that stops the batch
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        if not self.requested:
            click.echo("\nmailbridge: stopping: no new row is started; the calls in flight finish", err=True)
        self.requested = True

    def __exit__(self, *exc_info: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.default_int_handler)


# ---------------------------------------------------------------------- the run


def _template_of(client: Client | FailoverClient, key: str) -> Template:
    """The template (for its variables) from the first provider that answers."""
    clients = client.clients if isinstance(client, FailoverClient) else [client]
    first: MailbridgeError | None = None
    for member in clients:
        try:
            return member.get_template(key)
        except MailbridgeError as exc:
            first = first or exc
    assert first is not None
    raise first


def _install_store(client: Client | FailoverClient, spec: str | None, url: str) -> Any:
    """Point the client's idempotency keys at ``--idempotency``; return the store (to close it)."""
    if spec is None:
        return None
    if spec == "state":
        state = ProviderURL.parse(url).param("state") if url.startswith("failover:") else None
        if not state:
            raise ConfigurationError("--idempotency state needs a failover:// URL with state=redis://HOST:PORT/DB")
        spec = state
    elif spec == "memory":
        spec = "memory://"
    elif spec.startswith("sqlite:") and not spec.startswith("sqlite:///"):
        spec = "sqlite://" + str(Path(spec.removeprefix("sqlite:")).resolve())
    store = idempotency_store(spec)
    client.idempotency = IdempotencyGuard(store, ttl=client.idempotency.ttl)
    return store


def _smtputf8(client: Client | FailoverClient) -> bool:
    clients = client.clients if isinstance(client, FailoverClient) else [client]
    return any(c.limits.supports(Feature.SMTPUTF8) for c in clients)


class _Batch:
    """One ``send --batch`` run: reads rows, sends them, records every outcome."""

    def __init__(
        self,
        client: Client | FailoverClient,
        rows: CsvRows | JsonRows,
        composer: _Composer,
        results: ResultsFile,
        bar: Any,
        max_in_flight: int | None,
    ) -> None:
        self.client = client
        self.rows = rows
        self.composer = composer
        self.results = results
        self.bar = bar
        self.max_in_flight = max_in_flight
        self.counts: Counter[str] = Counter()
        self.pending: deque[tuple[int, str]] = deque()  # (row, address) of each message given to send_many
        self.stop = _Stop()
        self.interrupted = False
        self.streak = 0  # rows in a row failed by an unavailable or throttling provider

    def _messages(self) -> Iterator[Message]:
        for number, row in enumerate(self.rows, 1):
            if self.stop.requested:
                raise KeyboardInterrupt  # inside send_many: it cancels what has not started
            if number in self.results.done:
                self.counts["skipped"] += 1
                self.bar.update(1)
                continue
            address, composed = self.composer.compose(number, row)
            if isinstance(composed, MailbridgeError):
                self.results.write(
                    number, address, REJECTED, error=type(composed).__name__, reason=one_line(str(composed))
                )
                self.counts[NOT_SENT] += 1
                self.bar.update(1)
                continue
            self.pending.append((number, address))
            yield composed

    def _record(self, outcome: SendOutcome) -> None:
        number, address = self.pending.popleft()
        if outcome.result is not None and outcome.error is None:
            result = outcome.result
            self.results.write(number, address, SENT, provider=result.provider, message_id=" ".join(result.message_ids))
            self.counts[SENT] += 1
        else:
            error = outcome.error
            assert error is not None
            status = MAYBE_SENT if outcome.maybe_sent else NOT_SENT
            provider = error.provider or ""
            self.results.write(
                number, address, status, provider=provider, error=type(error).__name__, reason=one_line(str(error))
            )
            self.counts[status] += 1
            unhealthy = not error.maybe_sent and (error.retryable or error.failover_eligible)
            self.streak = self.streak + 1 if unhealthy else 0
            stops = isinstance(error, _STOPS_THE_BATCH) or self.streak >= _UNHEALTHY_STREAK
            if stops and self.stop.error is None:
                self.stop.error = error
                self.stop.requested = True
            self.bar.update(1)
            return
        self.streak = 0
        self.bar.update(1)

    def run(self) -> None:
        with self.stop:
            stream = self.client.send_many(self._messages(), max_in_flight=self.max_in_flight)
            try:
                for outcome in stream:
                    self._record(outcome)
            except SendManyInterrupted as exc:
                for outcome in exc.outcomes:
                    self._record(outcome)
                self.interrupted = self.stop.error is None


def _check_columns(rows: CsvRows | JsonRows, composer: _Composer, base: Message, name: str) -> None:
    """A CSV header lacking a column the message uses: refused before anything is sent."""
    if rows.header is None:
        return
    absent = [v for v in composer.required if v not in rows.header and v not in base.template_data]
    if absent:
        names = ", ".join("{{" + v + "}}" for v in absent)
        raise InvalidRequest(
            f"{name}: the message uses {names} but the file has no such column (columns: {', '.join(rows.header)}); "
            "add the column or give --data NAME=VALUE; nothing was sent"
        )


def _count_and_check(rows: CsvRows | JsonRows, composer: _Composer, results: ResultsFile, name: str) -> int:
    """Count the rows; refuse a file whose rows no longer match the addresses the results file records."""
    total = 0
    for total, row in enumerate(rows, 1):
        if total not in results.done:
            continue
        recorded = results.done[total]
        if recorded is None:  # a damaged line: its address cannot be compared
            continue
        address = "" if isinstance(row, UnreadableRow) else row.get(composer.address_column, "").strip()
        if address.casefold() != recorded.casefold():
            raise InvalidRequest(
                f"{name}: row {total} is {address or 'without an address'!s} but {results.path} records it as "
                f"{recorded or 'no address'}: the file changed since; nothing was sent (give a new --results file "
                "and --batch-id to send it as a new batch)"
            )
    beyond = [n for n in results.done if n > total]
    if beyond:
        raise InvalidRequest(
            f"{name}: {results.path} records row {min(beyond)} but the file has {total} rows: the file changed "
            "since; nothing was sent"
        )
    return total


def _default_results(source: BatchInput) -> Path:
    if source.stdin:
        return Path("stdin.results.csv")
    return source.path.with_name(source.path.name + ".results.csv")


def send_batch(state: State, base: Message, options: BatchOptions) -> None:
    """Run ``send --batch``; exits with the documented code (module docstring)."""
    assert options.file is not None
    if base.to or base.cc or base.bcc:
        raise click.UsageError("--batch takes each row's address from the file: leave out --to, --cc and --bcc")
    source = BatchInput(options.file)
    try:
        _send_batch(state, base, options, source)
    finally:
        source.close()


def _send_batch(state: State, base: Message, options: BatchOptions, source: BatchInput) -> None:
    rows: CsvRows | JsonRows = (
        JsonRows(source, options.to_column)
        if source.jsonl
        else CsvRows(source, options.to_column, options.encoding, options.delimiter)
    )
    store: Any = None
    try:
        client = state.sender()
        store = _install_store(client, options.idempotency, state.url or os.environ.get(URL_ENV) or "")
        template_key = base.template or base.template_id
        template = _template_of(client, template_key) if template_key else None
        composer = _Composer(
            base,
            template,
            rows.address_column,
            allow_empty=options.allow_empty,
            smtputf8=_smtputf8(client),
            batch_id=options.batch_id or "sha256-" + source.digest[:32],
        )
        _check_columns(rows, composer, base, source.name)
        results_path = options.results or _default_results(source)
        results = ResultsFile(results_path, options.resume)
        total = _count_and_check(rows, composer, results, source.name)
        results.open()
        try:
            if options.resume and (results.done or results.retried):
                state.output.note(
                    f"resuming: {len(results.done)} rows sent or maybe sent are skipped, "
                    f"{len(results.retried - set(results.done))} rows not sent are tried again"
                )
                if isinstance(client.idempotency.store, MemoryIdempotencyStore):
                    state.output.note(
                        "note: no shared idempotency store (--idempotency sqlite:PATH): a row sent after the results "
                        "file's last line (if the last run crashed) would be sent again"
                    )
            show = sys.stderr.isatty() if options.progress is None else options.progress
            with click.progressbar(
                length=max(total, 1), label="sending", file=sys.stderr, hidden=not (show and total), show_pos=True
            ) as bar:
                batch = _Batch(client, rows, composer, results, bar, options.max_in_flight)
                batch.run()
        finally:
            results.close()
    finally:
        rows.close()
        if store is not None and hasattr(store, "close"):
            store.close()
    _finish(state, batch, total, results_path)


def _finish(state: State, batch: _Batch, total: int, results_path: Path) -> None:
    counts = batch.counts
    error = batch.stop.error
    summary = (
        f"batch: {total} rows: {counts[SENT]} sent, {counts[MAYBE_SENT]} maybe sent, {counts[NOT_SENT]} not sent, "
        f"{counts['skipped']} skipped; results in {results_path}"
    )
    if error is not None:
        summary += f"; stopped by {type(error).__name__}: {one_line(str(error))}; fix it, then run again with --resume"
    elif batch.interrupted:
        summary += "; interrupted: run again with --resume to continue"
    payload = {
        "rows": total,
        "sent": counts[SENT],
        "maybe_sent": counts[MAYBE_SENT],
        "not_sent": counts[NOT_SENT],
        "skipped": counts["skipped"],
        "unfinished": total - sum(counts.values()),
        "interrupted": batch.interrupted,
        "stopped_by": None if error is None else type(error).__name__,
        "results_file": str(results_path),
    }
    state.output.note(f"mailbridge: {summary}")
    state.output.data(payload, lambda: None)
    if error is not None:
        status = exit_status_for(error)
    elif batch.interrupted:
        status = ExitStatus.INTERRUPTED
    elif counts[MAYBE_SENT]:
        status = ExitStatus.OUTCOME_UNKNOWN
    elif counts[NOT_SENT]:
        status = ExitStatus.PARTIAL
    else:
        return
    click.get_current_context().exit(int(status))
