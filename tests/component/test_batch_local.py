"""The local engine: each archive's own handler run in-process, bad inputs isolated."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import handlers.errors
from batch.archive import read_archive
from batch.calls import Reply, Request
from batch.local_engine import LocalEngine
from batch.runner import Summary, run_batch
from batch.sources import open_source
from batch.store import Store
from server.settings import MODEL_STORE
from tests.batch_support import (
    BAD_ROW,
    BAD_ROW_ERROR,
    NOT_AN_IMAGE,
    NOT_AN_IMAGE_ERROR,
    ROUNDING,
    TEXTS,
    TRUNCATED_IMAGE,
    TRUNCATED_IMAGE_ERROR,
    assert_close,
    cancer_rows,
    stored,
    write_csv,
    write_digits,
    write_texts,
)

LoadEngine = Callable[[str], LocalEngine]


@pytest.fixture(scope="module")
def local_engine() -> Iterator[LoadEngine]:
    """Each model's engine, loaded once for the module when first asked for."""
    loaded: dict[str, LocalEngine] = {}

    def load(model: str) -> LocalEngine:
        path = MODEL_STORE / f"{model}.mar"
        if not path.exists():
            pytest.fail(f"{path} is missing: run `make archive`")
        if model not in loaded:
            loaded[model] = LocalEngine(read_archive(path))
        return loaded[model]

    yield load
    for engine in loaded.values():
        engine.close()


class Counting:
    """An engine that counts the requests it passes on."""

    def __init__(self, engine: LocalEngine) -> None:
        self.engine = engine
        self.name, self.concurrency = engine.name, engine.concurrency
        self.inputs_per_call = engine.inputs_per_call
        self.requests = 0

    def call(self, requests: Sequence[Request]) -> list[Reply]:
        self.requests += len(requests)
        return self.engine.call(requests)

    def close(self) -> None:
        pass


def score_into_sqlite(
    engine: LocalEngine | Counting,
    model: str,
    source: Path,
    tmp_path: Path,
    rows_per_request: int | None = None,
) -> tuple[Summary, str]:
    url = f"sqlite:///{tmp_path / 'batch.db'}"
    archive = read_archive(MODEL_STORE / f"{model}.mar")
    store = Store(url)
    try:
        return run_batch(
            engine, archive, open_source(source, archive.kind), store, rows_per_request
        ), url
    finally:
        store.close()


def test_archives_load_beside_the_repository_handlers(local_engine: LoadEngine) -> None:
    path_before = list(sys.path)
    for model in ("cancer", "digits", "minilm"):
        local_engine(model)
    assert sys.modules["handlers.errors"] is handlers.errors, "the repo's package is back"
    assert sys.path == path_before
    archive_errors = type(local_engine("cancer").handler).__mro__[1].__module__
    assert archive_errors == "handlers.batched_handler"


def test_cancer_bad_rows_fail_alone_and_cost_few_requests(
    local_engine: LoadEngine, tmp_path: Path
) -> None:
    rows = cancer_rows(200)
    rows[37], rows[150] = BAD_ROW, [*rows[150][:5], "x", *rows[150][6:]]  # type: ignore[list-item]
    engine = Counting(local_engine("cancer"))
    summary, url = score_into_sqlite(
        engine, "cancer", write_csv(tmp_path / "r.csv", rows), tmp_path
    )
    assert (summary.total, summary.scored, summary.errors) == (200, 200, 2)
    assert engine.requests <= 1 + 2 * 2 * math.ceil(math.log2(200)), engine.requests
    found, _ = stored(url)
    errors = {key: (row["error_code"], row["error"]) for key, row in found.items() if row["error"]}
    assert errors == {
        "37": (400, BAD_ROW_ERROR),
        "150": (400, "row 0, feature 5: expected a number, got str"),
    }
    clean_rows = [row for index, row in enumerate(rows) if index not in (37, 150)]
    request = Request(json.dumps({"inputs": clean_rows}).encode(), "application/json")
    clean = local_engine("cancer").call([request])[0].body["predictions"]
    batch = [found[str(i)]["prediction"] for i in range(200) if i not in (37, 150)]
    assert_close(batch, clean, ROUNDING)


def test_digits_bad_files_fail_alone(local_engine: LoadEngine, tmp_path: Path) -> None:
    folder = write_digits(tmp_path / "digits", 12)
    (folder / "notes.txt").write_bytes(NOT_AN_IMAGE)
    (folder / "broken.png").write_bytes(TRUNCATED_IMAGE)
    summary, url = score_into_sqlite(local_engine("digits"), "digits", folder, tmp_path)
    assert (summary.scored, summary.errors) == (14, 2)
    found, _ = stored(url)
    errors = {key: (row["error_code"], row["error"]) for key, row in found.items() if row["error"]}
    assert errors == {
        "notes.txt": (400, NOT_AN_IMAGE_ERROR),
        "broken.png": (400, TRUNCATED_IMAGE_ERROR),
    }
    assert found["broken.png"]["prediction"] is None
    predicted = {key: row["prediction"]["label"] for key, row in found.items() if row["prediction"]}
    assert predicted == {name: name[5] for name in predicted}, "each digit read as drawn"


def test_minilm_texts_match_the_readme(local_engine: LoadEngine, tmp_path: Path) -> None:
    source = write_texts(tmp_path / "texts.txt", TEXTS)
    summary, url = score_into_sqlite(
        local_engine("minilm"), "minilm", source, tmp_path, rows_per_request=4
    )
    assert (summary.scored, summary.errors) == (len(TEXTS), 0)
    found, _ = stored(url)
    first, second = found["1"]["prediction"], found["2"]["prediction"]
    assert first["truncated"] is False and len(first["embedding"]) == 384
    # The README's single-text answer; batched with padding, values move by ~1e-7.
    assert_close(first["embedding"][:3], [0.0332416, 0.004406, -0.006277], ROUNDING)
    cosine = sum(a * b for a, b in zip(first["embedding"], second["embedding"], strict=True))
    assert round(cosine, 4) == 0.2474


class InterruptedAfter(Counting):
    """An engine that a Ctrl-C stops after ``calls`` calls."""

    def __init__(self, engine: LocalEngine, calls: int) -> None:
        super().__init__(engine)
        self.calls = calls

    def call(self, requests: Sequence[Request]) -> list[Reply]:
        if self.calls == 0:
            raise KeyboardInterrupt
        self.calls -= 1
        return super().call(requests)


def test_an_interrupted_run_keeps_what_it_scored_and_the_rerun_scores_the_rest(
    local_engine: LoadEngine, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "r.csv", cancer_rows(200))
    engine = InterruptedAfter(local_engine("cancer"), calls=3)
    engine.inputs_per_call = 20  # 10 calls of 2 requests of 10 rows
    with pytest.raises(KeyboardInterrupt):
        score_into_sqlite(engine, "cancer", source, tmp_path, rows_per_request=10)
    kept, (interrupted,) = stored(f"sqlite:///{tmp_path / 'batch.db'}")
    assert interrupted["status"] == "interrupted"
    assert 0 < len(kept) == interrupted["scored"] < 200, interrupted

    summary, url = score_into_sqlite(local_engine("cancer"), "cancer", source, tmp_path)
    found, (_, finished) = stored(url)
    assert finished["status"] == "finished"
    assert (summary.skipped, summary.scored) == (len(kept), 200 - len(kept))
    assert sorted(found, key=int) == [str(i) for i in range(200)]
