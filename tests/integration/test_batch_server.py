"""The batch command with the server engine, as a user runs it against a real TorchServe."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch.cli import main
from server.launcher import TorchServe
from tests.batch_support import stored, write_digits


def test_finds_the_token_scores_every_image_and_resumes(
    server: TorchServe,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("TSERVE_TOKEN", raising=False)
    monkeypatch.setenv("TSERVE_RUN_DIR", str(server.run_dir))  # where its key file is
    folder = write_digits(tmp_path / "digits", 24)
    db = f"sqlite:///{tmp_path / 'b.db'}"
    argv = ["digits", str(folder), "--engine", "server", "--url", server.inference_url, "--db", db]
    assert main(argv) == 0, capsys.readouterr().err
    assert main(argv) == 0, capsys.readouterr().err
    found, ran = stored(db)
    assert len(found) == 24 and all(row["status"] == "ok" for row in found.values())
    assert [(r["engine"], r["status"], r["skipped"], r["scored"], r["errors"]) for r in ran] == [
        ("server", "finished", 0, 24, 0),
        ("server", "finished", 24, 0, 0),
    ]
    assert "24 inputs, 0 scored (0 errors), 24 already scored" in capsys.readouterr().out
