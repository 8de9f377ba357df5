"""Ray Data reads a source into chunks of inputs, with the local engine's own source classes.

A source is a local path or an object-store URL (``s3://``, ``gs://``, ``abfs://``: any
filesystem pyarrow resolves); both take the same path through ``pyarrow.fs``. A file
(CSV, Parquet, text, JSONL) is read by one Ray read task, which parses it with the class
batch.sources uses for that suffix, so ids, sha256s, header checks and unreadable inputs
are the local engine's. A folder is an image source: Ray Data reads its files in parallel,
one row each, the id its path below the folder (hidden files and folders skipped, as
batch.sources.FolderSource does).

A row of the dataset is one chunk: ``items``, a pickled list of ``Item``, small enough for
one request. Chunks, not rows of inputs, keep the per-row costs of Ray Data off the hot path.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import pyarrow as pa
import pyarrow.fs as pafs
from ray.data.datasource import FileBasedDatasource

from batch.errors import BatchError
from batch.sources import Item, ParquetSource, Source, item, source_class

ITEMS = "items"  # the column of a chunk: a pickled list[Item]


@dataclass(frozen=True)
class Location:
    """Where a source is: its filesystem, its path there, and what the user wrote."""

    filesystem: pafs.FileSystem
    path: str
    given: str
    is_folder: bool

    @property
    def is_local(self) -> bool:
        return isinstance(self.filesystem, pafs.LocalFileSystem)


def locate(source: str) -> Location:
    """Resolve a path or URL; a missing one is the user's mistake, named."""
    try:
        if "://" in source:
            filesystem, path = pafs.FileSystem.from_uri(source)
        else:
            filesystem, path = pafs.LocalFileSystem(), str(Path(source).resolve())
        info = filesystem.get_file_info(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise BatchError(f"cannot open {source}: {exc}") from None
    if info.type == pafs.FileType.NotFound:
        raise BatchError(f"no such file or folder: {source}")
    return Location(filesystem, path, source, info.type == pafs.FileType.Directory)


def source_type(location: Location, kind: str, id_column: str | None) -> type[Source]:
    """The batch.sources class for this location, checked as ``open_source`` checks it."""
    suffix = PurePosixPath(location.path).suffix
    return source_class(suffix, location.is_folder, kind, id_column, location.given)


def image_files(location: Location) -> list[str]:
    """Every non-hidden file below the folder, in path order (FolderSource's rule)."""
    selector = pafs.FileSelector(location.path, recursive=True)
    root = location.path.rstrip("/")
    return sorted(
        info.path
        for info in location.filesystem.get_file_info(selector)
        if info.type == pafs.FileType.File
        and not any(part.startswith(".") for part in relative(info.path, root).split("/"))
    )


def relative(path: str, root: str) -> str:
    return path[len(root) :].lstrip("/")


class Reopenable:
    """Stands in for a source's ``Path`` inside a read task: each ``open`` is a new stream
    of the file from its filesystem, text or binary as asked (batch.sources opens a CSV
    twice: the header, then the rows)."""

    def __init__(self, filesystem: pafs.FileSystem, path: str, given: str) -> None:
        self.filesystem, self.path, self.given = filesystem, path, given

    def open(self, mode: str = "r", **text: Any) -> IO[Any]:
        stream = io.BufferedReader(self.filesystem.open_input_stream(self.path))
        return stream if "b" in mode else io.TextIOWrapper(stream, **text)

    def __str__(self) -> str:
        return self.given

    def __fspath__(self) -> str:  # in a message, as the user wrote it
        return self.given


def chunk_row(items: list[Item]) -> dict[str, bytes]:
    return {ITEMS: pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)}


def chunks(items: Iterator[Item], size: int) -> Iterator[pa.Table]:
    """One Arrow block per chunk of ``size`` inputs: blocks are the unit Ray Data hands a
    task or an actor, so small ones keep every actor busy and results streaming."""
    batch: list[Item] = []
    for one in items:
        batch.append(one)
        if len(batch) == size:
            yield pa.Table.from_pylist([chunk_row(batch)])
            batch = []
    if batch:
        yield pa.Table.from_pylist([chunk_row(batch)])


class FileItems(FileBasedDatasource):
    """One file read by its batch.sources class into chunks of ``chunk`` inputs."""

    def __init__(
        self,
        location: Location,
        make: Callable[[Any], Source],  # the source class, its options bound
        chunk: int,
    ) -> None:
        super().__init__(location.path, filesystem=location.filesystem)
        self.location, self.make, self.chunk = location, make, chunk

    def _open_input_source(self, filesystem: Any, path: str, **open_args: Any) -> Any:
        # Parquet needs random access; the others open their own streams (Reopenable).
        return filesystem.open_input_file(path)

    def _read_stream(self, f: Any, path: str) -> Iterator[pa.Table]:
        yield from file_chunks(self.location, self.make, self.chunk, f, path)


def file_chunks(
    location: Location, make: Callable[[Any], Source], chunk: int, opened: Any, path: str
) -> Iterator[pa.Table]:
    """One file's inputs in chunks: Parquet from the random-access file Ray Data opened,
    the others from streams of their own."""
    is_parquet = getattr(make, "func", None) is ParquetSource
    stand_in = opened if is_parquet else Reopenable(location.filesystem, path, location.given)
    yield from chunks(iter(make(stand_in)), chunk)


class ImageItems(FileBasedDatasource):
    """Image files, one chunk each: its id is its path below the folder."""

    def __init__(self, location: Location, files: list[str]) -> None:
        super().__init__(files, filesystem=location.filesystem)
        self.root = location.path.rstrip("/")

    def _read_stream(self, f: Any, path: str) -> Iterator[pa.Table]:
        input_id = relative(path, self.root)
        try:
            found = item(input_id, f.readall())
        except OSError as exc:
            found = item(input_id, b"", f"cannot read {input_id}: {exc}")
        yield pa.Table.from_pylist([chunk_row([found])])
