"""The batch tables on SQLite and on a real PostgreSQL: provenance, upserts, a SIGKILLed run
resumed. The command runs as users run it (``python -m batch``, local engine, no server)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

import batch
from batch.archive import sha256_of
from batch.cli import main
from batch.store import predictions
from server.settings import MODEL_STORE, ROOT
from tests.batch_support import (
    BAD_ROW,
    BAD_ROW_ERROR,
    FEATURES,
    cancer_rows,
    fails_with,
    stored,
    write_csv,
)
from tests.postgres import fresh_database, running_postgres

CANCER = MODEL_STORE / "cancer.mar"


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    try:
        with running_postgres() as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if not CANCER.exists():
        pytest.fail(f"{CANCER} is missing: run `make archive`")
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'batch.db'}"
    return fresh_database(request.getfixturevalue("postgres_server"))


def batch_main(*args: str) -> int:
    return main(["cancer", *args])


def test_rows_carry_provenance_and_reruns_score_only_what_changed(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = cancer_rows(5)
    ids = ["a", "b", "c", "d", "bad"]
    source = write_csv(tmp_path / "rows.csv", [*rows[:4], BAD_ROW], ids)
    assert batch_main(str(source), "--db", database_url, "--id-column", "id") == 1, "1: error rows"
    found, ran = stored(database_url)
    (first,) = ran
    summary = capsys.readouterr().out
    assert summary.startswith(
        f"run {first['run_id']}: cancer 1.0, local engine: 5 inputs, 5 scored (1 errors), "
        "0 already scored; "
    ), summary
    # The row keeps the handler's message; the summary says where the row is in the file.
    assert summary.endswith("\n  error bad: line 6 (row 4): expected 30 features, got 29\n")
    unknown = ("started_at", "finished_at", "run_id")  # checked below
    assert {key: value for key, value in first.items() if key not in unknown} == {
        "model": "cancer",
        "version": "1.0",
        "archive_sha256": sha256_of(CANCER),
        "engine": "local",
        "source": str(source.resolve()),
        "status": "finished",
        "total": 5,
        "skipped": 0,
        "scored": 5,
        "errors": 1,
    }
    assert first["finished_at"] >= first["started_at"]
    row = found["a"]
    assert (
        row["input_sha256"]
        == hashlib.sha256(json.dumps(rows[0]).replace(" ", "").encode()).hexdigest()
    )
    provenance = ("model", "version", "run_id", "archive_sha256", "status", "error_code", "error")
    assert {key: row[key] for key in provenance} == {
        "model": "cancer",
        "version": "1.0",
        "run_id": first["run_id"],
        "archive_sha256": sha256_of(CANCER),
        "status": "ok",
        "error_code": None,
        "error": None,
    }
    assert set(row["prediction"]) == {"label", "probability", "probabilities"}
    assert row["latency_ms"] > 0
    assert first["started_at"] <= row["scored_at"] <= first["finished_at"]
    assert found["bad"]["status"] == "error" and found["bad"]["prediction"] is None
    assert (found["bad"]["error_code"], found["bad"]["error"]) == (400, BAD_ROW_ERROR)

    # Again: the four good rows are skipped, the bad one is tried again.
    assert batch_main(str(source), "--db", database_url, "--id-column", "id") == 1
    # Then with one row changed: that row is scored again, in place.
    write_csv(source, [*rows[:2], rows[4], rows[3], BAD_ROW], ids)
    assert batch_main(str(source), "--db", database_url, "--id-column", "id") == 1
    after, ran = stored(database_url)
    assert [(r["skipped"], r["scored"], r["errors"]) for r in ran] == [
        (0, 5, 1),
        (4, 1, 1),
        (3, 2, 1),
    ]
    assert sorted(after) == sorted(ids), "one row per input, however many runs"
    assert after["c"]["run_id"] == ran[2]["run_id"] != after["a"]["run_id"] == first["run_id"]
    assert after["c"]["input_sha256"] != found["c"]["input_sha256"]


def table_names(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_run_that_cannot_start_creates_no_database_and_no_tables(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "labelled.csv"
    source.write_text(",".join([*FEATURES, "target"]) + "\n" + ",".join(["1"] * 31) + "\n")
    assert 'not features: "target"' in fails_with(
        capsys, "cancer", str(source), "--db", database_url
    )
    if database_url.startswith("sqlite"):
        assert not (tmp_path / "batch.db").exists()
    else:
        assert table_names(database_url) == []


def test_read_predictions_and_export_give_the_stored_rows_with_predictions_spread(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = ["a", "b", "c", "bad"]
    source = write_csv(tmp_path / "rows.csv", [*cancer_rows(3), BAD_ROW], ids)
    assert batch_main(str(source), "--db", database_url, "--id-column", "id") == 1
    capsys.readouterr()
    found, (ran,) = stored(database_url)
    frame = batch.read_predictions(database_url, "cancer")
    assert list(frame.columns) == [
        "input_id",
        "label",
        "probabilities.benign",
        "probabilities.malignant",
        "probability",
        "status",
        "error_code",
        "error",
        "model",
        "version",
        "run_id",
        "archive_sha256",
        "input_sha256",
        "latency_ms",
        "scored_at",
    ]
    assert frame["input_id"].tolist() == ["a", "b", "c", "bad"], "shorter ids first"
    provenance = ("run_id", "archive_sha256", "input_sha256", "latency_ms", "status")
    for row in frame[frame["status"] == "ok"].to_dict("records"):
        expected = found[row["input_id"]]
        prediction = expected["prediction"]
        assert (row["label"], row["probability"]) == (
            prediction["label"],
            prediction["probability"],
        )
        for label in ("malignant", "benign"):
            assert row[f"probabilities.{label}"] == prediction["probabilities"][label]
        assert {key: row[key] for key in provenance} == {key: expected[key] for key in provenance}
        assert row["scored_at"].tzname() == "UTC"
        assert row["scored_at"].timestamp() == pytest.approx(
            expected["scored_at"].replace(tzinfo=row["scored_at"].tzinfo).timestamp()
        )
    bad = frame.set_index("input_id").loc["bad"]
    assert (bad["status"], bad["error_code"], bad["error"]) == ("error", 400, BAD_ROW_ERROR)
    assert pd.isna(bad["label"])
    assert batch.read_predictions(database_url, "cancer", "1.0", status="error")[
        "input_id"
    ].tolist() == ["bad"]
    assert batch.read_predictions(database_url, "cancer", "2.0").empty
    assert len(batch.read_predictions(database_url, "cancer", run_id=ran["run_id"])) == 4

    for name in ("rows.parquet", "rows.csv"):
        target = tmp_path / "out" / name
        target.parent.mkdir(exist_ok=True)
        assert main(["export", "cancer", "--to", str(target), "--db", database_url]) == 0
        assert capsys.readouterr().out == f"4 rows of cancer written to {target}\n"
        read = pd.read_parquet(target) if name.endswith(".parquet") else pd.read_csv(target)
        assert list(read.columns) == list(frame.columns)
        assert read["input_id"].tolist() == frame["input_id"].tolist()
        assert read["probability"].tolist()[:3] == frame["probability"].tolist()[:3]
        assert read["error"].tolist()[3] == BAD_ROW_ERROR


def count_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(predictions)).scalar_one()
            )
    except SQLAlchemyError:
        return 0  # the command has not created the table yet
    finally:
        engine.dispose()


def test_a_run_killed_half_way_resumes_and_scores_every_input_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    total = 30_000
    source = write_csv(tmp_path / "rows.csv", cancer_rows(total))
    # One row per request: thousands of small calls, so the run lasts a few seconds.
    command = [
        sys.executable,
        "-m",
        "batch",
        "cancer",
        str(source),
        "--db",
        database_url,
        "--rows-per-request",
        "1",
    ]
    # The killed run cannot delete its unpacked archive: keep it in the test's folder.
    env = dict(os.environ, TMPDIR=str(tmp_path))
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while count_rows(database_url) == 0:
            assert process.poll() is None, f"the run ended early: {process.stderr.read()!r}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no row committed within 120 s"
            time.sleep(0.02)  # polling interval
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    committed = count_rows(database_url)
    assert 0 < committed < total, f"killed half-way: {committed} of {total} rows"
    _, (killed,) = stored(database_url)
    assert (killed["status"], killed["finished_at"], killed["scored"]) == (
        "running",
        None,
        committed,
    )

    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    found, (first, second) = stored(database_url)
    assert sorted(found, key=int) == [str(n) for n in range(total)], "every input, once"
    assert all(row["status"] == "ok" for row in found.values())
    assert (second["status"], second["skipped"], second["scored"], second["errors"]) == (
        "finished",
        committed,
        total - committed,
        0,
    )
    by_run = {first["run_id"]: 0, second["run_id"]: 0}
    for row in found.values():
        by_run[row["run_id"]] += 1
    assert by_run == {first["run_id"]: committed, second["run_id"]: total - committed}


def test_a_database_lost_mid_run_stops_it_with_one_line(
    postgres_server: str, tmp_path: Path
) -> None:
    url = fresh_database(postgres_server)
    source = write_csv(tmp_path / "rows.csv", cancer_rows(30_000))
    command = [
        sys.executable,
        "-m",
        "batch",
        "cancer",
        str(source),
        "--db",
        url,
        "--rows-per-request",
        "1",
    ]
    env = dict(os.environ, TMPDIR=str(tmp_path))  # as above: a killed run's unpacked archive
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while count_rows(url) == 0:
            assert process.poll() is None, f"the run ended early: {process.communicate()}"
            assert time.monotonic() < deadline, "no row committed within 120 s"
            time.sleep(0.02)  # polling interval
        # The database disappears under the run: its connection is cut, reconnecting fails.
        name = url.rsplit("/", 1)[1]
        admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        finally:
            admin.dispose()
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 2, err
    assert out == "", "no summary for a run that could not finish"
    assert err.count("\n") == 1, f"one line, no traceback: {err!r}"
    assert err.startswith(f"batch: error: database {url}: "), err
