"""A table source's columns against the model's feature names, and where a bad row is."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch.columns import feature_columns
from batch.errors import BatchError
from batch.sources import Item, open_source

FEATURES = ["a", "b", "c"]
PATH = Path("rows.csv")


def test_columns_are_picked_by_name_in_the_models_order() -> None:
    assert feature_columns(["c", "a", "b"], FEATURES, None, PATH) == [1, 2, 0]
    assert feature_columns(["id", "a", "b", "c"], FEATURES, "id", PATH) == [1, 2, 3]


def test_without_feature_names_every_column_but_the_id_is_read_in_file_order() -> None:
    assert feature_columns(["x", "id", "y"], None, "id", PATH) == [0, 2]


def test_a_column_that_is_not_a_feature_stops_the_run_unless_asked_to_skip_it() -> None:
    header = ["a", "b", "target", "c"]
    with pytest.raises(BatchError) as error:
        feature_columns(header, FEATURES, None, PATH)
    assert str(error.value) == (
        "rows.csv: the columns must name the model's 3 features (any order): "
        'not features: "target" (--ignore-extra-columns skips them)'
    )
    assert feature_columns(header, FEATURES, None, PATH, ignore_extra=True) == [0, 1, 3]


def test_missing_features_are_named_and_long_lists_cut() -> None:
    features = [f"feature {n}" for n in range(8)]
    with pytest.raises(BatchError) as error:
        feature_columns(["f0", "f1", *features[:1]], features, None, PATH, ignore_extra=True)
    assert str(error.value) == (
        "rows.csv: the columns must name the model's 8 features (any order): missing "
        '"feature 1", "feature 2", "feature 3", "feature 4", "feature 5" and 2 more; '
        'not features: "f0", "f1"'
    ), "skipping extra columns cannot make up for missing ones"


def test_a_feature_named_twice_is_refused() -> None:
    with pytest.raises(BatchError, match=r'^rows\.csv: column "a" appears more than once$'):
        feature_columns(["a", "b", "a", "c"], FEATURES, None, PATH)


def test_csv_errors_name_the_line_the_row_and_the_column(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    # Row 1 spans two lines (a quoted newline): row 2 starts on line 5.
    path.write_text('c,b,a\n1,2,3\n4,"5\n",6\n7,8,9\n')
    source = open_source(path, "vector", features=FEATURES)
    found = list(source)
    assert [item.value for item in (found[0], found[2])] == [[3.0, 2.0, 1.0], [9.0, 8.0, 7.0]]
    assert [item.where for item in found] == ["line 2 (row 0)", "line 3 (row 1)", "line 5 (row 2)"]
    message = "row 0, feature 1: expected a number, got str"
    assert source.describe(found[1], message) == (
        'line 3 (row 1), column "b": expected a number, got str'
    )
    assert source.describe(found[2], "row 0: expected 3 features, got 2") == (
        "line 5 (row 2): expected 3 features, got 2"
    )
    assert source.describe(found[0], "Worker died.") == "line 2 (row 0): Worker died."


def test_a_short_or_long_csv_row_keeps_its_length_for_the_handler_to_name(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("a,b,c\n1,2\n1,2,3,4\n")
    values = [item.value for item in open_source(path, "vector", features=FEATURES)]
    assert values == [[1.0, 2.0], [1.0, 2.0, 3.0, 4.0]]


def test_parquet_rows_by_name_or_one_list_column(tmp_path: Path) -> None:
    named = tmp_path / "named.parquet"
    pq.write_table(pa.table({"c": [3.0], "target": [1], "a": [1.0], "b": [2.0]}), named)
    with pytest.raises(BatchError, match='not features: "target"'):
        open_source(named, "vector", features=FEATURES)
    source = open_source(named, "vector", features=FEATURES, ignore_extra=True)
    (row,) = list(source)
    assert (row.value, row.where) == ([1.0, 2.0, 3.0], "row 0")
    assert source.describe(row, "row 0, feature 2: x") == 'row 0, column "c": x'
    lists = tmp_path / "lists.parquet"
    pq.write_table(pa.table({"features": [[1.0, 2.0]]}), lists)
    source = open_source(lists, "vector", features=FEATURES)
    (row,) = list(source)
    assert row.value == [1.0, 2.0], "a list column is positional: the handler checks it"
    assert source.describe(row, "row 0, feature 1: x") == "row 0, feature 1: x"


def test_text_errors_name_the_line_and_source_problems_are_left_as_they_are(
    tmp_path: Path,
) -> None:
    path = tmp_path / "texts.txt"
    path.write_bytes(b"one\n\n   \n\xff\n")
    source = open_source(path, "text")
    blank, broken = list(source)[1:]
    assert source.describe(blank, "text is empty") == "line 3: text is empty"
    assert source.describe(broken, "line 4 is not valid UTF-8: invalid start byte") == (
        "line 4 is not valid UTF-8: invalid start byte"
    )
    image = Item("scans/a.png", b"", "0" * 64)
    assert source.describe(image, "image could not be decoded") == "image could not be decoded"
