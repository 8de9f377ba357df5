"""Validate the rows of numbers sent to a tabular model.

Accepted: ``{"inputs": [f1, ..., fn]}``, ``{"inputs": [[...], [...]]}`` and the same
lists without the wrapping object; given the feature names, a row may also be an object
of every feature by name (``{"inputs": {"mean radius": 17.99, ...}}``, or a list of them).
Rows keep their order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from handlers.errors import InputError, PayloadTooLarge

MAX_ROWS = 1024  # rows per request; more belongs in the batch scorer, not one HTTP call


def rows_from_json(
    document: Any, features: int | Sequence[str], max_rows: int = MAX_ROWS
) -> list[list[float]]:
    """The feature rows of a JSON document, each checked for length and finite numbers;
    ``features``: how many, or their names in the model's order (rows by name allowed)."""
    names: list[str] | None = None
    if isinstance(features, int):
        n_features = features
    else:
        names = list(features)
        n_features = len(names)
    inputs = document.get("inputs") if isinstance(document, dict) else document
    if isinstance(inputs, dict) and names is not None:
        inputs = [inputs]
    if isinstance(document, dict) and "inputs" not in document:
        raise InputError('JSON object must have an "inputs" field')
    if not isinstance(inputs, list):
        raise InputError(
            f'"inputs" must be a list of {n_features} numbers or a list of such rows, '
            f"got {type(inputs).__name__}"
        )
    if not inputs:
        raise InputError('"inputs" is empty')
    rows = inputs if isinstance(inputs[0], list | dict) else [inputs]
    if len(rows) > max_rows:
        raise PayloadTooLarge(f"too many rows: {len(rows)}, at most {max_rows} per request")
    return [
        _checked_row(
            _by_name(row, index, names) if isinstance(row, dict) and names else row,
            index,
            n_features,
        )
        for index, row in enumerate(rows)
    ]


def _by_name(row: dict[str, Any], index: int, names: list[str]) -> list[Any]:
    """A row given as ``{feature name: value}``, in the model's feature order."""
    missing = [name for name in names if name not in row]
    unknown = [name for name in row if name not in names]
    if missing or unknown:
        raise InputError(
            f"row {index}: features by name need exactly the model's {len(names)}; "
            f"missing {missing[:5]}, unknown {[str(name)[:40] for name in unknown[:5]]}"
        )
    return [row[name] for name in names]


def _checked_row(row: Any, index: int, n_features: int) -> list[float]:
    if not isinstance(row, list):
        raise InputError(f"row {index} must be a list of numbers, got {type(row).__name__}")
    if len(row) != n_features:
        raise InputError(f"row {index}: expected {n_features} features, got {len(row)}")
    for position, value in enumerate(row):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(
                f"row {index}, feature {position}: expected a number, got {type(value).__name__}"
            )
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int too large for a float (str() of it may raise too)
            raise InputError(
                f"row {index}, feature {position}: an integer too large for a float"
            ) from None
        if not finite:
            raise InputError(f"row {index}, feature {position}: {value} is not a finite number")
    return [float(value) for value in row]
