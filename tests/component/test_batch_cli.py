"""The batch command's mistakes and outside failures found once it has read the model's
archive (model_store/, `make archive`): one line on stderr, exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import MODEL_STORE, free_ports
from tests.batch_support import cancer_rows, fails_with, write_csv


@pytest.fixture(autouse=True)
def archives() -> None:
    missing = [name for name in ("cancer", "minilm") if not (MODEL_STORE / f"{name}.mar").exists()]
    if missing:
        pytest.fail(f"archives {missing} missing from {MODEL_STORE}: run `make archive`")


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "rows.csv", cancer_rows(3))


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
        (
            "nonsense",
            "not a database URL: 'nonsense' (Could not parse SQLAlchemy URL from given URL string)",
        ),
        (
            "sqlite:////no/such/folder/b.db",
            "database sqlite:////no/such/folder/b.db: unable to open database file",
        ),
    ],
)
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
