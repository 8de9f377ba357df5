"""The batch command's mistakes and outside failures: one line on stderr, exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch.cli import main
from server.launcher import MODEL_STORE
from tests.batch_support import cancer_rows, write_csv
from tests.ports import free_ports


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "rows.csv", cancer_rows(3))


def fails_with(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the command, check it failed cleanly, and return its one line of error."""
    assert main(list(argv)) == 2
    out, err = capsys.readouterr()
    assert out == "", "nothing but the error is printed"
    assert err.count("\n") == 1 and err.startswith("batch: error: "), err
    return err.removeprefix("batch: error: ").rstrip("\n")


def test_unknown_model(rows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = fails_with(capsys, "nope", str(rows))
    assert error == f"no model archive {MODEL_STORE / 'nope.mar'}: run `make archive`"


def test_source_the_model_does_not_read(rows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = fails_with(capsys, "minilm", str(rows))
    assert error == f"this model reads a .txt file (one text per line) or a .jsonl file, got {rows}"


def test_database_that_is_down(rows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (port,) = free_ports(1)  # nothing listens there
    url = f"postgresql+psycopg://scorer:secret@127.0.0.1:{port}/scores"
    error = fails_with(capsys, "cancer", str(rows), "--db", url)
    assert error == (
        f"database postgresql+psycopg://scorer:***@127.0.0.1:{port}/scores: connection failed: "
        f'connection to server at "127.0.0.1", port {port} failed: Connection refused'
    ), "the password is hidden, the driver's reason kept"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "not a database URL: 'nonsense' (Could not parse SQLAlchemy URL from given "
         "URL string)"),
        ("sqlite:////no/such/folder/b.db", "database sqlite:////no/such/folder/b.db: unable to "
         "open database file"),
    ],
)  # fmt: skip
def test_database_url_mistakes(
    rows: Path, capsys: pytest.CaptureFixture[str], url: str, message: str
) -> None:
    assert fails_with(capsys, "cancer", str(rows), "--db", url) == message


def test_server_that_is_not_running(
    rows: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (port,) = free_ports(1)
    db = f"sqlite:///{tmp_path / 'b.db'}"
    argv = ["cancer", str(rows), "--db", db, "--engine", "server", "--url"]
    error = fails_with(capsys, *argv, f"http://127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    assert error == f"TorchServe at {url}: GET {url}/ping: cannot connect (is TorchServe running?)"


def test_rows_per_request_must_be_positive(rows: Path, capsys: pytest.CaptureFixture[str]) -> None:
    error = fails_with(capsys, "cancer", str(rows), "--rows-per-request", "0")
    assert error == "--rows-per-request must be at least 1, got 0"
