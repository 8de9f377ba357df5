"""Tabular classifiers (cancer): rows of numbers in, a label and probabilities per row out.

The request is JSON ``{"inputs": row}`` or ``{"inputs": [row, ...]}`` (a bare list of rows
is read too), a row being a list of numbers or an object of the features by name; the
answer is ``VectorAnswer``, one prediction per row, in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, TypeGuard

from contracts.ranking import Classification, classification
from contracts.wire import Wire, json_wire

KIND = "vector"
INPUTS = "inputs"


class VectorAnswer(TypedDict):
    predictions: list[Classification]


def document(rows: Any) -> dict[str, Any]:
    """One row or a list of rows: lists of numbers, anything with ``tolist()`` (numpy,
    torch), a row of the features by name (a mapping) or a list of such rows, or a table
    with ``columns`` and ``to_dict(orient="records")`` (a pandas DataFrame, duck-typed: not
    imported), sent as one row by name per record. Rows by name reach the handler as they
    are: it puts them in the model's feature order and names any missing or unknown."""
    if hasattr(rows, "columns") and hasattr(rows, "to_dict"):
        return {INPUTS: [_by_name(record) for record in rows.to_dict(orient="records")]}
    if isinstance(rows, Mapping):
        return {INPUTS: _by_name(rows)}
    if hasattr(rows, "tolist"):
        return {INPUTS: rows.tolist()}
    return {INPUTS: [_by_name(row) if isinstance(row, Mapping) else row for row in rows]}


def _by_name(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A row by name as JSON: names as text, numpy scalars as Python numbers."""
    return {
        str(name): value.item() if hasattr(value, "item") else value for name, value in row.items()
    }


def request(rows: Any) -> Wire:
    return json_wire(document(rows))


def answer(labels: Sequence[str], probabilities: Sequence[Sequence[float]]) -> VectorAnswer:
    """The answer for a request's rows from the model's probabilities, one list per row."""
    return {"predictions": [classification(labels, row) for row in probabilities]}


def is_answer(body: Any) -> TypeGuard[VectorAnswer]:
    """Whether ``body`` is shaped as a VectorAnswer (for rendering an unknown model's)."""
    return isinstance(body, dict) and isinstance(body.get("predictions"), list)


def predictions(body: VectorAnswer, count: int) -> list[Classification]:
    """Per row of a request of ``count`` rows, its prediction."""
    found = body["predictions"]
    if len(found) != count:
        raise ValueError(f"the model answered {len(found)} predictions for {count} rows")
    return found


def check(body: Any, labels: Sequence[str], rows: int) -> str | None:
    """None when ``body`` is a right VectorAnswer for ``rows`` rows, else what is wrong."""
    found = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(found, list) or len(found) != rows:
        return f"expected {rows} predictions, got {str(body)[:200]}"
    wrong = [
        item for item in found if not isinstance(item, dict) or item.get("label") not in labels
    ]
    if wrong:
        return f"labels not in {sorted(labels)}: {str(wrong)[:200]}"
    return None
