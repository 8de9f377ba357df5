"""A key file that is not TorchServe's: one line naming the file and the shape it should
have, not a Python exception's repr (issue 20: `TypeError("string indices must be ...")`).
Nothing of the file's content is echoed: its values may be keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.cli import main

SHAPE = '{"inference": {"key": "..."}, "management": {"key": "..."}, ...}'


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"inference": "secret"}', '"inference" is a string, not an object with a "key"'),
        ('["secret"]', "it holds a list, not an object"),
        ('{"inference": {"kee": "secret"}}', '"inference" has no "key"'),
        ('{"inference": null}', '"inference" is null, not an object with a "key"'),
    ],
)
def test_a_bad_key_file_is_one_clean_line(
    content: str,
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path
    (run / "key_file.json").write_text(content)
    for name in ("TSERVE_TOKEN", "TSERVE_MANAGEMENT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TSERVE_RUN_DIR", str(run))
    # Nothing listens there: the key file is read before any connection is tried.
    monkeypatch.setenv("TSERVE_MANAGEMENT_URL", "http://127.0.0.1:9")
    code = main(["models", "list"])
    _, err = capsys.readouterr()
    expected = f"{run / 'key_file.json'} is not a TorchServe key file: {problem}; expected {SHAPE}"
    assert (code, err) == (1, f"tserve: {expected}\n")
    assert "secret" not in err
