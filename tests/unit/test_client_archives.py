"""A local .mar made registrable (client/archives.py) and the hints on refused registrations.

TorchServe 0.12 registers only what is in its model store, by a bare name: a local archive
is copied in as <model>-<version>.mar for the call and removed after it, so the store keeps
only what `make archive` built (the next `make serve` loads the same three models).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from client.api import Client
from client.archives import ArchiveId, archive_id, local_archive, staged


def mar(path: Path, name: str = "cancer", version: str = "2.0", extra: bytes = b"") -> Path:
    """A stand-in archive: the manifest torch-model-archiver writes, and a payload."""
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"model": {"modelName": name, "modelVersion": version, "handler": "h.py"}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest))
        archive.writestr("weights.pt", b"w" + extra)
    return path


def test_what_is_a_local_archive(tmp_path: Path) -> None:
    local = mar(tmp_path / "v2" / "cancer.mar")
    assert local_archive(str(local)) == local
    assert local_archive("v2/cancer.mar", tmp_path) == tmp_path / "v2" / "cancer.mar"
    assert local_archive("cancer.mar", tmp_path / "v2") == local, "a file here wins"
    assert local_archive("missing/cancer.mar", tmp_path) == tmp_path / "missing" / "cancer.mar"
    # What TorchServe resolves itself: a name in its store, a URL (allowed_urls judges it).
    assert local_archive("cancer-2.0.mar", tmp_path) is None
    assert local_archive("https://example.com/cancer.mar") is None
    assert local_archive(local.as_uri()) is None


def test_archive_id_reads_the_manifest(tmp_path: Path) -> None:
    assert archive_id(mar(tmp_path / "x.mar", "digits", "3.1")) == ArchiveId("digits", "3.1")
    (tmp_path / "not.mar").write_text("text")
    with pytest.raises(ValueError, match=r"not\.mar is not a model archive \(\.mar\)"):
        archive_id(tmp_path / "not.mar")


def test_a_local_archive_is_copied_in_by_version_and_removed(tmp_path: Path) -> None:
    store = tmp_path / "model_store"
    mar(store / "cancer.mar", version="1.0")
    local = mar(tmp_path / "v2" / "cancer.mar")
    with staged(local, store) as name:
        assert name == "cancer-2.0.mar"
        assert (store / name).read_bytes() == local.read_bytes()
    assert sorted(p.name for p in store.iterdir()) == ["cancer.mar"], "the store as it was"


def test_the_copy_is_removed_when_registration_fails(tmp_path: Path) -> None:
    store = tmp_path / "model_store"
    store.mkdir()
    with pytest.raises(RuntimeError), staged(mar(tmp_path / "cancer.mar"), store):
        raise RuntimeError("refused")
    assert list(store.iterdir()) == []


def test_an_archive_in_the_store_is_used_by_its_name(tmp_path: Path) -> None:
    store = tmp_path / "model_store"
    archive = mar(store / "cancer.mar", version="1.0")
    with staged(archive, store) as name:
        assert name == "cancer.mar"
    assert archive.exists(), "the store's own archive is never removed"


def test_a_copy_left_in_the_store(tmp_path: Path) -> None:
    store = tmp_path / "model_store"
    local = mar(tmp_path / "cancer.mar")
    same = mar(store / "cancer-2.0.mar")
    with staged(local, store) as name:
        assert name == "cancer-2.0.mar"
    assert same.exists(), "identical, left by hand: used, not removed"
    mar(same, extra=b"other")
    clash = r"cancer-2\.0\.mar is another archive of cancer 2\.0"
    with pytest.raises(FileExistsError, match=clash), staged(local, store):
        pass


def test_missing_archive_or_store_is_named(tmp_path: Path) -> None:
    with (
        pytest.raises(FileNotFoundError, match=r"no archive at .*nope\.mar"),
        staged(tmp_path / "nope.mar", tmp_path),
    ):
        pass
    local = mar(tmp_path / "cancer.mar")
    with (
        pytest.raises(FileNotFoundError, match=r"model store .*elsewhere is not on this machine"),
        staged(local, tmp_path / "elsewhere"),
    ):
        pass


def test_reload_needs_a_model_archive(tmp_path: Path) -> None:
    (tmp_path / "cancer.mar").write_text("not a zip")
    client = Client(env={})
    with pytest.raises(ValueError, match="is not a model archive"):
        client.reload("cancer", tmp_path / "cancer.mar")
