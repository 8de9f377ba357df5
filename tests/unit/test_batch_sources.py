"""Batch sources: which inputs a file or folder holds, their ids and hashes, their problems."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch.errors import BatchError
from batch.sources import Item, open_source


def items(
    path: Path, kind: str, id_column: str | None = None, text_field: str = "text"
) -> list[Item]:
    source = open_source(path, kind, id_column=id_column, text_field=text_field)
    found = list(source)
    assert source.count() == len(found), "count() agrees with what iteration yields"
    return found


def test_csv_rows_get_their_row_number_and_cells_stay_as_the_handler_should_see_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b,c\n1,2.5,3\n4,,x\n7,8\n")
    found = items(path, "vector")
    assert [item.id for item in found] == ["0", "1", "2"]
    assert [item.value for item in found] == [[1.0, 2.5, 3.0], [4.0, None, "x"], [7.0, 8.0]]
    assert found[0].sha256 == hashlib.sha256(b"[1.0,2.5,3.0]").hexdigest()
    assert all(item.problem is None for item in found)


def test_csv_id_column_is_the_id_and_not_a_feature(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("x,key,y\n1,alpha,2\n3,beta,4\n")
    found = items(path, "vector", id_column="key")
    assert [(item.id, item.value) for item in found] == [
        ("alpha", [1.0, 2.0]),
        ("beta", [3.0, 4.0]),
    ]


def test_a_missing_id_column_is_named_with_the_columns_there_are(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(BatchError, match=r"has no column 'key'; its columns: x, y$"):
        list(open_source(path, "vector", id_column="key"))


def test_parquet_scalar_columns_or_one_list_column(tmp_path: Path) -> None:
    scalars = tmp_path / "scalars.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "x": [1.0, 2.0], "y": [3, 4]}), scalars)
    assert [(i.id, i.value) for i in items(scalars, "vector", id_column="id")] == [
        ("a", [1.0, 3]),
        ("b", [2.0, 4]),
    ]
    lists = tmp_path / "lists.parquet"
    pq.write_table(pa.table({"features": [[1.0, 2.0], [3.0]]}), lists)
    assert [(i.id, i.value) for i in items(lists, "vector")] == [("0", [1.0, 2.0]), ("1", [3.0])]


def test_text_lines_are_numbered_from_one_and_empty_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "texts.txt"
    path.write_bytes(b"first\n\nthird\r\n   \n\xff\xfe\n")
    found = items(path, "text")
    assert [(i.id, i.value, i.problem) for i in found[:3]] == [
        ("1", "first", None),
        ("3", "third", None),
        ("4", "   ", None),  # not empty: the handler says it is blank
    ]
    assert found[3].id == "5"
    assert found[3].problem == "line 5 is not valid UTF-8: invalid start byte"
    assert found[0].sha256 == hashlib.sha256(b"first").hexdigest()


def test_jsonl_text_field_and_id_field_and_unreadable_lines(tmp_path: Path) -> None:
    path = tmp_path / "texts.jsonl"
    lines = [
        json.dumps({"key": "k1", "body": "hello"}),
        "{not json",
        json.dumps({"key": "k3"}),
        json.dumps(["a list"]),
    ]
    path.write_text("\n".join(lines) + "\n")
    found = items(path, "text", id_column="key", text_field="body")
    assert [(i.id, i.value, i.problem) for i in found[:1]] == [("k1", "hello", None)]
    assert [(i.id, i.problem) for i in found[1:]] == [
        (
            "line:2",
            "line 2 is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)",
        ),
        ("k3", "line 3 has no 'body' field"),
        ("line:4", "line 4 is not a JSON object"),
    ]


def test_folder_images_by_relative_path_hidden_files_skipped(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.png").write_bytes(b"B")
    (tmp_path / "sub" / "a.jpg").write_bytes(b"A")
    (tmp_path / ".hidden.png").write_bytes(b"H")
    found = items(tmp_path, "image")
    assert [(i.id, i.value) for i in found] == [("b.png", b"B"), ("sub/a.jpg", b"A")]
    assert found[0].sha256 == hashlib.sha256(b"B").hexdigest()


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        (
            "rows.csv",
            "text",
            r"^this model reads a \.txt file .* or a \.jsonl file, got .*rows\.csv$",
        ),
        ("texts.txt", "vector", r"^this model reads a \.csv or \.parquet file of feature rows"),
        ("rows.xlsx", "vector", r"unknown source type '\.xlsx'; give a \.csv or \.parquet"),
        ("missing.csv", "vector", r"^no such file or folder: .*missing\.csv$"),
    ],
)
def test_a_source_the_model_cannot_read_is_refused_by_name(
    tmp_path: Path, name: str, kind: str, message: str
) -> None:
    if name != "missing.csv":
        (tmp_path / name).write_text("x\n")
    with pytest.raises(BatchError, match=message):
        open_source(tmp_path / name, kind)
