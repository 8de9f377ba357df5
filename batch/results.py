"""Read scored rows back: one model's rows, the prediction JSON spread into columns.

    import batch
    frame = batch.read_predictions("sqlite:///batch.db", "cancer")
    frame[["input_id", "label", "probabilities.benign"]]

A prediction object becomes one column per leaf, named by its path (``label``,
``probabilities.benign``, ``probability``: keys sorted); a list stays one column of lists (MiniLM's
``embedding``, the digits model's ``top_k``). The leaves are those of the first ``ok`` row
(every answer of a model has its contract's shape); an error row has nulls there. A name
that is already a row column gets a ``prediction.`` prefix. Then the row's own columns:
``status``, ``error_code``, ``error``, provenance, ``latency_ms``, ``scored_at``.

Rows come in input id order, shorter ids first, so row and line numbers come in numeric
order. They are read in parts (``tables``), never all at once, for exports of any size.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy import Select, func, select

from batch.errors import BatchError
from batch.store import Store, predictions

if TYPE_CHECKING:
    import pandas as pd

PART_ROWS = 10_000  # rows read, flattened and written at a time
STATUSES = ("ok", "error")
ROW_COLUMNS: dict[str, pa.DataType] = {
    "status": pa.string(),
    "error_code": pa.int64(),
    "error": pa.string(),
    "model": pa.string(),
    "version": pa.string(),
    "run_id": pa.string(),
    "archive_sha256": pa.string(),
    "input_sha256": pa.string(),
    "latency_ms": pa.float64(),
    "scored_at": pa.timestamp("us", tz="UTC"),
}
Leaf = tuple[str, ...]  # a leaf's keys inside the prediction object


@dataclass(frozen=True)
class Selection:
    """Which rows: one model, optionally one version, one run, one status."""

    model: str
    version: str | None = None
    run_id: str | None = None
    status: str | None = None

    def query(self) -> Select[Any]:
        if self.status is not None and self.status not in STATUSES:
            raise BatchError(f"status is one of {', '.join(STATUSES)}, not {self.status!r}")
        c = predictions.c
        query = select(predictions).where(c.model == self.model)
        for column, value in ((c.version, self.version), (c.run_id, self.run_id)):
            if value is not None:
                query = query.where(column == value)
        if self.status is not None:
            query = query.where(c.status == self.status)
        return query.order_by(c.version, func.length(c.input_id), c.input_id)


def leaves(value: Any, path: Leaf = ()) -> list[Leaf]:
    """The paths to the leaves of a prediction: every key of nested objects, a list whole,
    keys sorted (PostgreSQL's JSONB keeps no key order, so the columns agree on both)."""
    if isinstance(value, dict) and value:
        return [leaf for key in sorted(value) for leaf in leaves(value[key], (*path, key))]
    return [path]


def leaf_type(value: Any) -> pa.DataType:
    """A leaf's Arrow type; any number is a float (JSON writes 1.0 as 1 at times)."""
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int | float):
        return pa.float64()
    if isinstance(value, str):
        return pa.string()
    if isinstance(value, list | dict):
        return pa.infer_type([value])
    return pa.string()  # a null leaf: its values, if any, read as text


def at(prediction: Any, path: Leaf) -> Any:
    for key in path:
        if not isinstance(prediction, dict):
            return None
        prediction = prediction.get(key)
    return prediction


def utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """SQLite hands back the UTC moments it was given without their zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=datetime.UTC)


class Layout:
    """The columns of a selection: the prediction's leaves, then the row's own."""

    def __init__(self, sample: Any, nested_as_json: bool = False) -> None:
        self.paths = leaves(sample) if sample is not None else []
        self.nested_as_json = nested_as_json  # CSV: a list or object cell as JSON text
        fields = [pa.field("input_id", pa.string())]
        for path in self.paths:
            name = ".".join(path) or "prediction"
            if name in ROW_COLUMNS or name == "input_id":
                name = f"prediction.{name}"
            kind = leaf_type(at(sample, path))
            if nested_as_json and pa.types.is_nested(kind):
                kind = pa.string()
            fields.append(pa.field(name, kind))
        fields += [pa.field(name, kind) for name, kind in ROW_COLUMNS.items()]
        self.schema = pa.schema(fields)

    def table(self, rows: Sequence[Any]) -> pa.Table:
        """The Arrow table of database rows."""
        columns: list[list[Any]] = [[row.input_id for row in rows]]
        for path in self.paths:
            values = [at(row.prediction, path) for row in rows]
            if self.nested_as_json:
                values = [json.dumps(v) if isinstance(v, list | dict) else v for v in values]
            columns.append(values)
        for name in ROW_COLUMNS:
            values = [getattr(row, name) for row in rows]
            columns.append([utc(v) for v in values] if name == "scored_at" else values)
        arrays = [
            pa.array(values, type=field.type)
            for values, field in zip(columns, self.schema, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=self.schema)


def reading(url: str) -> Store:
    """The database at ``url``, to read: a SQLite file is never created by reading it."""
    store = Store(url, create=False)  # connects at the first query
    database = store.engine.url.database
    missing = database not in (None, "", ":memory:") and not Path(str(database)).is_file()
    if store.dialect == "sqlite" and missing:
        store.close()
        raise BatchError(f"no database file {database} (from {store.url})")
    return store


def tables(url: str, selection: Selection, nested_as_json: bool = False) -> Iterator[pa.Table]:
    """The selected rows as Arrow tables of up to PART_ROWS rows, all of one schema; at
    least one, empty when no row is selected."""
    store = reading(url)
    try:
        ok = Selection(selection.model, selection.version, selection.run_id, "ok")
        sample = next(
            (row.prediction for part in store.stream(ok.query().limit(1), 1) for row in part),
            None,
        )
        layout = Layout(sample, nested_as_json)
        empty = True
        for part in store.stream(selection.query(), PART_ROWS):
            empty = False
            yield layout.table(part)
        if empty:
            yield layout.table([])
    finally:
        store.close()


def read_predictions(
    db_url: str,
    model: str,
    version: str | None = None,
    *,
    run_id: str | None = None,
    status: str | None = None,
) -> pd.DataFrame:
    """One model's rows (every version unless one is named) as a DataFrame, the
    prediction spread into columns; ``run_id`` keeps the rows that run wrote, ``status``
    ("ok", "error") those rows."""
    import pandas as pd  # only here: exports stream Arrow tables without it

    parts = list(tables(db_url, Selection(model, version, run_id, status)))
    # error_code stays an integer column, with <NA> where a row has none.
    return pa.concat_tables(parts).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
