"""What a user reads after a run: the summary's errors located in the source, and the rows
exported to Parquet and CSV (local engine, SQLite; PostgreSQL: test_batch_database.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import batch
from batch.cli import main
from server.settings import MODEL_STORE
from tests.batch_support import (
    FEATURES,
    NOT_AN_IMAGE,
    NOT_AN_IMAGE_ERROR,
    cancer_rows,
    fails_with,
    stored,
    write_csv,
    write_digits,
)


@pytest.fixture(autouse=True)
def archives() -> None:
    missing = [name for name in ("cancer", "digits") if not (MODEL_STORE / f"{name}.mar").exists()]
    if missing:
        pytest.fail(f"archives {missing} missing from {MODEL_STORE}: run `make archive`")


def test_the_summary_names_line_row_and_column_and_counts_the_errors_not_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows: list[list[Any]] = [list(row) for row in cancer_rows(40)]
    bad = {3: 0, 11: 4, 20: 29, 31: 7, 35: 12}  # row -> the feature spelled as a word
    for row, feature in bad.items():
        rows[row][feature] = "n/a"
    db = f"sqlite:///{tmp_path / 'b.db'}"
    source = write_csv(tmp_path / "rows.csv", rows)
    assert main(["cancer", str(source), "--db", db]) == 1
    lines = capsys.readouterr().out.splitlines()
    expected = {
        f'  error {row}: line {row + 2} (row {row}), column "{FEATURES[feature]}": '
        "expected a number, got str"
        for row, feature in bad.items()
    }
    assert len(lines) == 5 and set(lines[1:4]) <= expected, lines
    assert lines[4] == (
        "  and 2 more errors (all of them: "
        "python -m batch export cancer --status error --to errors.csv)"
    )
    found, _ = stored(db)
    assert found["3"]["error"] == "row 0, feature 0: expected a number, got str", (
        "the row keeps the handler's message, the same as online"
    )
    errors = tmp_path / "errors.csv"
    assert main(["export", "cancer", "--status", "error", "--to", str(errors), "--db", db]) == 0
    assert pd.read_csv(errors)["input_id"].tolist() == sorted(bad)


def test_digits_rows_export_with_top_k_typed_in_parquet_and_as_json_in_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_digits(tmp_path / "digits", 12)
    (folder / "notes.txt").write_bytes(NOT_AN_IMAGE)
    db = f"sqlite:///{tmp_path / 'b.db'}"
    assert main(["digits", str(folder), "--db", db]) == 1
    capsys.readouterr()
    found, _ = stored(db)
    parquet, csv = tmp_path / "digits.parquet", tmp_path / "digits.csv"
    for target in (parquet, csv):
        assert main(["export", "digits", "--to", str(target), "--db", db]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"13 rows of digits written to {parquet}",
        f"13 rows of digits written to {csv}",
    ]
    top_k = pq.read_schema(parquet).field("top_k").type
    assert pa.types.is_list(top_k)
    assert top_k.value_type == pa.struct([("label", pa.string()), ("probability", pa.float64())])
    typed = pd.read_parquet(parquet).set_index("input_id")
    text = pd.read_csv(csv, dtype={"label": str}).set_index("input_id")
    assert sorted(typed.index) == sorted(text.index) == sorted(found)
    for input_id, row in found.items():
        if row["status"] == "error":
            assert (
                text.loc[input_id, "error"] == typed.loc[input_id, "error"] == (NOT_AN_IMAGE_ERROR)
            )
            assert pd.isna(text.loc[input_id, "top_k"])
            continue
        prediction = row["prediction"]
        assert typed.loc[input_id, "label"] == text.loc[input_id, "label"] == prediction["label"]
        assert list(typed.loc[input_id, "top_k"]) == prediction["top_k"]
        assert json.loads(text.loc[input_id, "top_k"]) == prediction["top_k"]
    frame = batch.read_predictions(db, "digits")
    assert frame["input_id"].tolist() == typed.index.tolist(), "the same rows, in the same order"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--to", "out.xlsx"], "out.xlsx: give a .parquet or .csv file to export to"),
        (["--to", "nowhere/out.csv"], "nowhere/out.csv: no folder nowhere"),
    ],
)
def test_an_export_that_cannot_be_written_says_why(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'b.db'}"
    source = write_csv(tmp_path / "rows.csv", cancer_rows(2))
    assert main(["cancer", str(source), "--db", db]) == 0
    capsys.readouterr()
    assert fails_with(capsys, "export", "cancer", "--db", db, *argv) == message
    assert sorted(path.name for path in tmp_path.iterdir()) == ["b.db", "rows.csv"]


def test_exporting_from_a_database_that_is_not_there_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "missing.db"
    target = tmp_path / "out.parquet"
    error = fails_with(capsys, "export", "cancer", "--to", str(target), "--db", f"sqlite:///{db}")
    assert error == f"no database file {db} (from sqlite:///{db})"
    assert list(tmp_path.iterdir()) == [], "neither the database nor a half-written file"
