"""How a prediction is spread into columns (batch.results), without a database."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest

from batch.errors import BatchError
from batch.results import Layout, Selection, leaves

ROW = {
    "status": "ok",
    "error_code": None,
    "error": None,
    "model": "m",
    "version": "1.0",
    "run_id": "r",
    "archive_sha256": "a",
    "input_sha256": "i",
    "latency_ms": 1.5,
    "scored_at": None,
}


def test_leaves_are_every_key_path_sorted_and_a_list_is_one_leaf() -> None:
    prediction = {
        "probability": 0.9,
        "label": "x",
        "top_k": [{"label": "x"}],
        "p": {"b": 1, "a": 2},
    }
    assert leaves(prediction) == [("label",), ("p", "a"), ("p", "b"), ("probability",), ("top_k",)]
    assert leaves([1.0, 2.0]) == [()], "a prediction that is not an object is one column"


def test_columns_that_clash_with_the_rows_own_get_a_prefix_and_numbers_are_floats() -> None:
    layout = Layout({"status": "fine", "score": 1, "flag": True})
    names = layout.schema.names
    assert names[:4] == ["input_id", "flag", "score", "prediction.status"]
    assert layout.schema.field("score").type == pa.float64(), "JSON may write 1.0 as 1"
    rows = [
        SimpleNamespace(
            input_id="0", prediction={"status": "fine", "score": 2, "flag": False}, **ROW
        ),
        SimpleNamespace(input_id="1", prediction=None, **ROW | {"status": "error"}),
    ]
    table = layout.table(rows)
    assert table.column("score").to_pylist() == [2.0, None]
    assert table.column("prediction.status").to_pylist() == ["fine", None]
    assert table.column("status").to_pylist() == ["ok", "error"]


def test_nested_cells_are_json_text_for_csv() -> None:
    layout = Layout({"top_k": [{"label": "7", "probability": 1.0}]}, nested_as_json=True)
    row = SimpleNamespace(
        input_id="0", prediction={"top_k": [{"label": "7", "probability": 1}]}, **ROW
    )
    assert layout.table([row]).column("top_k").to_pylist() == ['[{"label": "7", "probability": 1}]']


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(BatchError, match="status is one of ok, error, not 'failed'"):
        Selection("cancer", status="failed").query()
