"""The batch command's mistakes and outside failures found once it has read the model's
archive (model_store/, `make archive`): one line on stderr, exit status 2, and no
database file left behind by a run that could not start."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch.cli import main
from server.settings import MODEL_STORE, free_ports
from tests.batch_support import FEATURES, cancer_rows, fails_with, stored, write_csv


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
    assert not (tmp_path / "b.db").exists(), "a run that could not start leaves no database"


def test_a_server_url_that_is_not_one_is_named_with_its_variable(
    rows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TSERVE_INFERENCE_URL", "127.0.0.1:8080")
    db = f"sqlite:///{tmp_path / 'b.db'}"
    error = fails_with(capsys, "cancer", str(rows), "--db", db, "--engine", "server")
    assert error == (
        "the inference URL '127.0.0.1:8080' (given, or $TSERVE_INFERENCE_URL) must be "
        "http://HOST:PORT or https://..."
    ), "the server engine finds its URL as the client does"
    assert not (tmp_path / "b.db").exists()


def with_label(path: Path, count: int) -> Path:
    """The data set as scikit-learn gives it: the features, then the label column."""
    lines = [",".join([*FEATURES, "target"])]
    lines += [",".join(map(str, [*row, 1])) for row in cancer_rows(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_csv_that_keeps_its_label_column_stops_before_scoring_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = with_label(tmp_path / "labelled.csv", 50)
    db = f"sqlite:///{tmp_path / 'b.db'}"
    assert fails_with(capsys, "cancer", str(source), "--db", db) == (
        f"{source}: the columns must name the model's 30 features (any order): "
        'not features: "target" (--ignore-extra-columns skips them)'
    )
    assert not (tmp_path / "b.db").exists(), "nothing scored, no database"
    assert main(["cancer", str(source), "--db", db, "--ignore-extra-columns"]) == 0
    found, _ = stored(db)
    assert len(found) == 50 and all(row["status"] == "ok" for row in found.values())


def test_columns_that_are_not_the_models_features_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "numbered.csv"
    source.write_text(",".join(f"f{i}" for i in range(30)) + "\n" + ",".join(["1"] * 30) + "\n")
    error = fails_with(capsys, "cancer", str(source), "--db", f"sqlite:///{tmp_path / 'b.db'}")
    assert error == (
        f"{source}: the columns must name the model's 30 features (any order): missing "
        '"mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness" '
        'and 25 more; not features: "f0", "f1", "f2", "f3", "f4" and 25 more'
    )


@pytest.mark.parametrize("mistake", ["no such source", "no such model", "wrong source"])
def test_a_run_that_cannot_start_leaves_no_database(
    rows: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], mistake: str
) -> None:
    argv = {
        "no such source": ["cancer", str(tmp_path / "missing.csv")],
        "no such model": ["nope", str(rows)],
        "wrong source": ["minilm", str(rows)],
    }[mistake]
    fails_with(capsys, *argv, "--db", f"sqlite:///{tmp_path / 'b.db'}")
    assert not (tmp_path / "b.db").exists()
