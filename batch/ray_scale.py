"""Rows/s of the ray engine with 1 and 2 actors against the local engine, per model.

    python -m batch.ray_scale [--models cancer digits minilm] [--size 1]   # make batch-scale

Each model scores a source it writes (cancer: data-set rows, digits: rendered scans,
minilm: sentences) into a fresh SQLite database: once with the local engine in this
process, then with the ray engine on a two-node cluster on this machine
(batch.ray_cluster: a head and a worker of 2 CPUs each; actors spread one per node).

Two figures per run: ``run`` is the command's own summary (inputs / seconds from the start
of the run to the last commit; for the ray engine that includes starting the actors and
loading the model in each), and ``steady`` is inputs / seconds between the first and the
last commit (``scored_at``), the rate once every stage runs. The overhead is the ray
engine's steady rate at one actor against the local engine's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, func, select

from batch.archive import Archive, read_archive
from batch.local_engine import LocalEngine
from batch.ray_cluster import LocalCluster
from batch.runner import Summary, run_batch
from batch.sources import open_source
from batch.store import Store, predictions
from server.settings import MODEL_STORE

SIZES = {"cancer": 100_000, "digits": 2_000, "minilm": 2_000}  # inputs at --size 1
WORDS = [
    *("the", "a", "river", "quiet", "engine", "market", "storm", "garden", "signal"),
    *("paper", "light", "stone", "city", "music", "winter", "orbit", "coffee", "thread"),
    *("harbor", "lamp", "field", "copper", "voice", "window"),
]


def write_source(model: str, folder: Path, count: int) -> Path:
    """A source of ``count`` inputs the model reads, made from bundled data sets."""
    rng = np.random.default_rng(0)
    if model == "cancer":
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        rows = data.data[rng.integers(0, len(data.data), count)] * rng.uniform(
            0.95, 1.05, (count, 30)
        )
        path = folder / "rows.csv"
        header = ",".join(f'"{name}"' for name in data.feature_names)
        np.savetxt(path, rows.round(5), delimiter=",", header=header, comments="", fmt="%.5f")
        return path
    if model == "digits":
        from sklearn.datasets import load_digits

        from tests.images import render

        scans = load_digits().images
        images = folder / "digits"
        images.mkdir()
        for index in range(count):
            (images / f"{index:05d}.png").write_bytes(render(scans[index % len(scans)], 32))
        return images
    texts = [" ".join(rng.choice(WORDS, rng.integers(8, 25))) for _ in range(count)]
    path = folder / "texts.txt"
    path.write_text("".join(f"{text}.\n" for text in texts))
    return path


def steady_rate(url: str) -> float:
    """Inputs per second between the first and the last commit of the database's rows."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            scored_at = predictions.c.scored_at
            query = select(func.count(), func.min(scored_at), func.max(scored_at))
            count, first, last = connection.execute(query).one()
    finally:
        engine.dispose()
    seconds = (last - first).total_seconds()
    return count / seconds if seconds > 0 else 0.0


@dataclass
class Figure:
    model: str
    engine: str
    inputs: int
    run: float
    steady: float


def measure_local(archive: Archive, source: Path, url: str) -> Summary:
    engine = LocalEngine(archive)
    store = Store(url)
    try:
        return run_batch(engine, archive, open_source(source, archive.kind), store, progress=False)
    finally:
        store.close()
        engine.close()


def measure_ray(archive: Archive, source: Path, url: str, address: str, actors: int) -> Summary:
    from batch.ray_engine import run_ray

    return run_ray(archive, str(source), url, address, actors, progress=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m batch.ray_scale", description=__doc__)
    parser.add_argument("--models", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--size", type=float, default=1.0, help="scale the inputs (default 1)")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    work = Path(tempfile.mkdtemp(prefix="rs"))
    cluster = LocalCluster(work, head_cpus=2)
    try:
        cluster.start_head()
        cluster.add_worker(2)
        cluster.wait_for(2)
        os.environ.update(cluster.env)
        for model in args.models:
            archive = read_archive(MODEL_STORE / f"{model}.mar")
            folder = Path(tempfile.mkdtemp(prefix=model, dir=work))
            source = write_source(model, folder, int(SIZES[model] * args.size))
            runs = [("local", None), ("ray 1 actor", 1), ("ray 2 actors", 2)]
            for name, actors in runs:
                url = f"sqlite:///{folder / (name.replace(' ', '-') + '.db')}"
                if actors is None:
                    summary = measure_local(archive, source, url)
                else:
                    summary = measure_ray(archive, source, url, cluster.address, actors)
                figure = Figure(model, name, summary.scored, summary.rows_per_s, steady_rate(url))
                figures.append(figure)
                print(
                    f"{model:7} {name:13} {figure.inputs:>7,} inputs  run {figure.run:>8,.1f}/s"
                    f"  steady {figure.steady:>8,.1f}/s",
                    flush=True,
                )
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print()
    for model in args.models:
        local, one, two = (f for f in figures if f.model == model)
        print(
            f"{model}: ray at 1 actor is {one.steady / local.steady:.0%} of local (steady), "
            f"2 actors {two.steady / one.steady:.2f}x 1 actor"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
