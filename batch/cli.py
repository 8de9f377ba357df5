"""Score a source into a database table, resumably.

    python -m batch MODEL SOURCE [--engine local|server|ray] [--db URL] [--id-column NAME] ...
    python -m batch export MODEL --to FILE.parquet|FILE.csv [--db URL] ...   (batch.export)

MODEL is a model name (its archive is model_store/MODEL.mar) or a path to a .mar. Exit
status: 0 every input scored, 1 some inputs got error rows, 2 the run could not go on
(the message says why; run the same command again to resume), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from batch.archive import Archive, read_archive
from batch.calls import Engine
from batch.columns import feature_names
from batch.errors import BatchError
from batch.runner import Summary, run_batch
from batch.sources import open_source
from batch.store import Store
from server.settings import (
    DATABASE_URL_ENV,
    INFERENCE_URL,
    INFERENCE_URL_ENV,
    MODEL_STORE,
    RUN_DIR,
    RUN_DIR_ENV,
)

DEFAULT_DB = "sqlite:///batch.db"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m batch",
        description="Score every input of SOURCE with MODEL into a database table.",
        epilog="Rows: table batch_predictions, one per (model, version, input id); "
        "runs: table batch_runs. Run the same command again to resume a run. "
        "`python -m batch export MODEL --to FILE.parquet|FILE.csv` writes the rows to a file.",
    )
    p.add_argument("model", help="model name (model_store/NAME.mar) or path to a .mar")
    p.add_argument(
        "source",
        type=source_arg,
        help="feature rows (.csv, .parquet), texts (.txt, .jsonl) or a folder of images; "
        "with --engine ray also an object-store URL (s3://bucket/rows.parquet)",
    )
    p.add_argument(
        "--engine",
        choices=("local", "server", "ray"),
        default="local",
        help="local: run the archive's handler here (default); server: call TorchServe; "
        "ray: Ray Data and an actor pool on a Ray cluster (pip install -r requirements/ray.txt)",
    )
    p.add_argument(
        "--db",
        default=os.environ.get(DATABASE_URL_ENV, DEFAULT_DB),
        help=f"SQLAlchemy URL (default ${DATABASE_URL_ENV} or {DEFAULT_DB}); "
        "e.g. postgresql+psycopg://user:password@host/db",
    )
    p.add_argument("--id-column", help="column (CSV, Parquet) or field (JSONL) of unique ids")
    p.add_argument(
        "--ignore-extra-columns",
        action="store_true",
        help="CSV, Parquet: skip columns that are not the model's features (e.g. a label) "
        "instead of stopping",
    )
    p.add_argument("--text-field", default="text", help="JSONL field holding the text")
    p.add_argument(
        "--rows-per-request",
        type=int,
        metavar="N",
        help="inputs per request (default: the handler's limit, 1024 rows or 64 texts)",
    )
    p.add_argument(
        "--url",
        help="server engine: TorchServe's inference address; default as the client finds "
        f"it: ${INFERENCE_URL_ENV}, else server.json in ${RUN_DIR_ENV} or {RUN_DIR.name}/ "
        f"(the running server's), else {INFERENCE_URL}",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        help="server engine: requests in flight (default: 32 for images, 4 otherwise)",
    )
    p.add_argument(
        "--address",
        help="ray engine: the cluster to join, e.g. 10.0.0.5:6379 (default $RAY_ADDRESS, "
        "else a Ray started here for the run)",
    )
    p.add_argument(
        "--actors",
        type=int,
        help="ray engine: scoring actors, one CPU and one copy of the model each "
        "(default: the cluster's CPUs less one)",
    )
    return p


def source_arg(text: str) -> Path | str:
    """A local path, or an object-store URL kept as written (a Path would fold its //)."""
    return text if "://" in text else Path(text)


def open_engine(args: argparse.Namespace, archive: Archive) -> Engine:
    if args.engine == "server":
        from batch.server_engine import ServerEngine

        return ServerEngine(args.url, archive, concurrency=args.concurrency)
    from batch.local_engine import LocalEngine

    return LocalEngine(archive)


def archive_path(model: str) -> Path:
    return Path(model) if model.endswith(".mar") else MODEL_STORE / f"{model}.mar"


def run(args: argparse.Namespace) -> Summary:
    for name, value in (
        ("--rows-per-request", args.rows_per_request),
        ("--concurrency", args.concurrency),
        ("--actors", args.actors),
    ):
        if value is not None and value < 1:
            raise BatchError(f"{name} must be at least 1, got {value}")
    if isinstance(args.source, str) and args.engine != "ray":
        raise BatchError(f"{args.source}: an object-store URL needs --engine ray")
    archive = read_archive(archive_path(args.model))
    if args.engine == "ray":
        return run_on_ray(args, archive)
    source = open_source(
        args.source,
        archive.kind,
        args.id_column,
        args.text_field,
        feature_names(archive),
        args.ignore_extra_columns,
    )
    # The database last: a run that cannot start leaves no database file or tables behind.
    engine = open_engine(args, archive)
    try:
        store = Store(args.db)
        try:
            return run_batch(engine, archive, source, store, args.rows_per_request)
        finally:
            store.close()
    finally:
        engine.close()


def run_on_ray(args: argparse.Namespace, archive: Archive) -> Summary:
    try:
        from batch.ray_engine import run_ray
    except ImportError as exc:
        raise BatchError(f"--engine ray needs Ray: make install-ray ({exc})") from None
    # What open_source takes: the ray engine opens the source with it on every read task.
    options = {
        "id_column": args.id_column,
        "text_field": args.text_field,
        "features": feature_names(archive),
        "ignore_extra": args.ignore_extra_columns,
    }
    return run_ray(
        archive,
        str(args.source),
        args.db,
        args.address,
        args.actors,
        args.rows_per_request,
        options,
    )


def quiet_libraries() -> None:
    """Keep the terminal for the progress bar and the summary: TorchServe's handler base
    logs optional accelerators it does not find, urllib3 each retry, transformers draws
    its own bars."""
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("ts").setLevel(logging.ERROR)
    logging.getLogger("urllib3").setLevel(logging.ERROR)  # each retry; the outcome is reported
    # A database lost mid-run: psycopg warns about its broken pipeline; the error says it.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["export"]:
        from batch import export

        return export.main(argv[1:])
    args = parser().parse_args(argv)
    quiet_libraries()
    try:
        summary = run(args)
    except BatchError as exc:
        print(f"batch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("batch: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(summary)
    return 1 if summary.errors else 0
