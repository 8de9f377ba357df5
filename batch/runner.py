"""One batch run: read the source, skip what is already scored, score the rest, record it.

Inputs are grouped into requests of up to ``rows_per_request`` and requests into calls of
about ``engine.inputs_per_call`` inputs; up to ``engine.concurrency`` calls are in flight while this
thread writes finished rows, committing them as calls finish, every ``FLUSH_SECONDS`` or
``FLUSH_ROWS`` rows. A run killed at any point loses only what was not yet committed: the
same command run again skips every input that already has an ``ok`` row for the same input
and archive sha256, and scores the rest (error rows are tried again). Inputs that met a
server fault (5xx) are tried once more at the end, alone, before they become error rows.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from batch.archive import Archive
from batch.calls import Engine
from batch.errors import BatchError
from batch.packing import PACKERS, Packer
from batch.scoring import Outcome, score, unreadable
from batch.sources import Item, Source
from batch.store import Store, now

FLUSH_ROWS = 1024  # commit when this many rows wait...
FLUSH_SECONDS = 1.0  # ...or this long after the last commit
SHOWN_ERRORS = 3  # error rows quoted in the summary; it counts the rest


@dataclass
class Summary:
    run_id: str
    model: str
    version: str
    engine: str
    total: int
    skipped: int = 0
    scored: int = 0
    errors: int = 0
    seconds: float = 0.0
    first_errors: list[tuple[str, str]] = field(default_factory=list)  # (input id, message)

    @property
    def rows_per_s(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0

    def counts(self) -> dict[str, int]:
        return {"skipped": self.skipped, "scored": self.scored, "errors": self.errors}

    def __str__(self) -> str:
        lines = [
            f"run {self.run_id}: {self.model} {self.version}, {self.engine} engine: "
            f"{self.total} inputs, {self.scored} scored ({self.errors} errors), "
            f"{self.skipped} already scored; {self.rows_per_s:,.1f} rows/s over "
            f"{self.seconds:.1f} s"
        ]
        lines += [f"  error {input_id}: {message}" for input_id, message in self.first_errors]
        more = self.errors - len(self.first_errors)
        if more > 0:
            lines.append(
                f"  and {more:,} more error{'s' if more > 1 else ''} (all of them: "
                f"python -m batch export {self.model} --status error --to errors.csv)"
            )
        return "\n".join(lines)


def row_of(outcome: Outcome, run_id: str, archive: Archive) -> dict[str, Any]:
    return {
        "model": archive.name,
        "version": archive.version,
        "input_id": outcome.item.id,
        "run_id": run_id,
        "archive_sha256": archive.sha256,
        "input_sha256": outcome.item.sha256,
        "status": "ok" if outcome.ok else "error",
        "prediction": outcome.prediction,
        "error_code": outcome.code,
        "error": outcome.error,
        "latency_ms": outcome.latency_ms,
        "scored_at": now(),
    }


class Run:
    """The bookkeeping of one run: pending rows, counts, progress, commits."""

    def __init__(
        self,
        store: Store,
        archive: Archive,
        summary: Summary,
        progress: tqdm[Any],
        source: Source | None = None,  # names where a quoted error is in the source
    ) -> None:
        self.store = store
        self.archive = archive
        self.summary = summary
        self.progress = progress
        self.source = source
        self.pending: list[Outcome] = []
        self.faults: list[Outcome] = []  # server faults, to be tried again alone
        self.last_flush = time.monotonic()

    @contextlib.contextmanager
    def ending(self) -> Iterator[None]:
        """Closes the progress bar; when what it wraps fails, keeps the rows already scored
        (unless the database is what failed), so the next run does not score them again,
        and marks the run interrupted or failed before the error goes on."""
        try:
            yield
        except BaseException as exc:
            self.progress.close()
            with contextlib.suppress(BatchError):
                self.flush()
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                self.store.finish_run(self.summary.run_id, status)
            raise
        self.progress.close()

    def skip(self) -> None:
        self.summary.skipped += 1
        self.progress.update(1)

    def add(self, outcomes: Sequence[Outcome]) -> None:
        """Take scored inputs; a server fault is held back to be tried again at the end."""
        for outcome in outcomes:
            faulted = outcome.code is not None and outcome.code >= 500
            (self.faults if faulted else self.pending).append(outcome)
        self.progress.update(len(outcomes))
        self._flush_when_due()

    def retry_faults(self, engine: Engine, packer: Packer) -> None:
        """Score each input that met a server fault again, alone, with nothing else in
        flight: a TorchServe batch fails as a whole when one of its requests crashes the
        handler, so a fault seen beside other requests does not yet say whose it was."""
        faults, self.faults = self.faults, []
        for fault in faults:
            self.pending += score(engine, packer, [[fault.item]])
            self._flush_when_due()

    def _flush_when_due(self) -> None:
        if len(self.pending) >= FLUSH_ROWS or time.monotonic() - self.last_flush > FLUSH_SECONDS:
            self.flush()

    def quoted(self, outcome: Outcome) -> str:
        """An error as the summary quotes it: with where the input is in the source."""
        message = outcome.error or ""
        return message if self.source is None else self.source.describe(outcome.item, message)

    def flush(self) -> None:
        summary = self.summary
        rows = [row_of(outcome, summary.run_id, self.archive) for outcome in self.pending]
        errors = [outcome for outcome in self.pending if not outcome.ok]
        counts = {
            "skipped": summary.skipped,
            "scored": summary.scored + len(rows),
            "errors": summary.errors + len(errors),
        }
        self.store.write(summary.run_id, rows, **counts)
        summary.scored, summary.errors = counts["scored"], counts["errors"]
        room = SHOWN_ERRORS - len(summary.first_errors)
        summary.first_errors += [(o.item.id, self.quoted(o)) for o in errors[: max(room, 0)]]
        self.pending = []
        self.last_flush = time.monotonic()


def to_score(
    source: Source, done: dict[str, tuple[str, str]], archive: Archive, run: Run
) -> Iterator[Item]:
    """The source's inputs that still need a row; checks that ids are unique."""
    seen: set[str] = set()
    for item in source:
        if item.id in seen:
            raise BatchError(
                f"input id {item.id!r} appears twice in {source.path}: ids must be unique "
                "(name a column of unique values with --id-column)"
            )
        seen.add(item.id)
        if done.get(item.id) == (item.sha256, archive.sha256):
            run.skip()
        else:
            yield item


def calls_of(
    items: Iterator[Item], per_request: int, per_call: int, run: Run
) -> Iterator[list[list[Item]]]:
    """Group items into calls of requests; inputs the source could not read go straight
    to the run as error rows."""
    call: list[list[Item]] = []
    request: list[Item] = []
    for item in items:
        if item.problem is not None:
            run.add([unreadable(item)])
            continue
        request.append(item)
        if len(request) == per_request:
            call.append(request)
            request = []
        if len(call) == per_call:
            yield call
            call = []
    if request:
        call.append(request)
    if call:
        yield call


def request_sizes(
    packer: Packer, rows_per_request: int | None, inputs_per_call: int
) -> tuple[int, int]:
    """Inputs per request (``rows_per_request``, at most what one request may carry), and
    requests per engine call: about ``inputs_per_call`` inputs, at least one request."""
    per_request = min(rows_per_request or packer.max_items, packer.max_items)
    return per_request, max(1, inputs_per_call // per_request)


def run_batch(
    engine: Engine,
    archive: Archive,
    source: Source,
    store: Store,
    rows_per_request: int | None = None,
    progress: bool | None = None,  # None: a bar only when stderr is a terminal
) -> Summary:
    """Score every input of ``source`` not yet scored into ``store``; return the summary."""
    packer: Packer = PACKERS[archive.kind]()
    per_request, per_call = request_sizes(packer, rows_per_request, engine.inputs_per_call)
    summary = Summary(uuid.uuid4().hex, archive.name, archive.version, engine.name, source.count())
    store.start_run(
        run_id=summary.run_id,
        model=archive.name,
        version=archive.version,
        archive_sha256=archive.sha256,
        engine=engine.name,
        source=str(source.path.resolve()),
        total=summary.total,
    )
    started = time.perf_counter()
    bar = tqdm(
        total=summary.total, unit="input", disable=None if progress is None else not progress
    )
    run = Run(store, archive, summary, bar, source)
    with run.ending():
        done = store.scored(archive.name, archive.version)
        items = to_score(source, done, archive, run)
        _score_all(engine, packer, calls_of(items, per_request, per_call, run), run)
        run.retry_faults(engine, packer)
        run.flush()
    summary.seconds = time.perf_counter() - started
    store.finish_run(summary.run_id, "finished")
    return summary


def _score_all(engine: Engine, packer: Packer, calls: Iterator[list[list[Item]]], run: Run) -> None:
    """Keep up to ``2 x concurrency`` calls queued, handing finished ones to the run."""
    with cf.ThreadPoolExecutor(max_workers=engine.concurrency) as pool:
        in_flight: set[cf.Future[list[Outcome]]] = set()
        try:
            for call in calls:
                in_flight.add(pool.submit(score, engine, packer, call))
                if len(in_flight) >= 2 * engine.concurrency:
                    finished, in_flight = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                    for future in finished:
                        run.add(future.result())
            for future in cf.as_completed(in_flight):
                run.add(future.result())
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise
