"""Read a source into inputs, each with a stable id and the sha256 of what is scored.

    vector model  CSV (with a header row) or Parquet of feature rows; id: the data row's
                  number from 0, or the column named by ``id_column``
    text model    a text file, one text per line (id: line number from 1; empty lines are
                  skipped), or JSONL, one object per line, the text under ``text_field``
    image model   a folder: every non-hidden file below it; id: its path in the folder

A table's columns are checked against the model's feature names when it is opened, and
rows read by name (batch.columns); a Parquet row whose only column is a list is that list.
Cells are not validated here: the handler does that, so a bad row gets the same message as
online, and ``Source.describe`` says where in the source that row is. An input that cannot
even be read (a JSONL line that is not JSON) becomes an ``Item`` with ``problem`` set: an
error row, no model call.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from batch.columns import feature_columns, id_index
from batch.errors import BatchError

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass(frozen=True)
class Item:
    id: str
    value: Any  # vector: a list of cells; text: a str; image: bytes
    sha256: str
    problem: str | None = None  # why the input could not be read, if it could not
    where: str | None = None  # where it is in the source: "line 7 (row 5)", "row 5", "line 3"


def item(input_id: str, value: Any, problem: str | None = None, where: str | None = None) -> Item:
    """An input with the sha256 of its canonical bytes (JSON for rows, UTF-8 for texts)."""
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode("utf-8")
    else:
        data = json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")
    return Item(input_id, value, hashlib.sha256(data).hexdigest(), problem, where)


def cell(text: str) -> Any:
    """A CSV cell as the number it spells, None when empty, else the text (the handler
    then names the row and feature that is not a number)."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return text


# The one row of a request, as the vector handler names it (handlers/vector_parsing.py):
# a row that fails alone is always row 0 of its request.
REQUEST_ROW = re.compile(r"row 0(?:, feature (\d+))?: ")


class Source:
    kind: ClassVar[str]  # the model input it holds: "vector", "text" or "image"

    def __init__(
        self,
        path: Path,
        id_column: str | None = None,
        text_field: str = "text",
        features: Sequence[str] | None = None,  # the model's feature names, if it has them
        ignore_extra: bool = False,  # skip table columns that are not features
    ):
        self.path = path
        self.id_column = id_column
        self.text_field = text_field
        self.features = features
        self.ignore_extra = ignore_extra
        self.columns: list[str] | None = None  # a table's columns read, in the model's order

    def __iter__(self) -> Iterator[Item]:
        raise NotImplementedError

    def count(self) -> int:
        """How many inputs the source holds, cheaper than reading them (for progress)."""
        raise NotImplementedError

    def describe(self, item: Item, message: str) -> str:
        """``message`` about ``item`` with where it is in the source: the handler's
        "row 0, feature 5" of a one-row request becomes 'line 7 (row 5), column "x"'."""
        if item.where is None or item.problem is not None:  # a problem names its line
            return message
        match = REQUEST_ROW.match(message)
        if match is None:
            return f"{item.where}: {message}"
        where = item.where
        if match[1] is not None:
            position = int(match[1])
            if self.columns is not None and position < len(self.columns):
                where += f', column "{self.columns[position]}"'
            else:
                where += f", feature {position}"
        return f"{where}: {message[match.end() :]}"


class CsvSource(Source):
    """Feature rows under a header; ``where``: the line the row starts on and its number."""

    kind = "vector"

    def __init__(self, path: Path, *args: Any, **kwargs: Any):
        super().__init__(path, *args, **kwargs)
        with self._reader() as reader:
            self.header: list[str] = next(reader, [])
        self.picks = feature_columns(
            self.header, self.features, self.id_column, path, self.ignore_extra
        )
        self.columns = [self.header[index] for index in self.picks]

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Any]:
        # A cell that is not UTF-8 reaches the handler as text, which names it as not a number.
        with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as file:
            yield csv.reader(file)

    def __iter__(self) -> Iterator[Item]:
        id_at = id_index(self.header, self.id_column, self.path)
        width, picks = len(self.header), self.picks
        in_order = picks == list(range(width))  # the common case: nothing to pick
        with self._reader() as reader:
            next(reader, None)
            line = reader.line_num + 1
            for number, row in enumerate(reader):
                where = f"line {line} (row {number})"
                line = reader.line_num + 1
                if len(row) != width:  # keeps its length: the handler names the count
                    cells = [row[i] for i in picks if i < len(row)] + row[width:]
                else:
                    cells = row if in_order else [row[i] for i in picks]
                values = [cell(text) for text in cells]
                if id_at is None:
                    yield item(str(number), values, where=where)
                elif id_at >= len(row):
                    problem = f"{where} has no {self.id_column!r} cell"
                    yield item(f"row:{number}", row, problem, where)
                else:
                    yield item(row[id_at], values, where=where)

    def count(self) -> int:
        with self._reader() as reader:
            return max(0, sum(1 for _ in reader) - 1)


class ParquetSource(Source):
    """Feature columns, or one list column; ``where``: the row's number from 0."""

    kind = "vector"

    def __init__(self, path: Path, *args: Any, **kwargs: Any):
        super().__init__(path, *args, **kwargs)
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise BatchError(f"{path} is not a readable Parquet file: {exc}") from None
        schema = self.file.schema_arrow
        names = schema.names
        rest = [name for name in names if name != self.id_column]
        id_index(names, self.id_column, path)
        self.is_list = len(rest) == 1 and pa.types.is_list(schema.field(rest[0]).type)
        if self.is_list:
            self.read = rest  # one list per row: its length is the handler's to check
        else:
            picks = feature_columns(names, self.features, self.id_column, path, self.ignore_extra)
            self.read = self.columns = [names[index] for index in picks]

    def __iter__(self) -> Iterator[Item]:
        wanted = [*self.read, *([self.id_column] if self.id_column else [])]
        number = 0
        for batch in self.file.iter_batches(batch_size=4096, columns=wanted):
            for row in batch.to_pylist():
                values = [row[name] for name in self.read]
                if self.is_list:
                    values = values[0]
                input_id = str(number) if self.id_column is None else str(row[self.id_column])
                yield item(input_id, values, where=f"row {number}")
                number += 1

    def count(self) -> int:
        return int(self.file.metadata.num_rows)


class LinesSource(Source):
    """One text per line of a UTF-8 file; the id is the line number, from 1."""

    kind = "text"

    def _lines(self) -> Iterator[tuple[int, bytes]]:
        with self.path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                line = line.rstrip(b"\r\n")
                if line:
                    yield number, line

    def __iter__(self) -> Iterator[Item]:
        for number, line in self._lines():
            yield self._item(number, line)

    def _item(self, number: int, line: bytes) -> Item:
        try:
            return item(str(number), line.decode("utf-8"), where=f"line {number}")
        except UnicodeDecodeError as exc:
            return item(str(number), line, f"line {number} is not valid UTF-8: {exc.reason}")

    def count(self) -> int:
        return sum(1 for _ in self._lines())


class JsonlSource(LinesSource):
    """One JSON object per line, the text under ``text_field``, the id under ``id_column``
    (the line number when no id column is named)."""

    def _item(self, number: int, line: bytes) -> Item:
        try:
            document = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return item(f"line:{number}", line, f"line {number} is not valid JSON: {exc}")
        if not isinstance(document, dict):
            return item(f"line:{number}", line, f"line {number} is not a JSON object")
        if self.id_column is None:
            input_id = str(number)
        elif self.id_column in document:
            input_id = str(document[self.id_column])
        else:
            return item(f"line:{number}", line, f"line {number} has no {self.id_column!r}")
        if self.text_field not in document:
            return item(input_id, line, f"line {number} has no {self.text_field!r} field")
        return item(input_id, document[self.text_field], where=f"line {number}")


class FolderSource(Source):
    """Every non-hidden file below a folder, in path order; the id is its relative path."""

    kind = "image"

    def _files(self) -> list[Path]:
        return sorted(
            path
            for path in self.path.rglob("*")
            if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(self.path).parts)
        )

    def __iter__(self) -> Iterator[Item]:
        for path in self._files():
            input_id = path.relative_to(self.path).as_posix()
            try:
                yield item(input_id, path.read_bytes())
            except OSError as exc:
                yield item(input_id, b"", f"cannot read {input_id}: {exc.strerror}")

    def count(self) -> int:
        return len(self._files())


SUFFIXES: dict[str, type[Source]] = {
    ".csv": CsvSource,
    ".parquet": ParquetSource,
    ".pq": ParquetSource,
    ".txt": LinesSource,
    ".jsonl": JsonlSource,
}
WHAT = {
    "vector": "a .csv or .parquet file of feature rows",
    "text": "a .txt file (one text per line) or a .jsonl file",
    "image": "a folder of images",
}


def open_source(
    path: Path,
    kind: str,
    id_column: str | None = None,
    text_field: str = "text",
    features: Sequence[str] | None = None,
    ignore_extra: bool = False,
) -> Source:
    """The source at ``path``, checked to hold what a ``kind`` model reads; a table's
    columns checked against ``features``, the model's feature names (batch.columns)."""
    if not path.exists():
        raise BatchError(f"no such file or folder: {path}")
    found = source_class(path.suffix, path.is_dir(), kind, id_column, str(path))
    return found(path, id_column, text_field, features, ignore_extra)


def source_class(
    suffix: str, is_folder: bool, kind: str, id_column: str | None, shown: str
) -> type[Source]:
    """The class that reads a file with this suffix (or a folder), checked to hold what a
    ``kind`` model reads and to take ``--id-column``; ``shown`` names the source in errors."""
    if is_folder:
        found: type[Source] = FolderSource
    elif suffix.lower() in SUFFIXES:
        found = SUFFIXES[suffix.lower()]
    else:
        raise BatchError(f"{shown}: unknown source type {suffix!r}; give {WHAT[kind]}")
    if found.kind != kind:
        raise BatchError(f"this model reads {WHAT[kind]}, got {shown}")
    if id_column is not None and found in (LinesSource, FolderSource):
        raise BatchError(f"--id-column applies to CSV, Parquet and JSONL sources, not {shown}")
    return found


def content_type_of(input_id: str) -> str:
    """The media type an image is sent with, by its suffix (the handler sniffs the bytes)."""
    return IMAGE_TYPES.get(Path(input_id).suffix.lower(), "application/octet-stream")
