"""Batch tests' helpers: sources written from bundled data sets, the rows a run stored, and
the command's one-line failures."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits
from sqlalchemy import create_engine, select

from batch.cli import main
from batch.store import predictions, runs
from tests.images import render

TEXTS = [
    "A man is eating food.",
    "A man is riding a horse.",
    "The striker scored twice in the final minutes.",
    "Stir the onions until golden, then add the garlic.",
    "The telescope resolved the two moons of the planet.",
    "Interest rates rose for the third time this year.",
]
BAD_ROW = [1.0] * 29  # one feature short: the handler refuses it
BAD_ROW_ERROR = "row 0: expected 30 features, got 29"
NOT_AN_IMAGE = b"not an image"
NOT_AN_IMAGE_ERROR = "image could not be decoded as PNG or JPEG"
# A PNG signature, then garbage: PIL raises a bare OSError while opening it; the handler
# answers it alone with a 400 (it once failed the whole batch with a 503).
TRUNCATED_IMAGE = b"\x89PNG\r\n\x1a\n-truncated"
TRUNCATED_IMAGE_ERROR = "image could not be decoded as PNG or JPEG: Truncated File Read"
ROUNDING = 1.5e-6  # one unit of the 6th decimal the handlers round to, and float slack


def cancer_rows(count: int, seed: int = 0) -> list[list[float]]:
    """``count`` rows like the data set's (its rows, scaled by up to 5%), rounded as CSV
    keeps them."""
    data = load_breast_cancer().data
    rng = np.random.default_rng(seed)
    rows = data[rng.integers(0, len(data), count)] * rng.uniform(0.95, 1.05, (count, 30))
    return rows.round(5).tolist()


FEATURES = [str(name) for name in load_breast_cancer().feature_names]  # the cancer model's


def write_csv(path: Path, rows: list[list[float]], ids: list[str] | None = None) -> Path:
    """A CSV with a header naming the cancer model's features; with ``ids``, an ``id``
    column first."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        header = FEATURES
        writer.writerow(["id", *header] if ids else header)
        for index, row in enumerate(rows):
            writer.writerow([ids[index], *row] if ids else row)
    return path


def write_digits(folder: Path, count: int) -> Path:
    """``count`` PNGs of held-out-style digit scans, named by index and true label."""
    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        scan, label = digits.images[index], digits.target[index]
        (folder / f"{index:04d}-{label}.png").write_bytes(render(scan, 32))
    return folder


def write_texts(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(f"{text}\n" for text in texts), encoding="utf-8")
    return path


def stored(url: str) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The prediction rows by input id, and the runs in start order, of the database."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = [dict(row._mapping) for row in connection.execute(select(predictions))]
            ran = connection.execute(select(runs).order_by(runs.c.started_at))
            return {row["input_id"]: row for row in rows}, [dict(r._mapping) for r in ran]
    finally:
        engine.dispose()


def assert_close(actual: Any, expected: Any, tolerance: float, where: str = "") -> None:
    """Same structure, same strings, labels and flags; numbers within ``tolerance``.

    Rows scored in different batches differ in float sums by about 1e-7, which can move a
    value rounded to 6 decimals by one unit: that is the tolerance "equal" allows.
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            assert_close(actual[key], expected[key], tolerance, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_close(a, e, tolerance, f"{where}[{index}]")
    elif isinstance(expected, float) and not isinstance(actual, bool):
        assert isinstance(actual, (int, float)), f"{where}: {actual!r} is not a number"
        assert abs(actual - expected) <= tolerance, f"{where}: {actual} != {expected}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def fails_with(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the command, check it failed cleanly, and return its one line of error."""
    assert main(list(argv)) == 2
    out, err = capsys.readouterr()
    assert out == "", "nothing but the error is printed"
    assert err.count("\n") == 1 and err.startswith("batch: error: "), err
    return err.removeprefix("batch: error: ").rstrip("\n")
