"""The batch command's mistakes found before it reads an archive: one line on stderr, exit
status 2 (the rest: tests/component/test_batch_cli.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import MODEL_STORE
from tests.batch_support import cancer_rows, fails_with, write_csv


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "rows.csv", cancer_rows(3))


def test_unknown_model(rows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = fails_with(capsys, "nope", str(rows))
    assert error == f"no model archive {MODEL_STORE / 'nope.mar'}: run `make archive`"


def test_rows_per_request_must_be_positive(rows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = fails_with(capsys, "cancer", str(rows), "--rows-per-request", "0")
    assert error == "--rows-per-request must be at least 1, got 0"
