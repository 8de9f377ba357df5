"""The ray engine on a real multi-node Ray cluster on this machine.

A head and a worker node run as their own ``ray start`` process trees on loopback
(batch.ray_cluster); each run is the command as users run it (``python -m batch ...
--engine ray --address``), a driver of its own. Its rows match the local engine's and the
online answers (tests/integration/test_batch_parity.py's sources and checks). Then the
worker node is SIGKILLed mid-run: whether Ray carries the run through or it stops, the
rerun leaves every input scored exactly once, with the local engine's predictions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch.archive import read_archive
from batch.local_engine import LocalEngine
from batch.ray_cluster import LocalCluster
from batch.sources import open_source
from server.settings import MODEL_STORE
from tests.batch_support import ROUNDING, assert_close, cancer_rows, stored, write_csv
from tests.component.test_batch_database import count_rows
from tests.integration.conftest import Api
from tests.integration.test_batch_parity import SOURCES, online, online_as_batch_sends_it, score
from tests.postgres import fresh_database, running_postgres

RUN_TIMEOUT = 300  # seconds for one batch run on 2 busy cores (actors load the model)
KILLED_RUN_INPUTS = 12_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # Not under pytest's tmp folder: Ray's socket paths below it must stay short.
    folder = Path(tempfile.mkdtemp(prefix="rt"))
    instance = LocalCluster(folder, head_cpus=2)
    try:
        instance.start_head()
        instance.add_worker(1)
        instance.wait_for(2)
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(folder, ignore_errors=True)


def batch_command(cluster: LocalCluster, *args: str) -> list[str]:
    return [sys.executable, "-m", "batch", *args, "--engine", "ray", "--address", cluster.address]


def run_batch_command(cluster: LocalCluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        batch_command(cluster, *args),
        env=os.environ | cluster.env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def same_rows(ray_rows: dict[str, dict[str, Any]], local_rows: dict[str, dict[str, Any]]) -> None:
    """The same inputs, provenance and outcomes; predictions within ROUNDING."""
    assert sorted(ray_rows) == sorted(local_rows)
    exact = ("status", "error_code", "error", "input_sha256", "archive_sha256", "version")
    for input_id, local in local_rows.items():
        row = ray_rows[input_id]
        assert {k: row[k] for k in exact} == {k: local[k] for k in exact}, input_id
        if local["status"] == "ok":
            assert_close(row["prediction"], local["prediction"], ROUNDING, input_id)


@pytest.mark.parametrize("model", ["cancer", "digits", "minilm"])
def test_a_run_on_the_cluster_agrees_with_the_local_engine_and_online(
    model: str, cluster: LocalCluster, api: Api, tmp_path: Path
) -> None:
    archive = read_archive(MODEL_STORE / f"{model}.mar")
    source = SOURCES[model](tmp_path)
    # SQLite: the resume check runs beside the driver, which alone writes.
    url = f"sqlite:///{tmp_path / 'ray.db'}"
    result = run_batch_command(cluster, model, str(source), "--db", url, "--actors", "2")
    assert result.returncode == 1, result.stderr[-3000:]  # 1: some inputs are error rows
    by_ray, runs = stored(url)
    (run,) = runs
    assert (run["engine"], run["status"]) == ("ray", "finished")
    assert run["scored"] == run["total"] == len(by_ray)
    by_local = score(LocalEngine(archive), model, source, f"sqlite:///{tmp_path / 'l.db'}")
    same_rows(by_ray, by_local)
    for item in open_source(source, archive.kind):
        status, expected = online(api, archive.kind, item)
        row = by_ray[item.id]
        if status == 200:
            assert_close(row["prediction"], expected, ROUNDING, item.id)
        else:
            alone = online_as_batch_sends_it(api, archive.kind, item)
            assert (row["error_code"], row["error"]) == alone, item.id


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    with running_postgres() as url:
        yield url


def test_a_worker_node_killed_mid_run_then_a_rerun_scores_every_input_exactly_once(
    cluster: LocalCluster, postgres_server: str, tmp_path: Path
) -> None:
    url = fresh_database(postgres_server)
    source = write_csv(tmp_path / "rows.csv", cancer_rows(KILLED_RUN_INPUTS))
    # One row per request: many small calls, so the run lasts past the kill.
    args = ("cancer", str(source), "--db", url, "--actors", "2", "--rows-per-request", "1")
    process = subprocess.Popen(
        batch_command(cluster, *args),
        env=os.environ | cluster.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while count_rows(url) == 0:
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no row committed in time"
            time.sleep(0.2)  # polling the database's real state
        worker = cluster.nodes[-1]
        worker.kill()
        at_kill = count_rows(url)
        _, stderr = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # The rerun on the head alone (this test is the module's last: the cluster stops after).
    assert at_kill < KILLED_RUN_INPUTS, "the node was killed after the run had finished"
    # Ray retries the lost work (0), or the run stops with one line and resumes (2).
    assert process.returncode in (0, 2), stderr[-3000:]
    print(f"killed at {at_kill} rows; the run exited {process.returncode}")
    again = run_batch_command(cluster, *args)
    assert again.returncode == 0, again.stderr[-3000:]

    rows, runs = stored(url)
    first, second = runs
    assert len(rows) == KILLED_RUN_INPUTS
    # Exactly once: what the first run committed, the rerun skipped; it scored the rest.
    assert first["scored"] + second["scored"] == KILLED_RUN_INPUTS, runs
    assert second["skipped"] == first["scored"], runs
    assert sum(row["run_id"] == first["run_id"] for row in rows.values()) == first["scored"]
    archive = read_archive(MODEL_STORE / "cancer.mar")
    by_local = score(LocalEngine(archive), "cancer", source, f"sqlite:///{tmp_path / 'l.db'}")
    same_rows(rows, by_local)
