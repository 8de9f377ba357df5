"""A table source's columns against the model's feature names, checked before scoring.

A vector model's metadata names its features (``input.features``); a CSV header or
Parquet schema must then name every one of them, in any order, and each row is read by
name, in the model's order. A column that is not a feature (the label a data set keeps,
an index) stops the run before anything is scored, unless the user asks to skip such
columns: scored by position it would fail every row, or worse, shift them. A model
without feature names reads every column but the id column, in file order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from batch.archive import Archive
from batch.errors import BatchError
from contracts.metadata import MetadataError, read_metadata

SHOWN_NAMES = 5  # column names quoted in a mismatch message


def feature_names(archive: Archive) -> list[str] | None:
    """The features a vector model reads, by name and in order; None when unnamed."""
    if archive.kind != "vector":
        return None
    try:
        names = read_metadata(archive.path).get("input", {}).get("features")
    except MetadataError as exc:
        raise BatchError(str(exc)) from None
    return [str(name) for name in names] if isinstance(names, list) else None


def _quoted(names: Sequence[str]) -> str:
    shown = ", ".join(f'"{name}"' for name in names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def id_index(header: Sequence[str], id_column: str | None, path: Path) -> int | None:
    """Where the id column is in ``header`` (None without one); named when missing."""
    if id_column is None:
        return None
    if id_column not in header:
        raise BatchError(f"{path} has no column {id_column!r}; its columns: {', '.join(header)}")
    return list(header).index(id_column)


def feature_columns(
    header: Sequence[str],
    features: Sequence[str] | None,
    id_column: str | None,
    path: Path,
    ignore_extra: bool = False,
) -> list[int]:
    """The positions in ``header`` of the model's features, in the model's order."""
    id_at = id_index(header, id_column, path)
    rest = [index for index in range(len(header)) if index != id_at]
    if features is None:
        return rest
    repeated = sorted({header[i] for i in rest if header.count(header[i]) > 1})
    if repeated:
        raise BatchError(f"{path}: column {_quoted(repeated)} appears more than once")
    wanted = set(features)
    missing = [name for name in features if name not in header]
    extra = [header[i] for i in rest if header[i] not in wanted]
    if missing or (extra and not ignore_extra):
        problems = []
        if missing:
            problems.append(f"missing {_quoted(missing)}")
        if extra:
            problems.append(f"not features: {_quoted(extra)}")
        hint = "" if missing else " (--ignore-extra-columns skips them)"
        raise BatchError(
            f"{path}: the columns must name the model's {len(features)} features "
            f"(any order): {'; '.join(problems)}{hint}"
        )
    return [list(header).index(name) for name in features]
