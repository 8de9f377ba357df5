"""Token discovery: explicit, then the environment, then the server's key file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from client import tokens
from client.errors import TokenFileError
from client.tokens import TokenSource


def write_keys(folder: Path, inference: str, management: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "key_file.json"
    entries = {"inference": inference, "management": management, "API": "api-key"}
    path.write_text(json.dumps({kind: {"key": key} for kind, key in entries.items()}))
    return path


@pytest.fixture(autouse=True)
def no_repo_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout .run/ of our own, so a running `make serve` cannot leak its keys in."""
    repo_run = tmp_path / "repo" / ".run"
    monkeypatch.setattr(tokens, "REPO_RUN_DIR", repo_run)
    return repo_run


def test_explicit_tokens_win_over_everything(tmp_path: Path) -> None:
    write_keys(tmp_path / "run", "file-inf", "file-mgmt")
    env = {"TSERVE_TOKEN": "env-inf", "TSERVE_RUN_DIR": str(tmp_path / "run")}
    source = TokenSource("given-inf", None, env=env, cwd=tmp_path)
    assert source.get("inference") == "given-inf"
    assert source.get("management") == "file-mgmt"


def test_environment_wins_over_the_key_file_per_kind(tmp_path: Path) -> None:
    write_keys(tmp_path / "run", "file-inf", "file-mgmt")
    env = {"TSERVE_MANAGEMENT_TOKEN": "env-mgmt", "TSERVE_RUN_DIR": str(tmp_path / "run")}
    source = TokenSource(env=env, cwd=tmp_path)
    assert (source.get("inference"), source.get("management")) == ("file-inf", "env-mgmt")
    assert source.origin("management") == "$TSERVE_MANAGEMENT_TOKEN"
    assert source.origin("inference") == str(tmp_path / "run" / "key_file.json")


def test_run_dir_is_the_only_place_when_set(tmp_path: Path, no_repo_keys: Path) -> None:
    write_keys(no_repo_keys, "repo-inf", "repo-mgmt")
    write_keys(tmp_path, "cwd-inf", "cwd-mgmt")
    source = TokenSource(env={"TSERVE_RUN_DIR": str(tmp_path / "elsewhere")}, cwd=tmp_path)
    assert source.get("inference") is None
    missing = tmp_path / "elsewhere" / "key_file.json"
    assert source.origin("inference") == f"no token found (looked in $TSERVE_TOKEN, {missing})"


def test_checkout_run_dir_comes_before_the_current_folder(
    tmp_path: Path, no_repo_keys: Path
) -> None:
    write_keys(tmp_path, "cwd-inf", "cwd-mgmt")
    assert TokenSource(env={}, cwd=tmp_path).get("inference") == "cwd-inf"
    write_keys(no_repo_keys, "repo-inf", "repo-mgmt")
    assert TokenSource(env={}, cwd=tmp_path).get("inference") == "repo-inf"


def test_no_token_anywhere_is_none(tmp_path: Path, no_repo_keys: Path) -> None:
    source = TokenSource(env={}, cwd=tmp_path)
    assert source.get("management") is None
    assert source.origin("management") == (
        "no token found (looked in $TSERVE_MANAGEMENT_TOKEN, "
        f"{no_repo_keys / 'key_file.json'}, {tmp_path / 'key_file.json'})"
    )


def test_a_rewritten_key_file_is_read_again(tmp_path: Path) -> None:
    path = write_keys(tmp_path, "old-inf", "old-mgmt")
    source = TokenSource(env={}, cwd=tmp_path)
    assert source.get("inference") == "old-inf"
    write_keys(tmp_path, "new-inf", "new-mgmt")  # a restarted server writes new keys
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # coarse clocks
    assert source.get("inference") == "new-inf"


@pytest.mark.parametrize("text", ["not json", "[]", '{"inference": "no-key-field"}'])
def test_a_broken_key_file_says_which_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "key_file.json").write_text(text)
    with pytest.raises(TokenFileError, match=f"{tmp_path / 'key_file.json'} is not a TorchServe"):
        TokenSource(env={}, cwd=tmp_path).get("inference")
