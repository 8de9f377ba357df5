"""The ray engine's resume check asks the table about one part of a source at a time
(``Store.scored_among``), and its uniqueness check counts a run's rows (``count_run``):
on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch.store import IDS_PER_QUERY, Store, now
from tests.postgres import fresh_database, running_postgres


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    with running_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'batch.db'}"
    else:
        url = fresh_database(request.getfixturevalue("postgres_server"))
    opened = Store(url)
    yield opened
    opened.close()


def row(input_id: str, run_id: str, status: str = "ok", version: str = "1.0") -> dict[str, Any]:
    return {
        "model": "cancer",
        "version": version,
        "input_id": input_id,
        "run_id": run_id,
        "archive_sha256": "a" * 64,
        "input_sha256": f"sha-{input_id}",
        "status": status,
        "prediction": {"label": "benign"} if status == "ok" else None,
        "error_code": None if status == "ok" else 400,
        "error": None if status == "ok" else "bad row",
        "latency_ms": 1.0,
        "scored_at": now(),
    }


def start(store: Store, run_id: str) -> None:
    store.start_run(
        run_id=run_id,
        model="cancer",
        version="1.0",
        archive_sha256="a" * 64,
        engine="ray",
        source="rows.csv",
        total=0,
    )


def test_scored_among_answers_only_for_the_ids_asked_with_an_ok_row(store: Store) -> None:
    start(store, "r1")
    count = IDS_PER_QUERY * 2 + 7  # more ids than one query takes
    rows = [row(str(i), "r1") for i in range(count)]
    rows += [row("bad", "r1", status="error"), row("other-version", "r1", version="2.0")]
    store.write("r1", rows, scored=len(rows))
    asked = [str(i) for i in range(0, count + 50, 3)] + ["bad", "other-version", "never"]
    found = store.scored_among("cancer", "1.0", asked)
    expected = {str(i) for i in range(0, count, 3)}
    assert set(found) == expected
    assert found["3"] == ("sha-3", "a" * 64)
    assert store.scored_among("cancer", "1.0", []) == {}


def test_count_run_counts_the_rows_a_run_still_holds(store: Store) -> None:
    start(store, "r1")
    start(store, "r2")
    store.write("r1", [row("a", "r1"), row("b", "r1")], scored=2)
    store.write("r2", [row("b", "r2")], scored=1)  # b scored again: its row is r2's now
    assert (store.count_run("r1"), store.count_run("r2"), store.count_run("r3")) == (1, 1, 0)
