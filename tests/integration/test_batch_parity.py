"""Online predictions, the server engine and the local engine agree on every model.

For each model the same source (good inputs and bad ones) is scored by both engines into
their own database, and every input is also sent online on its own. Predictions agree up
to ``ROUNDING`` (rows batched differently move float sums by ~1e-7); error rows agree
exactly, with the code and message the server gives for that input alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from batch.archive import read_archive
from batch.calls import Engine
from batch.local_engine import LocalEngine
from batch.packing import PACKERS
from batch.runner import run_batch
from batch.server_engine import ServerEngine
from batch.sources import Item, open_source
from batch.store import Store
from contracts.metadata import Kind
from server.launcher import TorchServe
from server.settings import MODEL_STORE
from tests.batch_support import (
    BAD_ROW,
    NOT_AN_IMAGE,
    ROUNDING,
    TEXTS,
    TRUNCATED_IMAGE,
    assert_close,
    cancer_rows,
    stored,
    write_csv,
    write_digits,
    write_texts,
)
from tests.integration.conftest import Api


def cancer_source(folder: Path) -> Path:
    rows = cancer_rows(60)
    rows[17] = BAD_ROW
    return write_csv(folder / "rows.csv", rows)


def digits_source(folder: Path) -> Path:
    images = write_digits(folder / "digits", 40)
    (images / "notes.txt").write_bytes(NOT_AN_IMAGE)
    (images / "broken.png").write_bytes(TRUNCATED_IMAGE)
    return images


def minilm_source(folder: Path) -> Path:
    return write_texts(folder / "texts.txt", [*TEXTS, "   ", "x" * 20_001, *TEXTS[::-1]])


SOURCES: dict[str, Callable[[Path], Path]] = {
    "cancer": cancer_source,
    "digits": digits_source,
    "minilm": minilm_source,
}


def online(api: Api, kind: str, item: Item) -> tuple[int, Any]:
    """What a client gets for this one input: the status, and the prediction or error."""
    if kind == "image":
        response = api.predict("digits", data=item.value, headers={"Content-Type": "image/png"})
    elif kind == "text":  # as text/plain: the plainest online request there is
        response = api.predict(
            "minilm", data=item.value.encode(), headers={"Content-Type": "text/plain"}
        )
    else:
        response = api.predict_json("cancer", {"inputs": item.value})
    body = response.json()
    if response.status_code != 200:
        return response.status_code, body["message"]
    if kind == "text":
        return 200, {"embedding": body["embeddings"][0], "truncated": body["truncated"][0]}
    return 200, body["predictions"][0] if kind == "vector" else body


def online_as_batch_sends_it(api: Api, kind: Kind, item: Item) -> tuple[int, str]:
    """A bad input's error, sent alone the way the batch command packs it."""
    request = PACKERS[kind]().pack([item])
    response = api.predict(
        {"vector": "cancer", "text": "minilm", "image": "digits"}[kind],
        data=request.body,
        headers={"Content-Type": request.content_type},
    )
    return response.status_code, response.json()["message"]


def score(engine: Engine, model: str, source: Path, url: str) -> dict[str, dict[str, Any]]:
    archive = read_archive(MODEL_STORE / f"{model}.mar")
    store = Store(url)
    try:
        run_batch(engine, archive, open_source(source, archive.kind), store)
    finally:
        store.close()
        engine.close()
    return stored(url)[0]


@pytest.mark.parametrize("model", ["cancer", "digits", "minilm"])
def test_online_server_engine_and_local_engine_agree(
    model: str, server: TorchServe, api: Api, tmp_path: Path
) -> None:
    archive = read_archive(MODEL_STORE / f"{model}.mar")
    source = SOURCES[model](tmp_path)
    token = server.api_key()
    # Few, short retries keep a server fault quick to report (retries: test_batch_server_engine).
    engine = ServerEngine(server.inference_url, archive, token, retries=2, backoff=0.05)
    by_server = score(engine, model, source, f"sqlite:///{tmp_path / 's.db'}")
    by_local = score(LocalEngine(archive), model, source, f"sqlite:///{tmp_path / 'l.db'}")
    items = list(open_source(source, archive.kind))
    assert sorted(by_server) == sorted(by_local) == sorted(item.id for item in items)
    errors = 0
    for item in items:
        status, expected = online(api, archive.kind, item)
        server_row, local_row = by_server[item.id], by_local[item.id]
        if status == 200:
            assert_close(server_row["prediction"], expected, ROUNDING, f"{item.id} server")
            assert_close(local_row["prediction"], expected, ROUNDING, f"{item.id} local")
        else:
            errors += 1
            alone = online_as_batch_sends_it(api, archive.kind, item)
            assert (server_row["error_code"], server_row["error"]) == alone, item.id
            assert (local_row["error_code"], local_row["error"]) == alone, item.id
    assert errors == {"cancer": 1, "digits": 2, "minilm": 2}[model]
