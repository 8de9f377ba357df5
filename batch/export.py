"""Export one model's scored rows to Parquet or CSV.

    python -m batch export MODEL --to out.parquet|out.csv [--db URL] [--version V]
                                 [--run RUN_ID] [--status ok|error]

The columns are batch.results' (the prediction spread into columns). In CSV a list or
object cell (an embedding, the digits model's top_k) is JSON text; Parquet keeps them
typed. Rows are written in parts as they are read, into ``FILE.part`` renamed to FILE at
the end, so a failed export leaves no half-written file. Exit status: 0 written, 2 not
(the message says why).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from batch.cli import DEFAULT_DB
from batch.errors import BatchError
from batch.results import STATUSES, Selection, tables
from server.settings import DATABASE_URL_ENV

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


Writer = type[pq.ParquetWriter] | type[pa_csv.CSVWriter]
WRITERS: dict[str, Writer] = {"parquet": pq.ParquetWriter, "csv": pa_csv.CSVWriter}


def _write(path: Path, parts: Iterator[pa.Table], writer_type: Writer) -> int:
    first = next(parts)  # there is always one, empty when no row is selected
    written = 0
    with writer_type(path, first.schema) as writer:
        for table in (first, *parts):
            writer.write_table(table)
            written += table.num_rows
    return written


def export(url: str, selection: Selection, path: Path) -> int:
    """Write the selected rows to ``path`` (format by suffix); how many were written."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise BatchError(f"{path}: give a .parquet or .csv file to export to")
    if not path.parent.is_dir():
        raise BatchError(f"{path}: no folder {path.parent}")
    partial = path.with_name(f"{path.name}.part")
    try:
        parts = tables(url, selection, nested_as_json=kind == "csv")
        written = _write(partial, parts, WRITERS[kind])
        os.replace(partial, path)
    except OSError as exc:
        raise BatchError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return written


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m batch export",
        description="Write one model's scored rows to a Parquet or CSV file, the "
        "prediction spread into columns.",
    )
    p.add_argument("model", help="the model name the rows were scored with")
    p.add_argument(
        "--to", type=Path, required=True, metavar="FILE", help="FILE.parquet or FILE.csv"
    )
    p.add_argument(
        "--db",
        default=os.environ.get(DATABASE_URL_ENV, DEFAULT_DB),
        help=f"SQLAlchemy URL, as when scoring (default ${DATABASE_URL_ENV} or {DEFAULT_DB})",
    )
    p.add_argument("--version", help="only this model version (default: every version)")
    p.add_argument("--run", metavar="RUN_ID", help="only the rows this run wrote")
    p.add_argument("--status", choices=STATUSES, help="only ok rows, or only error rows")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    selection = Selection(args.model, args.version, args.run, args.status)
    try:
        written = export(args.db, selection, args.to)
    except BatchError as exc:
        print(f"batch: error: {exc}", file=sys.stderr)
        return 2
    print(f"{written:,} rows of {args.model} written to {args.to}")
    return 0
