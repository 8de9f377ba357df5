"""The batch command with the server engine, as a user runs it against a real TorchServe."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch.cli import main
from server.launcher import TorchServe
from server.settings import INFERENCE_URL_ENV, RUN_DIR_ENV
from tests.batch_support import FEATURES, cancer_rows, stored, write_digits


def test_finds_the_server_and_token_as_the_client_does_scores_every_image_and_resumes(
    server: TorchServe,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = write_digits(tmp_path / "digits", 24)
    db = f"sqlite:///{tmp_path / 'b.db'}"
    argv = ["digits", str(folder), "--engine", "server", "--db", db]
    # First the URL and token from the environment, with no server.json to fall back on...
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(INFERENCE_URL_ENV, server.inference_url)
    monkeypatch.setenv("TSERVE_TOKEN", server.api_key())
    assert main(argv) == 0, capsys.readouterr().err
    # ...then both from the running server's folder: server.json and its key.
    monkeypatch.setenv(RUN_DIR_ENV, str(server.run_dir))
    monkeypatch.delenv(INFERENCE_URL_ENV)
    monkeypatch.delenv("TSERVE_TOKEN")
    assert main(argv) == 0, capsys.readouterr().err
    found, ran = stored(db)
    assert len(found) == 24 and all(row["status"] == "ok" for row in found.values())
    assert [(r["engine"], r["status"], r["skipped"], r["scored"], r["errors"]) for r in ran] == [
        ("server", "finished", 0, 24, 0),
        ("server", "finished", 24, 0, 0),
    ]
    assert "24 inputs, 0 scored (0 errors), 24 already scored" in capsys.readouterr().out


def test_a_labelled_csv_scored_without_its_label_names_a_bad_cell_by_line_and_column(
    server: TorchServe,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(RUN_DIR_ENV, str(server.run_dir))
    source = tmp_path / "labelled.csv"
    rows = [[*row, "1"] for row in cancer_rows(20)]
    rows[6][2] = "n/a"
    lines = [",".join([*FEATURES, "target"][::-1])]  # any column order
    lines += [",".join(map(str, row[::-1])) for row in rows]
    source.write_text("\n".join(lines) + "\n")
    db = f"sqlite:///{tmp_path / 'b.db'}"
    argv = ["cancer", str(source), "--engine", "server", "--url", server.inference_url]
    assert main([*argv, "--db", db]) == 2
    assert 'not features: "target"' in capsys.readouterr().err
    assert not (tmp_path / "b.db").exists()
    assert main([*argv, "--db", db, "--ignore-extra-columns"]) == 1
    summary = capsys.readouterr().out.splitlines()
    assert summary[1:] == [
        '  error 6: line 8 (row 6), column "mean perimeter": expected a number, got str'
    ]
    found, _ = stored(db)
    assert [key for key, row in found.items() if row["status"] == "error"] == ["6"]
