"""The database, through SQLAlchemy Core: one row per scored input, one row per run.

    batch_runs         run_id, model, version, archive_sha256, engine, source, status
                       (running, finished, failed, interrupted), total, skipped, scored,
                       errors, started_at, finished_at
    batch_predictions  model, version, input_id (together the primary key), run_id,
                       archive_sha256, input_sha256, status (ok, error), prediction (JSON),
                       error_code, error, latency_ms, scored_at

Rows are upserted on (model, version, input_id): scoring an input again replaces its row,
so a rerun never duplicates one. A run's counts are updated in the same transaction as
its rows, so they always match what is committed, even after a SIGKILL.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Row,
    Select,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from batch.errors import BatchError

DIALECTS = ("sqlite", "postgresql")  # both have INSERT ... ON CONFLICT DO UPDATE
KEY = ("model", "version", "input_id")
IDS_PER_QUERY = 500  # ids in one IN (...): well under SQLite's 32,766 bound parameters

metadata = MetaData()

runs = Table(
    "batch_runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column("model", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("archive_sha256", String(64), nullable=False),
    Column("engine", String(16), nullable=False),
    Column("source", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("total", Integer, nullable=False),
    Column("skipped", Integer, nullable=False, default=0),
    Column("scored", Integer, nullable=False, default=0),
    Column("errors", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

predictions = Table(
    "batch_predictions",
    metadata,
    Column("model", Text, primary_key=True),
    Column("version", Text, primary_key=True),
    Column("input_id", Text, primary_key=True),
    Column("run_id", String(32), ForeignKey("batch_runs.run_id"), nullable=False),
    Column("archive_sha256", String(64), nullable=False),
    Column("input_sha256", String(64), nullable=False),
    Column("status", String(8), nullable=False),
    Column(
        "prediction", JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
    ),
    Column("error_code", Integer),
    Column("error", Text),
    Column("latency_ms", Float),
    Column("scored_at", DateTime(timezone=True), nullable=False),
    Index("ix_batch_predictions_run_id", "run_id"),
)

UPDATED = [column.name for column in predictions.columns if column.name not in KEY]


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _sqlite_pragmas(connection: Any, record: Any) -> None:
    # WAL lets readers (a report, a test) query while a run writes; NORMAL syncs per
    # checkpoint, not per commit, which WAL keeps crash-safe.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _ok(model: str, version: str) -> Select[str, str, str]:
    """The inputs of this model and version scored without error: id, input and archive
    sha256."""
    return select(
        predictions.c.input_id, predictions.c.input_sha256, predictions.c.archive_sha256
    ).where(
        predictions.c.model == model,
        predictions.c.version == version,
        predictions.c.status == "ok",
    )


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's own first line (e.g. 'connection refused'), not SQLAlchemy's wrapper."""
    text = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class Store:
    """A database at ``url`` holding the two tables (created when missing, unless only
    read: ``create=False``)."""

    def __init__(self, url: str, create: bool = True) -> None:
        try:
            parsed = make_url(url)
            self.url = parsed.render_as_string(hide_password=True)
            self.engine: Engine = create_engine(parsed)
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise BatchError(f"not a database URL: {url!r} ({exc})") from None
        except ImportError as exc:
            raise BatchError(f"the driver for {url!r} is not installed: {exc}") from None
        self.dialect = self.engine.dialect.name
        if self.dialect not in DIALECTS:
            raise BatchError(f"{self.url}: batch scoring supports {' and '.join(DIALECTS)}")
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if create:
            with self._errors():
                metadata.create_all(self.engine)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise BatchError(f"database {self.url}: {_reason(exc)}") from None

    def start_run(self, **values: Any) -> None:
        with self._errors(), self.engine.begin() as connection:
            connection.execute(runs.insert().values(status="running", started_at=now(), **values))

    def scored(self, model: str, version: str) -> dict[str, tuple[str, str]]:
        """Inputs already scored without error: id -> (input sha256, archive sha256)."""
        with self._errors(), self.engine.connect() as connection:
            return {row[0]: (row[1], row[2]) for row in connection.execute(_ok(model, version))}

    def scored_among(
        self, model: str, version: str, ids: Sequence[str]
    ) -> dict[str, tuple[str, str]]:
        """``scored`` for these ids only: a part of a source is checked without reading
        the whole table (the primary key answers it)."""
        found: dict[str, tuple[str, str]] = {}
        with self._errors(), self.engine.connect() as connection:
            for start in range(0, len(ids), IDS_PER_QUERY):
                query = _ok(model, version).where(
                    predictions.c.input_id.in_(ids[start : start + IDS_PER_QUERY])
                )
                found.update({row[0]: (row[1], row[2]) for row in connection.execute(query)})
        return found

    def count_run(self, run_id: str) -> int:
        """How many rows the run ``run_id`` wrote and still holds."""
        query = select(func.count()).select_from(predictions).where(predictions.c.run_id == run_id)
        with self._errors(), self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def write(self, run_id: str, rows: Sequence[dict[str, Any]], **counts: int) -> None:
        """Upsert ``rows`` and set the run's ``counts``, in one transaction."""
        insert = (sqlite if self.dialect == "sqlite" else postgresql).insert(predictions)
        upsert = insert.on_conflict_do_update(
            index_elements=list(KEY), set_={name: insert.excluded[name] for name in UPDATED}
        )
        with self._errors(), self.engine.begin() as connection:
            if rows:
                connection.execute(upsert, list(rows))
            connection.execute(update(runs).where(runs.c.run_id == run_id).values(**counts))

    def finish_run(self, run_id: str, status: str) -> None:
        with self._errors(), self.engine.begin() as connection:
            connection.execute(
                update(runs).where(runs.c.run_id == run_id).values(status=status, finished_at=now())
            )

    def stream(self, query: Select[Any], size: int) -> Iterator[Sequence[Row[Any]]]:
        """The rows of ``query`` in parts of up to ``size``, never all at once in memory
        (a server-side cursor on PostgreSQL)."""
        with self._errors(), self.engine.connect() as connection:
            options = connection.execution_options(stream_results=True, yield_per=size)
            yield from options.execute(query).partitions()

    def close(self) -> None:
        self.engine.dispose()
