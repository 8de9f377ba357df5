"""The ray engine's reading (batch/ray_read.py) without a cluster: a file read the way a Ray
read task reads it (through pyarrow's filesystem) gives the local engine's inputs, ids and
hashes; a folder lists the same images; wrong sources and options are one-line errors."""

from __future__ import annotations

import json
import pickle
import re
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch.errors import BatchError
from batch.ray_engine import absolute_sqlite
from batch.ray_read import ITEMS, file_chunks, image_files, locate, relative, source_type
from batch.sources import FolderSource, Item, open_source
from tests.batch_support import fails_with


def read_as_a_task_does(
    path: Path, kind: str, options: dict[str, Any], chunk: int = 2
) -> list[Item]:
    """FileItems' read of one file, as a Ray read task runs it (Ray itself not started)."""
    location = locate(str(path))
    found = source_type(location, kind, options.get("id_column"))
    make = partial(found, **options)
    items: list[Item] = []
    with location.filesystem.open_input_file(location.path) as opened:
        for block in file_chunks(location, make, chunk, opened, location.path):
            for blob in block.column(ITEMS).to_pylist():
                part = pickle.loads(blob)
                assert 1 <= len(part) <= chunk
                items += part
    return items


@pytest.mark.parametrize(
    ("name", "kind", "text", "options"),
    [
        ("rows.csv", "vector", "a,b,c\n1,2.5,3\n4,,x\n7,8\n9,9,9\n", {}),
        ("keyed.csv", "vector", "x,key,y\n1,alpha,2\n3,beta,4\n5,gamma,6\n", {"id_column": "key"}),
        ("texts.txt", "text", "one\n\ntwo\n\xff\nthree\n", {}),
        ("docs.jsonl", "text", '{"text": "a", "k": 1}\nnot json\n{"text": "b", "k": 2}\n', {}),
    ],
)
def test_a_file_read_in_a_task_gives_the_local_engines_inputs(
    tmp_path: Path, name: str, kind: str, text: str, options: dict[str, Any]
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    expected = list(open_source(path, kind, **options))
    assert read_as_a_task_does(path, kind, options) == expected
    assert len(expected) >= 3


def test_a_parquet_file_read_in_a_task_gives_the_local_engines_inputs(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    table = pa.table({"id": ["a", "b", "c"], "f0": [1.0, 2.0, 3.0], "f1": [4.0, None, 6.0]})
    pq.write_table(table, path, row_group_size=2)
    expected = list(open_source(path, "vector", id_column="id"))
    assert read_as_a_task_does(path, "vector", {"id_column": "id"}) == expected
    assert [item.id for item in expected] == ["a", "b", "c"]


def test_a_folder_lists_the_images_the_local_engine_reads(tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    for name in ("b.png", "a.jpg", "2024/c.png", ".hidden.png", ".cache/d.png", "_e.png"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(name.encode())
    location = locate(str(folder))
    assert location.is_folder and source_type(location, "image", None) is FolderSource
    ids = [relative(path, location.path) for path in image_files(location)]
    assert ids == [item.id for item in open_source(folder, "image")]
    assert ids == ["2024/c.png", "_e.png", "a.jpg", "b.png"]


def test_wrong_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="no such file or folder"):
        locate(str(tmp_path / "missing.csv"))
    (tmp_path / "rows.xlsx").write_text("x")
    with pytest.raises(BatchError, match=re.escape("unknown source type '.xlsx'")):
        source_type(locate(str(tmp_path / "rows.xlsx")), "vector", None)
    (tmp_path / "texts.txt").write_text("x\n")
    with pytest.raises(BatchError, match=re.escape("this model reads a .csv or .parquet file")):
        source_type(locate(str(tmp_path / "texts.txt")), "vector", None)
    with pytest.raises(BatchError, match="--id-column applies to CSV, Parquet and JSONL"):
        source_type(locate(str(tmp_path / "texts.txt")), "text", "id")
    with pytest.raises(BatchError, match=re.escape("cannot open nope://bucket/rows.csv")):
        locate("nope://bucket/rows.csv")


def test_an_object_store_url_is_kept_and_needs_the_ray_engine(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = fails_with(capsys, "cancer", "s3://bucket/rows.csv")
    assert error == "s3://bucket/rows.csv: an object-store URL needs --engine ray"


def test_actors_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rows.csv").write_text(json.dumps(1))
    error = fails_with(
        capsys, "cancer", str(tmp_path / "rows.csv"), "--engine", "ray", "--actors", "0"
    )
    assert error == "--actors must be at least 1, got 0"


def test_a_relative_sqlite_database_is_named_as_the_driver_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert absolute_sqlite("sqlite:///batch.db") == f"sqlite:///{tmp_path / 'batch.db'}"
    assert absolute_sqlite("sqlite:///out/b.db") == f"sqlite:///{tmp_path / 'out' / 'b.db'}"
    for unchanged in ("sqlite:////data/b.db", "sqlite://", "postgresql://u:secret@h:5432/db"):
        assert absolute_sqlite(unchanged) == unchanged
