"""The ``ray`` engine: Ray Data reads the source, an actor pool scores it, this process
writes the rows.

    read (tasks)  ->  resume check (tasks)  ->  score (actors)  ->  write (this driver)

- Read: batch.ray_read, chunks of up to one request of inputs each.
- Resume check: each chunk's ids are looked up by primary key (``Store.scored_among``) and
  those with an ``ok`` row for the same input and archive sha256 are dropped, so a rerun
  never reads the whole table into one process. On SQLite the database is a file beside
  this driver, so these tasks run on the driver's node; PostgreSQL is reachable from any.
- Score: each actor holds one ``LocalEngine`` (the archive's handler, loaded once per
  actor) and scores a call's worth of chunks with batch.scoring, so a bad input fails
  alone with the handler's message; an input that met a fault is tried again alone at once
  (nothing else is in flight in an actor). An actor checks that the archive it loads has
  the driver's sha256: a node with another archive at that path stops the run.
- Write: this process takes the actors' outcomes and writes them through batch.runner's
  ``Run`` and ``Store``: the same rows, keys, provenance and upserts as the other engines,
  and one writer (what SQLite needs).

Ray retries the tasks and restarts the actors of a node that dies; a run that still
cannot go on stops with one line, and the same command again resumes it.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import ray
import ray.data
from ray.util.annotations import RayDeprecationWarning
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from tqdm import tqdm

from batch.archive import Archive, sha256_of
from batch.errors import BatchError
from batch.packing import PACKERS, Packer
from batch.ray_read import ITEMS, FileItems, ImageItems, image_files, locate, source_type
from batch.runner import Run, Summary, request_sizes
from batch.scoring import Outcome, score, unreadable
from batch.sources import FolderSource, Item, Source, open_source
from batch.store import Store

ENGINE = "ray"
ACTOR_CPUS = 1.0  # one scoring actor per CPU Ray counts (the handlers use one torch thread)
# Reading and the resume check are light next to scoring, and ask for no CPU: with a
# share, actors holding every CPU (--actors at the cluster's CPUs) would starve them.
TASK_CPUS = 0.0
OUTCOMES, SKIPPED = "outcomes", "skipped"


@dataclass(frozen=True)
class Plan:
    """What every stage needs to know, shipped to tasks and actors."""

    archive: Archive
    db_url: str  # with its password: the resume check connects too
    per_request: int  # inputs per request (a chunk)
    per_call: int  # requests per engine call (chunks per actor batch)


def plan_for(archive: Archive, db_url: str, rows_per_request: int | None) -> Plan:
    # An actor calls the handler as the local engine does: archive.batch_size per call.
    packer = PACKERS[archive.kind]()
    per_request, per_call = request_sizes(packer, rows_per_request, archive.batch_size)
    return Plan(archive, absolute_sqlite(db_url), per_request, per_call)


def absolute_sqlite(db_url: str) -> str:
    """A SQLite file named as the driver sees it: Ray's workers run in folders of their
    own, where a relative path would be another, empty database."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return db_url
    return url.set(database=str(Path(url.database).resolve())).render_as_string(hide_password=False)


# The resume check's database, one per worker process and URL.
_stores: dict[str, Store] = {}


def unscored(batch: dict[str, Any], plan: Plan) -> dict[str, list[Any]]:
    """Drop the inputs that already have an ``ok`` row for the same input and archive."""
    store = _stores.get(plan.db_url) or _stores.setdefault(plan.db_url, Store(plan.db_url))
    archive = plan.archive
    kept, skipped = [], []
    for blob in batch[ITEMS]:
        items: list[Item] = pickle.loads(blob)
        done = store.scored_among(archive.name, archive.version, [i.id for i in items])
        todo = [i for i in items if done.get(i.id) != (i.sha256, archive.sha256)]
        kept.append(pickle.dumps(todo, protocol=pickle.HIGHEST_PROTOCOL))
        skipped.append(len(items) - len(todo))
    return {ITEMS: kept, SKIPPED: skipped}


class Scorer:
    """A Ray actor holding the model once: the archive's handler, as the local engine runs it."""

    def __init__(self, plan: Plan) -> None:
        from batch.local_engine import LocalEngine  # torchserve: imported on the actor

        archive = plan.archive
        found = sha256_of(archive.path) if archive.path.is_file() else "no file"
        if found != archive.sha256:
            node = ray.get_runtime_context().get_node_id()
            raise BatchError(
                f"node {node[:12]}: {archive.path} is not the archive the run records "
                f"(sha256 {found}, not {archive.sha256}): give every node the same archive"
            )
        self.plan = plan
        self.engine = LocalEngine(archive)
        self.packer: Packer = PACKERS[archive.kind]()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        outcomes: list[Outcome] = []
        requests: list[list[Item]] = []
        for blob in batch[ITEMS]:
            items: list[Item] = pickle.loads(blob)
            outcomes += [unreadable(i) for i in items if i.problem is not None]
            readable = [i for i in items if i.problem is None]
            if readable:
                requests.append(readable)
        per_call = self.plan.per_call
        for start in range(0, len(requests), per_call):
            outcomes += score(self.engine, self.packer, requests[start : start + per_call])
        outcomes = [self._again_alone(outcome) for outcome in outcomes]
        # The driver needs ids, sha256s and where inputs are, not the inputs themselves.
        slim = [replace(o, item=replace(o.item, value=None)) for o in outcomes]
        return {
            OUTCOMES: [pickle.dumps(slim, protocol=pickle.HIGHEST_PROTOCOL)],
            SKIPPED: [int(sum(batch[SKIPPED]))],
        }

    def _again_alone(self, outcome: Outcome) -> Outcome:
        """A fault seen beside other inputs, scored again alone (batch.runner's rule)."""
        if outcome.code is None or outcome.code < 500:
            return outcome
        (again,) = score(self.engine, self.packer, [[outcome.item]])
        return again


def connect(address: str | None) -> None:
    """Join the cluster at ``address`` (None: ``RAY_ADDRESS``, else a local Ray here)."""
    logging.getLogger("ray").setLevel(logging.WARNING)
    # Ray's advice on tuning (deprecations, pool sizes) is for its developers, not the
    # terminal of the run; its C++ core's error lines too: failures come back as exceptions.
    warnings.filterwarnings("ignore", module=r"ray(\.|$)")
    warnings.filterwarnings("ignore", category=RayDeprecationWarning)
    try:
        ray.init(
            address=address,
            logging_level=logging.WARNING,
            log_to_driver=False,  # the actors' handler logs; errors come back as exceptions
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "this machine"
        raise BatchError(f"cannot join the Ray cluster at {where}: {exc}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the run draws its own
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its start and finish lines


def dataset(
    location_source: str, plan: Plan, options: dict[str, Any], actors: int, dialect: str
) -> Any:
    """The pipeline, lazily: nothing runs until the driver iterates it."""
    location = locate(location_source)
    kind = plan.archive.kind
    found = source_type(location, kind, options.get("id_column"))
    if found is FolderSource:
        reader: Any = ImageItems(location, image_files(location))
    else:
        reader = FileItems(location, partial(found, **options), plan.per_request)
    # A local file or SQLite database is on the driver's node only: what reads it runs there.
    on_this_node = NodeAffinitySchedulingStrategy(
        ray.get_runtime_context().get_node_id(), soft=False
    )
    reading: dict[str, Any] = {"num_cpus": TASK_CPUS}
    if location.is_local:
        reading["ray_remote_args"] = {"scheduling_strategy": on_this_node}
    read = ray.data.read_datasource(reader, **reading)
    check: dict[str, Any] = {"num_cpus": TASK_CPUS}
    if dialect == "sqlite":
        check["scheduling_strategy"] = on_this_node
    # One look-up per actor call: its output block is then one call, and results stream.
    checked = read.map_batches(
        unscored, fn_kwargs={"plan": plan}, batch_size=plan.per_call, **check
    )
    return checked.map_batches(
        Scorer,
        fn_constructor_kwargs={"plan": plan},
        batch_size=plan.per_call,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=ACTOR_CPUS,
        scheduling_strategy="SPREAD",  # one actor per node first: a lost node costs fewest
    )


def cause(exc: BaseException) -> str:
    """The first line of the innermost error a Ray task or actor raised."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    inner = getattr(exc, "cause", None)
    if isinstance(inner, BaseException) and inner is not exc:
        return cause(inner)
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def local_source(source: str, kind: str, options: dict[str, Any]) -> Source | None:
    """A local path as the local engine opens it: its checks run here, before any task,
    and it counts its inputs and names where an error row is. None for a URL."""
    if "://" in source:
        return None
    return open_source(Path(source), kind, **options)


def run_ray(
    archive: Archive,
    source: str,
    db_url: str,
    address: str | None = None,
    actors: int | None = None,  # None: the cluster's CPUs less one (reading needs some)
    rows_per_request: int | None = None,
    options: dict[str, Any] | None = None,  # the source class's: id_column, features, ...
    progress: bool | None = None,  # None: a bar only when stderr is a terminal
) -> Summary:
    """Score every input of ``source`` not yet scored into the database at ``db_url`` on a
    Ray cluster. The database is opened last: a run that cannot start leaves none behind."""
    if actors is not None and actors < 1:
        raise BatchError(f"--actors must be at least 1, got {actors}")
    options = options or {}
    plan = plan_for(archive, db_url, rows_per_request)
    opened = local_source(source, archive.kind, options)
    where = str(opened.path.resolve()) if opened is not None else source
    connect(address)
    try:
        if actors is None:
            actors = max(1, int(ray.cluster_resources().get("CPU", 1)) - 1)
        pipeline = dataset(source, plan, options, actors, dialect_of(db_url))
        store = Store(db_url)
        try:
            summary = Summary(
                uuid.uuid4().hex,
                archive.name,
                archive.version,
                ENGINE,
                opened.count() if opened is not None else 0,
            )
            store.start_run(
                run_id=summary.run_id,
                model=archive.name,
                version=archive.version,
                archive_sha256=archive.sha256,
                engine=ENGINE,
                source=where,
                total=summary.total,
            )
            _consume(pipeline, store, archive, summary, opened, progress)
            return summary
        finally:
            store.close()
    finally:
        ray.shutdown()


def dialect_of(db_url: str) -> str:
    try:
        return make_url(db_url).get_backend_name()
    except ArgumentError as exc:
        raise BatchError(f"not a database URL: {db_url!r} ({exc})") from None


def _consume(
    pipeline: Any,
    store: Store,
    archive: Archive,
    summary: Summary,
    opened: Source | None,
    progress: bool | None,
) -> None:
    started = time.perf_counter()
    bar = tqdm(
        total=summary.total or None,
        unit="input",
        disable=None if progress is None else not progress,
    )
    run = Run(store, archive, summary, bar, opened)
    with run.ending():
        with _errors():
            for row in _rows(pipeline):
                for _ in range(row[SKIPPED]):
                    run.skip()
                run.add(pickle.loads(row[OUTCOMES]))
        # Faults were already tried again alone on the actors: they are final.
        run.pending += run.faults
        run.faults = []
        run.flush()
        _check_unique(store, summary)
    summary.seconds = time.perf_counter() - started
    summary.total = max(summary.total, summary.skipped + summary.scored)
    store.write(summary.run_id, [], total=summary.total)
    store.finish_run(summary.run_id, "finished")


def _rows(pipeline: Any) -> Iterator[dict[str, Any]]:
    yield from pipeline.iter_rows()


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """A failed task or actor is one line: its own error, not Ray's traceback."""
    try:
        yield
    except BatchError:
        raise
    except ray.exceptions.RayError as exc:
        raise BatchError(f"the Ray job failed: {cause(exc)}") from None
    except Exception as exc:
        if type(exc).__module__.startswith("ray."):
            raise BatchError(f"the Ray job failed: {cause(exc)}") from None
        raise


def _check_unique(store: Store, summary: Summary) -> None:
    """Every input this run scored has its own row: fewer means two inputs shared an id
    (the local engine sees that while reading; here no process sees every id)."""
    written = store.count_run(summary.run_id)
    if written != summary.scored:
        raise BatchError(
            f"{summary.scored} inputs scored but {written} rows written: input ids must be "
            "unique (name a column of unique values with --id-column)"
        )
